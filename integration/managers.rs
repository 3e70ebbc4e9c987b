//! rt as the runtime of real managers: podman 4.3 (through conmon), containerd 1.6 (through
//! its runc v2 shim, driven by ctr) and docker 20.10 (dockerd on a private containerd), all from
//! Debian. Each test gets a private directory for the manager's storage, sockets and rt's
//! `--root`, and a cgroup parent under /rt-test; on drop it ends the processes the manager left
//! (by PID), unmounts what is left under its directory and removes its cgroups. Images are made
//! locally from the test busybox rootfs.
//!
//! The docker test configures dockerd with README.md's `daemon.json` as written and runs every
//! check with rt and with runc (the control), printing a table of the results.
//!
//! `RT_SKIP_MANAGERS=1` skips these tests (for quick local runs); CI installs the managers
//! (Debian: podman, containerd, docker.io).

mod common;

use common::{ns, run_cmd, Output, Report, CGROUP_PREFIX};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/rt-busybox:test";
/// podman runs rt with its default root, where rt keeps the seccomp filters it compiled for
/// podman's default profile: removed after the tests unless it was there before them.
const SECCOMP_CACHE: &str = "/run/rt/.rt-cache:seccomp";
static SECCOMP_CACHE_BEFORE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// False when the caller asked to skip; panics when a manager is missing.
fn wanted(tool: &str) -> bool {
    if std::env::var_os("RT_SKIP_MANAGERS").is_some() {
        eprintln!("RT_SKIP_MANAGERS is set: skipping");
        return false;
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed (apt-get install -y podman containerd), or set RT_SKIP_MANAGERS=1"
    );
    true
}

/// A fresh directory for one test's manager.
fn test_dir(name: &str) -> PathBuf {
    common::rootfs(); // also makes the /rt-test cgroup prefix
    let dir = common::tmp_dir().join("managers").join(name);
    cleanup_dir(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// End every process whose command line names `dir` (conmon, shims, daemons), unmount what is
/// mounted under it, then remove it.
fn cleanup_dir(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        if pid != std::process::id() as i32 && String::from_utf8_lossy(&cmdline).contains(&needle) {
            common::kill_pid(pid);
        }
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(needle.as_str()))
        .collect();
    points.reverse();
    for p in points {
        let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir_all(dir);
}

/// The file `file` of controller `ctrl` in the cgroup that holds `pid`, as /proc/PID/cgroup shows it.
fn cgroup_file_of(pid: i32, ctrl: &str, v1: &str, v2: &str) -> PathBuf {
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        if ctrls.split(',').any(|c| c == ctrl) {
            return Path::new("/sys/fs/cgroup")
                .join(ctrl)
                .join(path.trim_start_matches('/'))
                .join(v1);
        }
    }
    let path = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let root = if common::pure_v2() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    Path::new(root).join(path.trim_start_matches('/')).join(v2)
}

fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The namespaces a process of the container reports (readlink of /proc/self/ns/*), for
/// comparison with the init's links seen from the host.
const NS_KINDS: [&str; 5] = ["mnt", "pid", "net", "ipc", "uts"];
const NS_SCRIPT: &str = "for n in mnt pid net ipc uts; do readlink /proc/self/ns/$n; done; exit 4";

fn assert_same_namespaces(out: &Output, init: i32) {
    let want: Vec<String> = NS_KINDS.iter().map(|k| ns(&init.to_string(), k)).collect();
    let got: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(got, want, "{out:?}");
}

/// Run `sh -c CMD` as a session leader on a new pty (its controlling terminal and stdio) that
/// is written to only once, with `reply` as soon as the output shows `prompt`; return its exit
/// code and everything it printed there.
fn under_pty(cmd: &str, prompt: &str, reply: &str) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap());
    // Safety: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    drop(pty.slave);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    let mut exited = None;
    let mut replied = false;
    loop {
        if !replied && String::from_utf8_lossy(&out).contains(prompt) {
            nix::unistd::write(&pty.master, reply.as_bytes()).unwrap();
            replied = true;
        }
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&pty.master),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready = nix::poll::poll(&mut fds, 100u16).unwrap_or(0);
        if ready > 0 {
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&pty.master, &mut buf) {
                Ok(n) if n > 0 => {
                    out.extend_from_slice(&buf[..n]);
                    continue;
                }
                _ => {} // EIO: every slave is closed
            }
        }
        // Done once the command has exited and the pty has nothing more to read.
        if let Some(st) = exited {
            break (st, String::from_utf8_lossy(&out).into_owned());
        }
        if let Some(st) = child.try_wait().unwrap() {
            exited = Some(st.code().unwrap_or(-1));
        } else if Instant::now() > deadline {
            common::kill_pid(child.id() as i32);
            let _ = child.wait();
            panic!("{cmd} did not finish: {:?}", String::from_utf8_lossy(&out));
        }
    }
}

/// Poll until `f` is true.
#[track_caller]
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The rt state directories left under `root` (containers the manager did not delete).
fn state_left(root: &Path) -> Vec<String> {
    fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// podman with private configuration, storage and rt `--root`, and the test image imported.
struct Podman {
    name: String,
    dir: PathBuf,
}

impl Podman {
    fn new(test: &str) -> Self {
        SECCOMP_CACHE_BEFORE.get_or_init(|| Path::new(SECCOMP_CACHE).exists());
        let name = format!("podman-{test}-{}", std::process::id());
        let dir = test_dir(&name);
        let d = dir.display();
        fs::write(
            dir.join("containers.conf"),
            format!(
                r#"[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
runtime_supports_json = ["rt"]
tmp_dir = "{d}/tmp"
"#
            ),
        )
        .unwrap();
        fs::write(
            dir.join("storage.conf"),
            format!("[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"),
        )
        .unwrap();
        fs::write(
            dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        let p = Podman { name, dir };
        let tar = p.dir.join("rootfs.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(common::rootfs())
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success(), "tar the rootfs");
        p.podman(&["import", tar.to_str().unwrap(), IMAGE]).ok();
        p
    }

    fn command_line(&self) -> String {
        let d = self.dir.display();
        format!(
            "env CONTAINERS_CONF={d}/containers.conf CONTAINERS_STORAGE_CONF={d}/storage.conf \
             CONTAINERS_REGISTRIES_CONF={d}/registries.conf podman --runtime {}",
            common::rt_bin(),
        )
    }

    fn podman(&self, args: &[&str]) -> Output {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("{} \"$@\"", self.command_line()))
            .arg("podman")
            .args(args);
        run_cmd(&mut c, &self.dir)
    }

    /// `podman run --cgroup-parent /rt-test/<name> ARGS`
    fn run(&self, args: &[&str]) -> Output {
        let parent = format!("/{CGROUP_PREFIX}/{}", self.name);
        let mut all = vec!["run", "--cgroup-parent", &parent];
        all.extend_from_slice(args);
        self.podman(&all)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.podman(&["inspect", "-f", format, name])
            .ok()
            .stdout
            .trim()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
        cleanup_dir(&self.dir);
        common::remove_test_cgroup(&self.name);
        // Every podman test removes it: the last to end leaves none.
        if SECCOMP_CACHE_BEFORE.get() == Some(&false) {
            let _ = fs::remove_dir_all(SECCOMP_CACHE);
        }
    }
}

#[test]
fn podman_run_rm_echo_and_exit_codes() {
    if !wanted("podman") {
        return;
    }
    let p = Podman::new("rm");
    let cid = p.dir.join("cid");
    let out = p
        .run(&[
            "--rm",
            "--cidfile",
            cid.to_str().unwrap(),
            IMAGE,
            "echo",
            "hi",
        ])
        .ok();
    assert_eq!(out.stdout, "hi\n", "{out:?}");
    // podman's rt state lives in rt's default root: its `rm` deleted it.
    let id = read_trim(&cid);
    assert!(
        !Path::new("/run/rt").join(&id).exists(),
        "{id} left in /run/rt"
    );
    assert_eq!(p.run(&["--rm", IMAGE, "sh", "-c", "exit 7"]).code(), 7);
    // podman maps runc's "executable file not found" wording to 127.
    let out = p.run(&["--rm", IMAGE, "nosuch-cmd"]);
    assert_eq!(out.code(), 127, "{out:?}");
    assert!(
        out.stderr
            .contains("exec: \"nosuch-cmd\": executable file not found in $PATH"),
        "{out:?}"
    );
    // ... "no such file or directory" to 127 and "permission denied" to 126.
    let out = p.run(&["--rm", IMAGE, "/nosuch"]);
    assert_eq!(out.code(), 127, "{out:?}");
    let out = p.run(&["--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(out.code(), 126, "{out:?}");
    assert!(out.stderr.contains("permission denied"), "{out:?}");
    let out = p.podman(&["ps", "-aq"]).ok();
    assert_eq!(out.stdout, "", "{out:?}");
}

/// podman adds `tmpcopyup` to every tmpfs it generates: `--read-only` (tmpfs on /tmp, /var/tmp,
/// /run...), `--tmpfs`, `--mount type=tmpfs`. Each must run, the tmpfs holding what the image
/// had there, and root propagation must let a volume see what the host mounts under it later
/// (`-v src:dst:rslave`, podman's default for volumes is rprivate).
#[test]
fn podman_read_only_and_tmpfs_mounts() {
    if !wanted("podman") {
        return;
    }
    let p = Podman::new("tmpfs");
    let out = p.run(&[
        "--rm",
        "--read-only",
        IMAGE,
        "sh",
        "-c",
        "echo ok > /tmp/x && cat /tmp/x && touch /etc/x",
    ]);
    assert_eq!(out.stdout, "ok\n", "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    // The image's /etc, copied up: its passwd is still there.
    let out = p
        .run(&[
            "--rm",
            "--tmpfs",
            "/etc",
            IMAGE,
            "sh",
            "-c",
            "grep -c ^root: /etc/passwd && grep ' /etc ' /proc/self/mountinfo | cut -d' ' -f9",
        ])
        .ok();
    assert_eq!(out.stdout, "1\ntmpfs\n", "{out:?}");
    let out = p
        .run(&[
            "--rm",
            "--mount",
            "type=tmpfs,destination=/bin2",
            IMAGE,
            "sh",
            "-c",
            "echo in > /bin2/f && cat /bin2/f",
        ])
        .ok();
    assert_eq!(out.stdout, "in\n", "{out:?}");
}

#[test]
fn podman_detached_exec_limits_pause_update_stop_rm() {
    if !wanted("podman") {
        return;
    }
    let p = Podman::new("detached");
    let id = p
        .run(&[
            "-d",
            "--name",
            "c1",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            IMAGE,
            "sleep",
            "1000",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(
        Path::new("/run/rt").join(&id).is_dir(),
        "no rt state for {id}"
    );
    let pid: i32 = p.inspect("c1", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    let mem = cgroup_file_of(pid, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(read_trim(&mem), "67108864");
    let pids = cgroup_file_of(pid, "pids", "pids.max", "pids.max");
    assert_eq!(read_trim(&pids), "50");
    assert!(
        mem.to_string_lossy().contains(&p.name),
        "not under the cgroup parent: {}",
        mem.display()
    );

    // exec joins the init's namespaces and returns the process's status.
    let out = p.podman(&["exec", "c1", "sh", "-c", NS_SCRIPT]);
    assert_eq!(out.code(), 4, "{out:?}");
    assert_same_namespaces(&out, pid);
    let out = p.podman(&["exec", "c1", "nosuch-cmd"]);
    assert_eq!(out.code(), 127, "{out:?}");

    p.podman(&["pause", "c1"]).ok();
    let freezer = cgroup_file_of(pid, "freezer", "freezer.state", "cgroup.freeze");
    let frozen = if common::pure_v2() { "1" } else { "FROZEN" };
    assert_eq!(read_trim(&freezer), frozen);
    assert_eq!(p.inspect("c1", "{{.State.Status}}"), "paused");
    p.podman(&["unpause", "c1"]).ok();
    assert_ne!(read_trim(&freezer), frozen);

    p.podman(&["update", "--memory", "128m", "c1"]).ok();
    assert_eq!(read_trim(&mem), "134217728");

    // sleep as PID 1 ignores SIGTERM: podman falls back to SIGKILL after the timeout.
    p.podman(&["stop", "-t", "1", "c1"]).ok();
    assert_eq!(p.inspect("c1", "{{.State.Status}}"), "exited");
    assert_eq!(p.inspect("c1", "{{.State.ExitCode}}"), "137");
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    p.podman(&["rm", "c1"]).ok();
    assert!(!mem.parent().unwrap().exists(), "cgroup left behind");
    assert!(!Path::new("/run/rt").join(&id).exists(), "rt state left");
}

#[test]
fn podman_run_it_gets_a_pty() {
    if !wanted("podman") {
        return;
    }
    let p = Podman::new("tty");
    let parent = format!("/{CGROUP_PREFIX}/{}", p.name);
    let cmd = format!(
        "{} run --rm -it --cgroup-parent {parent} {IMAGE} sh -c \
         'tty; [ -t 0 ] && echo stdin-is-a-tty; echo prompt-$((6*7)); read x; echo got-$x; exit 3'",
        p.command_line(),
    );
    let (code, out) = under_pty(&cmd, "prompt-42", "hello\n");
    assert_eq!(code, 3, "{out:?}");
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("stdin-is-a-tty"), "{out:?}");
    assert!(out.contains("got-hello"), "{out:?}");
}

/// The test image as an archive containerd imports (`podman save`'s docker-archive), made once.
fn image_archive() -> &'static Path {
    static TAR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TAR.get_or_init(|| {
        let p = Podman::new("image");
        let tar = common::tmp_dir().join("managers").join("image.tar");
        let _ = fs::remove_file(&tar);
        p.podman(&["save", "-o", tar.to_str().unwrap(), IMAGE]).ok();
        tar
    })
}

/// A containerd daemon of the test's own (root, state and sockets in the test directory) and ctr
/// calls that make its runc v2 shim use rt, with rt's `--root` in the directory too.
struct Containerd {
    name: String,
    dir: PathBuf,
    daemon: std::process::Child,
}

/// containerd's config.toml for a private daemon in `dir`: root, state, sockets
/// (`dir/containerd.sock`) and opt directory there, without the CRI plugin.
fn containerd_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
    )
}

/// Start containerd with `containerd_config(dir)`, logging to `dir/containerd.log`; it answers
/// on `dir/containerd.sock` once `containerd_ready(dir)`.
fn spawn_containerd(dir: &Path) -> std::process::Child {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("config.toml"), containerd_config(dir)).unwrap();
    let log = fs::File::create(dir.join("containerd.log")).unwrap();
    Command::new("containerd")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start containerd")
}

fn containerd_ready(dir: &Path) -> bool {
    let mut c = Command::new("ctr");
    c.arg("-a").arg(dir.join("containerd.sock")).arg("version");
    run_cmd(&mut c, dir).status.success()
}

impl Containerd {
    fn new(test: &str) -> Self {
        let name = format!("ctr-{test}-{}", std::process::id());
        let dir = test_dir(&name);
        let daemon = spawn_containerd(&dir);
        let c = Containerd { name, dir, daemon };
        wait_for("containerd to listen", || containerd_ready(&c.dir));
        c.ctr(&["image", "import", image_archive().to_str().unwrap()])
            .ok();
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(self.dir.join("containerd.sock")).args(args);
        run_cmd(&mut c, &self.dir)
    }

    fn rt_root(&self) -> PathBuf {
        self.dir.join("rt-state")
    }

    fn cgroup(&self, id: &str) -> String {
        format!("/{CGROUP_PREFIX}/{}/{id}", self.name)
    }

    /// The flags of `ctr run` that select rt.
    fn runtime_flags(&self, id: &str) -> Vec<String> {
        vec![
            "--runtime".into(),
            "io.containerd.runc.v2".into(),
            "--runc-binary".into(),
            common::rt_bin().into(),
            "--runc-root".into(),
            self.rt_root().to_string_lossy().into_owned(),
            "--cgroup".into(),
            self.cgroup(id),
        ]
    }

    /// `ctr run [runtime flags] EXTRA IMAGE ID CMD...`
    fn run(&self, extra: &[&str], id: &str, cmd: &[&str]) -> Output {
        let flags = self.runtime_flags(id);
        let mut args: Vec<&str> = vec!["run"];
        args.extend(flags.iter().map(String::as_str));
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.push(id);
        args.extend_from_slice(cmd);
        self.ctr(&args)
    }

    fn task_pid(&self, id: &str) -> i32 {
        let out = self.ctr(&["task", "ls"]).ok();
        out.stdout
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id)).then(|| f[1].parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no task {id}: {out:?}"))
    }

    fn task_status(&self, id: &str) -> String {
        let out = self.ctr(&["task", "ls"]).ok();
        out.stdout
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id)).then(|| f[2].to_string())
            })
            .unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let out = self.ctr(&["task", "ls", "-q"]);
        for id in out.stdout.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "-f", id]);
        }
        let out = self.ctr(&["container", "ls", "-q"]);
        for id in out.stdout.lines() {
            let _ = self.ctr(&["container", "delete", id]);
        }
        common::kill_pid(self.daemon.id() as i32);
        let _ = self.daemon.wait();
        cleanup_dir(&self.dir);
        common::remove_test_cgroup(&self.name);
    }
}

#[test]
fn containerd_run_rm_exit_code_and_no_leaked_fds() {
    if !wanted("containerd") {
        return;
    }
    let c = Containerd::new("rm");
    let out = c.run(&["--rm"], "t1", &["echo", "hi"]).ok();
    assert_eq!(out.stdout, "hi\n", "{out:?}");
    assert_eq!(c.run(&["--rm"], "t2", &["sh", "-c", "exit 5"]).code(), 5);
    // The shim hands rt an extra fd (its socket); the container must see only stdio.
    let out = c
        .run(
            &["--rm"],
            "t3",
            // The shell's fds, listed by a child: no pipeline (the shell would hold the pipe
            // while `ls` looks), and `; true` so that the shell does not exec `ls` in its place.
            &["sh", "-c", "ls /proc/$$/fd; true"],
        )
        .ok();
    assert_eq!(out.stdout, "0\n1\n2\n", "{out:?}");
    let out = c.run(&["--rm"], "t4", &["nosuch-cmd"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("executable file not found in $PATH"),
        "{out:?}"
    );
    assert_eq!(
        state_left(&c.rt_root().join("default")),
        Vec::<String>::new()
    );
}

#[test]
fn containerd_detached_exec_tty_kill_delete_memory_limit() {
    if !wanted("containerd") {
        return;
    }
    let c = Containerd::new("detached");
    c.run(
        &["-d", "--memory-limit", "67108864"],
        "d1",
        &["sleep", "1000"],
    )
    .ok();
    let pid = c.task_pid("d1");
    let mem = cgroup_file_of(pid, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(read_trim(&mem), "67108864");
    assert!(mem.starts_with("/sys/fs/cgroup") && mem.to_string_lossy().contains(&c.cgroup("d1")));

    let out = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "d1",
        "sh",
        "-c",
        NS_SCRIPT,
    ]);
    assert_eq!(out.code(), 4, "{out:?}");
    assert_same_namespaces(&out, pid);

    let cmd = format!(
        "ctr -a {} task exec -t --exec-id e2 d1 sh -c \
         'tty; [ -t 0 ] && echo stdin-is-a-tty; echo prompt-$((6*7)); read x; echo got-$x; exit 2'",
        c.dir.join("containerd.sock").display()
    );
    let (code, out) = under_pty(&cmd, "prompt-42", "hello\n");
    assert_eq!(code, 2, "{out:?}");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert!(out.contains("stdin-is-a-tty"), "{out:?}");
    assert!(out.contains("got-hello"), "{out:?}");

    c.ctr(&["task", "kill", "-s", "SIGKILL", "d1"]).ok();
    wait_for("the task to stop", || c.task_status("d1") == "STOPPED");
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    c.ctr(&["task", "delete", "d1"]).ok();
    c.ctr(&["container", "delete", "d1"]).ok();
    assert!(!mem.parent().unwrap().exists(), "cgroup left behind");
    assert_eq!(
        state_left(&c.rt_root().join("default")),
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// docker

/// Debian's docker.io (20.10): its CLI by absolute path, since another `docker` may come first in
/// PATH (this project's machines have a newer CLI in /usr/local/bin).
const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";
/// The section of README.md that says how to use rt under docker, and the rt path it names.
const README_MANAGERS: &str = "## Under podman, docker and containerd";
const README_RT: &str = "/usr/local/bin/rt";
/// The runtime dockerd has under the name `runc` (the control): `runc` in its PATH.
const RUNC: &str = "runc";
/// dockerd makes this directory (its plugins' sockets) whatever its --exec-root.
const DOCKER_PLUGINS: &str = "/run/docker/plugins";
/// dockerd's identity key, unless --deprecated-key-path says otherwise.
const DOCKER_KEY: &str = "/etc/docker/key.json";
/// How long the docker test may take, setup included; its cleanup takes at most about 45 s
/// more (when the daemon does not stop).
const DOCKER_TIME: Duration = Duration::from_secs(90);
/// The environment that would make the CLI talk to another daemon, or read the user's config.
const DOCKER_ENV: [&str; 6] = [
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_API_VERSION",
    "DOCKER_RAMDISK",
];

/// README.md's docker configuration, as written: the daemon.json of the item "**docker**" of the
/// section "Under podman, docker and containerd" (the code span after `/etc/docker/daemon.json`),
/// and the runtime name of its `docker run --runtime NAME`. Panics when either is missing or
/// they disagree: the test must fail when the README stops saying it.
fn readme_docker() -> (serde_json::Value, String) {
    let section = common::readme_section(README_MANAGERS);
    let item = section
        .split("\n- ")
        .find(|i| i.starts_with("**docker**"))
        .unwrap_or_else(|| panic!("README.md's {README_MANAGERS:?} has no **docker** item"));
    let item = item.split("\n\n").next().unwrap().replace("\n  ", " ");
    let spans: Vec<&str> = item.split('`').skip(1).step_by(2).collect();
    let json = spans
        .windows(2)
        .find(|w| w[0] == "/etc/docker/daemon.json")
        .map(|w| w[1])
        .unwrap_or_else(|| panic!("no daemon.json snippet in README.md's docker item: {item}"));
    let config: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("README.md's daemon.json snippet {json}: {e}"));
    let name = spans
        .iter()
        .find_map(|s| s.strip_prefix("docker run --runtime "))
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `docker run --runtime NAME` in README.md: {item}"))
        .to_string();
    assert_eq!(
        config["runtimes"][&name]["path"], README_RT,
        "README.md's daemon.json does not give runtime {name:?} the path {README_RT}: {json}"
    );
    (config, name)
}

/// What of the host's network dockerd could change: interfaces, forwarding, iptables rules
/// (without their counters).
fn network_state() -> String {
    let mut s = String::new();
    let mut links: Vec<String> = fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    s += &format!("links {links:?}\n");
    for f in [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv6/conf/all/forwarding",
        "/proc/sys/net/bridge/bridge-nf-call-iptables",
    ] {
        s += &format!("{f} {:?}\n", fs::read_to_string(f).ok());
    }
    let scratch = common::tmp_dir().join("scratch");
    for tool in ["iptables-save", "ip6tables-save"] {
        let out = run_cmd(&mut Command::new(tool), &scratch);
        s += &format!("{tool}: {}\n", out.code());
        for l in out.stdout.lines().filter(|l| !l.starts_with('#')) {
            // ":CHAIN POLICY [packets:bytes]"
            s += l.split(" [").next().unwrap();
            s.push('\n');
        }
    }
    s
}

/// A private dockerd (data-root, exec-root, pidfile, socket and key under the test's directory)
/// on a private containerd (dockerd 20.10 would otherwise use the system's one when
/// /run/containerd/containerd.sock exists, or start one of its own), configured with README.md's
/// daemon.json (rt's path replaced by the built rt), the cgroupfs driver and a cgroup parent
/// under /rt-test, and no change to the host's network. The test image is loaded.
struct Docker {
    name: String,
    dir: PathBuf,
    /// The runtime name README.md gives rt.
    rt: String,
    containerd: Option<std::process::Child>,
    daemon: Option<std::process::Child>,
    /// The ids of every container made (`--cidfile`).
    ids: std::cell::RefCell<Vec<String>>,
    /// Whether /run/docker/plugins, /run/docker and /etc/docker/key.json existed before.
    existed: [bool; 3],
    /// `network_state()` before the daemon started.
    network: String,
    /// Every docker command must end before this (the test's bound).
    deadline: Instant,
}

impl Docker {
    fn new() -> Self {
        let (mut config, rt) = readme_docker();
        let name = format!("dk-{}", std::process::id());
        let dir = test_dir(&name);
        config["runtimes"][&rt]["path"] = common::rt_bin().into();
        // The daemon's identity key, else /etc/docker/key.json (no flag for it in 20.10).
        config["deprecated-key-path"] = dir.join("key.json").to_string_lossy().into();
        fs::write(dir.join("daemon.json"), config.to_string()).unwrap();
        let plugins = Path::new(DOCKER_PLUGINS);
        let mut d = Docker {
            name,
            dir,
            rt,
            containerd: None,
            daemon: None,
            ids: Default::default(),
            existed: [
                plugins.exists(),
                plugins.parent().unwrap().exists(),
                Path::new(DOCKER_KEY).exists(),
            ],
            network: network_state(),
            deadline: Instant::now() + DOCKER_TIME,
        };
        d.containerd = Some(spawn_containerd(&d.containerd_dir()));
        wait_for("containerd to listen", || {
            containerd_ready(&d.containerd_dir())
        });
        d.start_daemon();
        let image =
            serde_json::json!({"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]});
        let tar = common::image_archive(&d.dir.join("image"), &[(IMAGE, image)]);
        d.docker(&["load", "-i", tar.to_str().unwrap()]).ok();
        d
    }

    /// containerd's directory: the test's (its sockets' paths must stay under 104 bytes).
    fn containerd_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    fn start_daemon(&mut self) {
        let d = &self.dir;
        let log = fs::File::create(d.join("dockerd.log")).unwrap();
        let mut c = Command::new(DOCKERD);
        for v in DOCKER_ENV {
            c.env_remove(v);
        }
        c.arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .arg("--containerd")
            .arg(self.containerd_dir().join("containerd.sock"))
            .args(["--iptables=false", "--ip-forward=false", "--ip-masq=false"])
            .args([
                "--bridge=none",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
            ])
            .arg("--cgroup-parent")
            .arg(self.cgroup_parent())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.daemon = Some(c.spawn().expect("start dockerd"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.docker(&["version"]).status.success() {
            let exited = self.daemon.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "dockerd did not start ({exited:?}): {}",
                fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's cgroup parent: every container's cgroup is `<it>/<id>`.
    fn cgroup_parent(&self) -> String {
        format!("/{CGROUP_PREFIX}/{}", self.name)
    }

    /// The runtimes' `--root` (dockerd gives the same to every runtime), namespace `moby`.
    fn runtime_root(&self) -> PathBuf {
        self.dir.join("exec/runtime-runc/moby")
    }

    /// `docker` (Debian's CLI, this daemon, a config directory of the test's) as a shell
    /// command line.
    fn command_line(&self) -> String {
        let unset: String = DOCKER_ENV.iter().map(|v| format!("-u {v} ")).collect();
        format!(
            "env {unset}DOCKER_CONFIG={} {DOCKER} -H unix://{}",
            self.dir.join("cli").display(),
            self.socket().display()
        )
    }

    /// `docker ARGS`, within 30 s and before the test's deadline (a panic otherwise).
    fn docker(&self, args: &[&str]) -> Output {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("{} \"$@\"", self.command_line()))
            .arg("docker")
            .args(args);
        let left = self.deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the docker test took more than {DOCKER_TIME:?}"
        );
        common::run_cmd_within(&mut c, &self.dir, left.min(Duration::from_secs(30)))
    }

    /// `docker run --runtime RUNTIME --cidfile F ARGS`, keeping the container's id.
    fn run(&self, runtime: &str, args: &[&str]) -> Output {
        let n = self.ids.borrow().len();
        let cid = self.dir.join(format!("cid-{n}"));
        let mut all = vec![
            "run",
            "--runtime",
            runtime,
            "--cidfile",
            cid.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let out = self.docker(&all);
        let id = fs::read_to_string(&cid).unwrap_or_default();
        self.ids.borrow_mut().push(id.trim().to_string());
        out
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.docker(&["inspect", "-f", format, name])
            .stdout
            .trim()
            .to_string()
    }

    /// The socket of a container's shim: containerd 1.6's runc v2 shim listens on
    /// /run/containerd/s/<sha256 of "<containerd's address>/<namespace>/<id>">.
    fn shim_socket(&self, id: &str) -> PathBuf {
        let key = self
            .containerd_dir()
            .join("containerd.sock")
            .join("moby")
            .join(id);
        let mut c = Command::new("sh");
        c.args(["-c", "printf %s \"$1\" | sha256sum", "sh"])
            .arg(key);
        let sum = run_cmd(&mut c, &self.dir).ok().stdout;
        Path::new("/run/containerd/s").join(sum.split_whitespace().next().unwrap())
    }

    /// Stop the daemon (SIGTERM, as its service would), then containerd; their exit statuses.
    fn stop(&mut self) -> (String, String) {
        let stop = |child: Option<std::process::Child>| {
            let Some(mut child) = child else {
                return "not running".to_string();
            };
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Some(st) = child.try_wait().unwrap() {
                    return st.to_string();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            format!("killed after 20 s: {}", child.wait().unwrap())
        };
        let daemon = stop(self.daemon.take());
        let containerd = stop(self.containerd.take());
        (daemon, containerd)
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // Remove what is left as docker would (within 20 s, never a panic here).
        if self.daemon.is_some() {
            let cli = self.command_line();
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{cli} rm -f $({cli} ps -aq) >/dev/null 2>&1"))
                .stdin(std::process::Stdio::null());
            if let Ok(mut child) = c.spawn() {
                let deadline = Instant::now() + Duration::from_secs(20);
                while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for (log, what) in [("dockerd.log", "dockerd"), ("containerd.log", "containerd")] {
                let kept = common::tmp_dir().join(format!("{}.{what}.log", self.name));
                let _ = fs::copy(self.dir.join(log), &kept);
                eprintln!("{what}'s log kept at {}", kept.display());
            }
        }
        self.stop();
        // rt's state of a container the daemon could not remove.
        for id in state_left(&self.runtime_root()) {
            if !id.starts_with('.') {
                let mut c = Command::new(common::rt_bin());
                c.arg("--root").arg(self.runtime_root());
                c.args(["delete", "--force", &id]);
                let _ = run_cmd(&mut c, &common::tmp_dir().join("scratch"));
            }
        }
        for id in self.ids.borrow().iter().filter(|id| !id.is_empty()) {
            let _ = fs::remove_file(self.shim_socket(id));
        }
        cleanup_dir(&self.dir);
        common::remove_test_cgroup(&self.name);
        let plugins = Path::new(DOCKER_PLUGINS);
        if !self.existed[0] {
            let _ = fs::remove_dir(plugins);
        }
        if !self.existed[1] {
            let _ = fs::remove_dir(plugins.parent().unwrap());
        }
    }
}

/// Every check of the docker test with runtime `rt` (README.md's name for rt, or runc), recorded
/// in `r`; an error ends the steps early.
fn docker_flow(d: &Docker, rt: &str, r: &mut Report) -> Result<(), String> {
    let ok = |out: &Output| {
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        }
    };
    // Foreground runs: output, exit codes, and docker's classification of the runtime's errors
    // (its text "executable file not found" or "no such file or directory" → 127, "permission
    // denied" → 126).
    let out = d.run(rt, &["--rm", IMAGE, "echo", "hi"]);
    r.check(
        rt,
        "run --rm: echo hi",
        out.code() == 0 && out.stdout == "hi\n",
        || format!("{out:?}"),
    );
    let out = d.run(rt, &["--rm", IMAGE, "sh", "-c", "exit 7"]);
    r.check(rt, "run --rm: exit 7", out.code() == 7, || {
        format!("{out:?}")
    });
    let out = d.run(rt, &["--rm", IMAGE, "nosuch-cmd"]);
    r.check(
        rt,
        "run --rm: missing command: 127, docker's message",
        out.code() == 127
            && out.stderr.contains("docker: Error response from daemon: failed to create shim task: OCI runtime create failed: ")
            && out.stderr.contains("exec: \"nosuch-cmd\": executable file not found in $PATH"),
        || format!("{out:?}"),
    );
    let out = d.run(rt, &["--rm", IMAGE, "/nosuch"]);
    r.check(rt, "run --rm: missing file: 127", out.code() == 127, || {
        format!("{out:?}")
    });
    let out = d.run(rt, &["--rm", IMAGE, "/etc/passwd"]);
    r.check(
        rt,
        "run --rm: not executable: 126",
        out.code() == 126 && out.stderr.contains("permission denied"),
        || format!("{out:?}"),
    );
    let out = d.docker(&["ps", "-aq"]);
    r.check(
        rt,
        "run --rm: no container left",
        out.stdout.is_empty(),
        || format!("{out:?}"),
    );

    // A terminal: -it under a pty.
    let cmd = format!(
        "{} run --rm -it --runtime {rt} {IMAGE} sh -c \
         'tty; [ -t 0 ] && echo stdin-is-a-tty; echo prompt-$((6*7)); read x; echo got-$x; exit 3'",
        d.command_line(),
    );
    let (code, out) = under_pty(&cmd, "prompt-42", "hello\n");
    r.check(
        rt,
        "run --rm -it: a pty, input, exit 3",
        code == 3
            && out.contains("/dev/pts/0")
            && out.contains("stdin-is-a-tty")
            && out.contains("got-hello"),
        || format!("{code}: {out:?}"),
    );

    // Detached, with limits, then exec, logs, top, pause, update, stop, rm.
    let name = format!("c-{rt}");
    let out = d.run(
        rt,
        &[
            "-d",
            "--name",
            &name,
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            IMAGE,
            "sh",
            "-c",
            "echo started; exec sleep 1000",
        ],
    );
    r.check(rt, "run -d", out.status.success(), || format!("{out:?}"));
    ok(&out)?;
    let id = out.stdout.trim().to_string();
    let pid: i32 = d
        .inspect(&name, "{{.State.Pid}}")
        .parse()
        .map_err(|e| format!("pid: {e}"))?;
    let state = d.runtime_root().join(&id);
    r.check(
        rt,
        "run -d: the runtime's state in exec-root",
        state.is_dir(),
        || format!("no {}", state.display()),
    );
    let shim = d.shim_socket(&id);
    r.check(rt, "run -d: the shim's socket", shim.exists(), || {
        format!("no {}", shim.display())
    });
    let mem = cgroup_file_of(pid, "memory", "memory.limit_in_bytes", "memory.max");
    let pids = cgroup_file_of(pid, "pids", "pids.max", "pids.max");
    let want_cg = format!("{}/{id}/", d.cgroup_parent());
    r.check(
        rt,
        "--memory 64m --pids-limit 50: in the cgroup files",
        fs::read_to_string(&mem).ok().as_deref() == Some("67108864\n")
            && fs::read_to_string(&pids).ok().as_deref() == Some("50\n"),
        || {
            format!(
                "{}: {:?}, {}: {:?}",
                mem.display(),
                fs::read_to_string(&mem),
                pids.display(),
                fs::read_to_string(&pids)
            )
        },
    );
    r.check(
        rt,
        "the cgroup is <cgroup parent>/<id>",
        mem.to_string_lossy().contains(&want_cg) && pids.to_string_lossy().contains(&want_cg),
        || format!("{} {}", mem.display(), pids.display()),
    );
    let mut logs = d.docker(&["logs", &name]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while logs.stdout.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        logs = d.docker(&["logs", &name]);
    }
    r.check(rt, "logs", logs.stdout == "started\n", || {
        format!("{logs:?}")
    });
    let out = d.docker(&["exec", &name, "sh", "-c", NS_SCRIPT]);
    let want: Vec<String> = NS_KINDS.iter().map(|k| ns(&pid.to_string(), k)).collect();
    r.check(
        rt,
        "exec: exit 4, in the init's namespaces",
        out.code() == 4 && out.stdout.lines().collect::<Vec<_>>() == want,
        || format!("{out:?}, want {want:?}"),
    );
    // (docker exec prints the daemon's error on stdout.)
    let out = d.docker(&["exec", &name, "nosuch-cmd"]);
    let text = format!("{}{}", out.stdout, out.stderr);
    r.check(
        rt,
        "exec: missing command: 126, docker's message",
        out.code() == 126
            && text.contains("OCI runtime exec failed: exec failed: ")
            && text.contains("exec: \"nosuch-cmd\": executable file not found in $PATH"),
        || format!("{out:?}"),
    );
    let out = d.docker(&["top", &name]);
    r.check(
        rt,
        "top (the runtime's ps)",
        out.status.success()
            && out.stdout.contains(&format!(" {pid} "))
            && out.stdout.contains("sleep 1000"),
        || format!("{out:?}"),
    );
    let freezer = cgroup_file_of(pid, "freezer", "freezer.state", "cgroup.freeze");
    let frozen = if common::pure_v2() { "1" } else { "FROZEN" };
    let out = d.docker(&["pause", &name]);
    let paused = fs::read_to_string(&freezer).unwrap_or_default();
    let status = d.inspect(&name, "{{.State.Status}}");
    r.check(
        rt,
        "pause: frozen",
        out.status.success() && paused.trim() == frozen && status == "paused",
        || format!("{out:?} {paused:?} {status}"),
    );
    let out = d.docker(&["unpause", &name]);
    let thawed = fs::read_to_string(&freezer).unwrap_or_default();
    r.check(
        rt,
        "unpause: thawed",
        out.status.success()
            && thawed.trim() != frozen
            && d.inspect(&name, "{{.State.Status}}") == "running",
        || format!("{out:?} {thawed:?}"),
    );
    let out = d.docker(&["update", "--memory", "128m", "--memory-swap", "256m", &name]);
    let limit = fs::read_to_string(&mem).unwrap_or_default();
    r.check(
        rt,
        "update --memory 128m",
        out.status.success() && limit == "134217728\n",
        || format!("{out:?} {limit:?}"),
    );
    // sleep, PID 1 of its namespace, ignores SIGTERM: docker kills it after the timeout.
    let out = d.docker(&["stop", "-t", "1", &name]);
    let code = d.inspect(&name, "{{.State.ExitCode}}");
    r.check(
        rt,
        "stop -t 1: SIGKILL after the timeout, exit 137",
        out.status.success() && code == "137" && !Path::new(&format!("/proc/{pid}")).exists(),
        || format!("{out:?} exit code {code}"),
    );
    let out = d.docker(&["rm", &name]);
    r.check(
        rt,
        "rm: no cgroup, runtime state or shim left",
        out.status.success()
            && !mem.parent().unwrap().exists()
            && !pids.parent().unwrap().exists()
            && !state.exists()
            && !shim.exists(),
        || {
            format!(
                "{out:?} cgroup {} state {} shim {}",
                mem.parent().unwrap().exists(),
                state.exists(),
                shim.exists()
            )
        },
    );

    // --init: docker's tini as PID 1 passes SIGTERM on to sleep, and exits 128+15.
    let name = format!("i-{rt}");
    let out = d.run(
        rt,
        &["-d", "--init", "--name", &name, IMAGE, "sleep", "1000"],
    );
    ok(&out)?;
    let out = d.docker(&["exec", &name, "ps", "-o", "pid,args"]);
    r.check(
        rt,
        "run -d --init: docker-init is PID 1",
        out.stdout.contains("1 /sbin/docker-init -- sleep 1000"),
        || format!("{out:?}"),
    );
    let out = d.docker(&["stop", "-t", "10", &name]);
    let code = d.inspect(&name, "{{.State.ExitCode}}");
    r.check(
        rt,
        "stop: SIGTERM, exit 143",
        out.status.success() && code == "143",
        || format!("{out:?} exit code {code}"),
    );
    ok(&d.docker(&["rm", &name]))?;

    // --read-only, and a tmpfs of its own.
    let out = d.run(
        rt,
        &[
            "--rm", "--read-only", "--tmpfs", "/x", IMAGE, "sh", "-c",
            "echo ok > /x/f && cat /x/f && grep ' /x ' /proc/self/mountinfo | cut -d' ' -f9 && touch /etc/x",
        ],
    );
    r.check(
        rt,
        "--read-only --tmpfs /x: / read-only, /x a writable tmpfs",
        out.code() == 1
            && out.stdout == "ok\ntmpfs\n"
            && out.stderr.contains("Read-only file system"),
        || format!("{out:?}"),
    );

    // Volume propagation: what the host mounts under a volume after the start reaches the
    // container with `:rslave`, not with the default (rprivate).
    let shared = d.dir.join("shared");
    for (suffix, sees, check) in [
        (
            ":rslave",
            true,
            "-v dir:/v:rslave: sees a mount the host makes after the start",
        ),
        ("", false, "-v dir:/v (rprivate): does not see it"),
    ] {
        let sub = format!("{rt}{}", if sees { "-rslave" } else { "-default" });
        let host_sub = shared.join(&sub);
        fs::create_dir_all(&host_sub).unwrap();
        let vol = format!("{}:/v{suffix}", shared.display());
        let name = format!("v-{sub}");
        let out = d.run(
            rt,
            &["-d", "--name", &name, "-v", &vol, IMAGE, "sleep", "1000"],
        );
        ok(&out)?;
        nix::mount::mount(
            Some("tmpfs"),
            &host_sub,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .map_err(|e| format!("mount a tmpfs on {}: {e}", host_sub.display()))?;
        fs::write(host_sub.join("f"), "from the host\n").unwrap();
        // The volume's directory is there either way; the file only on the host's new mount.
        let script = format!("ls -d /v/{sub} && cat /v/{sub}/f");
        let out = d.docker(&["exec", &name, "sh", "-c", &script]);
        let _ = nix::mount::umount2(&host_sub, nix::mount::MntFlags::MNT_DETACH);
        let want = if sees {
            format!("/v/{sub}\nfrom the host\n")
        } else {
            format!("/v/{sub}\n")
        };
        r.check(
            rt,
            check,
            out.stdout == want && (out.code() == 0) == sees,
            || format!("{out:?}"),
        );
        ok(&d.docker(&["rm", "-f", &name]))?;
    }
    Ok(())
}

/// After the runs of one runtime: nothing of its containers is left.
fn docker_leftovers(d: &Docker, rt: &str, r: &mut Report, ids: &[String]) {
    let out = d.docker(&["ps", "-aq"]);
    r.check(
        rt,
        "after: no container in docker",
        out.status.success() && out.stdout.is_empty(),
        || format!("{out:?}"),
    );
    let procs: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| ids.iter().any(|id| c.contains(id.as_str())))
        .collect();
    r.check(
        rt,
        "after: no shim or process naming a container",
        procs.is_empty(),
        || format!("{procs:?}"),
    );
    let sockets: Vec<PathBuf> = ids
        .iter()
        .map(|id| d.shim_socket(id))
        .filter(|p| p.exists())
        .collect();
    r.check(rt, "after: no shim socket", sockets.is_empty(), || {
        format!("{sockets:?}")
    });
    let mut cgroups = Vec::new();
    for root in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        if root.file_name() == "process_api" {
            continue; // never the machine's own tree
        }
        let parent = root.path().join(d.cgroup_parent().trim_start_matches('/'));
        for e in fs::read_dir(parent).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                cgroups.push(e.path());
            }
        }
    }
    r.check(
        rt,
        "after: no cgroup under the cgroup parent",
        cgroups.is_empty(),
        || format!("{cgroups:?}"),
    );
    let state: Vec<String> = state_left(&d.runtime_root())
        .into_iter()
        .filter(|s| !s.starts_with('.'))
        .collect();
    r.check(rt, "after: no runtime state", state.is_empty(), || {
        format!("{state:?}")
    });
    // The volume's source, and the data-root: dockerd makes it a shared mount of its own until
    // it stops (if it is not one already).
    let (shared, data) = (d.dir.join("shared"), d.dir.join("data"));
    let mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| {
            p.starts_with(d.dir.to_str().unwrap()) && Path::new(p) != shared && Path::new(p) != data
        })
        .map(str::to_string)
        .collect();
    r.check(
        rt,
        "after: no mount under the daemon's directories",
        mounts.is_empty(),
        || format!("{mounts:?}"),
    );
}

/// README.md's docker configuration, as written, under Debian's dockerd 20.10: every check made
/// with rt and with runc (the control), a table of the results printed; any failure fails the
/// test. Then the daemon is stopped and the host must be as it was.
#[test]
fn docker_with_rt_and_runc() {
    if std::env::var_os("RT_SKIP_MANAGERS").is_some() {
        eprintln!("RT_SKIP_MANAGERS is set: skipping");
        return;
    }
    for p in [DOCKER, DOCKERD] {
        assert!(
            Path::new(p).is_file(),
            "{p} is missing (apt-get install -y docker.io), or set RT_SKIP_MANAGERS=1"
        );
    }
    wanted("containerd");
    let t0 = Instant::now();
    let mut d = Docker::new();
    let setup = t0.elapsed();
    // Debian's CLI and daemon, whatever `docker` comes first in PATH.
    let out = d
        .docker(&[
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.Version}}",
        ])
        .ok();
    let v: Vec<&str> = out.stdout.split_whitespace().collect();
    assert!(
        v.len() == 2 && v.iter().all(|v| v.starts_with("20.10.")),
        "{out:?}"
    );
    // The volume's source: a shared mount (docker refuses `rslave` on a private one).
    let shared = d.dir.join("shared");
    fs::create_dir_all(&shared).unwrap();
    nix::mount::mount(
        Some(&shared),
        &shared,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    nix::mount::mount(
        None::<&str>,
        &shared,
        None::<&str>,
        nix::mount::MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();

    let mut report = Report::default();
    let runtimes = [d.rt.clone(), RUNC.to_string()];
    for rt in &runtimes {
        let t = Instant::now();
        let first = d.ids.borrow().len();
        if let Err(e) = docker_flow(&d, rt, &mut report) {
            report.record(rt, "the steps ran to the end", Err(e));
        }
        let ids: Vec<String> = d.ids.borrow()[first..]
            .iter()
            .filter(|i| !i.is_empty())
            .cloned()
            .collect();
        docker_leftovers(&d, rt, &mut report, &ids);
        eprintln!(
            "[{rt}] done in {:.1?} ({} containers)",
            t.elapsed(),
            ids.len()
        );
    }
    eprintln!(
        "setup (containerd, dockerd, image) {setup:.1?}, all {:.1?}\n{}",
        t0.elapsed(),
        report.table(&runtimes)
    );
    let failures = report.failures();
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The daemon stops cleanly and leaves nothing on the host but its directory.
    let _ = nix::mount::umount2(&shared, nix::mount::MntFlags::MNT_DETACH);
    let t = Instant::now();
    let (daemon, containerd) = d.stop();
    eprintln!("dockerd stopped in {:.1?}", t.elapsed());
    assert_eq!(
        (daemon.as_str(), containerd.as_str()),
        ("exit status: 0", "exit status: 0")
    );
    let needle = d.dir.to_string_lossy().into_owned();
    let procs: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect();
    assert!(procs.is_empty(), "left running: {procs:?}");
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounts: Vec<&str> = mountinfo.lines().filter(|l| l.contains(&needle)).collect();
    assert!(mounts.is_empty(), "left mounted: {mounts:?}");
    assert_eq!(network_state(), d.network, "the host's network changed");
    assert!(
        d.existed[2] || !Path::new(DOCKER_KEY).exists(),
        "dockerd made {DOCKER_KEY}"
    );
}
