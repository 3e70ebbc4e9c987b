//! Integration tests: the known container escapes, each reproduced and shown to fail.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_for_file(p: &Path, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "{} never written", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// CVE-2019-5736: the image's /bin/sh is a link to /proc/self/exe, so `rt exec ... /bin/sh`
/// runs the runtime's own binary inside the container; a process already there opens it through
/// /proc/<pid>/exe and, once it exits, writes to it. The runtime binary (a copy, so that a
/// failure cannot corrupt the build) must stay unchanged.
#[test]
fn cve_2019_5736_runtime_binary_cannot_be_overwritten_through_exec() {
    let mut c = Container::new("cve5736");
    let root = c.own_rootfs();
    let out = c.bundle.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let rt_copy = c.bundle.join("rt-copy");
    std::fs::copy(rt_bin(), &rt_copy).unwrap();
    let before = std::fs::read(&rt_copy).unwrap();
    // The runtime must be able to run in there: give the image its loader and libraries.
    let ldd = std::process::Command::new("ldd")
        .arg(&rt_copy)
        .output()
        .unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if lib.starts_with('/') {
            let dst = root.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(lib, &dst).unwrap();
        }
    }
    std::fs::remove_file(root.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink("/proc/self/exe", root.join("bin/sh")).unwrap();
    nix::unistd::mkfifo(
        &root.join("tmp/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    c.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]}),
    );
    // The attacker: find the process running as "sh", hold its exe open, let it finish (it
    // blocks opening its --log fifo), then try to write through the held descriptor.
    c.args(&[
        "/bin/ash",
        "-c",
        r#"echo ready > /out/ready
        while :; do
          for p in /proc/[0-9]*; do
            [ "$(cat $p/comm 2>/dev/null)" = sh ] || continue
            exec 3< $p/exe && break 2
          done
        done
        echo "$(readlink $p/exe)" > /out/opened
        cat /tmp/fifo > /dev/null
        while [ -e $p/exe ] && [ "$(cat $p/stat 2>/dev/null | cut -d' ' -f3)" != Z ]; do sleep 0.01; done
        sleep 0.1
        if echo pwned > /proc/self/fd/3 2>/out/err; then echo written > /out/result; else echo refused > /out/result; fi
        sleep 1000"#,
    ]);
    c.create().ok();
    c.start().ok();
    wait_for_file(&out.join("ready"), 10);
    // The victim: an operator's exec of /bin/sh, with the runtime under test.
    let mut cmd = std::process::Command::new(&rt_copy);
    cmd.arg("--root")
        .arg(state_root())
        .args(["exec", &c.id, "/bin/sh", "--log=/tmp/fifo", "list"]);
    let victim = run_cmd(&mut cmd, &c.bundle);
    let result = wait_for_file(&out.join("result"), 20);
    eprintln!("victim: {victim:?}");
    let opened = std::fs::read_to_string(out.join("opened")).unwrap_or_default();
    let after = std::fs::read(&rt_copy).unwrap();
    assert!(
        before == after,
        "the runtime binary was modified (attacker opened {opened:?})"
    );
    assert_eq!(result.trim(), "refused", "attacker opened {opened:?}");
    // It held the runtime's image, but not through the writable host path.
    assert!(!opened.contains("rt-copy"), "attacker opened {opened:?}");
}

/// CVE-2024-21626: a cwd through a descriptor the runtime leaked would start the process
/// outside the container. Every such cwd is refused, and the container sees no runtime fd.
#[test]
fn cve_2024_21626_cwd_through_leaked_fds_is_refused() {
    for fd in 3..12 {
        let mut c = Container::new("cve21626");
        c.config["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        c.sh("pwd; ls ..");
        let out = c.run();
        assert_eq!(
            out.code(),
            1,
            "cwd /proc/self/fd/{fd} was accepted: {out:?}"
        );
        assert!(out.stderr.contains("cwd"), "{out:?}");
        assert!(!state_root().join(&c.id).exists());
    }
    // Same through exec --cwd.
    let mut c = Container::new("cve21626x");
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    for fd in 3..12 {
        let d = format!("/proc/self/fd/{fd}");
        let out = c.rt(&["exec", "--cwd", &d, &c.id, "sh", "-c", "pwd"]);
        // Refused, or (an fd of the container's own root) a cwd inside the container.
        let inside = out.code() == 0 && out.stdout.starts_with('/');
        assert!(out.code() == 255 || inside, "exec --cwd {d}: {out:?}");
    }
}

/// No descriptor, socket or environment variable of the runtime reaches the container, even
/// when the caller (containerd's shim) has extra fds open.
#[test]
fn nothing_of_the_runtime_is_visible_in_the_container() {
    let mut c = Container::new("leaks");
    c.config["process"]["env"] = json!(["PATH=/bin", "ONLY=this"]);
    c.args(&["sleep", "1000"]);
    c.write_config();
    let script = format!(
        "exec 3</dev/null 4<>/dev/null; exec {} --root {} create --bundle {} {}",
        rt_bin(),
        state_root().display(),
        c.bundle.display(),
        c.id
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(&script).env("RT_LEAK_MARKER", "secret");
    run_cmd(&mut cmd, &c.bundle).ok();
    let mut cmd = std::process::Command::new(rt_bin());
    cmd.arg("--root")
        .arg(state_root())
        .args(["start", &c.id])
        .env("RT_LEAK_MARKER", "secret");
    run_cmd(&mut cmd, &c.bundle).ok();
    // Read by the host from the kernel: the init's descriptors and environment.
    let pid = c.pid();
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"]);
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let mut vars: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    vars.sort();
    assert_eq!(vars, ["HOME=/root", "ONLY=this", "PATH=/bin"]);
    // The init is no longer the runtime: it runs the user's program.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("busybox"), "{exe:?}");
}
