//! Integration tests: capabilities and seccomp, read from /proc inside the container and from
//! the errnos the container's programs observe.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CHOWN: u32 = 0;
const KILL: u32 = 5;
const NET_BIND_SERVICE: u32 = 10;
const SYS_ADMIN: u32 = 21;

fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}

/// The fields of a /proc/<pid>/status printed by the container.
fn status_fields(out: &Output) -> HashMap<String, String> {
    out.stdout
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[track_caller]
fn assert_fields(out: &Output, want: &[(&str, String)]) {
    let got = status_fields(out);
    for (k, v) in want {
        assert_eq!(got.get(*k), Some(v), "/proc/1/status field {k}: {out:?}");
    }
}

#[test]
fn root_with_a_reduced_capability_set() {
    let mut c = Container::new("caps-root");
    c.args(&["cat", "/proc/1/status"]);
    let set = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    c.config["process"]["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set,
        "inheritable": ["CAP_KILL"], "ambient": []
    });
    c.config["process"]["noNewPrivileges"] = json!(true);
    let out = c.run().ok();
    let m = mask(&[CHOWN, KILL, NET_BIND_SERVICE]);
    assert_fields(
        &out,
        &[
            ("CapBnd", m.clone()),
            ("CapEff", m.clone()),
            ("CapPrm", m),
            ("CapInh", mask(&[KILL])),
            ("CapAmb", mask(&[])),
            ("NoNewPrivs", "1".into()),
            ("Seccomp", "0".into()),
            ("Uid", "0\t0\t0\t0".into()),
        ],
    );
}

#[test]
fn non_root_user_keeps_its_ambient_capabilities_across_exec() {
    let mut c = Container::new("caps-ambient");
    c.args(&["cat", "/proc/1/status"]);
    c.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    c.config["process"]["noNewPrivileges"] = json!(false);
    c.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"],
        "effective": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "permitted": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "ambient": ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
    });
    let out = c.run().ok();
    let amb = mask(&[KILL, NET_BIND_SERVICE]);
    assert_fields(
        &out,
        &[
            ("Uid", "1000\t1000\t1000\t1000".into()),
            ("Gid", "1000\t1000\t1000\t1000".into()),
            ("CapBnd", mask(&[CHOWN, KILL, NET_BIND_SERVICE, SYS_ADMIN])),
            ("CapInh", amb.clone()),
            ("CapAmb", amb.clone()),
            ("CapPrm", amb.clone()),
            ("CapEff", amb),
            ("NoNewPrivs", "0".into()),
        ],
    );
}

#[test]
fn non_root_user_without_ambient_capabilities_has_none_after_exec() {
    let mut c = Container::new("caps-noamb");
    c.args(&["cat", "/proc/1/status"]);
    c.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let set = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    c.config["process"]["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set, "inheritable": set
    });
    let out = c.run().ok();
    assert_fields(
        &out,
        &[
            ("CapInh", mask(&[KILL, NET_BIND_SERVICE])),
            ("CapAmb", mask(&[])),
            ("CapPrm", mask(&[])),
            ("CapEff", mask(&[])),
        ],
    );
}

/// Nothing of the container survives a failed `run`: no state, no cgroup.
#[track_caller]
fn assert_nothing_left(c: &Container) {
    let st = c.rt(&["state", &c.id]);
    assert_ne!(
        st.code(),
        0,
        "state of a container whose run failed: {st:?}"
    );
    assert!(!state_root().join(&c.id).exists(), "state dir left behind");
    for ctrl in ["memory", "pids", "cpu,cpuacct", "devices"] {
        let d = c.cgroup_dir(ctrl);
        assert!(!d.exists(), "cgroup {} left behind", d.display());
    }
}

#[test]
fn unknown_capability_is_a_clear_error() {
    let mut c = Container::new("caps-unknown");
    c.config["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_NOT_A_CAP"]);
    // Rejected when config.json is parsed (oci-spec knows every capability name).
    c.run().fails_with("CAP_NOT_A_CAP");
    assert_nothing_left(&c);
}

fn seccomp(c: &mut Container, s: Value) {
    c.config["linux"]["seccomp"] = s;
}

#[test]
fn errno_rules_return_the_configured_errno() {
    for nnp in [true, false] {
        let mut c = Container::new("sc-errno");
        c.config["process"]["noNewPrivileges"] = json!(nnp);
        seccomp(
            &mut c,
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                    {"names": ["getcwd"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["no_such_syscall_rt", "getpid"], "action": "SCMP_ACT_LOG"}
                ]
            }),
        );
        // Without the filter: EROFS (read-only rootfs) and ENOENT.
        c.sh("mkdir /x; echo mkdir=$?; rmdir /nonexistent; echo rmdir=$?; busybox pwd");
        let out = c.run().ok();
        assert!(
            out.stderr
                .contains("can't create directory '/x': Function not implemented"),
            "nnp {nnp}: mkdir should get errnoRet 38 (ENOSYS): {out:?}"
        );
        assert!(
            out.stderr.contains("Operation not permitted"),
            "nnp {nnp}: rmdir should get the default errno EPERM: {out:?}"
        );
        assert_eq!(
            out.stdout, "mkdir=1\nrmdir=1\n/\n",
            "nnp {nnp}: getcwd must be allowed: {out:?}"
        );
    }
}

/// What busybox needs to run `sh -c`, `echo`, `sleep` and `true`: the allow list of the
/// minimal profile below. None of the calls rt makes for itself is in it (close_range, fcntl,
/// getcwd, prctl, capset, setgroups, setres[ug]id, openat, close, read, sendmsg, recvmsg, futex).
const BUSYBOX_ONLY: &[&str] = &[
    "arch_prctl",
    "brk",
    "clock_nanosleep",
    "clone",
    "clone3",
    "execve",
    "exit",
    "exit_group",
    "getpid",
    "getppid",
    "getrandom",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "mmap",
    "mprotect",
    "munmap",
    "newfstatat",
    "prlimit64",
    "readlink",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "set_robust_list",
    "set_tid_address",
    "uname",
    "wait4",
    "write",
];

/// Profiles that let the container's own process run but deny what rt itself used to call
/// after loading the filter (a profile written before Linux 5.9 has no close_range; the OCI
/// suite's default denies it). create, start and exec must work with each, with and without
/// noNewPrivileges (without it the filter needs CAP_SYS_ADMIN, which the process gave up), and
/// the kernel must show the filter on the container's process.
#[test]
fn hostile_but_valid_profiles_let_create_start_and_exec_work() {
    let minimal = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": BUSYBOX_ONLY, "action": "SCMP_ACT_ALLOW"}]
    });
    let mut profiles = vec![("minimal allow list".to_string(), minimal)];
    for denied in [
        "close_range",
        "getcwd",
        "fcntl",
        "prctl",
        "capset",
        "setgroups",
    ] {
        profiles.push((
            format!("{denied} denied"),
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": [denied], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            }),
        ));
    }
    for (what, profile) in &profiles {
        for nnp in [true, false] {
            let mut c = Container::new("sc-hostile");
            c.config["process"]["noNewPrivileges"] = json!(nnp);
            seccomp(&mut c, profile.clone());
            c.args(&["sleep", "1000"]);
            let shown = format!("{what}, noNewPrivileges {nnp}");
            let out = c.create();
            assert!(out.status.success(), "create with {shown}: {out:?}");
            let out = c.start();
            assert!(out.status.success(), "start with {shown}: {out:?}");
            let pid = c.pid();
            assert_eq!(proc_status(pid, "Seccomp"), "2", "{shown}");
            assert_eq!(
                proc_status(pid, "NoNewPrivs"),
                if nnp { "1" } else { "0" },
                "{shown}"
            );
            let out = c.rt(&["exec", &c.id, "echo", "exec ran"]);
            assert!(out.status.success(), "exec with {shown}: {out:?}");
            assert_eq!(out.stdout, "exec ran\n", "{shown}");
            c.rt(&["kill", &c.id, "KILL"]).ok();
            c.wait_status("stopped");
            c.delete().ok();
        }
    }
}

/// Without noNewPrivileges the filter is loaded by a thread that kept CAP_SYS_ADMIN; with
/// pids.max 1 there is no room for it, and the filter is loaded before the setup instead: the
/// container runs, under its filter, all the same.
#[test]
fn a_filter_without_room_for_the_loader_thread_still_applies() {
    let mut c = Container::new("sc-pids1");
    c.config["process"]["noNewPrivileges"] = json!(false);
    c.config["linux"]["resources"] = json!({"pids": {"limit": 1}});
    seccomp(
        &mut c,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        }),
    );
    c.args(&["mkdir", "/x"]);
    let out = c.run();
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("Function not implemented"), "{out:?}");
}

/// Every syscall libseccomp knows on this architecture, but `except`.
fn all_syscalls_but(except: &[&str]) -> Vec<String> {
    (0..1024)
        .filter_map(|n| libseccomp::ScmpSyscall::from(n).get_name().ok())
        .filter(|n| !except.contains(&n.as_str()))
        .collect()
}

#[test]
fn default_errno_ret_applies_to_unlisted_syscalls() {
    let mut c = Container::new("sc-deferrno");
    seccomp(
        &mut c,
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 95,
            "syscalls": [{"names": all_syscalls_but(&["mkdir", "mkdirat"]), "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    c.sh("mkdir /x; echo mkdir=$?; busybox pwd");
    let out = c.run().ok();
    assert!(
        out.stderr
            .contains("can't create directory '/x': Not supported")
            || out.stderr.contains("'/x': Operation not supported"),
        "mkdir should get defaultErrnoRet 95 (EOPNOTSUPP): {out:?}"
    );
    assert_eq!(out.stdout, "mkdir=1\n/\n", "{out:?}");
}

#[test]
fn kill_and_trap_rules_end_the_process_with_sigsys() {
    // KILL and KILL_THREAD end a single-threaded process too; TRAP's SIGSYS has no handler.
    for (action, nnp) in [
        ("SCMP_ACT_KILL_PROCESS", true),
        ("SCMP_ACT_KILL_PROCESS", false),
        ("SCMP_ACT_KILL", true),
        ("SCMP_ACT_KILL_THREAD", false),
        ("SCMP_ACT_TRAP", true),
    ] {
        let mut c = Container::new("sc-kill");
        c.config["process"]["noNewPrivileges"] = json!(nnp);
        seccomp(
            &mut c,
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]
            }),
        );
        c.args(&["mkdir", "/x"]);
        let out = c.run();
        assert_eq!(
            out.code(),
            128 + libc::SIGSYS,
            "{action} (nnp {nnp}): run should exit 128+SIGSYS: {out:?}"
        );
    }
}

#[test]
fn argument_conditions_select_the_calls() {
    let mut c = Container::new("sc-args");
    seccomp(
        &mut c,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                // chmod to a mode without group and other bits: (MODE & 077) == 0
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
                 "args": [{"index": 1, "value": 0o77, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
                 "args": [{"index": 2, "value": 0o77, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                // chown to any uid but 0
                {"names": ["chown", "lchown"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]},
                {"names": ["fchownat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                 "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_NE"}]},
                // The same argument twice: either value matches.
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
                 "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]},
                // Two arguments: both must match (which = PRIO_PROCESS, prio > 5).
                {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 2, "value": 5, "op": "SCMP_CMP_GT"}]}
            ]
        }),
    );
    c.sh("cd /dev/shm && touch f && \
         chmod 700 f; echo chmod700=$?; chmod 600 f; echo chmod600=$?; \
         chmod 750 f; echo chmod750=$?; \
         chown 0 f; echo chown0=$?; chown 5 f; echo chown5=$?; \
         trap '' USR1 USR2 HUP; kill -USR1 $$; echo usr1=$?; kill -USR2 $$; echo usr2=$?; \
         kill -HUP $$; echo hup=$?; \
         renice -n 5 $$ >/dev/null; echo nice5=$?; renice -n 9 $$ >/dev/null; echo nice9=$?; \
         renice -n 9 -g 0 >/dev/null; echo nice9group=$?");
    let out = c.run().ok();
    assert_eq!(
        out.stdout,
        "chmod700=1\nchmod600=1\nchmod750=0\nchown0=0\nchown5=1\nusr1=1\nusr2=1\nhup=0\n\
         nice5=0\nnice9=1\nnice9group=0\n",
        "{out:?}"
    );
    for (errno, msg) in [
        (18, "chmod: f: Invalid cross-device link"),
        (22, "chown: f: Invalid argument"),
        (3, "can't kill pid 1: No such process"),
        (38, "setpriority: Function not implemented"),
    ] {
        assert!(
            out.stderr.contains(msg),
            "errnoRet {errno}: {msg:?} missing: {out:?}"
        );
    }
}

#[test]
fn status_shows_the_filter_and_flags_are_accepted() {
    for nnp in [true, false] {
        let mut c = Container::new("sc-status");
        c.config["process"]["noNewPrivileges"] = json!(nnp);
        c.args(&["cat", "/proc/1/status"]);
        seccomp(
            &mut c,
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"},
                             {"names": ["syncfs"], "action": "SCMP_ACT_TRAP"},
                             {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]
            }),
        );
        let out = c.run().ok();
        assert_fields(
            &out,
            &[
                ("Seccomp", "2".into()),
                ("Seccomp_filters", "1".into()),
                ("NoNewPrivs", if nnp { "1" } else { "0" }.into()),
            ],
        );
    }
}

#[test]
fn invalid_profiles_fail_create_with_the_field() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                                {"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[1]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/rt.sock",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath: connect to /nonexistent/rt.sock",
        ),
    ];
    for (profile, needle) in cases {
        let mut c = Container::new("sc-bad");
        seccomp(&mut c, profile);
        c.run().fails_with(needle);
        assert_nothing_left(&c);
    }
}

/// Wait until `fd` is readable, or panic after `secs`.
fn wait_readable(fd: i32, secs: u64, what: &str) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // Safety: one live pollfd.
    let r = unsafe { libc::poll(&mut p, 1, (secs * 1000) as i32) };
    assert!(r == 1, "{what}: nothing within {secs}s (poll {r})");
}

/// The seccomp agent's side: the container process state and the notify fd.
fn receive_state(listener: &UnixListener) -> (Value, OwnedFd) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let (stream, _) = loop {
        match listener.accept() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection to listenerPath");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept on listenerPath: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let mut data = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    loop {
        wait_readable(stream.as_raw_fd(), 15, "container process state");
        let mut buf = [0u8; 65536];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let msg = nix::sys::socket::recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .expect("recvmsg on the listener connection");
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(v) = c {
                // Safety: fds the kernel just installed for us.
                fds.extend(v.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            break; // the runtime closed the connection, as the spec requires
        }
        data.extend_from_slice(&buf[..n]);
    }
    let state: Value = serde_json::from_slice(&data)
        .unwrap_or_else(|e| panic!("container process state JSON: {e}: {data:?}"));
    assert_eq!(fds.len(), 1, "one fd in SCM_RIGHTS: {state}");
    (state, fds.pop().unwrap())
}

fn notify_answers_mkdir(nnp: bool) {
    let mut c = Container::new("sc-notify");
    let sock = c.bundle.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    c.config["process"]["noNewPrivileges"] = json!(nnp);
    seccomp(
        &mut c,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "agent-metadata",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    c.sh("mkdir /x; echo mkdir=$?; mkdir /y; echo mkdir=$?");
    let id = c.id.clone();
    let agent = std::thread::spawn(move || {
        let (state, fd) = receive_state(&listener);
        assert_eq!(state["fds"], json!(["seccompFd"]), "fds: {state}");
        assert_eq!(state["metadata"], "agent-metadata", "metadata: {state}");
        assert_eq!(state["state"]["id"], id.as_str(), "state.id: {state}");
        assert!(state["ociVersion"].is_string(), "ociVersion: {state}");
        let pid = state["pid"].as_i64().expect("pid");
        assert_eq!(
            state["state"]["pid"].as_i64(),
            Some(pid),
            "state.pid: {state}"
        );
        // The first mkdir: answered with EXDEV.
        wait_readable(fd.as_raw_fd(), 15, "seccomp notification");
        let req = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()).expect("NOTIF_RECV");
        let name = req.data.syscall.get_name().unwrap();
        assert!(name.starts_with("mkdir"), "notified syscall {name}");
        // The notifying process is the container's process (or a child of it, if busybox sh
        // forks for mkdir), as our PID namespace sees it.
        let ppid = std::fs::read_to_string(format!("/proc/{}/stat", req.pid))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit(')').next()?.to_string();
                rest.split_whitespace().nth(1)?.parse::<i64>().ok()
            });
        assert!(
            i64::from(req.pid) == pid || ppid == Some(pid),
            "state pid {pid} must be the host pid of the container's process; the notifying \
             task is {} (parent {ppid:?})",
            req.pid
        );
        libseccomp::ScmpNotifResp::new_error(
            req.id,
            -libc::EXDEV,
            libseccomp::ScmpNotifRespFlags::empty(),
        )
        .respond(fd.as_raw_fd())
        .expect("NOTIF_SEND");
        // Closing the fd: further notified calls fail with ENOSYS.
        drop(fd);
    });
    let out = c.run();
    agent.join().expect("seccomp agent");
    let out = out.ok();
    assert_eq!(out.stdout, "mkdir=1\nmkdir=1\n", "{out:?}");
    assert!(
        out.stderr.contains("'/x': Invalid cross-device link"),
        "nnp {nnp}: the agent's EXDEV: {out:?}"
    );
    assert!(
        out.stderr.contains("'/y': Function not implemented"),
        "nnp {nnp}: ENOSYS once the agent is gone: {out:?}"
    );
}

#[test]
fn notify_sends_the_fd_and_the_agent_answers_late_load() {
    notify_answers_mkdir(true);
}

#[test]
fn notify_sends_the_fd_and_the_agent_answers_early_load() {
    notify_answers_mkdir(false);
}

/// A seccomp agent that waits for its fd before anyone calls `start` (youki's contest does; an
/// agent that must be ready before the workload runs would): the fd arrives during `create`,
/// with and without noNewPrivileges, and the process then runs under the agent's answers.
/// (With noNewPrivileges the filter used to be loaded at exec, after `start`: the caller
/// waited forever.)
#[test]
fn notify_fd_arrives_during_create() {
    for nnp in [true, false] {
        let mut c = Container::new("sc-notify-create");
        let sock = c.bundle.join("agent.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        c.config["process"]["noNewPrivileges"] = json!(nnp);
        seccomp(
            &mut c,
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": sock,
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
            }),
        );
        c.sh("mkdir /x 2>&1; echo mkdir=$?");
        c.create().ok();
        // Before start: the state and the fd are already there (bounded by receive_state).
        let (state, fd) = receive_state(&listener);
        assert_eq!(state["fds"], json!(["seccompFd"]), "nnp {nnp}: {state}");
        assert_eq!(c.status(), "created", "nnp {nnp}");
        c.start().ok();
        wait_readable(fd.as_raw_fd(), 15, "seccomp notification");
        let req = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()).expect("NOTIF_RECV");
        libseccomp::ScmpNotifResp::new_error(
            req.id,
            -libc::EXDEV,
            libseccomp::ScmpNotifRespFlags::empty(),
        )
        .respond(fd.as_raw_fd())
        .expect("NOTIF_SEND");
        c.wait_status("stopped");
        c.delete().ok();
    }
}

#[test]
fn notify_listener_gets_the_fd_of_an_exec_process_too() {
    let mut c = Container::new("sc-notify-exec");
    let sock = c.bundle.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    seccomp(
        &mut c,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    c.args(&["sleep", "1000"]);
    let agent = std::thread::spawn(move || {
        // First the init's filter (kept open, unused), then the exec'd process's.
        let (_, init_fd) = receive_state(&listener);
        let (state, fd) = receive_state(&listener);
        assert_eq!(state["state"]["status"], "running", "{state}");
        wait_readable(fd.as_raw_fd(), 15, "seccomp notification");
        let req = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()).expect("NOTIF_RECV");
        libseccomp::ScmpNotifResp::new_error(
            req.id,
            -libc::EXDEV,
            libseccomp::ScmpNotifRespFlags::empty(),
        )
        .respond(fd.as_raw_fd())
        .expect("NOTIF_SEND");
        drop(init_fd);
    });
    c.create().ok();
    c.start().ok();
    let out = c.rt(&["exec", &c.id, "sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
    agent.join().expect("seccomp agent");
    let out = out.ok();
    assert!(out.stdout.contains("Invalid cross-device link"), "{out:?}");
}

#[test]
fn lsm_labels_on_a_host_without_them_are_a_clear_error() {
    for (field, value, needle) in [
        (
            "apparmorProfile",
            "rt-test-profile",
            "AppArmor is not enabled",
        ),
        (
            "selinuxLabel",
            "system_u:system_r:container_t:s0",
            "SELinux is not enabled",
        ),
    ] {
        let mut c = Container::new("lsm");
        c.config["process"][field] = json!(value);
        c.create().fails_with(needle);
        assert_nothing_left(&c);
    }
}

#[test]
fn personality_scheduler_and_io_priority_are_applied() {
    let mut c = Container::new("sched");
    c.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    c.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    c.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    let pid = c.pid();
    // /proc/<pid>/stat: field 19 is nice, 41 the scheduling policy (SCHED_BATCH = 3).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(fields[19 - 3], "7", "nice: {stat}");
    assert_eq!(fields[41 - 3], "3", "policy: {stat}");
    let ionice = std::process::Command::new("ionice")
        .arg("-p")
        .arg(pid.to_string())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ionice.stdout).trim(), "idle");
    let out = c.rt(&["exec", &c.id, "uname", "-m"]).ok();
    assert_eq!(
        out.stdout.trim(),
        "i686",
        "exec.d processes get linux.personality too"
    );
    let persona = std::fs::read_to_string(format!("/proc/{pid}/personality")).unwrap();
    assert_eq!(persona.trim(), "00000008", "PER_LINUX32");
}

#[test]
fn compiled_filters_are_cached_and_entries_checked_whole() {
    // A profile of this test's own (an unknown name is skipped by libseccomp, kept in the key).
    let tag = format!("no_such_syscall_rt_cache_{}", std::process::id());
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": [tag], "action": "SCMP_ACT_ERRNO"}
        ]
    });
    let cache = state_root().join(".rt-cache:seccomp");
    let entry = || -> Option<PathBuf> {
        fs::read_dir(&cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| fs::read(p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(tag.as_str())))
    };
    // Runs a container with the profile; true if its filter came from the cache.
    let run = |name: &str, userns: bool| -> bool {
        let mut c = Container::new(name);
        if userns {
            c.user_namespace();
        }
        seccomp(&mut c, profile.clone());
        c.sh("mkdir /x");
        c.write_config();
        let log = c.bundle.join("debug.log");
        let b = c.bundle.to_str().unwrap();
        let out = c.rt(&[
            "--debug",
            "--log",
            log.to_str().unwrap(),
            "run",
            "--bundle",
            b,
            &c.id,
        ]);
        // The kernel applies the filter either way.
        assert!(
            out.stderr
                .contains("can't create directory '/x': Function not implemented"),
            "{out:?}"
        );
        fs::read_to_string(&log)
            .unwrap()
            .contains("the compiled filter came from the cache")
    };
    assert!(!run("sc-cache1", false), "the first run compiles");
    let path = entry().expect("a cache entry for the profile");
    let stored = fs::read(&path).unwrap();
    assert!(
        run("sc-cache2", false),
        "the second run loads the cached program"
    );
    // The runtime reads the cache, so a container in a user namespace uses it too.
    assert!(
        run("sc-cache-userns", true),
        "a user namespace container uses the cache"
    );
    // An entry whose key differs in one byte is not used, and is replaced.
    let at = stored
        .windows(tag.len())
        .position(|w| w == tag.as_bytes())
        .unwrap();
    let mut changed = stored.clone();
    changed[at] = b'N';
    fs::write(&path, &changed).unwrap();
    assert!(
        !run("sc-cache3", false),
        "a key that differs must not be used"
    );
    assert_eq!(fs::read(&path).unwrap(), stored);
    fs::remove_file(&path).unwrap();
}

#[test]
fn a_corrupted_cache_entry_is_recompiled() {
    // The program of an entry is damaged (its key intact): the entry must not be loaded (the
    // kernel would refuse it, or worse, take another filter), but compiled again and replaced.
    let tag = format!("no_such_syscall_rt_corrupt_{}", std::process::id());
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": [tag], "action": "SCMP_ACT_ERRNO"}
        ]
    });
    let cache = state_root().join(".rt-cache:seccomp");
    let entry = || -> Option<PathBuf> {
        fs::read_dir(&cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| fs::read(p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(tag.as_str())))
    };
    let run = |name: &str| {
        let mut c = Container::new(name);
        seccomp(&mut c, profile.clone());
        c.sh("mkdir /x");
        let out = c.run();
        assert!(
            out.stderr
                .contains("can't create directory '/x': Function not implemented"),
            "{out:?}"
        );
    };
    run("sc-corrupt1");
    let path = entry().expect("a cache entry for the profile");
    let stored = fs::read(&path).unwrap();
    // The entry: a magic line, the key's length (u32) and the key, then the program.
    let nl = stored.iter().position(|&b| b == b'\n').unwrap() + 1;
    let key_len = u32::from_le_bytes(stored[nl..nl + 4].try_into().unwrap()) as usize;
    let program = nl + 4 + key_len;
    let mut damaged = stored.clone();
    // The first instruction (struct sock_filter: 8 bytes) becomes an invalid one.
    damaged[program..program + 8].fill(0xff);
    fs::write(&path, &damaged).unwrap();
    run("sc-corrupt2");
    assert_eq!(fs::read(&path).unwrap(), stored, "the entry is replaced");
    fs::remove_file(&path).unwrap();
}
