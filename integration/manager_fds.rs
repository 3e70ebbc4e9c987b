//! Integration tests for what a service manager hands the runtime in its environment: systemd's
//! NOTIFY_SOCKET (the container's READY=1 passed on with the MAINPID to watch) and socket
//! activation's LISTEN_FDS (descriptors from 3 passed into the container), as runc does them.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What the test containers notify with: busybox has no sd_notify, and its `nc` cannot send to a
/// unix datagram socket. The rootfs holds busybox alone, with no libc a dynamic binary could load,
/// so this is linked statically with the host's C compiler (which cargo needs to link anyway, and
/// scripts/test.sh installs) and bind-mounted into the containers.
const SDNOTIFY_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* sdnotify MESSAGE: send MESSAGE in one datagram to $NOTIFY_SOCKET. */
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (argc != 2 || !path || strlen(path) >= sizeof a.sun_path) {
        fputs("usage: NOTIFY_SOCKET=PATH sdnotify MESSAGE\n", stderr);
        return 2;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("sdnotify");
        return 1;
    }
    return 0;
}
"#;

/// The static sdnotify binary, built once per test run.
fn sdnotify() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let src = dir.join(format!("sdnotify.{}.c", std::process::id()));
        let tmp = dir.join(format!("sdnotify.{}", std::process::id()));
        let bin = dir.join("sdnotify");
        fs::write(&src, SDNOTIFY_C).unwrap();
        let st = Command::new("cc")
            .args(["-static", "-Os", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("run cc (install gcc) to build the static sdnotify helper");
        let _ = fs::remove_file(&src);
        assert!(st.success(), "cc -static failed: is libc6-dev installed?");
        fs::rename(&tmp, &bin).unwrap();
        bin
    })
}

/// A container running `script` as an unprivileged user (the socket must be open to whoever the
/// container runs as), with /run a tmpfs (so that /run/notify is made there and not in the
/// shared read-only image) and sdnotify at /run/sdnotify.
fn notify_container(name: &str, script: &str) -> Container {
    let mut c = Container::new(name);
    let mounts = c.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=755"]}),
    );
    mounts.push(
        json!({"destination": "/run/sdnotify", "type": "bind", "source": sdnotify(),
        "options": ["bind", "ro"]}),
    );
    c.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    c.sh(script);
    c.write_config();
    c
}

/// The manager's side, as systemd's /run/systemd/notify: a datagram socket in the bundle (removed
/// with it).
fn manager_socket(c: &Container) -> (UnixDatagram, PathBuf) {
    let path = c.bundle.join("manager.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (sock, path)
}

/// `rt --root <state> ARGS` with NOTIFY_SOCKET set to `socket`.
fn rt_notify(c: &Container, socket: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(rt_bin());
    cmd.env("NOTIFY_SOCKET", socket)
        .arg("--root")
        .arg(state_root())
        .args(args);
    run_cmd(&mut cmd, &c.bundle)
}

/// `rt --root <state> ARGS` exec'd by `sh -c`, so that `$$` in `setup` is rt's pid and `redirs`
/// are descriptors rt inherits.
fn rt_sh(c: &Container, setup: &str, args: &[&str], redirs: &str) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{setup}\nexec \"$@\" {redirs}"))
        .arg("sh")
        .arg(rt_bin())
        .arg("--root")
        .arg(state_root())
        .args(args);
    run_cmd(&mut cmd, &c.bundle)
}

/// The next datagram on the manager's socket, without waiting.
fn pending(sock: &UnixDatagram) -> Option<String> {
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let got = sock.recv(&mut buf);
    sock.set_nonblocking(false).unwrap();
    match got {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("recv on the manager's socket: {e}"),
    }
}

#[test]
fn notify_socket_start_returns_once_the_container_is_ready() {
    let c = notify_container(
        "notify",
        "sleep 0.5; /run/sdnotify \"$(printf 'STATUS=%s\\nMAINPID=1\\nREADY=1' \"$NOTIFY_SOCKET\")\"; exec sleep 100",
    );
    let (manager, path) = manager_socket(&c);
    let config = fs::read(c.bundle.join("config.json")).unwrap();
    let bundle = c.bundle.to_str().unwrap();
    rt_notify(&c, &path, &["create", "--bundle", bundle, &c.id]).ok();
    // The mount and the environment are the container's, not written into the bundle.
    assert_eq!(fs::read(c.bundle.join("config.json")).unwrap(), config);
    let dir = state_root().join(&c.id).join("notify");
    let mode = fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "{}", dir.display());

    let t = Instant::now();
    rt_notify(&c, &path, &["start", &c.id]).ok();
    let took = t.elapsed();
    let msg = pending(&manager).expect("start returned before the manager got READY=1");
    assert!(took >= Duration::from_millis(400), "start took {took:?}");
    // MAINPID is the init's host pid, first; the container's own MAINPID is dropped; the STATUS
    // line shows the path the container was given.
    let pid = c.pid();
    assert_eq!(
        msg,
        format!("MAINPID={pid}\nSTATUS=/run/notify/notify.sock\nREADY=1\n")
    );
    assert_eq!(pending(&manager), None);
    let sock = fs::metadata(dir.join("notify.sock")).unwrap();
    assert!(sock.file_type().is_socket());
    assert_eq!(sock.permissions().mode() & 0o777, 0o777);
    assert_eq!(c.status(), "running");

    c.rt(&["delete", "--force", &c.id]).ok();
    assert!(!state_root().join(&c.id).exists());
}

#[test]
fn notify_socket_start_returns_when_the_container_exits_before_ready() {
    let c = notify_container(
        "unready",
        "/run/sdnotify STATUS=starting; sleep 0.3; exit 3",
    );
    let (manager, path) = manager_socket(&c);
    let bundle = c.bundle.to_str().unwrap();
    rt_notify(&c, &path, &["create", "--bundle", bundle, &c.id]).ok();
    let t = Instant::now();
    // As runc: start succeeds, and the manager learns of the exit by watching the process.
    rt_notify(&c, &path, &["start", &c.id]).ok();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // Only READY is passed on, as runc does.
    assert_eq!(pending(&manager), None);
    c.wait_status("stopped");
}

#[test]
fn notify_socket_that_cannot_be_reached_fails_start_before_the_process_runs() {
    let c = notify_container("unreach", "exec sleep 100");
    let missing = c.bundle.join("missing.sock");
    let bundle = c.bundle.to_str().unwrap();
    rt_notify(&c, &missing, &["create", "--bundle", bundle, &c.id]).ok();
    rt_notify(&c, &missing, &["start", &c.id]).fails_with(&format!(
        "connect to NOTIFY_SOCKET {}: no such file or directory",
        missing.display()
    ));
    assert_eq!(c.status(), "created");
    // A container created without NOTIFY_SOCKET has no socket to bind at start.
    let c2 = notify_container("nonotify", "exec sleep 100");
    let (_manager, path) = manager_socket(&c2);
    c2.create().ok();
    rt_notify(&c2, &path, &["start", &c2.id])
        .fails_with("(the container was created without NOTIFY_SOCKET)");
    assert_eq!(c2.status(), "created");
}

#[test]
fn notify_socket_run_detached_returns_once_the_container_is_ready() {
    let c = notify_container(
        "notifyd",
        "sleep 0.3; /run/sdnotify READY=1; exec sleep 100",
    );
    let (manager, path) = manager_socket(&c);
    let bundle = c.bundle.to_str().unwrap();
    rt_notify(&c, &path, &["run", "-d", "--bundle", bundle, &c.id]).ok();
    let msg = pending(&manager).expect("run -d returned before the manager got READY=1");
    assert_eq!(msg, format!("MAINPID={}\nREADY=1\n", c.pid()));
}

#[test]
fn notify_socket_foreground_run_is_the_main_pid() {
    let c = notify_container(
        "notifyfg",
        "sleep 0.2; /run/sdnotify READY=1; sleep 0.2; echo done",
    );
    let (manager, path) = manager_socket(&c);
    let pid_file = c.bundle.join("rt.pid");
    let setup = format!(
        "echo $$ > {}; export NOTIFY_SOCKET={}",
        pid_file.display(),
        path.display()
    );
    let out = rt_sh(
        &c,
        &setup,
        &["run", "--bundle", c.bundle.to_str().unwrap(), &c.id],
        "",
    )
    .ok();
    assert_eq!(out.stdout, "done\n");
    // runc's rule: a foreground run outlives the container, so the manager watches it.
    let rt_pid = fs::read_to_string(&pid_file).unwrap();
    let msg = pending(&manager).expect("no READY=1 from the foreground run");
    assert_eq!(msg, format!("MAINPID={}\nREADY=1\n", rt_pid.trim()));
}

/// Each of fds 3-5 as the container's shell sees it: its content, or "none".
const SHOW_FDS: &str = "echo \"env=$LISTEN_FDS,$LISTEN_PID\"; \
    for fd in 3 4 5; do [ -e /proc/$$/fd/$fd ] && echo \"$fd=$(cat <&$fd)\" || echo $fd=none; done";

/// `rt run` of a container showing its fds 3-5, exec'd with `setup` in the environment and fds
/// 3, 4 and 5 open on files reading "one", "two" and "three".
fn run_with_fds(name: &str, setup: &str, extra: &[&str]) -> String {
    let mut c = Container::new(name);
    c.sh(SHOW_FDS);
    c.write_config();
    let b = &c.bundle;
    let mut redirs = String::new();
    for (fd, word) in [(3, "one"), (4, "two"), (5, "three")] {
        fs::write(b.join(word), word).unwrap();
        redirs += &format!(" {fd}<{}", b.join(word).display());
    }
    let mut args = vec!["run", "--bundle", b.to_str().unwrap()];
    args.extend(extra);
    args.push(&c.id);
    rt_sh(&c, setup, &args, &redirs).ok().stdout
}

#[test]
fn listen_fds_are_passed_at_3_with_their_environment() {
    let out = run_with_fds("listen", "export LISTEN_PID=$$ LISTEN_FDS=2", &[]);
    assert_eq!(out, "env=2,1\n3=one\n4=two\n5=none\n");
    // --preserve-fds counts after the activation descriptors.
    let out = run_with_fds(
        "listenp",
        "export LISTEN_PID=$$ LISTEN_FDS=2",
        &["--preserve-fds", "1"],
    );
    assert_eq!(out, "env=2,1\n3=one\n4=two\n5=three\n");
}

#[test]
fn listen_fds_for_another_pid_or_not_a_number_are_ignored() {
    let none = "env=,\n3=none\n4=none\n5=none\n";
    // PID 1 is never rt's.
    assert_eq!(
        run_with_fds("listen1", "export LISTEN_PID=1 LISTEN_FDS=2", &[]),
        none
    );
    assert_eq!(
        run_with_fds("listenx", "export LISTEN_PID=$$ LISTEN_FDS=two", &[]),
        none
    );
    // Without activation, --preserve-fds starts at 3.
    assert_eq!(
        run_with_fds(
            "listen1p",
            "export LISTEN_PID=1 LISTEN_FDS=2",
            &["--preserve-fds", "1"]
        ),
        "env=,\n3=one\n4=none\n5=none\n"
    );
}
