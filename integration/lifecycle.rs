//! Integration tests for the foundation: the container lifecycle, state,
//! namespaces, the process's attributes and clean failure of bad bundles.

mod common;

use common::*;
use serde_json::json;

#[test]
fn run_returns_the_exit_code() {
    let mut c = Container::new("exit");
    c.sh("exit 7");
    assert_eq!(c.run().code(), 7);
}

#[test]
fn run_returns_zero_and_128_plus_signal() {
    let mut c = Container::new("exit0");
    c.args(&["true"]);
    assert_eq!(c.run().code(), 0);
    // PID 1 cannot SIGKILL itself: the signal comes from `rt kill`.
    let mut c = Container::new("exit9");
    c.args(&["sleep", "100"]);
    let code = std::thread::scope(|s| {
        let run = s.spawn(|| c.run());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let st = c.rt(&["state", &c.id]);
            if st.status.success() && st.stdout.contains("\"running\"") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never running: {st:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        c.rt(&["kill", &c.id, "KILL"]).ok();
        run.join().unwrap().code()
    });
    assert_eq!(code, 128 + 9);
}

#[test]
fn run_never_misses_a_fast_exit() {
    for i in 0..5 {
        let mut c = Container::new("fast");
        c.sh(&format!("exit {}", 10 + i));
        assert_eq!(c.run().code(), 10 + i);
    }
}

#[test]
fn init_is_pid_1_and_sees_only_its_own_processes() {
    let mut c = Container::new("pidns");
    c.sh("echo self=$$; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '");
    let out = c.run().ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("self=1"), "{out:?}");
    // sh (1), ls, grep, sort, tr: nothing of the host's.
    let pids: Vec<u32> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids[0], 1);
    assert!(
        pids.len() <= 6 && pids.iter().all(|&p| p < 10),
        "host processes visible: {pids:?}"
    );
}

#[test]
fn hostname_and_domainname_are_set() {
    let mut c = Container::new("uts");
    c.config["hostname"] = serde_json::json!("box-7");
    c.config["domainname"] = serde_json::json!("example.org");
    c.sh("hostname; cat /proc/sys/kernel/domainname");
    let out = c.run().ok();
    assert_eq!(out.stdout, "box-7\nexample.org\n");
    // The host's own name is untouched.
    assert_ne!(nix::unistd::gethostname().unwrap(), "box-7");
}

#[test]
fn rootfs_is_slash_and_host_paths_are_invisible() {
    let mut c = Container::new("root");
    let marker = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-only-marker");
    std::fs::write(&marker, "x").unwrap();
    c.sh(&format!(
        "grep -E '^[0-9]+ [0-9]+ [0-9]+:[0-9]+ [^ ]+ / ' /proc/self/mountinfo | wc -l; \
         test -e {} && echo host-visible; ls /",
        marker.display()
    ));
    let out = c.run().ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("1"), "exactly one mount on /: {out:?}");
    assert!(!out.stdout.contains("host-visible"), "{out:?}");
    // The root's listing is the busybox image's, not the host's.
    let ls: Vec<&str> = lines.collect();
    assert!(
        ls.contains(&"bin") && !ls.contains(&"boot") && !ls.contains(&"work"),
        "{ls:?}"
    );
    // The old root is gone: no mount still shows the host's / (the VM's root device).
    let host_root = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let host_root_src = host_root
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(" - ").nth(1))
        .map(|s| s.split(' ').nth(1).unwrap().to_string())
        .unwrap();
    let mut c2 = Container::new("root2");
    c2.sh("cat /proc/self/mountinfo");
    let mi = c2.run().ok().stdout;
    let tmp = env!("CARGO_TARGET_TMPDIR");
    for line in mi.lines() {
        let mp = line.split(' ').nth(4).unwrap();
        assert!(!mp.starts_with(tmp), "host path mounted: {line}");
        // Only the rootfs bind may come from the host's root device.
        if line.contains(&format!(" {host_root_src} ")) {
            assert_eq!(mp, "/", "host root device visible at {mp}: {line}");
        }
    }
}

#[test]
fn readonly_root_rejects_writes() {
    let mut c = Container::new("ro");
    c.sh("touch /newfile 2>&1; echo rc=$?; touch /tmp/x 2>&1; echo rc=$?");
    let out = c.run().ok();
    assert!(out.stdout.contains("Read-only file system"), "{out:?}");
    assert!(!out.stdout.contains("rc=0"), "{out:?}");
    assert!(!rootfs().join("newfile").exists());
    // With readonly false, writes land in the rootfs.
    let mut c = Container::new("rw");
    let root = c.own_rootfs();
    c.sh("echo hi > /newfile");
    c.run().ok();
    assert_eq!(
        std::fs::read_to_string(root.join("newfile")).unwrap(),
        "hi\n"
    );
}

#[test]
fn process_attributes_are_what_the_config_says() {
    let mut c = Container::new("attrs");
    c.config["process"]["user"] =
        serde_json::json!({"uid": 1000, "gid": 1000, "umask": 23, "additionalGids": [2000, 3000]});
    c.config["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]);
    c.config["process"]["noNewPrivileges"] = serde_json::json!(true);
    c.config["process"]["oomScoreAdj"] = serde_json::json!(345);
    c.config["process"]["cwd"] = serde_json::json!("/tmp");
    c.config["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar baz"]);
    c.sh(
        "grep -E '^(Uid|Gid|Groups|Umask|NoNewPrivs):' /proc/self/status; \
         grep 'Max open files' /proc/self/limits; cat /proc/self/oom_score_adj; pwd; echo \"FOO=$FOO\"",
    );
    let out = c.run().ok();
    let s = &out.stdout;
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} missing: {s}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Uid"), "1000 1000 1000 1000");
    assert_eq!(field("Gid"), "1000 1000 1000 1000");
    assert_eq!(field("Groups"), "2000 3000");
    assert_eq!(field("Umask"), "0027");
    assert_eq!(field("NoNewPrivs"), "1");
    let limits = s.lines().find(|l| l.starts_with("Max open files")).unwrap();
    assert_eq!(
        limits.split_whitespace().collect::<Vec<_>>()[3..5],
        ["321", "654"]
    );
    assert!(s.contains("\n345\n/tmp\nFOO=bar baz\n"), "{s}");
}

#[test]
fn no_new_privileges_off() {
    let mut c = Container::new("nnp0");
    c.config["process"]["noNewPrivileges"] = serde_json::json!(false);
    c.sh("grep NoNewPrivs /proc/self/status");
    assert!(c.run().ok().stdout.contains("NoNewPrivs:\t0"));
}

#[test]
fn state_moves_created_running_stopped_with_the_right_pid() {
    let mut c = Container::new("state");
    c.sh("read x < /dev/null; sleep 0.3; exit 3");
    let pidfile = c.bundle.join("pid");
    c.create_with(&["--pid-file", pidfile.to_str().unwrap()])
        .ok();
    let st = c.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], c.id.as_str());
    assert_eq!(st["ociVersion"], "1.3.0");
    assert_eq!(st["bundle"], c.bundle.to_str().unwrap());
    assert!(st["created"].as_str().unwrap().contains('T'));
    assert_eq!(st["rootfs"], rootfs().to_str().unwrap());
    assert_eq!(st["owner"], "");
    let pid = c.pid();
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string()
    );
    // The kernel agrees: the pid is a process parked in the container's
    // namespaces (not rt's), not yet running the user's program.
    assert_ne!(
        ns(&pid.to_string(), "pid_for_children"),
        ns("self", "pid_for_children")
    );
    assert_ne!(ns(&pid.to_string(), "uts"), ns("self", "uts"));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sh");
    // It is in its cgroup.
    let procs = std::fs::read_to_string(c.cgroup_dir("memory").join("cgroup.procs")).unwrap();
    assert_eq!(procs.trim(), pid.to_string());

    c.start().ok();
    assert_eq!(c.status(), "running");
    assert_eq!(c.pid(), pid);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sh");
    c.wait_status("stopped");
    // delete removes the state and the cgroup.
    c.delete().ok();
    assert!(!state_root().join(&c.id).exists());
    assert!(!c.cgroup_dir("memory").exists());
    assert!(!c.cgroup_dir("devices").exists());
    c.rt(&["state", &c.id]).fails_with("does not exist");
}

/// Start a container whose shell traps HUP/USR1/USR2/TERM, send it `rt kill
/// ID [SIG]`, and return the number of the signal the shell saw.
fn signal_seen(sig: Option<&str>) -> String {
    let mut c = Container::new("kill");
    let out = c.bundle.join("out");
    std::fs::create_dir_all(&out).unwrap();
    c.config["mounts"].as_array_mut().unwrap().push(
        serde_json::json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]}),
    );
    // PID 1 of a namespace only gets the signals it handles: the traps.
    c.sh(
        "for s in 1 10 12 15; do trap \"echo $s > /out/sig; exit 0\" $s; done; \
          echo ready > /out/ready; while :; do sleep 0.05; done",
    );
    c.create().ok();
    c.start().ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !out.join("ready").exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut args = vec!["kill", c.id.as_str()];
    args.extend(sig);
    c.rt(&args).ok();
    c.wait_status("stopped");
    // A stopped container cannot be signalled.
    c.rt(&["kill", &c.id, "KILL"])
        .fails_with("container not running");
    std::fs::read_to_string(out.join("sig"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn kill_delivers_the_named_signal() {
    assert_eq!(signal_seen(Some("USR1")), "10");
    assert_eq!(signal_seen(Some("SIGUSR2")), "12");
    assert_eq!(signal_seen(Some("1")), "1");
    assert_eq!(signal_seen(Some("hup")), "1");
}

#[test]
fn kill_defaults_to_sigterm() {
    assert_eq!(signal_seen(None), "15");
}

#[test]
fn kill_rejects_unknown_signals_and_containers() {
    let mut c = Container::new("killbad");
    c.args(&["sleep", "100"]);
    c.create().ok();
    c.rt(&["kill", &c.id, "NOSUCH"]).fails_with("NOSUCH");
    c.rt(&["kill", &c.id, "KILL"]).ok();
    c.wait_status("stopped");
    // containerd sends `kill --all 9` after the container exited: that succeeds.
    c.rt(&["kill", "--all", &c.id, "9"]).ok();
    rt(&["kill", "no-such-container", "KILL"]).fails_with("does not exist");
}

#[test]
fn no_pivot_chroots_into_the_rootfs() {
    let mut c = Container::new("nopivot");
    c.sh("ls /; grep -c . /proc/self/mountinfo");
    c.write_config();
    let out = c
        .rt(&[
            "run",
            "--no-pivot",
            "--bundle",
            c.bundle.to_str().unwrap(),
            &c.id,
        ])
        .ok();
    assert!(out.stdout.lines().any(|l| l == "bin"), "{out:?}");
    assert!(
        !out.stdout.lines().any(|l| l == "work" || l == "boot"),
        "{out:?}"
    );
}

/// The host's mount points under `dir`, as its mountinfo shows them.
fn host_mounts_under(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(dir.to_str().unwrap()))
        .collect()
}

/// config-linux.md: a namespace the config does not list is inherited from the runtime, the
/// mount namespace too. The container's mounts are then the host's, under its rootfs, and
/// (unlike runc's) none is left on the host after delete, nor after a failed create.
#[test]
fn without_a_mount_namespace_the_hosts_is_inherited_and_left_clean() {
    let mut c = Container::new("nomntns");
    let rootfs = c.own_rootfs();
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    c.sh("test -e /proc/self/status && test -c /dev/null && ls / >/dev/null && sleep 1000");
    c.create().ok();
    c.start().ok();
    let pid = c.pid();
    assert_eq!(ns(&pid.to_string(), "mnt"), ns("self", "mnt"));
    // Its /proc, /dev, /sys... are mounts of the host's namespace now, under the rootfs.
    let during = host_mounts_under(&rootfs);
    assert!(during.iter().any(|m| m.ends_with("/proc")), "{during:?}");
    assert!(during.iter().any(|m| m.ends_with("/dev")), "{during:?}");
    assert_eq!(c.status(), "running");
    c.rt(&["delete", "--force", &c.id]).ok();
    assert_eq!(host_mounts_under(&rootfs), Vec::<String>::new());
    // A create that fails after the mounts were made leaves none either.
    let mut c2 = Container::new("nomntns-fail");
    let rootfs2 = c2.own_rootfs();
    c2.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    c2.args(&["/no/such/program"]);
    c2.create().fails_with("no/such/program");
    assert_eq!(host_mounts_under(&rootfs2), Vec::<String>::new());
}

#[test]
fn user_namespace_with_maps() {
    let mut c = Container::new("userns");
    let root = c.user_namespace();
    // sysfs cannot be mounted fresh in a userns without its own netns owner; keep the config's.
    c.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; echo x > /tmp/f && stat -c %u /tmp/f");
    let out = c.run().ok();
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "100000", "65536", "0", "100000", "65536", "0", "0"],
        "{out:?}"
    );
    // The file written as container root is owned by host uid 100000.
    let meta = std::fs::metadata(root.join("tmp/f")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 100000);
}

/// A network namespace held by a `sleep` of ours (no bind mount, so nothing to leak on the
/// host); ended by PID on drop.
struct NetNs(std::process::Child);

impl NetNs {
    fn new() -> Self {
        let child = std::process::Command::new("unshare")
            .args(["--net", "sleep", "1000"])
            .spawn()
            .unwrap();
        let me = NetNs(child);
        // Wait until unshare has exec'd sleep inside the new namespace.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ns(&me.0.id().to_string(), "net") == ns("self", "net") {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare --net did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        me
    }
    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.0.id())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn joins_a_network_namespace_by_path() {
    let netns = NetNs::new();
    let want = std::fs::read_link(netns.path()).unwrap();
    let mut c = Container::new("netns");
    for ns in c.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = serde_json::json!(netns.path());
        }
    }
    c.sh("readlink /proc/self/ns/net");
    let out = c.run().ok();
    assert_eq!(out.stdout.trim(), want.to_str().unwrap());
    assert_ne!(want, std::fs::read_link("/proc/self/ns/net").unwrap());
}

#[test]
fn delete_and_kill_follow_runc() {
    let mut c = Container::new("del");
    c.args(&["sleep", "100"]);
    c.create().ok();
    c.start().ok();
    let pid = c.pid();
    c.delete().fails_with("running");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    c.rt(&["delete", "--force", &c.id]).ok();
    assert!(!state_root().join(&c.id).exists());
    assert!(!c.cgroup_dir("memory").exists());
    // The init is gone (reaped or a zombie of nobody we know: its pid is freed).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|s| s.starts_with("sleep"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "init {pid} survived delete --force"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    c.rt(&["delete", "--force", &c.id]).ok();
    c.rt(&["delete", "-f", &c.id]).ok();
    c.delete().fails_with("does not exist");
    rt(&["state", "no-such-id"]).fails_with("container \"no-such-id\" does not exist");
}

/// runtime.md#delete: deleting a container that is not stopped (created included) MUST fail
/// and have no effect; `--force` kills the parked init and removes the container.
#[test]
fn a_created_container_is_deleted_only_with_force() {
    let c = Container::new("delcreated");
    c.create().ok();
    let pid = c.pid();
    c.delete()
        .fails_with("cannot delete container")
        .stderr
        .contains("not stopped: created")
        .then_some(())
        .expect("runc's wording");
    assert_eq!(c.status(), "created");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    c.rt(&["delete", "--force", &c.id]).ok();
    assert!(!state_root().join(&c.id).exists());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "parked init {pid} survived delete --force"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Tools match on runc's words: for a container that does not exist or is in the wrong state,
/// rt's error is runc's (`container "x" does not exist`, `container not running`, ...), on a
/// log line that says `level=error`, as runc's stderr has it, and exits 1.
#[test]
fn errors_about_a_containers_state_are_worded_as_runcs() {
    let c = Container::new("wording");
    let missing: &[(&[&str], &str)] = &[
        (&["state", "w-none"], "container \"w-none\" does not exist"),
        (&["start", "w-none"], "container \"w-none\" does not exist"),
        (&["kill", "w-none"], "container \"w-none\" does not exist"),
        (&["delete", "w-none"], "container \"w-none\" does not exist"),
        (&["ps", "w-none"], "container \"w-none\" does not exist"),
        (&["pause", "w-none"], "container \"w-none\" does not exist"),
    ];
    for (args, words) in missing {
        let out = rt(args);
        assert_eq!(out.code(), 1, "{args:?}: {out:?}");
        assert!(out.stderr.contains("level=error"), "{args:?}: {out:?}");
        assert!(out.error_text().contains(words), "{args:?}: {out:?}");
    }
    let mut c = c;
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.rt(&["resume", &c.id]).fails_with("container not paused");
    c.start().ok();
    c.start()
        .fails_with("cannot start an already running container");
    c.delete().fails_with(&format!(
        "cannot delete container {} that is not stopped: running",
        c.id
    ));
    c.rt(&["kill", &c.id, "KILL"]).ok();
    c.wait_status("stopped");
    c.rt(&["kill", &c.id, "KILL"])
        .fails_with("container not running");
    c.start()
        .fails_with("cannot start a container that has stopped");
    c.rt(&["pause", &c.id]).fails_with("container not running");
    let out = c.rt(&["exec", &c.id, "true"]);
    assert_eq!(out.code(), 255, "{out:?}");
    assert!(
        out.error_text()
            .contains("cannot exec in a stopped container"),
        "{out:?}"
    );
    c.delete().ok();
}

/// linux.memoryPolicy (runtime-spec 1.3): the NUMA policy the kernel shows for the process's
/// memory (/proc/self/numa_maps), for each mode and with flags; MPOL_DEFAULT with no nodes is
/// accepted; a mode that needs nodes without any, an unknown mode or flag, and nodes the
/// kernel refuses fail create with the field named.
#[test]
fn memory_policy_is_what_numa_maps_shows() {
    let good = [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (
            json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}),
            "prefer=relative:0",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
        (json!({"mode": "MPOL_DEFAULT", "nodes": ""}), "default"),
        (json!({"mode": "MPOL_DEFAULT"}), "default"),
        (json!({"mode": "MPOL_LOCAL"}), "local"),
    ];
    for (policy, want) in good {
        let mut c = Container::new("mempolicy");
        c.config["linux"]["memoryPolicy"] = policy.clone();
        c.sh("head -1 /proc/self/numa_maps | cut -d' ' -f2");
        let out = c.run().ok();
        assert_eq!(out.stdout.trim(), want, "{policy}");
    }
    let bad = [
        (
            json!({"mode": "MPOL_BIND"}),
            "MPOL_BIND needs at least one node",
        ),
        (
            json!({"mode": "MPOL_LOCAL", "nodes": "0"}),
            "MPOL_LOCAL takes no nodes",
        ),
        (
            json!({"mode": "INTERLEAVE", "nodes": "0"}),
            "linux.memoryPolicy.mode",
        ),
        (
            json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES", "badflag"]}),
            "linux.memoryPolicy.flags",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "5-x"}),
            "linux.memoryPolicy.nodes",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "1000"}),
            "set_mempolicy MPOL_BIND",
        ),
    ];
    for (policy, want) in bad {
        let mut c = Container::new("mempolicy-bad");
        c.config["linux"]["memoryPolicy"] = policy.clone();
        c.run().fails_with(want);
        assert!(!state_root().join(&c.id).exists());
    }
}

#[test]
fn container_ids_are_validated() {
    for bad in ["../x", "a/b", "..", "with space", ""] {
        let c = Container::new("ids");
        c.write_config();
        let out = c.rt(&["create", "--bundle", c.bundle.to_str().unwrap(), bad]);
        assert_eq!(out.code(), 1, "id {bad:?}: {out:?}");
    }
    let c = Container::new("dup");
    c.create().ok();
    c.create().fails_with("container with id exists");
}

#[test]
fn list_shows_containers() {
    let c = Container::new("list");
    c.create().ok();
    let out = rt(&["list"]).ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&c.id))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        line.contains("created") && line.contains(c.bundle.to_str().unwrap()),
        "{line}"
    );
    assert!(out.stdout.starts_with("ID"), "{out:?}");
    let q = rt(&["list", "-q"]).ok();
    assert!(q.stdout.lines().any(|l| l == c.id));
    let js = rt(&["list", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&js.stdout).unwrap();
    let me = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == c.id.as_str())
        .unwrap();
    assert_eq!(me["status"], "created");
    assert_eq!(me["pid"].as_i64().unwrap() as i32, c.pid());
}

#[test]
fn spec_writes_a_config_and_refuses_to_overwrite() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = std::process::Command::new(rt_bin());
    cmd.args(["spec", "--bundle"]).arg(&dir);
    run_cmd(&mut cmd, &dir).ok();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"][0], "sh");
    let mut cmd = std::process::Command::new(rt_bin());
    cmd.args(["spec", "--bundle"]).arg(&dir);
    run_cmd(&mut cmd, &dir).fails_with("exists");
    let mut cmd = std::process::Command::new(rt_bin());
    cmd.args(["spec", "--rootless", "--bundle"])
        .arg(dir.join("sub"));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    run_cmd(&mut cmd, &dir).ok();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sub/config.json")).unwrap()).unwrap();
    assert!(v["linux"]["uidMappings"].is_array());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn version_commands_and_flags() {
    let out = rt(&["--version"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("rt version "), "{out:?}");
    assert!(lines[1].starts_with("commit: "));
    assert_eq!(lines[2], "spec: 1.3.0");
    // checkpoint and restore exist (integration/checkpoint.rs runs them where CRIU works): on
    // a missing container or image they fail as such, never as "not implemented".
    let out = rt(&["checkpoint", "x"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.error_text().contains("container \"x\" does not exist")
            || out.error_text().contains("executable file not found"),
        "{out:?}"
    );
    let out = rt(&["restore", "--image-path", "/nonexistent-rt-images", "x"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(!out.error_text().contains("not implemented"), "{out:?}");
    let help = rt(&["--help"]).ok();
    assert!(help.stdout.contains("checkpoint") && help.stdout.contains("restore"));
    assert!(!help.stdout.contains("not implemented"), "{help:?}");
    let c = Container::new("flags");
    c.write_config();
    let b = c.bundle.to_str().unwrap();
    c.rt(&["run", "--keep", "--bundle", b, &c.id])
        .fails_with("not implemented");
    c.rt(&["--rootless=maybe", "create", "--bundle", b, &c.id])
        .fails_with("invalid value 'maybe'");
    c.rt(&[
        "--rootless=true",
        "--systemd-cgroup",
        "create",
        "--bundle",
        b,
        &c.id,
    ])
    .fails_with("--systemd-cgroup: rootless containers");
    assert!(!state_root().join(&c.id).exists());
}

#[test]
fn errors_reach_the_json_log() {
    let c = Container::new("log");
    let log = c.bundle.join("log.json");
    let out = c.rt(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format=json",
        "state",
        "nope",
    ]);
    assert_eq!(out.code(), 1);
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap().contains("does not exist"),
        "{text}"
    );
    assert!(last["time"].is_string());
}

/// Nothing of container `c` is left: no state dir, no cgroup, no process in it.
#[track_caller]
fn assert_nothing_left(c: &Container) {
    assert!(!state_root().join(&c.id).exists(), "state dir left");
    for ctrl in ["memory", "devices", "pids", "cpu", "freezer", "systemd"] {
        assert!(!c.cgroup_dir(ctrl).exists(), "cgroup {ctrl} left");
    }
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(&c.id), "mount left: {mi}");
}

#[test]
fn bad_bundles_fail_cleanly() {
    // Missing config.json.
    let c = Container::new("noconfig");
    std::fs::remove_file(c.bundle.join("config.json")).unwrap();
    let b = c.bundle.to_str().unwrap();
    c.rt(&["create", "--bundle", b, &c.id])
        .fails_with("config.json");
    assert_nothing_left(&c);
    // Invalid JSON.
    std::fs::write(c.bundle.join("config.json"), "{ not json").unwrap();
    c.rt(&["create", "--bundle", b, &c.id])
        .fails_with("config.json");
    assert_nothing_left(&c);
    // Missing rootfs.
    let mut c = Container::new("norootfs");
    c.config["root"]["path"] = serde_json::json!("no-such-rootfs");
    c.create().fails_with("no-such-rootfs");
    assert_nothing_left(&c);
    // Executable not found: the init's error reaches the caller.
    let mut c = Container::new("noexe");
    c.args(&["nosuch"]);
    c.create()
        .fails_with("exec: \"nosuch\": executable file not found in $PATH");
    assert_nothing_left(&c);
    c.run().fails_with("executable file not found");
    assert_nothing_left(&c);
    // A cwd that is a file.
    let mut c = Container::new("badcwd");
    c.config["process"]["cwd"] = serde_json::json!("/bin/busybox");
    c.create().fails_with("/bin/busybox");
    assert_nothing_left(&c);
}

#[test]
fn relative_cgroups_path_is_under_the_hierarchy_root() {
    let mut c = Container::new("relcg");
    c.config["linux"]["cgroupsPath"] = serde_json::json!(format!("{CGROUP_PREFIX}/{}", c.id));
    c.sh("cat /proc/self/cgroup");
    c.create().ok();
    let pid = c.pid();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mem = cg.lines().find(|l| l.contains(":memory:")).unwrap();
    assert_eq!(
        mem.rsplit(':').next().unwrap(),
        format!("/{CGROUP_PREFIX}/{}", c.id),
        "{cg}"
    );
    c.rt(&["delete", "--force", &c.id]).ok();
    assert!(!c.cgroup_dir("memory").exists());
}

/// `rt run FLAGS` of `c` from a shell that first runs `open` (redirections such as `3</dev/null`);
/// the container lists which of fds 3 to 11 it has.
fn run_listing_fds(c: &mut Container, open: &str, flags: &str) -> String {
    c.sh("for fd in 3 4 5 6 7 8 9 10 11; do [ -e /proc/$$/fd/$fd ] && echo $fd; done; true");
    c.write_config();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!(
        "exec {open}; exec {} --root {} run {flags} --bundle {} {}",
        rt_bin(),
        state_root().display(),
        c.bundle.display(),
        c.id
    ));
    run_cmd(&mut cmd, &c.bundle).ok().stdout
}

#[test]
fn preserved_fds_reach_the_process_and_no_others() {
    // --preserve-fds N passes fds 3..3+N to the process; rt's caller has 3 and 4 open.
    let mut c = Container::new("fds");
    let open = "3</dev/null 4</dev/null";
    assert_eq!(run_listing_fds(&mut c, open, "--preserve-fds 1"), "3\n");
    // Without --preserve-fds, the caller's extra fds (containerd's shim passes
    // a socket as fd 3) do not leak into the container.
    assert_eq!(run_listing_fds(&mut c, open, ""), "");
}

#[test]
fn preserved_fds_with_a_hole_pass_only_the_callers() {
    // The caller passes 3 and 9 but not 4 to 8: whatever rt opens may take those numbers (the
    // kernel gives the lowest free one), and must not reach the process. A seccomp profile
    // makes rt open its filter cache too.
    let mut c = Container::new("fdhole");
    c.config["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"});
    let open = "3</dev/null 9</dev/null";
    assert_eq!(run_listing_fds(&mut c, open, "--preserve-fds 7"), "3\n9\n");
}
