//! Integration tests: OCI hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle").
//!
//! Every hook records what the kernel shows it (its stdin, namespace links, exact environment,
//! argv, cwd) into files under the bundle's `out` directory, outside the container; the
//! container-side hooks reach that directory through a bind mount at /out.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The environment every recording hook is given, and nothing else.
fn hook_env(name: &str) -> Vec<String> {
    vec![
        "PATH=/usr/bin:/bin".to_string(),
        format!("HOOK_NAME={name}"),
    ]
}

/// Shell text that records what hook `name` sees into `dir` (works in dash and busybox sh).
fn recorder(name: &str, dir: &str) -> String {
    format!(
        r#"d={dir}; n={name}
cat > $d/$n.state
pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' $d/$n.state)
for k in mnt pid net; do
  readlink /proc/self/ns/$k > $d/$n.self.$k
  readlink /proc/$pid/ns/$k > $d/$n.target.$k 2>/dev/null
done
# Opened by the shell itself: before pivot_root $$ would not name it in the host's /proc.
exec 3< /proc/self/environ 4< /proc/self/cmdline
tr '\0' '\n' <&3 > $d/$n.environ
tr '\0' '\n' <&4 > $d/$n.cmdline
pwd > $d/$n.cwd
echo $n >> $d/order"#
    )
}

/// A hook that runs the recorder under `/bin/sh` with its own argv[0].
fn sh_hook(name: &str, argv0: &str, dir: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": [argv0, "-c", recorder(name, dir), "extra-arg"],
        "env": hook_env(name),
    })
}

/// The bundle's output directory (on the host), created empty.
fn out_dir(c: &Container) -> PathBuf {
    let d = c.bundle.join("out");
    fs::create_dir_all(&d).unwrap();
    d
}

/// Bind the host's output directory to /out in the container (the rootfs has /out).
fn mount_out(c: &mut Container) -> PathBuf {
    let d = out_dir(c);
    c.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/out",
        "type": "bind",
        "source": d,
        "options": ["rbind", "rw"],
    }));
    d
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

fn state_of(dir: &Path, hook: &str) -> Value {
    let s = read(dir, &format!("{hook}.state"));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{hook} stdin is not JSON ({e}): {s:?}"))
}

fn lines(dir: &Path, file: &str) -> Vec<String> {
    read(dir, file).lines().map(str::to_string).collect()
}

/// `rt --root <state> ARGS` with a marker in rt's own environment, which no hook may see.
fn rt_leaky(c: &Container, args: &[&str]) -> Output {
    let mut cmd = Command::new(rt_bin());
    cmd.env("RT_LEAK_MARKER", "leaked")
        .arg("--root")
        .arg(state_root())
        .args(args);
    run_cmd(&mut cmd, &c.bundle)
}

/// Host PIDs of every process in the PID namespace `ns_link` (e.g. "pid:[4026532]").
fn procs_in_pidns(ns_link: &str) -> Vec<i32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if fs::read_link(format!("/proc/{pid}/ns/pid"))
            .is_ok_and(|l| l.to_string_lossy() == ns_link)
        {
            v.push(pid);
        }
    }
    v
}

/// No process of the (former) container is left, polled briefly: SIGKILL is asynchronous.
#[track_caller]
fn assert_pidns_empty(ns_link: &str) {
    assert!(ns_link.starts_with("pid:["), "bad ns link {ns_link:?}");
    assert_ne!(
        ns_link,
        ns("self", "pid"),
        "recorded the host's pid namespace"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = procs_in_pidns(ns_link);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left in {ns_link}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Nothing of the container is left: no state dir, `rt state` fails, no cgroup.
#[track_caller]
fn assert_gone(c: &Container) {
    let dir = state_root().join(&c.id);
    assert!(!dir.exists(), "state dir left: {}", dir.display());
    c.rt(&["state", &c.id]).fails_with("does not exist");
    for ctrl in ["memory", "pids", "cpu", "freezer"] {
        let d = c.cgroup_dir(ctrl);
        assert!(!d.exists(), "cgroup left: {}", d.display());
    }
}

/// A container with all six hook kinds recording, run through create/start/kill/delete with a
/// marker in rt's environment. Returns the output dir, the container's host pid and its
/// namespace links (mnt, pid, net) read from the host while it ran.
fn full_flow(c: &mut Container) -> (PathBuf, i32, [String; 3]) {
    let out = mount_out(c);
    let o = out.to_str().unwrap().to_string();
    let cc_script = c.bundle.join("create-container.sh");
    script(&cc_script, &recorder("createContainer", &o));
    c.config["hooks"] = json!({
        "prestart": [sh_hook("prestart", "argv0-prestart", &o)],
        "createRuntime": [sh_hook("createRuntime", "argv0-createRuntime", &o)],
        // A path that exists only on the host: it must resolve in the runtime namespace.
        "createContainer": [{"path": cc_script, "args": ["argv0-createContainer", "x"], "env": hook_env("createContainer")}],
        // Runs inside the container: busybox picks its applet from argv[0], so it must be "sh".
        "startContainer": [sh_hook("startContainer", "sh", "/out")],
        "poststart": [sh_hook("poststart", "argv0-poststart", &o)],
        "poststop": [sh_hook("poststop", "argv0-poststop", &o)],
    });
    c.args(&["sleep", "30"]);
    c.write_config();
    rt_leaky(
        c,
        &["create", "--bundle", c.bundle.to_str().unwrap(), &c.id],
    )
    .ok();
    assert_eq!(c.status(), "created");
    let pid = c.pid();
    let cns = ["mnt", "pid", "net"].map(|k| ns(&pid.to_string(), k));
    let ord = lines(&out, "order");
    assert_eq!(
        ord,
        ["prestart", "createRuntime", "createContainer"],
        "after create"
    );
    rt_leaky(c, &["start", &c.id]).ok();
    assert_eq!(c.status(), "running");
    assert_eq!(
        ns(&pid.to_string(), "mnt"),
        cns[0],
        "the container process is still the one create made"
    );
    let ord = lines(&out, "order");
    assert_eq!(
        ord,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart"
        ],
        "after start"
    );
    c.rt(&["kill", &c.id, "KILL"]).ok();
    c.wait_status("stopped");
    rt_leaky(c, &["delete", &c.id]).ok();
    (out, pid, cns)
}

#[test]
fn all_six_hooks_run_in_order_with_the_state_they_should_see() {
    let mut c = Container::new("hooks-order");
    let (out, pid, _) = full_flow(&mut c);
    assert_eq!(
        lines(&out, "order"),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    assert_gone(&c);
    let bundle = c.bundle.to_str().unwrap();
    // (hook, status, pid as the hook should see it)
    let want = [
        ("prestart", "created", pid),
        ("createRuntime", "created", pid),
        // Container-namespace hooks see the pid as the container does: its init is 1.
        ("createContainer", "created", 1),
        ("startContainer", "created", 1),
        ("poststart", "running", pid),
    ];
    for (hook, status, want_pid) in want {
        let s = state_of(&out, hook);
        assert_eq!(s["id"], c.id, "{hook}: {s}");
        assert_eq!(s["status"], status, "{hook}: {s}");
        assert_eq!(s["pid"], want_pid, "{hook}: {s}");
        assert_eq!(s["bundle"], bundle, "{hook}: {s}");
        assert!(s["ociVersion"].is_string(), "{hook}: {s}");
    }
    let s = state_of(&out, "poststop");
    assert_eq!(s["id"], c.id, "poststop: {s}");
    assert_eq!(s["status"], "stopped", "poststop: {s}");
    assert_eq!(s["bundle"], bundle, "poststop: {s}");
    assert!(
        s["pid"].is_null() || s["pid"] == 0,
        "poststop: a stopped container has no pid: {s}"
    );
}

#[test]
fn hooks_run_in_the_namespaces_the_spec_names() {
    let mut c = Container::new("hooks-ns");
    let (out, _pid, [cmnt, cpid, cnet]) = full_flow(&mut c);
    let host = ["mnt", "pid", "net"].map(|k| ns("self", k));
    assert_ne!(cmnt, host[0]);
    assert_ne!(cpid, host[1]);
    assert_ne!(cnet, host[2]);
    // Runtime-namespace hooks: the host's namespaces.
    for hook in ["prestart", "createRuntime", "poststart", "poststop"] {
        for (i, k) in ["mnt", "pid", "net"].iter().enumerate() {
            assert_eq!(
                read(&out, &format!("{hook}.self.{k}")),
                host[i],
                "{hook} {k} namespace"
            );
        }
    }
    // ... yet the container's namespaces already exist while prestart/createRuntime run: the pid
    // on their stdin is a process already in the container's mount, pid and net namespaces.
    for hook in ["prestart", "createRuntime", "poststart"] {
        assert_eq!(
            read(&out, &format!("{hook}.target.mnt")),
            cmnt,
            "{hook}: state pid's mnt"
        );
        assert_eq!(
            read(&out, &format!("{hook}.target.pid")),
            cpid,
            "{hook}: state pid's pid ns"
        );
        assert_eq!(
            read(&out, &format!("{hook}.target.net")),
            cnet,
            "{hook}: state pid's net"
        );
    }
    // createContainer: the container's mount namespace (and its pid and net namespaces).
    assert_eq!(
        read(&out, "createContainer.self.mnt"),
        cmnt,
        "createContainer mnt namespace"
    );
    assert_eq!(
        read(&out, "createContainer.self.pid"),
        cpid,
        "createContainer pid namespace"
    );
    assert_eq!(
        read(&out, "createContainer.self.net"),
        cnet,
        "createContainer net namespace"
    );
    // ... before pivot_root: its path (a script that exists only on the host, in the bundle)
    // resolved, and its cwd is still rt's own host directory, reachable from its root.
    let rt_cwd = std::env::current_dir().unwrap();
    assert_eq!(read(&out, "createContainer.cwd"), rt_cwd.to_str().unwrap());
    // startContainer: inside the container, where /proc/1 is the container's init. The init
    // is not dumpable until it execs (as runc's), so the hook, a process of the container
    // without CAP_SYS_PTRACE, cannot open its namespace files.
    for (i, k) in ["mnt", "pid", "net"].iter().enumerate() {
        let want = [&cmnt, &cpid, &cnet][i];
        assert_eq!(
            &read(&out, &format!("startContainer.self.{k}")),
            want,
            "startContainer {k}"
        );
        assert_eq!(
            read(&out, &format!("startContainer.target.{k}")),
            "",
            "startContainer read pid 1's {k} namespace"
        );
    }
    // After pivot_root, the container's cwd ("/" by `rt spec`) is the hook's.
    assert_eq!(read(&out, "startContainer.cwd"), "/");
}

#[test]
fn each_hook_gets_its_own_args_and_env_and_nothing_of_rts() {
    let mut c = Container::new("hooks-env");
    let (out, _, _) = full_flow(&mut c);
    for hook in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        // /proc/<pid>/environ is what execve gave it: exactly hooks[].env (Rust's Command
        // sorts the variables; their order carries no meaning).
        let mut env = lines(&out, &format!("{hook}.environ"));
        env.sort();
        let mut want = hook_env(hook);
        want.sort();
        assert_eq!(env, want, "{hook} environment");
        let argv = lines(&out, &format!("{hook}.cmdline"));
        if hook == "createContainer" {
            // A script: the kernel runs "/bin/sh <path> args[1..]" (argv[0] is replaced).
            assert_eq!(argv[0], "/bin/sh", "{hook} argv {argv:?}");
            assert!(
                argv[1].ends_with("/create-container.sh"),
                "{hook} argv {argv:?}"
            );
            assert_eq!(argv[2..], ["x"], "{hook} argv {argv:?}");
        } else {
            let argv0 = if hook == "startContainer" {
                "sh".to_string()
            } else {
                format!("argv0-{hook}")
            };
            assert_eq!(argv[0], argv0, "{hook} argv {argv:?}");
            assert_eq!(argv[1], "-c", "{hook} argv {argv:?}");
            assert_eq!(argv.last().unwrap(), "extra-arg", "{hook} argv {argv:?}");
        }
    }
}

/// The hooks that run in the container (createContainer, startContainer) and have no `env` of
/// their own get the container process's environment, as runc's do (youki's contest checks
/// it: the hook tests `$ONE` and `$FOO`); with an `env`, exactly that. The runtime's own
/// environment reaches neither.
#[test]
fn container_namespace_hooks_without_env_get_the_processs() {
    for (kind, with_env) in [
        ("startContainer", false),
        ("startContainer", true),
        ("createContainer", false),
    ] {
        let mut c = Container::new("hook-penv");
        c.config["process"]["env"] = json!(["PATH=/bin", "ONE=two", "FOO=bar"]);
        c.args(&["sleep", "1000"]);
        let check = match with_env {
            false => r#"test "$ONE" = two && test "$FOO" = bar && test -z "$RT_HOOK_SECRET""#,
            true => r#"test "$HOOK_VAR" = x && test -z "$ONE""#,
        };
        let mut hook = json!({"path": "/bin/sh", "args": ["sh", "-c", check]});
        if with_env {
            hook["env"] = json!(["HOOK_VAR=x"]);
        }
        c.config["hooks"] = json!({ kind: [hook] });
        c.write_config();
        let mut cmd = std::process::Command::new(rt_bin());
        cmd.arg("--root")
            .arg(state_root())
            .args(["create", "--bundle", c.bundle.to_str().unwrap(), &c.id])
            .env("RT_HOOK_SECRET", "caller's");
        let out = run_cmd(&mut cmd, &c.bundle);
        assert!(out.status.success(), "{kind} (env {with_env}): {out:?}");
        let out = c.start();
        assert!(out.status.success(), "{kind} (env {with_env}): {out:?}");
        assert_eq!(c.status(), "running", "{kind} (env {with_env})");
        c.rt(&["delete", "--force", &c.id]).ok();
    }
}

/// A hook that fails loudly after noting the pid namespace of the container it was given.
fn failing_hook(kind: &str, dir: &str, in_container: bool) -> Value {
    let note = if in_container {
        // The container's pid namespace is its own.
        format!("readlink /proc/self/ns/pid > {dir}/{kind}.pidns")
    } else {
        format!(
            "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); readlink /proc/$pid/ns/pid > {dir}/{kind}.pidns"
        )
    };
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("{note}; echo boom-from-{kind} >&2; exit 3")],
        "env": ["PATH=/usr/bin:/bin"],
    })
}

/// A failing create-time hook: create fails with exit 1, naming the hook and carrying its
/// stderr, and leaves nothing behind. A later hook of the same kind never runs.
fn create_hook_failure(kind: &str) {
    let mut c = Container::new(&format!("fail-{}", kind.to_lowercase()));
    let out = out_dir(&c);
    let o = out.to_str().unwrap();
    c.config["hooks"] = json!({
        kind: [
            failing_hook(kind, o, kind == "createContainer"),
            {"path": "/bin/sh", "args": ["sh", "-c", format!("touch {o}/later")]},
        ],
    });
    c.args(&["sleep", "30"]);
    let r = c.create().fails_with(kind);
    assert!(
        r.stderr.contains(&format!("boom-from-{kind}")),
        "hook stderr missing: {r:?}"
    );
    assert!(r.stderr.contains("exit status 3"), "{r:?}");
    assert!(
        !out.join("later").exists(),
        "hooks after the failing {kind} hook ran"
    );
    assert_gone(&c);
    assert_pidns_empty(&read(&out, &format!("{kind}.pidns")));
}

#[test]
fn failing_prestart_fails_create_and_leaves_nothing() {
    create_hook_failure("prestart");
}

#[test]
fn failing_create_runtime_fails_create_and_leaves_nothing() {
    create_hook_failure("createRuntime");
}

#[test]
fn failing_create_container_fails_create_and_leaves_nothing() {
    create_hook_failure("createContainer");
}

#[test]
fn failing_start_container_fails_start_and_stops_the_container() {
    let mut c = Container::new("fail-startcontainer");
    mount_out(&mut c);
    c.config["hooks"] = json!({
        "startContainer": [failing_hook("startContainer", "/out", true)],
        "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "touch \"$(dirname \"$0\")\"/poststart-ran", c.bundle.join("out").join("x")]}],
    });
    // Would leave a trace if the user's program ran.
    c.sh("touch /out/user-program-ran; sleep 30");
    c.create().ok();
    let out = c.bundle.join("out");
    let r = c.start();
    let pidns = read(&out, "startContainer.pidns");
    assert!(
        !out.join("user-program-ran").exists(),
        "the user's program ran: {r:?}"
    );
    assert_pidns_empty(&pidns);
    let r = r.fails_with("startContainer");
    assert!(
        r.stderr.contains("boom-from-startContainer"),
        "hook stderr missing: {r:?}"
    );
    assert_eq!(c.status(), "stopped");
    assert!(
        !out.join("poststart-ran").exists(),
        "poststart ran after startContainer failed"
    );
    c.delete().ok();
    assert_gone(&c);
}

#[test]
fn failing_start_container_fails_run_and_skips_poststart() {
    let mut c = Container::new("fail-startcontainer-run");
    let out = mount_out(&mut c);
    c.config["hooks"] = json!({
        "startContainer": [failing_hook("startContainer", "/out", true)],
        // Lifecycle step 7 failing continues at step 12: poststart (step 9) never runs.
        "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}/poststart-ran", out.display())]}],
    });
    c.sh("touch /out/user-program-ran");
    let r = c.run();
    assert!(
        !out.join("user-program-ran").exists(),
        "the user's program ran: {r:?}"
    );
    assert_pidns_empty(&read(&out, "startContainer.pidns"));
    let r = r.fails_with("startContainer");
    assert!(
        r.stderr.contains("boom-from-startContainer"),
        "hook stderr missing: {r:?}"
    );
    assert_gone(&c);
    assert!(
        !out.join("poststart-ran").exists(),
        "poststart ran after startContainer failed"
    );
}

#[test]
fn failing_poststart_fails_start_and_stops_the_container() {
    // Spec 1.3, runtime.md step 9: a failed poststart hook generates an error and stops the
    // container (not just a warning).
    let mut c = Container::new("fail-poststart");
    let out = out_dir(&c);
    let o = out.to_str().unwrap();
    c.config["hooks"] = json!({"poststart": [failing_hook("poststart", o, false)]});
    c.args(&["sleep", "30"]);
    c.create().ok();
    let r = c.start().fails_with("poststart");
    assert!(
        r.stderr.contains("boom-from-poststart"),
        "hook stderr missing: {r:?}"
    );
    assert_pidns_empty(&read(&out, "poststart.pidns"));
    c.wait_status("stopped");
    c.delete().ok();
    assert_gone(&c);
}

#[test]
fn failing_poststop_is_a_warning_and_later_hooks_still_run() {
    let mut c = Container::new("fail-poststop");
    let out = out_dir(&c);
    let o = out.to_str().unwrap();
    c.config["hooks"] = json!({"poststop": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo boom-from-poststop >&2; exit 3"]},
        {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {o}/second.state")]},
    ]});
    c.sh("exit 0");
    c.create().ok();
    c.start().ok();
    c.wait_status("stopped");
    let r = c.delete();
    assert_eq!(
        r.code(),
        0,
        "a failed poststop hook must not fail delete: {r:?}"
    );
    assert!(
        r.stderr.contains("boom-from-poststop"),
        "no warning naming the hook: {r:?}"
    );
    assert_gone(&c);
    let s = state_of(&out, "second");
    assert_eq!(
        s["status"], "stopped",
        "the poststop hook after the failing one: {s}"
    );
}

#[test]
fn hook_timeout_kills_the_hook_and_fails_the_operation() {
    for kind in ["createRuntime", "createContainer"] {
        let mut c = Container::new(&format!("timeout-{}", kind.to_lowercase()));
        let out = out_dir(&c);
        let o = out.to_str().unwrap();
        c.config["hooks"] = json!({kind: [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("readlink /proc/self/ns/pid > {o}/pidns; echo $$ > {o}/hookpid; exec sleep 20")],
            "timeout": 1,
        }]});
        let t = Instant::now();
        let r = c.create().fails_with(kind);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{kind}: took {:?}",
            t.elapsed()
        );
        assert!(
            r.stderr.contains("timed out"),
            "{kind}: error does not mention the timeout: {r:?}"
        );
        assert_gone(&c);
        if kind == "createRuntime" {
            // A host process: that pid must now be gone (or at least no longer the sleep).
            let pid = read(&out, "hookpid");
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&cmd).contains("sleep"),
                "{kind}: hook {pid} still runs"
            );
        } else {
            assert_pidns_empty(&read(&out, "pidns"));
        }
    }
}

#[test]
fn poststart_timeout_fails_start() {
    let mut c = Container::new("timeout-poststart");
    let out = out_dir(&c);
    let o = out.to_str().unwrap();
    c.config["hooks"] = json!({"poststart": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {o}/hookpid; exec sleep 20")],
        "timeout": 1,
    }]});
    c.args(&["sleep", "30"]);
    c.create().ok();
    let pid = c.pid();
    let t = Instant::now();
    let r = c.start().fails_with("poststart");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(r.stderr.contains("timed out"), "{r:?}");
    let hook = read(&out, "hookpid");
    let cmd = fs::read(format!("/proc/{hook}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmd).contains("sleep"),
        "hook {hook} still runs"
    );
    c.wait_status("stopped");
    assert!(
        !fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|s| s.contains("sleep")),
        "container process {pid} still runs"
    );
}

#[test]
fn relative_hook_path_is_refused_before_anything_is_made() {
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let mut c = Container::new(&format!("relpath-{}", kind.to_lowercase()));
        let out = out_dir(&c);
        let marker = out.join("ran");
        // Would work if it were resolved against some cwd: bin/sh exists on the host under /.
        c.config["hooks"] = json!({kind: [
            {"path": "bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]},
        ]});
        let r = c.create().fails_with(kind);
        assert!(r.stderr.contains("absolute"), "{kind}: unclear error {r:?}");
        assert!(
            r.stderr.contains("bin/sh"),
            "{kind}: error does not name the path {r:?}"
        );
        assert_gone(&c);
        assert!(!marker.exists(), "{kind}: the hook ran");
    }
}
