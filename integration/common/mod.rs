//! Shared harness for the integration tests: they drive the real `rt` binary
//! as root against a busybox rootfs, and clean up after themselves (delete the
//! container, end its processes by PID, remove its cgroups and bundle) even
//! when an assertion fails.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Every cgroup a test container gets lives under this prefix.
pub const CGROUP_PREFIX: &str = "rt-test";
const TIMEOUT: Duration = Duration::from_secs(30);

pub fn rt_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rt")
}

pub fn tmp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The state directory (`--root`) every test uses.
pub fn state_root() -> PathBuf {
    tmp_dir().join("rt-state")
}

/// The shared read-only busybox rootfs, built once by scripts/mkrootfs.sh.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the integration tests must run as root: sudo ./scripts/test.sh"
        );
        make_cgroup_prefix();
        let dir = tmp_dir().join("rootfs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkrootfs.sh");
        let st = Command::new(script)
            .arg(&dir)
            .status()
            .expect("run mkrootfs.sh");
        assert!(st.success(), "scripts/mkrootfs.sh {} failed", dir.display());
        dir
    })
}

/// What a finished command left: its status and both outputs.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            self.status.success(),
            "command failed ({}): {self:?}",
            self.status
        );
        self
    }
    #[track_caller]
    pub fn fails_with(self, needle: &str) -> Self {
        assert_eq!(self.code(), 1, "expected exit 1: {self:?}");
        assert!(
            self.error_text().contains(needle),
            "stderr lacks {needle:?}: {self:?}"
        );
        self
    }

    /// stderr with each runc-style log line replaced by its message, unquoted: rt reports its
    /// final error as `time="..." level=error msg="..."` when it has no --log file, as runc does.
    pub fn error_text(&self) -> String {
        self.stderr
            .lines()
            .map(|l| match l.split_once(" msg=") {
                Some((head, quoted)) if head.starts_with("time=") => {
                    serde_json::from_str::<String>(quoted).unwrap_or_else(|_| l.to_string())
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Run a command with stdout/stderr captured through files (never pipes: a
/// detached container would keep a pipe open), killing it after TIMEOUT.
pub fn run_cmd(cmd: &mut Command, scratch: &Path) -> Output {
    run_cmd_within(cmd, scratch, TIMEOUT)
}

/// `run_cmd`, killing the command (and failing the test) after `limit`.
pub fn run_cmd_within(cmd: &mut Command, scratch: &Path, limit: Duration) -> Output {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    fs::create_dir_all(scratch).unwrap();
    let out_path = scratch.join(format!(".out-{n}"));
    let err_path = scratch.join(format!(".err-{n}"));
    let out = fs::File::create(&out_path).unwrap();
    let err = fs::File::create(&err_path).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let status = wait_within(&mut child, limit, &format!("{cmd:?}"));
    let read = |p: &Path| {
        let mut s = String::new();
        fs::File::open(p).unwrap().read_to_string(&mut s).unwrap();
        let _ = fs::remove_file(p);
        s
    };
    Output {
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Wait for `child`, killing it (and failing the test) after `limit`.
pub fn wait_within(child: &mut std::process::Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `rt --root <state root> ARGS`, outside any container's context.
pub fn rt(args: &[&str]) -> Output {
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root").arg(state_root()).args(args);
    run_cmd(&mut cmd, &tmp_dir().join("scratch"))
}

/// A test container: a bundle of its own, a unique id, cleanup on drop.
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub config: Value,
    /// Extra host processes to end on drop (by PID).
    pub pids: Vec<i32>,
}

impl Container {
    /// A bundle whose config runs `sh -c true` in new namespaces on the
    /// shared read-only rootfs, in cgroup /rt-test/<id>.
    pub fn new(name: &str) -> Self {
        let rootfs = rootfs();
        let id = format!(
            "{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let bundle = tmp_dir().join("bundles").join(&id);
        let _ = fs::remove_dir_all(&bundle);
        fs::create_dir_all(&bundle).unwrap();
        let out = run_cmd(
            Command::new(rt_bin())
                .args(["spec", "--bundle"])
                .arg(&bundle),
            &bundle,
        )
        .ok();
        assert!(out.stdout.is_empty(), "{out:?}");
        let mut config: Value =
            serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
        config["root"] = json!({"path": rootfs, "readonly": true});
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["true"]);
        config["linux"]["cgroupsPath"] = json!(format!("/{CGROUP_PREFIX}/{id}"));
        Container {
            id,
            bundle,
            config,
            pids: Vec::new(),
        }
    }

    /// Give this container a private writable copy of the rootfs.
    pub fn own_rootfs(&mut self) -> PathBuf {
        let dst = self.bundle.join("rootfs");
        let st = Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(&dst)
            .status()
            .unwrap();
        assert!(st.success());
        self.config["root"] = json!({"path": "rootfs", "readonly": false});
        dst
    }

    /// A user namespace mapping container ids 0-65535 to host 100000+, over a private rootfs
    /// owned by the mapped root (so that the image is usable); returns the rootfs path.
    pub fn user_namespace(&mut self) -> PathBuf {
        let root = self.own_rootfs();
        let st = Command::new("chown")
            .args(["-R", "100000:100000"])
            .arg(&root)
            .status()
            .unwrap();
        assert!(st.success(), "chown the rootfs");
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        self.config["linux"]["uidMappings"] = map.clone();
        self.config["linux"]["gidMappings"] = map;
        root
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// `sh -c SCRIPT` as the process.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn write_config(&self) {
        fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// `rt --root <state> ARGS` with scratch files in the bundle.
    pub fn rt(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(rt_bin());
        cmd.arg("--root").arg(state_root()).args(args);
        run_cmd(&mut cmd, &self.bundle)
    }

    /// Foreground `rt run`: the container's output is the command's output.
    pub fn run(&self) -> Output {
        self.write_config();
        self.rt(&["run", "--bundle", self.bundle.to_str().unwrap(), &self.id])
    }

    /// `rt create`; the container's stdout/stderr go to files read by `output`.
    pub fn create(&self) -> Output {
        self.create_with(&[])
    }

    pub fn create_with(&self, extra: &[&str]) -> Output {
        self.write_config();
        let mut cmd = Command::new(rt_bin());
        cmd.arg("--root").arg(state_root()).arg("create");
        cmd.arg("--bundle")
            .arg(&self.bundle)
            .args(extra)
            .arg(&self.id);
        run_cmd(&mut cmd, &self.bundle)
    }

    pub fn start(&self) -> Output {
        self.rt(&["start", &self.id])
    }

    pub fn state(&self) -> Value {
        let out = self.rt(&["state", &self.id]).ok();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("state JSON: {e}: {out:?}"))
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap().to_string()
    }

    pub fn pid(&self) -> i32 {
        let pid = self.state()["pid"].as_i64().unwrap() as i32;
        assert!(pid > 0);
        pid
    }

    /// Poll `state` until the status is `want`.
    #[track_caller]
    pub fn wait_status(&self, want: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let st = self.status();
            if st == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: status {st}, waited for {want}",
                self.id
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The file of this container's cgroup that holds a setting: `v1` in the v1 hierarchy of
    /// `ctrl` if the host has one, else `v2` in the unified hierarchy.
    pub fn cgroup_file(&self, ctrl: &str, v1: &str, v2: &str) -> PathBuf {
        let v1_dir = Path::new("/sys/fs/cgroup").join(ctrl);
        if !pure_v2() && v1_dir.join("cgroup.procs").exists() {
            return self.cgroup_dir(ctrl).join(v1);
        }
        self.v2_dir().join(v2)
    }

    /// This container's cgroup in the unified hierarchy (pure v2, or hybrid's unified mount).
    pub fn v2_dir(&self) -> PathBuf {
        let root = if pure_v2() {
            Path::new("/sys/fs/cgroup")
        } else {
            Path::new("/sys/fs/cgroup/unified")
        };
        root.join(CGROUP_PREFIX).join(&self.id)
    }

    /// Cgroup directory of this container in v1 controller `ctrl`.
    pub fn cgroup_dir(&self, ctrl: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join(CGROUP_PREFIX)
            .join(&self.id)
    }

    pub fn delete(&self) -> Output {
        self.rt(&["delete", &self.id])
    }

    /// What of this container is on the host: its state directory and cgroup directories.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = hierarchy_roots()
            .into_iter()
            .map(|r| r.join(CGROUP_PREFIX).join(&self.id))
            .chain([state_root().join(&self.id)])
            .filter(|p| p.exists())
            .collect();
        v.dedup();
        v
    }
}

/// A host with only cgroup v2, mounted on /sys/fs/cgroup.
pub fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The cgroup hierarchies of this host that hold our test prefix.
fn hierarchy_roots() -> Vec<PathBuf> {
    if pure_v2() {
        return vec![PathBuf::from("/sys/fs/cgroup")];
    }
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            let name = e.file_name();
            // Never touch the machine's own cgroup tree.
            if name == "process_api" {
                continue;
            }
            v.push(e.path());
        }
    }
    v
}

/// Create /<hierarchy>/rt-test up front, so that no container's `delete`
/// removes it (rt removes only the parents it created) while another test is
/// creating its cgroup under it. scripts/test.sh removes it after the run.
fn make_cgroup_prefix() {
    for root in hierarchy_roots() {
        if root.is_symlink() || !root.is_dir() {
            continue;
        }
        let prefix = root.join(CGROUP_PREFIX);
        if fs::create_dir(&prefix).is_ok() && root.ends_with("cpuset") {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = fs::read_to_string(root.join(f)).unwrap();
                fs::write(prefix.join(f), v.trim()).unwrap();
            }
        }
    }
}

/// Remove /<hierarchy>/rt-test/NAME and everything under it on every hierarchy, ending the
/// processes still in it.
pub fn remove_test_cgroup(name: &str) {
    for root in hierarchy_roots() {
        remove_cgroup_tree(&root.join(CGROUP_PREFIX).join(name));
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if !dir.is_dir() {
        return;
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            kill_pid(pid);
        }
    }
    for _ in 0..100 {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => break,
        }
    }
}

pub fn kill_pid(pid: i32) {
    if pid > 1 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.rt(&["delete", "--force", &self.id]);
        for &pid in &self.pids {
            kill_pid(pid);
        }
        remove_test_cgroup(&self.id);
        let _ = fs::remove_dir_all(state_root().join(&self.id));
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.bundle);
        } else {
            eprintln!("bundle of failed test kept at {}", self.bundle.display());
        }
    }
}

/// A process's field from /proc/<pid>/status, e.g. "CapEff".
pub fn proc_status(pid: i32, field: &str) -> String {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// The inode of a namespace link of a process, e.g. ns(pid, "net").
pub fn ns(pid: &str, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Write an executable shell script (for hooks, run by the host's /bin/sh).
pub fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Wait until `fd` has something to read (or is at its end), failing after TIMEOUT.
#[track_caller]
pub fn wait_readable(fd: BorrowedFd, what: &str) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "nothing came within {TIMEOUT:?}: {what}");
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(left.min(Duration::from_secs(1))).unwrap();
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return,
            Err(e) => panic!("poll for {what}: {e}"),
        }
    }
}

/// Accept one connection on a console (or pidfd) socket and receive one fd from it (SCM_RIGHTS),
/// with the bytes sent along, as managers do; within TIMEOUT, so that a runtime that never
/// connects fails the test instead of hanging it.
pub fn receive_fd(listener: &UnixListener) -> (String, OwnedFd) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    wait_readable(listener.as_fd(), "a connection to the socket");
    let (conn, _) = listener.accept().unwrap();
    wait_readable(conn.as_fd(), "a message on the socket");
    let mut buf = [0u8; 4096];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // Safety: the kernel just gave us this descriptor.
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    (
        String::from_utf8_lossy(&buf[..n]).into_owned(),
        fd.expect("no fd received"),
    )
}

/// The fenced block of kind `lang` (```toml) that follows `heading` in README.md (up to the
/// next `## ` heading).
pub fn readme_block(heading: &str, lang: &str) -> String {
    let section = readme_section(heading);
    let block = section
        .split_once(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("README.md's {heading:?} has no {lang} block"))
        .1;
    block.split_once("```").unwrap().0.to_string()
}

/// The text of README.md under `heading` (a whole line, `## ...`), up to the next `## ` heading.
pub fn readme_section(heading: &str) -> String {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let section = readme
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"))
        .1;
    section.split("\n## ").next().unwrap().to_string()
}

/// A docker archive (the format of `docker save`, read by `docker load` and `ctr images
/// import`) at `dir/images.tar`, of images that share one layer, the busybox rootfs: one image
/// per (tag, the `config` of its image configuration: Env, Cmd, Entrypoint...).
pub fn image_archive(dir: &Path, images: &[(&str, Value)]) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let run = |c: &mut Command| run_cmd(c, dir).ok();
    run(Command::new("tar")
        .arg("-C")
        .arg(rootfs())
        .args(["--numeric-owner", "-cf"])
        .arg(dir.join("layer.tar"))
        .arg("."));
    let sum = run(Command::new("sha256sum").arg(dir.join("layer.tar")));
    let diff_id = format!("sha256:{}", sum.stdout.split_whitespace().next().unwrap());
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let mut manifest = Vec::new();
    let mut files = vec!["manifest.json".to_string(), "layer.tar".to_string()];
    for (n, (tag, cfg)) in images.iter().enumerate() {
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let file = format!("image-{n}.json");
        fs::write(dir.join(&file), config.to_string()).unwrap();
        manifest.push(json!({"Config": file, "RepoTags": [tag], "Layers": ["layer.tar"]}));
        files.push(file);
    }
    fs::write(dir.join("manifest.json"), Value::from(manifest).to_string()).unwrap();
    let tar = dir.join("images.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(&tar)
        .args(&files));
    tar
}

/// The results of the checks, per check and handler.
#[derive(Default)]
pub struct Report {
    rows: Vec<(String, String, Result<(), String>)>,
}

impl Report {
    pub fn record(&mut self, handler: &str, check: &str, r: Result<(), String>) {
        if let Err(e) = &r {
            eprintln!("[{handler}] {check}: FAILED: {e}");
        }
        self.rows.push((check.into(), handler.into(), r));
    }

    /// Record whether a CRI call succeeded.
    pub fn rpc(&mut self, handler: &str, check: &str, resp: &Result<Value, String>) {
        self.record(
            handler,
            check,
            resp.as_ref().map(|_| ()).map_err(Clone::clone),
        );
    }

    /// Record `cond` as the result of `check`; `detail` says what was seen when it is false.
    pub fn check(
        &mut self,
        handler: &str,
        check: &str,
        cond: bool,
        detail: impl FnOnce() -> String,
    ) {
        let r = if cond { Ok(()) } else { Err(detail()) };
        self.record(handler, check, r);
    }

    pub fn table(&self, handlers: &[String]) -> String {
        let mut checks: Vec<&str> = Vec::new();
        for (c, _, _) in &self.rows {
            if !checks.contains(&c.as_str()) {
                checks.push(c);
            }
        }
        let w = checks.iter().map(|c| c.len()).max().unwrap_or(5);
        let mut s = format!("{:w$}", "check");
        for h in handlers {
            s += &format!("  {h:6}");
        }
        s.push('\n');
        for c in checks {
            s += &format!("{c:w$}");
            for h in handlers {
                let r = self.rows.iter().find(|(rc, rh, _)| rc == c && rh == h);
                let cell = match r {
                    Some((_, _, Ok(()))) => "ok",
                    Some((_, _, Err(_))) => "FAILED",
                    None => "-",
                };
                s += &format!("  {cell:6}");
            }
            s.push('\n');
        }
        s
    }

    pub fn failures(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|(c, h, r)| r.as_ref().err().map(|e| format!("[{h}] {c}: {e}")))
            .collect()
    }
}
