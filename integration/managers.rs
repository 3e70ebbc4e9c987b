//! rt as the runtime of real managers: podman 4.3 (through conmon) and containerd 1.6 (through
//! its runc v2 shim, driven by ctr), both from Debian. Each test gets a private directory for the
//! manager's storage, sockets and rt's `--root`, and a cgroup parent under /rt-test; on drop it
//! ends the processes the manager left (by PID), unmounts what is left under its directory and
//! removes its cgroups. Images are made locally from the test busybox rootfs.
//!
//! `RT_SKIP_MANAGERS=1` skips these tests (for quick local runs); CI installs both managers.

mod common;

use common::{ns, run_cmd, Output, CGROUP_PREFIX};
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
