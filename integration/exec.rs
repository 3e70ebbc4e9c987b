//! Integration tests for `exec`: namespaces, cgroups, credentials, exit codes, terminals and fd
//! passing, as the managers use them.

mod common;

use common::*;
use serde_json::json;
use std::os::fd::AsRawFd;

/// A started container whose init sleeps.
fn running(name: &str, tweak: impl FnOnce(&mut Container)) -> Container {
    let mut c = Container::new(name);
    c.args(&["sleep", "1000"]);
    tweak(&mut c);
    c.create().ok();
    c.start().ok();
    c
}

fn exec(c: &Container, args: &[&str]) -> Output {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    c.rt(&a)
}

/// `exec -d --pid-file` of `sleep`; the pid of the exec'd process.
fn exec_detached(c: &Container, extra: &[&str]) -> i32 {
    let pidfile = c.bundle.join(format!("exec-{}.pid", c.pids.len()));
    let mut a = vec!["-d", "--pid-file", pidfile.to_str().unwrap()];
    a.extend_from_slice(extra);
    a.extend_from_slice(&[c.id.as_str(), "sleep", "1000"]);
    exec(c, &a).ok();
    std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let mut c = running("ns", |c| {
        c.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
    });
    let init = c.pid().to_string();
    let pid = exec_detached(&c, &[]);
    c.pids.push(pid);
    let p = pid.to_string();
    for kind in ["pid", "mnt", "net", "ipc", "uts", "cgroup", "time"] {
        assert_eq!(ns(&p, kind), ns(&init, kind), "{kind} namespace");
    }
    assert_ne!(ns(&p, "mnt"), ns("self", "mnt"));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap(),
        std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap()
    );
    let procs =
        std::fs::read_to_string(c.cgroup_file("memory", "cgroup.procs", "cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == p), "{procs}");
    // Its root is the container's.
    assert_eq!(
        std::fs::read_link(format!("/proc/{p}/root")).unwrap(),
        std::fs::read_link(format!("/proc/{init}/root")).unwrap()
    );
    // Inside, it is not PID 1 and sees the init.
    let out = exec(
        &c,
        &[
            &c.id,
            "sh",
            "-c",
            "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
        ],
    )
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_ne!(lines[0], "1");
    assert_eq!(lines[1].trim(), "sleep 1000");
}

#[test]
fn exec_returns_the_exit_status() {
    let c = running("status", |_| {});
    assert_eq!(exec(&c, &[&c.id, "true"]).code(), 0);
    assert_eq!(exec(&c, &[&c.id, "sh", "-c", "exit 7"]).code(), 7);
    assert_eq!(exec(&c, &[&c.id, "sh", "-c", "kill -9 $$"]).code(), 128 + 9);
    // Stdout and stderr are the caller's.
    let out = exec(&c, &[&c.id, "sh", "-c", "echo out; echo err >&2"]).ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "err\n")
    );
}

#[test]
fn exec_failures_are_runc_worded_with_status_255() {
    let c = running("fail", |_| {});
    let out = exec(&c, &[&c.id, "nosuch"]);
    assert_eq!(out.code(), 255, "{out:?}");
    assert!(out.stderr.contains("exec failed: "), "{out:?}");
    assert!(
        out.stderr.contains("executable file not found in $PATH"),
        "{out:?}"
    );
    let out = exec(&c, &[&c.id]);
    assert!(
        out.code() == 255 && out.stderr.contains("exec args cannot be empty"),
        "{out:?}"
    );
    let out = rt(&["exec", "no-such-ctr", "true"]);
    assert!(
        out.code() == 255 && out.stderr.contains("does not exist"),
        "{out:?}"
    );
    c.rt(&["kill", &c.id, "KILL"]).ok();
    c.wait_status("stopped");
    let out = exec(&c, &[&c.id, "true"]);
    assert!(
        out.stderr.contains("cannot exec in a stopped container"),
        "{out:?}"
    );
    // Nothing of the failed execs is left in the (now empty) cgroup.
    let procs =
        std::fs::read_to_string(c.cgroup_file("memory", "cgroup.procs", "cgroup.procs")).unwrap();
    assert_eq!(procs, "");
}

#[test]
fn exec_flags_set_user_env_cwd_and_capabilities() {
    let c = running("creds", |c| {
        c.config["process"]["env"] = json!(["PATH=/bin", "A=1", "B=2"]);
    });
    let out = exec(
        &c,
        &[
            "-u", "1000:1000", "-g", "2000", "-e", "B=3", "--env", "C=4", "--cwd", "/tmp",
            "--no-new-privs", &c.id, "sh", "-c",
            "id -u; id -g; id -G; echo $A$B$C; pwd; grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status",
        ],
    )
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..5],
        ["1000", "1000", "1000 2000", "134", "/tmp"],
        "{out:?}"
    );
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{out:?}");
    assert!(out.stdout.contains("CapEff:\t0000000000000000"), "{out:?}");
    // As root, the config's capabilities; --cap adds one to bounding/effective/permitted.
    let init_caps = proc_status(c.pid(), "CapEff");
    let pid = exec_detached(&c, &[]);
    assert_eq!(proc_status(pid, "CapEff"), init_caps);
    assert_eq!(proc_status(pid, "CapBnd"), proc_status(c.pid(), "CapBnd"));
    let pid = exec_detached(&c, &["--cap", "CAP_SYS_ADMIN"]);
    let eff = u64::from_str_radix(&proc_status(pid, "CapEff"), 16).unwrap();
    let base = u64::from_str_radix(&init_caps, 16).unwrap();
    assert_eq!(eff, base | (1 << 21), "CAP_SYS_ADMIN is bit 21");
}

#[test]
fn exec_process_file_as_managers_pass_it() {
    let c = running("pfile", |_| {});
    let pf = c.bundle.join("process.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({
            "terminal": false, "user": {"uid": 1000, "gid": 1000}, "cwd": "/home/user",
            "args": ["sh", "-c", "id -u; pwd; echo $X; exit 3"], "env": ["PATH=/bin", "X=from-file"],
            "capabilities": {"bounding": ["CAP_KILL"], "effective": [], "permitted": []}
        }))
        .unwrap(),
    )
    .unwrap();
    let out = exec(&c, &["--process", pf.to_str().unwrap(), &c.id]);
    assert_eq!(out.code(), 3, "{out:?}");
    assert_eq!(out.stdout, "1000\n/home/user\nfrom-file\n");
    let out = exec(&c, &["-p", pf.to_str().unwrap(), "--cwd", "/", &c.id]);
    assert!(
        out.code() == 255
            && out
                .stderr
                .contains("--process cannot be combined with --cwd"),
        "{out:?}"
    );
}

#[test]
fn exec_closes_the_runtime_fds_and_passes_preserved_ones() {
    let c = running("fds", |_| {});
    let script = format!(
        "exec 3</dev/null 4</dev/null 5</dev/null; exec {} --root {} exec --preserve-fds 1 {} sh -c 'ls /proc/self/fd/ | sort -n | tr \"\\n\" \" \"'",
        rt_bin(),
        state_root().display(),
        c.id
    );
    let out = run_cmd(
        std::process::Command::new("sh").arg("-c").arg(&script),
        &c.bundle,
    )
    .ok();
    // 0-2, the preserved 3, and ls's own directory fd: nothing of rt's (channel, pidfd, root).
    let fds: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(fds.len(), 5, "{out:?}");
    assert_eq!(fds[..4], ["0", "1", "2", "3"], "{out:?}");
    // No runtime environment leaks into the process: it gets the config's env only.
    let out = run_cmd(
        std::process::Command::new(rt_bin())
            .env("RT_SECRET_MARKER", "x")
            .arg("--root")
            .arg(state_root())
            .args(["exec", &c.id, "env"]),
        &c.bundle,
    )
    .ok();
    assert!(!out.stdout.contains("RT_SECRET_MARKER"), "{out:?}");
}

#[test]
fn exec_tty_sends_the_pty_master_to_the_console_socket() {
    let c = running("tty", |_| {});
    let sock = c.bundle.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let (name, master) = std::thread::scope(|s| {
        let h = s.spawn(|| receive_fd(&listener));
        let pidfile = c.bundle.join("tty.pid");
        exec(
            &c,
            &[
                "-t",
                "-d",
                "--console-socket",
                sock.to_str().unwrap(),
                "--pid-file",
                pidfile.to_str().unwrap(),
                &c.id,
                "sh",
                "-c",
                "tty; echo prompt-$((6*7)); sleep 1000",
            ],
        )
        .ok();
        h.join().unwrap()
    });
    assert_eq!(name, "/dev/ptmx");
    // Read what the process printed on its terminal through the master.
    let mut f = std::fs::File::from(master);
    let mut got = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !got.contains("prompt-42") {
        assert!(std::time::Instant::now() < deadline, "read so far: {got:?}");
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut f, &mut buf).unwrap();
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.contains("/dev/pts/"), "{got:?}");
    // --tty and --detach without a socket cannot work.
    let out = exec(&c, &["-t", "-d", &c.id, "true"]);
    assert!(
        out.code() == 255 && out.stderr.contains("console socket"),
        "{out:?}"
    );
}

#[test]
fn exec_pidfd_socket_receives_a_pidfd_of_the_process() {
    let c = running("pidfd", |_| {});
    let sock = c.bundle.join("pidfd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let pidfile = c.bundle.join("p.pid");
    let (_, fd) = std::thread::scope(|s| {
        let h = s.spawn(|| receive_fd(&listener));
        exec(
            &c,
            &[
                "-d",
                "--pidfd-socket",
                sock.to_str().unwrap(),
                "--pid-file",
                pidfile.to_str().unwrap(),
                &c.id,
                "sleep",
                "1000",
            ],
        )
        .ok();
        h.join().unwrap()
    });
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    assert!(
        info.lines().any(|l| l == format!("Pid:\t{}", pid.trim())),
        "{info}"
    );
}

#[test]
fn exec_into_a_no_pivot_and_a_user_namespace_container() {
    let mut c = Container::new("nopivot");
    c.args(&["sleep", "1000"]);
    c.write_config();
    c.rt(&[
        "run",
        "-d",
        "--no-pivot",
        "--bundle",
        c.bundle.to_str().unwrap(),
        &c.id,
    ])
    .ok();
    let out = exec(&c, &[&c.id, "ls", "/"]).ok();
    assert!(
        out.stdout.lines().any(|l| l == "bin") && !out.stdout.lines().any(|l| l == "work"),
        "{out:?}"
    );

    let mut c = Container::new("userns");
    c.user_namespace();
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    let out = exec(&c, &[&c.id, "sh", "-c", "id -u; cat /proc/self/uid_map"]).ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "100000", "65536"]
    );
    let pid = exec_detached(&c, &[]);
    assert_eq!(
        ns(&pid.to_string(), "user"),
        ns(&c.pid().to_string(), "user")
    );
    assert_eq!(
        proc_status(pid, "Uid").split_whitespace().next(),
        Some("100000")
    );
}

#[test]
fn exec_cpu_affinity_final_pins_the_process() {
    let c = running("affinity", |_| {});
    let pf = c.bundle.join("process.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/", "env": ["PATH=/bin"],
            "args": ["sh", "-c", "grep Cpus_allowed_list /proc/self/status"],
            "execCPUAffinity": {"initial": "0", "final": "1"}
        }))
        .unwrap(),
    )
    .unwrap();
    let out = exec(&c, &["--process", pf.to_str().unwrap(), &c.id]).ok();
    assert_eq!(out.stdout.split_whitespace().last(), Some("1"), "{out:?}");
    let init = proc_status(c.pid(), "Cpus_allowed_list");
    assert_ne!(
        init, "1",
        "the init is not pinned (execCPUAffinity is for exec only)"
    );
}
