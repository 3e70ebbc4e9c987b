//! Integration tests: the attacks of issue 18, each reproduced against the real binary. A
//! process in a container (or in a neighbour sharing a volume with it) goes after the
//! runtime: the parked init's descriptors and binary, the paths rt looks up more than once
//! while it sets up /dev and the mounts, ids that mean "unchanged" to the kernel, and a
//! process file that never ends. Every check reads what the kernel shows (host files, host
//! sysctls, the runtime's bytes, the victim's mountinfo and files through /proc/<pid>/root),
//! never what rt says about itself.

mod common;

use common::*;
use nix::sys::stat::{major, minor, Mode, SFlag};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// A host directory of the test's own, removed however the test ends (declared before the
/// containers that use it, so that it outlives them).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = tmp_dir()
            .join("races")
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A harmless, host-global sysctl that a race may make writable from a container: its value is
/// read first and put back however the test ends. kernel.printk_ratelimit_burst is not
/// namespaced (kern_table), so a container that can write it changes the host.
const SYSCTL: &str = "/proc/sys/kernel/printk_ratelimit_burst";

struct SysctlGuard {
    original: String,
    /// What the tests write through the victim's files: never the original value.
    sentinel: String,
    /// One test at a time plays with the sysctl, even when the tests run in parallel.
    _one: std::sync::MutexGuard<'static, ()>,
}

impl SysctlGuard {
    fn new() -> SysctlGuard {
        static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let original = fs::read_to_string(SYSCTL).unwrap().trim().to_string();
        let n: i64 = original.parse().unwrap();
        SysctlGuard {
            sentinel: (n + 7).to_string(),
            original,
            _one: one,
        }
    }

    /// The host value now; put back at once if a container changed it.
    fn changed(&self) -> Option<String> {
        let now = fs::read_to_string(SYSCTL).unwrap().trim().to_string();
        if now == self.original {
            return None;
        }
        self.restore();
        Some(now)
    }

    fn restore(&self) {
        let _ = fs::write(SYSCTL, &self.original);
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        let now = fs::read_to_string(SYSCTL).unwrap_or_default();
        if now.trim() != self.original {
            self.restore();
        }
    }
}

/// A child process (an `rt` command left running) killed by PID however the test ends. Declared
/// after the container, it is dropped first: the container's own cleanup may need the lock the
/// child holds.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            kill_pid(child.id() as i32);
            let _ = child.wait();
        }
    }
}

fn wait_for_file(p: &Path, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(s) = fs::read_to_string(p) {
            if !s.is_empty() {
                return Some(s);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `BIN --root <state root> ARGS` (BIN: rt, or a copy of it), with `env` added.
fn rt_as(bin: &Path, args: &[&str], env: &[(&str, &str)], scratch: &Path) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("--root").arg(state_root()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd, scratch)
}

/// `rt create` with extra variables in rt's own (the caller's) environment.
fn create_with_env(c: &Container, env: &[(&str, &str)]) -> Output {
    c.write_config();
    let bundle = c.bundle.to_str().unwrap();
    rt_as(
        Path::new(rt_bin()),
        &["create", "--bundle", bundle, &c.id],
        env,
        &c.bundle,
    )
}

/// Bind-mount host directory `src` at `dest` in the container, read-write.
fn bind_dir(c: &mut Container, src: &Path, dest: &str) {
    c.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rw"]}),
    );
}

/// Mount the shared volume `vol` on /dev instead of the tmpfs of `rt spec`, as a manager does
/// when /dev is a volume. /dev/shm and /dev/mqueue go (they would only add directories to it).
fn dev_on_volume(c: &mut Container, vol: &Path) {
    let mounts = c.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| !matches!(m["destination"].as_str(), Some("/dev/shm" | "/dev/mqueue")));
    for m in mounts.iter_mut() {
        if m["destination"] == "/dev" {
            *m = json!({"destination": "/dev", "type": "bind", "source": vol,
                        "options": ["rbind", "rw"]});
        }
    }
}

/// One line of /proc/<pid>/mountinfo.
#[derive(Debug, Clone)]
struct MountLine {
    root: String,
    point: String,
    opts: Vec<String>,
    fstype: String,
}

/// The mounts the kernel shows for a process, paths as seen from its root.
fn mountinfo(pid: i32) -> Vec<MountLine> {
    let text = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some(MountLine {
                root: f.get(3)?.to_string(),
                point: f.get(4)?.to_string(),
                opts: f.get(5)?.split(',').map(str::to_string).collect(),
                fstype: f.get(sep + 1)?.to_string(),
            })
        })
        .collect()
}

/// The container's default maskedPaths, as `rt spec` writes them.
fn masked_paths(c: &Container) -> Vec<String> {
    c.config["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

fn mknod_null(p: &Path) {
    nix::sys::stat::mknod(
        p,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
}

/// Start a container that runs `script` (a busybox sh loop) over the shared volume `vol`,
/// mounted at /vol: the neighbour that races the victim's setup. Its loop is ended with it.
fn attacker(name: &str, vol: &Path, script: &str) -> Container {
    let mut a = Container::new(name);
    bind_dir(&mut a, vol, "/vol");
    a.sh(script);
    a.create().ok();
    a.start().ok();
    a
}

/// Wait until `vol/name` has been seen as a symlink and as something else: the attacker's loop
/// is running.
#[track_caller]
fn wait_for_swapping(vol: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut link, mut other) = (false, false);
    while !(link && other) {
        assert!(
            Instant::now() < deadline,
            "the attacker never swapped {name}"
        );
        match fs::symlink_metadata(vol.join(name)) {
            Ok(m) if m.file_type().is_symlink() => link = true,
            Ok(_) => other = true,
            Err(_) => {}
        }
    }
}

/// A racing neighbour that busybox cannot play: a host thread that swaps two names of the
/// shared volume with renameat2(RENAME_EXCHANGE), as fast as it can, until dropped. It does
/// nothing a container holding the volume could not do (exchange two entries of a directory
/// it may write); it only does it far faster than a shell loop of `mv` (a fork and an exec per
/// rename, with the name missing between two renames when a directory and a symlink trade
/// places). A thread that failed fails the test when dropped.
struct Swapper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Swapper {
    fn start(dir: &Path, a: &str, b: &str) -> Swapper {
        use std::os::unix::ffi::OsStrExt;
        let cstr = |n: &str| std::ffi::CString::new(dir.join(n).as_os_str().as_bytes()).unwrap();
        let (a, b) = (cstr(a), cstr(b));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                // Safety: renameat2 with two valid C strings.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(r, 0, "RENAME_EXCHANGE: {}", std::io::Error::last_os_error());
                swaps += 1;
            }
            swaps
        });
        Swapper {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(n) => eprintln!("the swapper exchanged {n} times"),
                Err(_) if std::thread::panicking() => {}
                Err(_) => panic!("the swapper failed"),
            }
        }
    }
}

/// How many rounds a race test runs at most, and for how long: today's code loses each race
/// within 56 rounds at worst over 15 runs or more (see each test), and a round is a `create`,
/// the checks and a `delete`, 17 to 40 ms on the 2-core test VM. A test whose victim holds out
/// runs all the rounds (about 7 s without an attacker) or the budget.
const ROUNDS: usize = 400;
const RACE_BUDGET: Duration = Duration::from_secs(14);

/// What a race test saw over its rounds.
#[derive(Default)]
struct Tally {
    started: Option<Instant>,
    rounds: usize,
    created: usize,
    failed: usize,
    violations: Vec<String>,
}

impl Tally {
    fn summary(&self) -> String {
        format!(
            "{} rounds in {:.1?}: {} created, {} failed to create, {} violations",
            self.rounds,
            self.started.map(|s| s.elapsed()).unwrap_or_default(),
            self.created,
            self.failed,
            self.violations.len()
        )
    }

    /// Stop at the first violation (it is the evidence), or when the rounds or the time are
    /// spent.
    fn more(&mut self) -> bool {
        let start = *self.started.get_or_insert_with(Instant::now);
        self.violations.is_empty() && self.rounds < ROUNDS && start.elapsed() < RACE_BUDGET
    }

    #[track_caller]
    fn assert_clean(&self, what: &str) {
        eprintln!("{what}: {}", self.summary());
        assert!(
            self.violations.is_empty(),
            "{what}: {}; first: {}",
            self.summary(),
            self.violations.join("; ")
        );
        assert!(
            self.created > 0,
            "{what}: no round created the victim, so nothing was checked: {}",
            self.summary()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The parked init leaks host handles (descriptors, environment) to the container.
// ---------------------------------------------------------------------------------------------

/// Run in the container against its PID 1 (the parked init), with the host directory `$1` that
/// the test owns: read the init's environment (only rt's variable is printed) and binary; walk
/// up from every directory descriptor of the init (`cd -P ..` until the top) and try to create
/// `escaped-N` in `$1` there; append to every descriptor that names a regular file (init.err),
/// then to every named fifo (the exec fifo, which releases the init). Anonymous pipes and
/// sockets are left alone: one may be the test runner's own (cargo's jobserver, which rt
/// inherits).
const FD_ATTACK: &str = r#"h=$1
echo "environ: $(cat /proc/1/environ 2>&1 | tr '\0' '\n' | grep -c =) variables;" \
  "ours: $(cat /proc/1/environ 2>/dev/null | tr '\0' '\n' | grep ^RT_RACES_ | tr '\n' ' ')"
echo "exe: $(readlink /proc/1/exe 2>&1)"
for f in /proc/1/fd/*; do
  n=${f##*/}
  [ "$n" -gt 2 ] 2>/dev/null || continue
  [ -d "$f" ] || continue
  ( cd -P "$f" 2>/dev/null || exit 0
    i=0; while [ $i -lt 64 ]; do cd -P .. 2>/dev/null; i=$((i+1)); done
    echo "fd $n: walked up to a root holding: $(ls | tr '\n' ' ')"
    echo pwned > ".$h/escaped-$n" 2>/dev/null && echo "fd $n: wrote $h/escaped-$n" )
done
for kind in -f -p; do
  for f in /proc/1/fd/*; do
    n=${f##*/}
    [ "$n" -gt 2 ] 2>/dev/null && [ $kind "$f" ] || continue
    t=$(readlink "$f" 2>&1)
    echo "fd $n -> $t"
    case $t in /*) echo pwned >> "$f" 2>/dev/null && echo "fd $n: written" ;; esac
  done
done
"#;

const MARKER_VAR: &str = "RT_RACES_CALLER_SECRET";

/// A container to attack while it is `created`: its process, once started, would write
/// /out/ran (so that an attacker releasing the init through the exec fifo shows on the host).
fn parked_victim(name: &str, out: &Path, marker: &str) -> Container {
    let mut c = Container::new(name);
    bind_dir(&mut c, out, "/out");
    c.sh("echo ran > /out/ran; sleep 1000");
    create_with_env(&c, &[(MARKER_VAR, marker)]).ok();
    c
}

/// What the attack in the container must not have achieved, read on the host.
#[track_caller]
fn assert_fd_attack_failed(c: &Container, host: &Path, out: &Path, marker: &str, seen: &Output) {
    let mut bad = Vec::new();
    for e in fs::read_dir(host).unwrap().flatten() {
        bad.push(format!(
            "it created {} in host directory {}",
            e.file_name().to_string_lossy(),
            host.display()
        ));
    }
    if seen.stdout.contains(marker) {
        bad.push(format!(
            "it read rt's caller environment ({MARKER_VAR}) from the parked init"
        ));
    }
    // A released init runs the container's process, which writes /out/ran at once.
    if wait_for_file(&out.join("ran"), Duration::from_secs(1)).is_some() {
        bad.push("it released the parked init (through its exec fifo) before `start`".into());
    }
    // No host file of the state directory took the attacker's bytes.
    for e in fs::read_dir(state_root().join(&c.id))
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.file_type().is_ok_and(|t| t.is_file())
            && String::from_utf8_lossy(&fs::read(e.path()).unwrap_or_default()).contains("pwned")
        {
            bad.push(format!("it wrote host file {}", e.path().display()));
        }
    }
    assert!(
        bad.is_empty(),
        "through the parked init's handles, the container: {}\nit saw:\n{}{}",
        bad.join("; "),
        seen.stdout,
        seen.stderr
    );
}

/// Issue 18, defect 1 (a): a process `rt exec`'d into a created container (container root,
/// runc-spec default capabilities) goes through the parked init's /proc/1/fd: it walks up
/// from every directory descriptor (the host cgroup directory today) to the host's root and
/// tries to create a file in a host directory the test owns, writes to the other descriptors
/// (exec fifo, init.err), and reads /proc/1/environ. Asserted on the host: no file appears in
/// that directory, no state file takes its bytes, the init is not released before `start`, and
/// the variable in rt's caller environment is not readable from inside.
#[test]
fn exec_in_created_container_cannot_use_the_parked_inits_handles() {
    let host = TempDir::new("escape-target");
    let out = TempDir::new("escape-out");
    let marker = format!("marker-{}-a", std::process::id());
    let c = parked_victim("parked-exec", &out.0, &marker);
    let seen = c.rt(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        FD_ATTACK,
        "attack",
        host.0.to_str().unwrap(),
    ]);
    assert_fd_attack_failed(&c, &host.0, &out.0, &marker, &seen);
}

/// Issue 18, defect 1 (b): the parked init seen from the host. While a container is
/// `created`, none of its init's descriptors is a directory or anything under /sys/fs/cgroup,
/// and its environment (read by host root from /proc/<pid>/environ) does not carry the
/// variable that was in rt's caller environment.
#[test]
fn parked_init_holds_no_directory_and_not_the_callers_environment() {
    let out = TempDir::new("parked-out");
    let marker = format!("marker-{}-b", std::process::id());
    let c = parked_victim("parked-host", &out.0, &marker);
    let pid = c.pid();
    let mut bad = Vec::new();
    for e in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        let target = fs::read_link(e.path()).unwrap_or_default();
        let is_dir = fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
        if is_dir || target.starts_with("/sys/fs/cgroup") {
            bad.push(format!(
                "fd {} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            ));
        }
    }
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    if String::from_utf8_lossy(&environ).contains(&marker) {
        bad.push(format!(
            "its environment carries rt's caller's {MARKER_VAR}"
        ));
    }
    assert!(bad.is_empty(), "the parked init {pid}: {bad:?}");
}

/// Issue 18, defect 1 (c): the same attack as (a) from a neighbour: a second container that
/// joins the first's PID namespace (linux.namespaces pid by path) and is run while the first
/// is still `created`, so that its PID 1 is the first's parked init. Same host-side assertions.
#[test]
fn container_sharing_the_pid_namespace_cannot_use_the_parked_inits_handles() {
    let host = TempDir::new("escape-target");
    let out = TempDir::new("escape-out");
    let marker = format!("marker-{}-c", std::process::id());
    let c = parked_victim("parked-pidns", &out.0, &marker);
    let pid = c.pid();
    let mut n = Container::new("pidns-neighbour");
    for ns in n.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
        }
    }
    n.args(&["sh", "-c", FD_ATTACK, "attack", host.0.to_str().unwrap()]);
    let seen = n.run();
    assert!(
        seen.stdout.contains("environ:"),
        "the neighbour did not run the attack: {seen:?}"
    );
    assert_fd_attack_failed(&c, &host.0, &out.0, &marker, &seen);
}

// ---------------------------------------------------------------------------------------------
// 2. CVE-2019-5736 through a created container.
// ---------------------------------------------------------------------------------------------

/// Run in the created container: hold the parked init's binary open (read-only), wait until the
/// init runs the container's program (`sleep`), then try to write through the held descriptor
/// for a few seconds (a running `rt start` keeps it busy for a moment).
const EXE_ATTACK: &str = r#"exec 2>>/out/err
if (exec 3</proc/1/exe) 2>/dev/null; then
  exec 3</proc/1/exe
  echo "opened $(readlink /proc/self/fd/3)" > /out/opened
else
  echo "open of /proc/1/exe refused: $( (exec 3</proc/1/exe) 2>&1)" > /out/opened
  echo "nothing held" > /out/result
  exit 0
fi
i=0
while [ "$(cat /proc/1/comm)" != sleep ] && [ $i -lt 1500 ]; do sleep 0.01; i=$((i+1)); done
echo "init now runs: $(cat /proc/1/comm)" >> /out/opened
i=0
while [ $i -lt 300 ]; do
  if (echo pwned > /proc/self/fd/3) 2>/dev/null; then echo "written" > /out/result; exit 0; fi
  sleep 0.02; i=$((i+1))
done
echo "refused: $( (echo pwned > /proc/self/fd/3) 2>&1)" > /out/result
"#;

/// The CVE-2019-5736 variant of issue 18: the init of a container with its own PID namespace
/// runs, until `start`, from the writable host binary; a process `exec`'d into the created
/// container (with `extra` exec flags) opens /proc/1/exe, waits for `start`, and writes through
/// it. The runtime under test is a copy of rt, so that a failure corrupts only the copy.
fn runtime_binary_survives_exec_into_created_container(name: &str, extra: &[&str]) {
    let out = TempDir::new("exe-out");
    let mut c = Container::new(name);
    let rt_copy = c.bundle.join("rt-copy");
    fs::copy(rt_bin(), &rt_copy).unwrap();
    // rt is linked statically: the copy runs on its own.
    let ldd = Command::new("ldd").arg(&rt_copy).output().unwrap();
    let ldd =
        String::from_utf8_lossy(&ldd.stdout).into_owned() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(
        ldd.contains("statically linked") || ldd.contains("not a dynamic executable"),
        "{ldd}"
    );
    let before = fs::read(&rt_copy).unwrap();
    bind_dir(&mut c, &out.0, "/out");
    c.args(&["sleep", "1000"]);
    c.write_config();
    let bundle = c.bundle.to_str().unwrap().to_string();
    rt_as(
        &rt_copy,
        &["create", "--bundle", &bundle, &c.id],
        &[],
        &c.bundle,
    )
    .ok();
    let mut exec = vec!["exec", "-d"];
    exec.extend_from_slice(extra);
    exec.extend_from_slice(&[&c.id, "sh", "-c", EXE_ATTACK]);
    rt_as(&rt_copy, &exec, &[], &c.bundle).ok();
    let opened = wait_for_file(&out.0.join("opened"), Duration::from_secs(10))
        .expect("the attacker never reported opening /proc/1/exe");
    rt_as(&rt_copy, &["start", &c.id], &[], &c.bundle).ok();
    let result = wait_for_file(&out.0.join("result"), Duration::from_secs(20))
        .expect("the attacker never reported its write");
    let opened = fs::read_to_string(out.0.join("opened")).unwrap_or(opened);
    let err = fs::read_to_string(out.0.join("err")).unwrap_or_default();
    eprintln!("the attacker saw: {opened}{result}{err}");
    let after = fs::read(&rt_copy).unwrap();
    assert!(
        before == after,
        "the runtime binary was overwritten from the container: {opened}{result}"
    );
}

/// Issue 18, defect 2 (CVE-2019-5736 through a created container), default capabilities: the
/// exec'd process opens the parked init's /proc/1/exe and, after `start`, writes through it.
/// Asserted: the bytes of the runtime's binary (a copy) are unchanged.
#[test]
fn cve_2019_5736_through_a_created_container() {
    runtime_binary_survives_exec_into_created_container("exe-created", &[]);
}

/// Issue 18, defect 2 with `--cap CAP_SYS_PTRACE` on the exec (which passes the kernel's checks
/// on a non-dumpable init): the binary it holds must still be one nobody can write.
#[test]
fn cve_2019_5736_through_a_created_container_with_cap_sys_ptrace() {
    runtime_binary_survives_exec_into_created_container(
        "exe-created-ptrace",
        &["--cap", "CAP_SYS_PTRACE"],
    );
}

// ---------------------------------------------------------------------------------------------
// 3. maskedPaths and a racing /dev/null (CVE-2025-31133 class).
// ---------------------------------------------------------------------------------------------

/// What must hold of the victim's masked paths, checked from the host through
/// /proc/<pid>/root and its mountinfo: files are the null device, directories an empty
/// read-only tmpfs; writing each masked file (as root) leaves the host sysctl alone.
fn masked_violations(pid: i32, masked: &[String], sysctl: &SysctlGuard) -> Vec<String> {
    let mut bad = Vec::new();
    let mounts = mountinfo(pid);
    for p in masked {
        // The kernel's procfs and sysfs are the same inside: what the host lacks, so does it.
        let Ok(host) = fs::symlink_metadata(p) else {
            continue;
        };
        let inside = format!("/proc/{pid}/root{p}");
        if host.is_dir() {
            let top = mounts.iter().rev().find(|m| &m.point == p);
            match top {
                Some(m) if m.fstype == "tmpfs" && m.opts.iter().any(|o| o == "ro") => {}
                other => bad.push(format!("{p}: not a read-only tmpfs: {other:?}")),
            }
            if fs::read_dir(&inside).map_or(true, |mut d| d.next().is_some()) {
                bad.push(format!("{p}: not an empty directory in the container"));
            }
        } else {
            // Write first: that a masked file is a host sysctl shows in the sysctl.
            if let Ok(mut f) = fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
                .open(&inside)
            {
                let _ = std::io::Write::write_all(&mut f, sysctl.sentinel.as_bytes());
            }
            if let Some(v) = sysctl.changed() {
                bad.push(format!(
                    "{p}: writing it changed host {SYSCTL} from {} to {v}",
                    sysctl.original
                ));
            }
            match fs::metadata(&inside) {
                Ok(m)
                    if m.file_type().is_char_device()
                        && major(m.rdev()) == 1
                        && minor(m.rdev()) == 3 => {}
                Ok(m) => bad.push(format!(
                    "{p}: not the null device but {:?} {}:{} (size {})",
                    m.file_type(),
                    major(m.rdev()),
                    minor(m.rdev()),
                    m.len()
                )),
                Err(e) => bad.push(format!("{p}: {e}")),
            }
        }
    }
    bad
}

/// Issue 18, defect 3 (CVE-2025-31133 class): maskedPaths are bind mounts of /dev/null, checked
/// once by path and then bound by path for each masked file. The victim's /dev is a volume V
/// (a host directory bind-mounted on /dev) that an attacker container also mounts (/vol) and
/// races: it swaps V/null, with renames, between a hard link of a real null device (1:3) and a
/// symlink to the host-global sysctl kernel.printk_ratelimit_burst. The victim is created over
/// and over (up to ROUNDS rounds or RACE_BUDGET); after each create, the test checks from the
/// host that every masked path that exists is the null device (files) or a read-only tmpfs
/// (directories), and writes to every masked file. Asserted: the host sysctl never changes and
/// every round either failed to create or masked every path correctly. (Today the attacker's
/// first win came after 1 to 49 rounds over 17 runs; without it, 400 rounds take about 7 s.)
#[test]
fn masked_paths_survive_a_racing_dev_null() {
    let sysctl = SysctlGuard::new();
    let vol = TempDir::new("dev-volume");
    mknod_null(&vol.0.join(".null-dev"));
    fs::hard_link(vol.0.join(".null-dev"), vol.0.join("null")).unwrap();
    let mut v = Container::new("masked-victim");
    dev_on_volume(&mut v, &vol.0);
    v.args(&["sleep", "1000"]);
    let masked = masked_paths(&v);
    // Without the attacker, the setup works and masks everything.
    v.create().ok();
    let control = masked_violations(v.pid(), &masked, &sysctl);
    assert!(control.is_empty(), "without the attacker: {control:?}");
    v.rt(&["delete", "--force", &v.id]).ok();

    let _a = attacker(
        "masked-attacker",
        &vol.0,
        &format!(
            "cd /vol; exec 2>/dev/null; while :; do
               ln -f .null-dev .a; mv -fT .a null
               ln -sfn {SYSCTL} .b; mv -fT .b null
             done"
        ),
    );
    wait_for_swapping(&vol.0, "null");
    let mut t = Tally::default();
    while t.more() {
        t.rounds += 1;
        let out = v.create();
        if out.status.success() {
            t.created += 1;
            let pid = v.pid();
            for b in masked_violations(pid, &masked, &sysctl) {
                t.violations.push(format!("round {}: {b}", t.rounds));
            }
        } else {
            t.failed += 1;
        }
        v.rt(&["delete", "--force", &v.id]);
        if let Some(val) = sysctl.changed() {
            t.violations
                .push(format!("round {}: host {SYSCTL} became {val}", t.rounds));
        }
    }
    t.assert_clean("masked paths against a racing /dev/null");
    // The attacker raced to the end: the rounds were not won by default.
    wait_for_swapping(&vol.0, "null");
}

// ---------------------------------------------------------------------------------------------
// 4. /dev/console and a racing /dev/pts (CVE-2025-52565 class).
// ---------------------------------------------------------------------------------------------

/// Issue 18, defect 4 (CVE-2025-52565 class): for process.terminal, rt bind-mounts the pty
/// slave on /dev/console by its path (/dev/pts/N from ptsname) and reopens it by path. The
/// victim's /dev is the volume V; the attacker exchanges V/pts (the real directory: the
/// victim's devpts is mounted on it, in the victim's mount namespace only) with a symlink to
/// V/evil, whose entry 0 is a symlink to the host-global sysctl kernel.printk_ratelimit_burst.
/// The attacker is a host thread (`Swapper`): the bind and the reopen are microseconds apart,
/// and a busybox loop of `mv` (tried: 0 wins in 400 rounds) is far too slow to swap in
/// between. The victim (terminal true, --console-socket) is created over and over; after each
/// create the test checks from the host that /dev/console in the victim is a pty (char major
/// 136..143) and writes to it. Asserted: the host sysctl never changes and every round either
/// failed to create or has a pty on /dev/console. (Today the first win came after 2 to 56
/// rounds over 15 runs.)
#[test]
fn dev_console_survives_a_racing_dev_pts() {
    let sysctl = SysctlGuard::new();
    let vol = TempDir::new("dev-volume");
    let v_dir = &vol.0;
    mknod_null(&v_dir.join("null"));
    std::os::unix::fs::symlink("pts/ptmx", v_dir.join("ptmx")).unwrap();
    fs::create_dir(v_dir.join("pts")).unwrap();
    fs::create_dir(v_dir.join("evil")).unwrap();
    for n in 0..4 {
        std::os::unix::fs::symlink(SYSCTL, v_dir.join("evil").join(n.to_string())).unwrap();
    }
    std::os::unix::fs::symlink("evil", v_dir.join(".link")).unwrap();
    let mut v = Container::new("console-victim");
    dev_on_volume(&mut v, v_dir);
    v.args(&["sleep", "1000"]);
    v.config["process"]["terminal"] = json!(true);

    // One round: create with a console socket (the master is received and dropped), then check
    // /dev/console. None: the create failed.
    let round = |n: usize| -> Option<Vec<String>> {
        let sock = v.bundle.join(format!("console-{n}.sock"));
        let _ = fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock).unwrap();
        let out = v.create_with(&["--console-socket", sock.to_str().unwrap()]);
        // A create that got as far as the console left its master in the socket: take it.
        listener.set_nonblocking(true).unwrap();
        while let Ok((conn, _)) = listener.accept() {
            drop(conn);
        }
        drop(listener);
        let _ = fs::remove_file(&sock);
        if !out.status.success() {
            return None;
        }
        let pid = v.pid();
        let console = format!("/proc/{pid}/root/dev/console");
        let mut bad = Vec::new();
        if let Ok(mut f) = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(&console)
        {
            let _ = std::io::Write::write_all(&mut f, sysctl.sentinel.as_bytes());
        }
        if let Some(val) = sysctl.changed() {
            bad.push(format!(
                "writing /dev/console changed host {SYSCTL} from {} to {val}",
                sysctl.original
            ));
        }
        match fs::metadata(&console) {
            Ok(m) if m.file_type().is_char_device() && (136..=143).contains(&major(m.rdev())) => {}
            Ok(m) => bad.push(format!(
                "/dev/console is not a pty but {:?} {}:{} (size {})",
                m.file_type(),
                major(m.rdev()),
                minor(m.rdev()),
                m.len()
            )),
            Err(e) => bad.push(format!("/dev/console: {e}")),
        }
        Some(bad)
    };

    let control = round(0).expect("without the attacker, the victim could not be created");
    assert!(control.is_empty(), "without the attacker: {control:?}");
    v.rt(&["delete", "--force", &v.id]).ok();

    let _swapper = Swapper::start(v_dir, "pts", ".link");
    let mut t = Tally::default();
    while t.more() {
        t.rounds += 1;
        match round(t.rounds) {
            Some(bad) => {
                t.created += 1;
                for b in bad {
                    t.violations.push(format!("round {}: {b}", t.rounds));
                }
            }
            None => t.failed += 1,
        }
        v.rt(&["delete", "--force", &v.id]);
        if let Some(val) = sysctl.changed() {
            t.violations
                .push(format!("round {}: host {SYSCTL} became {val}", t.rounds));
        }
    }
    t.assert_clean("/dev/console against a racing /dev/pts");
}

// ---------------------------------------------------------------------------------------------
// 5. Remounts by path and a racing symlink in a volume.
// ---------------------------------------------------------------------------------------------

/// A host file under /sys that root may write (mode u+w): a probe for a writable sysfs.
fn writable_sysfs_file() -> PathBuf {
    for dir in ["/sys/kernel", "/sys/kernel/mm", "/sys/power"] {
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_file() && m.mode() & 0o200 != 0 {
                return e.path();
            }
        }
    }
    panic!("no root-writable file under /sys/kernel or /sys/power to probe with");
}

/// Issue 18, defect 5: after a bind mount, rt looks the destination up again by path to apply
/// its flags (mounts.rs `bind()` and `finish()`). The victim (in the host's network namespace)
/// has rt spec's read-only sysfs on /sys, the volume V bind-mounted read-write on /data, and a
/// bind mount of a host directory on /data/x with ["bind", "nosuid", "nodev"] (which takes a
/// remount). The attacker exchanges V/x, a symlink to a directory of V, with a symlink to
/// /sys. It is a host thread (`Swapper`): a busybox loop of `mv` in a container (V at /vol)
/// also wins, but only about one round in 120 (its first win came after 14 to 317 rounds over
/// six runs), too rarely for a test that must fail every time. The victim is created over and
/// over; after each create the test reads the victim's /proc/<pid>/mountinfo and probes a
/// root-writable sysfs file with access(W_OK) through /proc/<pid>/root. Asserted in every
/// round: every sysfs mount of the victim is read-only and the probe gets EROFS (ENOENT when
/// the bind landed on /sys itself, as the symlink may say), and the bind of the host
/// directory, wherever it landed, carries nosuid and nodev; or create failed. (Today the
/// thread's first win came after 3 to 24 rounds over 15 runs.)
#[test]
fn remounts_survive_a_racing_symlink_in_a_volume() {
    let vol = TempDir::new("data-volume");
    let src = TempDir::new("bind-source");
    let src_name = src.0.file_name().unwrap().to_string_lossy().into_owned();
    fs::create_dir(vol.0.join("xdir")).unwrap();
    std::os::unix::fs::symlink("xdir", vol.0.join("x")).unwrap();
    std::os::unix::fs::symlink("/sys", vol.0.join(".sys")).unwrap();
    let probe = writable_sysfs_file();
    let mut v = Container::new("remount-victim");
    bind_dir(&mut v, &vol.0, "/data");
    v.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data/x", "type": "bind", "source": src.0,
        "options": ["bind", "nosuid", "nodev"]}));
    v.args(&["sleep", "1000"]);
    // In the host's network namespace, sysfs is the host's own superblock (read-write): only
    // the mount's flag keeps the container from writing it. (In a network namespace of its own
    // the container gets a read-only superblock, which would hide a flipped mount flag from the
    // write probe; mountinfo shows it either way.)
    v.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");

    let check = |pid: i32| -> Vec<String> {
        let mut bad = Vec::new();
        let mounts = mountinfo(pid);
        for m in mounts.iter().filter(|m| m.fstype == "sysfs") {
            if !m.opts.iter().any(|o| o == "ro") {
                bad.push(format!("sysfs on {} is read-write: {:?}", m.point, m.opts));
            }
        }
        let inside = format!("/proc/{pid}/root{}", probe.display());
        match nix::unistd::access(inside.as_str(), nix::unistd::AccessFlags::W_OK) {
            Err(nix::errno::Errno::EROFS | nix::errno::Errno::ENOENT) => {}
            r => bad.push(format!(
                "{} in the container: access(W_OK) {r:?}",
                probe.display()
            )),
        }
        let binds: Vec<&MountLine> = mounts
            .iter()
            .filter(|m| m.root.ends_with(&format!("/{src_name}")))
            .collect();
        if binds.is_empty() {
            bad.push("the bind of the host directory is nowhere".to_string());
        }
        for m in binds {
            if !(m.opts.iter().any(|o| o == "nosuid") && m.opts.iter().any(|o| o == "nodev")) {
                bad.push(format!(
                    "the bind on {} lacks nosuid,nodev: {:?}",
                    m.point, m.opts
                ));
            }
        }
        bad
    };

    v.create().ok();
    let control = check(v.pid());
    assert!(control.is_empty(), "without the attacker: {control:?}");
    v.rt(&["delete", "--force", &v.id]).ok();

    let _swapper = Swapper::start(&vol.0, "x", ".sys");
    let mut t = Tally::default();
    while t.more() {
        t.rounds += 1;
        if v.create().status.success() {
            t.created += 1;
            for b in check(v.pid()) {
                t.violations.push(format!("round {}: {b}", t.rounds));
            }
        } else {
            t.failed += 1;
        }
        v.rt(&["delete", "--force", &v.id]);
    }
    t.assert_clean("remounts against a racing symlink");
}

// ---------------------------------------------------------------------------------------------
// 6. uid/gid 4294967295 means "unchanged" to setresuid/setresgid.
// ---------------------------------------------------------------------------------------------

/// The Uid: or Gid: line of /proc/<pid>/status (real, effective, saved, filesystem).
fn ids(pid: i32, field: &str) -> Vec<u32> {
    proc_status(pid, field)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// Create and start a container whose process.user is `user`: either refused (exit 1, naming
/// `field`), or its process must not hold id 0 in `status_field` (from the host).
fn config_id_never_becomes_root(name: &str, user: Value, field: &str, status_field: &str) {
    let mut c = Container::new(name);
    c.args(&["sleep", "1000"]);
    c.config["process"]["user"] = user;
    let out = c.create();
    if !out.status.success() {
        out.fails_with(field);
        return;
    }
    c.start().ok();
    let pid = c.pid();
    let got = ids(pid, status_field);
    assert!(
        !got.contains(&0),
        "{field} 4294967295 gave the process {status_field} {got:?} (from /proc/{pid}/status)"
    );
}

/// Issue 18, defect 6: process.user.uid 4294967295 is -1 to setresuid, "leave unchanged", so the
/// process kept uid 0. Asserted: create refuses it (exit 1, naming process.user.uid), or the
/// started process's Uid: in /proc/<pid>/status holds no 0.
#[test]
fn config_uid_4294967295_does_not_run_as_root() {
    config_id_never_becomes_root(
        "uid-minus-one",
        json!({"uid": 4294967295u32, "gid": 1000}),
        "process.user.uid",
        "Uid",
    );
}

/// Issue 18, defect 6: process.user.gid 4294967295 (for uid 1000) left the process in group 0.
/// Asserted: create refuses it (exit 1, naming process.user.gid), or the process's Gid: holds
/// no 0.
#[test]
fn config_gid_4294967295_does_not_run_as_group_root() {
    config_id_never_becomes_root(
        "gid-minus-one",
        json!({"uid": 1000, "gid": 4294967295u32}),
        "process.user.gid",
        "Gid",
    );
}

/// `rt exec -d --user USER` in a running container: refused (non-zero, an error about the
/// user), or the process's `status_field` ids (from the host) hold no 0.
fn exec_user_never_becomes_root(name: &str, user: &str, status_field: &str) {
    let mut c = Container::new(name);
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    let pid_file = c.bundle.join("exec.pid");
    let out = c.rt(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--user",
        user,
        &c.id,
        "sleep",
        "1000",
    ]);
    if !out.status.success() {
        assert!(
            out.stderr.contains("user") || out.stderr.contains("uid") || out.stderr.contains("gid"),
            "exec --user {user} failed without naming the user: {out:?}"
        );
        return;
    }
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let got = ids(pid, status_field);
    assert!(
        !got.contains(&0),
        "exec --user {user} gave the process {status_field} {got:?} (from /proc/{pid}/status)"
    );
}

/// Issue 18, defect 6: `rt exec --user 4294967295` ran the process as uid 0. Asserted: refused,
/// or the process's Uid: holds no 0.
#[test]
fn exec_user_4294967295_does_not_run_as_root() {
    exec_user_never_becomes_root("exec-uid-minus-one", "4294967295", "Uid");
}

/// Issue 18, defect 6: `rt exec --user 0:4294967295` left the process in group 0 instead of the
/// group asked for. Asserted: refused, or the process's Gid: holds no 0.
#[test]
fn exec_group_4294967295_does_not_run_as_group_root() {
    exec_user_never_becomes_root("exec-gid-minus-one", "0:4294967295", "Gid");
}

// ---------------------------------------------------------------------------------------------
// 7. `rt exec -p FIFO` wedges the container.
// ---------------------------------------------------------------------------------------------

/// A running container and `rt exec -p FIFO <id>` started in the background on a fifo nobody
/// ever writes, given half a second to get wherever it blocks.
fn exec_on_a_fifo(name: &str) -> (Container, Reaper) {
    let mut c = Container::new(name);
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    let fifo = c.bundle.join("process.fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    let log = fs::File::create(c.bundle.join("exec.log")).unwrap();
    let child = Command::new(rt_bin())
        .arg("--root")
        .arg(state_root())
        .args(["exec", "-p", fifo.to_str().unwrap(), &c.id])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    (c, Reaper(Some(child)))
}

fn exec_log(c: &Container) -> String {
    fs::read_to_string(c.bundle.join("exec.log")).unwrap_or_default()
}

/// Issue 18, defect 7: `rt exec -p FIFO` blocked reading its process file while it held the
/// container's lock. With such an exec pending (nobody ever writes the fifo), `rt state`,
/// `rt kill` and `rt delete --force` must each finish within 5 s (and succeed).
#[test]
fn exec_blocked_on_a_fifo_does_not_lock_out_state_kill_and_delete() {
    let (c, _exec) = exec_on_a_fifo("fifo-lock");
    let limit = Duration::from_secs(5);
    let scratch = c.bundle.clone();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(rt_bin());
        cmd.arg("--root").arg(state_root()).args(args);
        run_cmd_within(&mut cmd, &scratch, limit)
    };
    run(&["state", &c.id]).ok();
    run(&["kill", &c.id, "KILL"]).ok();
    run(&["delete", "--force", &c.id]).ok();
    assert!(
        !state_root().join(&c.id).exists(),
        "the container's state is still there after delete --force"
    );
}

/// Issue 18, defect 7: the pending `rt exec -p FIFO` ignored SIGTERM (its signal forwarding
/// caught it while it blocked on the fifo). Asserted: SIGTERM ends it within a second.
#[test]
fn exec_blocked_on_a_fifo_ends_on_sigterm() {
    let (c, mut exec) = exec_on_a_fifo("fifo-term");
    let child = exec.0.as_mut().unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rt exec -p FIFO was still running 1 s after SIGTERM: {}",
            exec_log(&c)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Issue 18, defect 7: `rt exec -p FIFO` with nobody ever writing the fifo must not hang: it
/// fails (non-zero) within 5 s, whether it refuses a process file that is not a regular file
/// or reads it to its end.
#[test]
fn exec_with_a_fifo_process_file_fails_instead_of_hanging() {
    let (c, mut exec) = exec_on_a_fifo("fifo-hang");
    let child = exec.0.as_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "rt exec -p FIFO was still blocked after 5 s: {}",
            exec_log(&c)
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        !status.success(),
        "rt exec -p FIFO succeeded with an empty process file: {}",
        exec_log(&c)
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Found in review of the fix: what the image, a neighbour or a process with CAP_SYS_PTRACE
//    still reaches.
// ---------------------------------------------------------------------------------------------

/// The image's /proc is a symlink through its own /dev: `/proc -> /dev/link`, `/dev/link ->
/// /realproc`. rt mounts the procfs where the symlinks lead at that moment (/realproc), then
/// mounts rt spec's tmpfs on /dev, which hides /dev/link; after pivot_root every maskedPaths and
/// readonlyPaths entry under /proc resolves through the now dangling /proc, gets ENOENT and is
/// skipped, while the procfs stays reachable at /realproc, read-write and unmasked. The image
/// alone does it: no neighbour, no race, rt spec's default capabilities. The container's
/// process writes the host-global sysctl kernel.printk_ratelimit_burst through every procfs its
/// mountinfo shows. Asserted: create refuses the image, or the host sysctl is unchanged and
/// every procfs of the container has a read-only mount on its `sys`.
#[test]
fn masks_hold_when_the_images_proc_is_a_symlink() {
    let sysctl = SysctlGuard::new();
    let mut c = Container::new("proc-symlink");
    let root = c.own_rootfs();
    fs::remove_dir(root.join("proc")).unwrap();
    std::os::unix::fs::symlink("/dev/link", root.join("proc")).unwrap();
    std::os::unix::fs::symlink("/realproc", root.join("dev/link")).unwrap();
    fs::create_dir(root.join("realproc")).unwrap();
    c.args(&["sleep", "1000"]);
    if !c.create().status.success() {
        return;
    }
    c.start().ok();
    let pid = c.pid();
    let mounts = mountinfo(pid);
    let procs: Vec<String> = mounts
        .iter()
        .filter(|m| m.fstype == "proc")
        .map(|m| m.point.clone())
        .collect();
    assert!(!procs.is_empty(), "the container has no procfs: {mounts:?}");
    let mut bad = Vec::new();
    for p in &procs {
        let sys = format!("{}/sys", p.trim_end_matches('/'));
        let ro = mounts
            .iter()
            .any(|m| m.point == sys && m.opts.iter().any(|o| o == "ro"));
        if !ro {
            bad.push(format!("the procfs on {p} has no read-only {sys}"));
        }
    }
    let attack: String = procs
        .iter()
        .map(|p| {
            format!(
                "echo {s} > {p}/sys/kernel/printk_ratelimit_burst && echo wrote through {p}\n",
                s = sysctl.sentinel
            )
        })
        .collect();
    let seen = c.rt(&["exec", &c.id, "sh", "-c", &attack]);
    if let Some(val) = sysctl.changed() {
        bad.push(format!(
            "the container changed host {SYSCTL} from {} to {val}",
            sysctl.original
        ));
    }
    assert!(
        bad.is_empty(),
        "an image whose /proc is a symlink through /dev: {}\nthe container saw: {}{}",
        bad.join("; "),
        seen.stdout,
        seen.stderr
    );
}

/// A neighbour sharing the volume V, which the victim mounts on /data, leaves V/x a symlink to
/// "/" (no race: it is there before the victim is created). The victim's next mount, of a host
/// directory S on /data/x, is resolved inside the root to the root itself and stacked on it;
/// pivot_root, which opens the rootfs by path again, then takes S as the container's root: the
/// victim runs what S holds, with none of its /proc, /dev or /sys mounts and none of its masks
/// (each skipped as missing). S here is a copy of the image with a marker file, as a
/// neighbour that can write S would make it. Asserted: create refuses the mount, or the
/// victim's root is not S (no marker through /proc/<pid>/root) and it has its procfs on /proc.
#[test]
fn a_volume_symlink_cannot_put_a_mount_over_the_containers_root() {
    let vol = TempDir::new("root-volume");
    let src = TempDir::new("root-source");
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs().display()))
        .arg(&src.0)
        .status()
        .unwrap();
    assert!(st.success(), "copy the image into S");
    fs::write(src.0.join("dev/null"), "").unwrap();
    fs::write(src.0.join("NEIGHBOURS-ROOT"), "chosen by the neighbour\n").unwrap();
    std::os::unix::fs::symlink("/", vol.0.join("x")).unwrap();
    let mut v = Container::new("root-overmount");
    bind_dir(&mut v, &vol.0, "/data");
    bind_dir(&mut v, &src.0, "/data/x");
    v.args(&["sleep", "1000"]);
    if !v.create().status.success() {
        return;
    }
    let pid = v.pid();
    let mut bad = Vec::new();
    if Path::new(&format!("/proc/{pid}/root/NEIGHBOURS-ROOT")).exists() {
        bad.push("the container's root is the directory mounted on /data/x".to_string());
    }
    let mounts = mountinfo(pid);
    if !mounts
        .iter()
        .any(|m| m.point == "/proc" && m.fstype == "proc")
    {
        bad.push("no procfs on /proc".to_string());
    }
    assert!(
        bad.is_empty(),
        "a symlink to / in a volume: {}; mounts: {mounts:?}",
        bad.join("; ")
    );
}

/// `rt exec`'s process holds a procfs of its own (ProcFs::private: a fresh, detached procfs
/// with neither maskedPaths nor readonlyPaths) from before it enters the container until
/// prepare returns, and it reads the container's /etc/passwd (for HOME) in between. The
/// container turns /etc/passwd into a fifo, so that an `rt exec` (as a manager's health check
/// runs it, without HOME) waits there; a second process, `exec --cap CAP_SYS_PTRACE` as in the
/// CVE-2019-5736 test above (non-dumpable is no obstacle to CAP_SYS_PTRACE), opens every
/// /proc/<pid>/fd/N/sys/kernel/printk_ratelimit_burst it finds and writes it. Asserted: the
/// host sysctl is unchanged.
#[test]
fn exec_process_holds_no_procfs_the_container_can_write_through() {
    let sysctl = SysctlGuard::new();
    let mut c = Container::new("exec-procfs");
    c.own_rootfs();
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    c.rt(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "rm /etc/passwd && mkfifo /etc/passwd",
    ])
    .ok();
    let log = fs::File::create(c.bundle.join("exec.log")).unwrap();
    let child = Command::new(rt_bin())
        .arg("--root")
        .arg(state_root())
        .args(["exec", &c.id, "true"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _pending = Reaper(Some(child));
    std::thread::sleep(Duration::from_millis(500));
    let attack = format!(
        "for f in /proc/[0-9]*/fd/*; do
           t=\"$f/sys/kernel/printk_ratelimit_burst\"
           [ -e \"$t\" ] || continue
           echo \"$f is a procfs\"
           echo {} > \"$t\" && echo \"wrote $t\"
         done",
        sysctl.sentinel
    );
    let seen = c.rt(&[
        "exec",
        "--cap",
        "CAP_SYS_PTRACE",
        "-e",
        "HOME=/",
        &c.id,
        "sh",
        "-c",
        &attack,
    ]);
    let changed = sysctl.changed();
    assert!(
        changed.is_none(),
        "through a pending exec's descriptors the container changed host {SYSCTL} from {} to {:?}\nit saw: {}{}",
        sysctl.original,
        changed,
        seen.stdout,
        seen.stderr
    );
}

/// A seccomp rule answering 0 ("success", without running it) to the syscalls rt makes after
/// loading the filter: with noNewPrivileges false the filter is loaded before the user switch and
/// the capability drop (prepare.rs), so they become no-ops that report success, and the process
/// keeps what rt believes it dropped, as uid 4294967295 did (defect 6).
fn errno_zero(rules: Value) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules
    })
}

/// Found in review, the seccomp form of defect 6: process.user 1000:1000 with a filter that
/// answers 0 to setresuid, setresgid and setgroups. Asserted: create refuses, or the started
/// process's Uid: and Gid: (from the host) hold no 0.
#[test]
fn a_seccomp_rule_answering_zero_does_not_leave_the_process_root() {
    let mut c = Container::new("seccomp-uid");
    c.args(&["sleep", "1000"]);
    c.config["process"]["noNewPrivileges"] = json!(false);
    c.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    c.config["linux"]["seccomp"] = errno_zero(json!([{
        "names": ["setresuid", "setresgid", "setgroups", "setuid", "setgid"],
        "action": "SCMP_ACT_ERRNO", "errnoRet": 0
    }]));
    if !c.create().status.success() {
        return;
    }
    c.start().ok();
    let pid = c.pid();
    for field in ["Uid", "Gid"] {
        let got = ids(pid, field);
        assert!(
            !got.contains(&0),
            "process.user 1000:1000 behind a seccomp rule answering 0: {field} {got:?}"
        );
    }
}

/// Found in review, the same for capabilities: rt spec's three capabilities with a filter that
/// answers 0 to capset and to prctl(PR_CAPBSET_DROP). Asserted: create refuses, or the started
/// process's CapEff and CapBnd (from the host) hold nothing beyond the three.
#[test]
fn a_seccomp_rule_answering_zero_does_not_keep_every_capability() {
    let mut c = Container::new("seccomp-caps");
    c.args(&["sleep", "1000"]);
    c.config["process"]["noNewPrivileges"] = json!(false);
    c.config["linux"]["seccomp"] = errno_zero(json!([
        {"names": ["capset"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
        {"names": ["prctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0,
         "args": [{"index": 0, "value": libc::PR_CAPBSET_DROP, "op": "SCMP_CMP_EQ"}]}
    ]));
    if !c.create().status.success() {
        return;
    }
    c.start().ok();
    let pid = c.pid();
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
    let allowed: u64 = (1 << 29) | (1 << 5) | (1 << 10);
    for field in ["CapEff", "CapBnd"] {
        let got = u64::from_str_radix(&proc_status(pid, field), 16).unwrap();
        assert!(
            got & !allowed == 0,
            "three capabilities behind a seccomp rule answering 0: {field} {got:016x}"
        );
    }
}
