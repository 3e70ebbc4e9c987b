//! Integration tests: rootfs. Everything is checked against what the kernel shows inside the
//! container (/proc/self/mountinfo, stat, attempted writes), and hostile images are checked to
//! leave the host unchanged.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
struct Mnt {
    point: String,
    opts: Vec<String>,
    optional: Vec<String>,
    fstype: String,
    sopts: Vec<String>,
}

impl Mnt {
    fn has(&self, opt: &str) -> bool {
        self.opts.iter().any(|o| o == opt)
    }
    fn has_super(&self, opt: &str) -> bool {
        self.sopts.iter().any(|o| o == opt)
    }
    fn tag(&self, prefix: &str) -> Option<&str> {
        self.optional
            .iter()
            .find_map(|o| o.strip_prefix(prefix).map(|_| o.as_str()))
    }
}

fn parse_mountinfo(s: &str) -> Vec<Mnt> {
    let mut v = Vec::new();
    for line in s.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if sep < 6 || f.len() < sep + 4 {
            continue;
        }
        v.push(Mnt {
            point: f[4].replace("\\040", " "),
            opts: f[5].split(',').map(String::from).collect(),
            optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
            fstype: f[sep + 1].to_string(),
            sopts: f[sep + 3].split(',').map(String::from).collect(),
        });
    }
    v
}

/// What a container printed: its mountinfo, then the rest of its output.
struct Seen {
    mounts: Vec<Mnt>,
    rest: String,
}

impl Seen {
    /// The topmost mount at `point`.
    #[track_caller]
    fn at(&self, point: &str) -> &Mnt {
        self.mounts
            .iter()
            .rev()
            .find(|m| m.point == point)
            .unwrap_or_else(|| panic!("no mount at {point}: {:#?}", self.mounts))
    }
    #[track_caller]
    fn line(&self, key: &str) -> String {
        let pre = format!("{key}=");
        self.rest
            .lines()
            .find_map(|l| l.strip_prefix(&pre))
            .unwrap_or_else(|| panic!("no {key}= in output: {}", self.rest))
            .to_string()
    }
}

const SPLIT: &str = "@@@rt-split@@@";

/// Run the container with a script that first prints its mountinfo; the script's own output
/// follows in `rest`.
#[track_caller]
fn run_seen(c: &mut Container, script: &str) -> Seen {
    c.sh(&format!("cat /proc/self/mountinfo; echo {SPLIT}; {script}"));
    let out = c.run().ok();
    let (mi, rest) = out
        .stdout
        .split_once(&format!("{SPLIT}\n"))
        .unwrap_or_else(|| panic!("no split marker: {out:?}"));
    Seen {
        mounts: parse_mountinfo(mi),
        rest: rest.to_string(),
    }
}

fn mounts(c: &mut Container) -> &mut Vec<Value> {
    c.config["mounts"].as_array_mut().unwrap()
}

fn tmpfs(dest: &str, opts: &[&str]) -> Value {
    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts})
}

fn bind(src: impl AsRef<Path>, dest: &str, opts: &[&str]) -> Value {
    json!({"destination": dest, "type": "bind", "source": src.as_ref(), "options": opts})
}

/// A host path that names `inside` of the shared rootfs as the container's mount namespace sees
/// it during setup (mounts made earlier on the rootfs are visible there).
fn in_rootfs(inside: &str) -> PathBuf {
    rootfs().join(inside.trim_start_matches('/'))
}

fn host_mountinfo() -> HashSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// A host directory a hostile image aims at, and the host's mount table from before the test.
/// On drop: anything mounted under the directory is detached and the directory removed.
struct HostGuard {
    dir: PathBuf,
    before: HashSet<String>,
}

impl HostGuard {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rt-sentinel-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("keep"), "host\n").unwrap();
        HostGuard {
            dir,
            before: host_mountinfo(),
        }
    }

    /// The sentinel path without its leading "/".
    fn rel(&self) -> String {
        self.dir
            .to_str()
            .unwrap()
            .trim_start_matches('/')
            .to_string()
    }

    /// Host mounts made since `new`, leaving out what other tests running at the same time may
    /// make on purpose: namespace pins under /run and mounts in other tests' bundles.
    fn new_mounts(&self) -> Vec<String> {
        let bundles = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bundles");
        let theirs = |line: &String| {
            let point = Path::new(line.split(' ').nth(4).unwrap_or(""));
            point.starts_with("/run")
                || point
                    .strip_prefix(&bundles)
                    .is_ok_and(|r| !r.to_string_lossy().starts_with("evil-"))
        };
        let mut v: Vec<String> = host_mountinfo()
            .difference(&self.before)
            .filter(|l| !theirs(l))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// The host is as it was: the sentinel holds only `keep`, unmodified, and the host has no
    /// mount it did not have before.
    #[track_caller]
    fn assert_unchanged(&self) {
        let mut names: Vec<String> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["keep"],
            "host sentinel {} was written to",
            self.dir.display()
        );
        assert_eq!(fs::read_to_string(self.dir.join("keep")).unwrap(), "host\n");
        let new = self.new_mounts();
        assert!(new.is_empty(), "new host mounts: {new:#?}");
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        for line in self.new_mounts() {
            if let Some(point) = line.split(' ').nth(4) {
                if Path::new(point).starts_with(&self.dir) {
                    let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
                }
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[track_caller]
fn assert_no_state(c: &Container) {
    assert!(
        !state_root().join(&c.id).exists(),
        "state of failed {} left behind",
        c.id
    );
    assert_ne!(
        c.rt(&["state", &c.id]).code(),
        0,
        "state of failed {} still answers",
        c.id
    );
}

/// Remove the config mount at `dest`.
fn drop_mount(c: &mut Container, dest: &str) {
    mounts(c).retain(|m| m["destination"] != dest);
}

// ---------------------------------------------------------------------------------------------
// Mount options
// ---------------------------------------------------------------------------------------------

#[test]
fn mount_flags_and_atime_modes_show_in_mountinfo() {
    let mut c = Container::new("mflags");
    let m = mounts(&mut c);
    m.push(tmpfs("/mnt", &["mode=755"]));
    m.push(tmpfs("/mnt/plain", &[]));
    m.push(tmpfs("/mnt/ro", &["ro"]));
    m.push(tmpfs("/mnt/rw", &["ro", "rw"]));
    m.push(tmpfs("/mnt/nosuid", &["nosuid"]));
    m.push(tmpfs("/mnt/nodev", &["nodev"]));
    m.push(tmpfs("/mnt/noexec", &["noexec"]));
    m.push(tmpfs("/mnt/exec", &["noexec", "exec"]));
    m.push(tmpfs("/mnt/noatime", &["noatime"]));
    m.push(tmpfs("/mnt/nodiratime", &["nodiratime"]));
    m.push(tmpfs("/mnt/relatime", &["relatime"]));
    m.push(tmpfs("/mnt/strictatime", &["strictatime"]));
    m.push(tmpfs(
        "/mnt/data",
        &["size=64k", "mode=710", "nr_inodes=100"],
    ));
    let s = run_seen(
        &mut c,
        "touch /mnt/ro/x 2>&1; echo ro_rc=$?; touch /mnt/rw/x; echo rw_rc=$?; \
         cp /bin/busybox /mnt/noexec/true && /mnt/noexec/true 2>&1; echo noexec_rc=$?; \
         cp /bin/busybox /mnt/exec/true && /mnt/exec/true; echo exec_rc=$?; \
         stat -c mode=%a /mnt/data",
    );

    let plain = s.at("/mnt/plain");
    assert_eq!(plain.fstype, "tmpfs");
    for o in ["rw", "relatime"] {
        assert!(plain.has(o), "{plain:?}");
    }
    for o in ["ro", "nosuid", "nodev", "noexec", "noatime", "nodiratime"] {
        assert!(!plain.has(o), "{o} on a plain mount: {plain:?}");
    }
    assert!(s.at("/mnt/ro").has("ro"));
    assert!(s.at("/mnt/rw").has("rw"));
    assert!(s.at("/mnt/nosuid").has("nosuid"));
    assert!(s.at("/mnt/nodev").has("nodev"));
    assert!(s.at("/mnt/noexec").has("noexec"));
    assert!(!s.at("/mnt/exec").has("noexec"));
    let noatime = s.at("/mnt/noatime");
    assert!(
        noatime.has("noatime") && !noatime.has("relatime"),
        "{noatime:?}"
    );
    assert!(s.at("/mnt/nodiratime").has("nodiratime"));
    assert!(s.at("/mnt/relatime").has("relatime"));
    let strict = s.at("/mnt/strictatime");
    assert!(
        !strict.has("relatime") && !strict.has("noatime"),
        "strictatime shows as neither relatime nor noatime: {strict:?}"
    );
    let data = s.at("/mnt/data");
    for o in ["size=64k", "mode=710", "nr_inodes=100"] {
        assert!(data.has_super(o), "{o} not in {data:?}");
    }
    assert_eq!(s.line("mode"), "710");

    assert_ne!(s.line("ro_rc"), "0");
    assert!(s.rest.contains("Read-only file system"), "{}", s.rest);
    assert_eq!(s.line("rw_rc"), "0");
    assert_ne!(s.line("noexec_rc"), "0", "{}", s.rest);
    assert!(s.rest.contains("Permission denied"), "{}", s.rest);
    assert_eq!(s.line("exec_rc"), "0");
}

#[test]
fn read_only_bind_mounts_reject_writes() {
    let mut c = Container::new("robind");
    let dir = c.bundle.join("hostdir");
    fs::create_dir_all(&dir).unwrap();
    let file = c.bundle.join("hostfile");
    fs::write(&file, "orig\n").unwrap();
    let m = mounts(&mut c);
    m.push(tmpfs("/mnt", &[]));
    m.push(bind(&dir, "/mnt/dir", &["bind", "ro"]));
    m.push(bind(
        &file,
        "/mnt/file",
        &["rbind", "ro", "nosuid", "nodev", "noexec"],
    ));
    m.push(bind(&dir, "/mnt/rwdir", &["bind"]));
    let s = run_seen(
        &mut c,
        "touch /mnt/dir/new 2>&1; echo dir_rc=$?; \
         echo changed > /mnt/file; echo file_rc=$?; \
         touch /mnt/rwdir/made; echo rw_rc=$?",
    );
    let d = s.at("/mnt/dir");
    assert!(d.has("ro"), "{d:?}");
    let f = s.at("/mnt/file");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(f.has(o), "{o} missing: {f:?}");
    }
    assert!(s.at("/mnt/rwdir").has("rw"));
    assert_ne!(s.line("dir_rc"), "0");
    assert_ne!(s.line("file_rc"), "0");
    assert!(s.rest.contains("Read-only file system"), "{}", s.rest);
    assert_eq!(s.line("rw_rc"), "0");
    // The host saw only the write through the read-write bind.
    assert!(!dir.join("new").exists());
    assert!(dir.join("made").exists());
    assert_eq!(fs::read_to_string(&file).unwrap(), "orig\n");
}

#[test]
fn bind_is_not_recursive_rbind_is_and_recursive_attrs_reach_submounts() {
    let mut c = Container::new("rbind");
    let src = in_rootfs("/mnt/src");
    let m = mounts(&mut c);
    m.push(tmpfs("/mnt", &[]));
    m.push(tmpfs("/mnt/src", &[]));
    m.push(tmpfs("/mnt/src/sub", &[]));
    m.push(bind(&src, "/mnt/bind", &["bind"]));
    m.push(bind(&src, "/mnt/rbind", &["rbind"]));
    // ro applies to the top mount only; rro & co. to the whole tree.
    m.push(bind(&src, "/mnt/ro", &["rbind", "ro"]));
    m.push(bind(
        &src,
        "/mnt/rro",
        &["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"],
    ));
    m.push(bind(
        &src,
        "/mnt/rrw",
        &["rbind", "rro", "rrw", "rnodiratime"],
    ));
    let s = run_seen(
        &mut c,
        "touch /mnt/rro/sub/x 2>&1; echo rro_rc=$?; touch /mnt/ro/sub/y; echo ro_rc=$?",
    );
    assert!(
        !s.mounts.iter().any(|m| m.point == "/mnt/bind/sub"),
        "bind copied a submount: {:#?}",
        s.mounts
    );
    assert_eq!(s.at("/mnt/rbind/sub").fstype, "tmpfs");
    assert!(s.at("/mnt/ro").has("ro"));
    assert!(s.at("/mnt/ro/sub").has("rw"), "ro is not recursive");
    for p in ["/mnt/rro", "/mnt/rro/sub"] {
        let m = s.at(p);
        for o in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
            assert!(m.has(o), "{o} missing on {p}: {m:?}");
        }
    }
    for p in ["/mnt/rrw", "/mnt/rrw/sub"] {
        let m = s.at(p);
        assert!(m.has("rw") && m.has("nodiratime"), "{p}: {m:?}");
    }
    assert_ne!(s.line("rro_rc"), "0");
    assert_eq!(s.line("ro_rc"), "0");
}

#[test]
fn propagation_options_per_mount() {
    let mut c = Container::new("mprop");
    let m = mounts(&mut c);
    m.push(tmpfs("/mnt", &[]));
    m.push(tmpfs("/mnt/shared", &["shared"]));
    m.push(bind(
        in_rootfs("/mnt/shared"),
        "/mnt/slave",
        &["bind", "slave"],
    ));
    m.push(bind(
        in_rootfs("/mnt/shared"),
        "/mnt/private",
        &["bind", "private"],
    ));
    m.push(tmpfs("/mnt/unbindable", &["unbindable"]));
    m.push(tmpfs("/mnt/tree", &["rshared"]));
    m.push(tmpfs("/mnt/tree/sub", &[]));
    m.push(bind(
        in_rootfs("/mnt/tree"),
        "/mnt/rslave",
        &["rbind", "rslave"],
    ));
    m.push(bind(
        in_rootfs("/mnt/tree"),
        "/mnt/rprivate",
        &["rbind", "rprivate"],
    ));
    m.push(bind(
        in_rootfs("/mnt/tree"),
        "/mnt/runbindable",
        &["rbind", "runbindable"],
    ));
    let s = run_seen(&mut c, "true");

    let shared = s.at("/mnt/shared");
    let group = shared
        .tag("shared:")
        .unwrap_or_else(|| panic!("not shared: {shared:?}"))
        .trim_start_matches("shared:")
        .to_string();
    let slave = s.at("/mnt/slave");
    assert_eq!(
        slave.tag("master:"),
        Some(format!("master:{group}").as_str()),
        "{slave:?}"
    );
    assert!(slave.tag("shared:").is_none(), "{slave:?}");
    assert!(
        s.at("/mnt/private").optional.is_empty(),
        "{:?}",
        s.at("/mnt/private")
    );
    assert!(s.at("/mnt/unbindable").tag("unbindable").is_some());
    assert!(
        s.at("/mnt/tree/sub").tag("shared:").is_some(),
        "mounted under an rshared mount"
    );
    for p in ["/mnt/rslave", "/mnt/rslave/sub"] {
        let m = s.at(p);
        assert!(
            m.tag("master:").is_some() && m.tag("shared:").is_none(),
            "{p}: {m:?}"
        );
    }
    for p in ["/mnt/rprivate", "/mnt/rprivate/sub"] {
        assert!(s.at(p).optional.is_empty(), "{p}: {:?}", s.at(p));
    }
    for p in ["/mnt/runbindable", "/mnt/runbindable/sub"] {
        assert!(s.at(p).tag("unbindable").is_some(), "{p}: {:?}", s.at(p));
    }
}

/// A tmpfs made shared on the host (as / is on systemd hosts), holding a rootfs and a volume
/// directory; unmounted (lazily: a container may still hold it) on drop.
struct SharedTree {
    dir: PathBuf,
}

impl SharedTree {
    fn new(name: &str) -> SharedTree {
        let dir = tmp_dir().join(format!("{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("mode=755"),
        )
        .unwrap();
        let t = SharedTree { dir };
        nix::mount::mount(
            None::<&str>,
            &t.dir,
            None::<&str>,
            nix::mount::MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(t.dir.join("rootfs"))
            .status()
            .unwrap();
        assert!(st.success());
        fs::create_dir(t.dir.join("vol")).unwrap();
        t
    }
}

impl Drop for SharedTree {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(&self.dir);
    }
}

/// What a container of `runtime` sees after the host mounts a tmpfs under the volume it got
/// with this rootfsPropagation: whether the new mount reached it, and the propagation tags of
/// its / and /vol.
fn host_mount_seen(
    runtime: &str,
    tree: &SharedTree,
    mode: Option<&str>,
    n: usize,
) -> Option<(bool, String)> {
    let name = format!("prop{n}-{}", mode.unwrap_or("unset"));
    let mut c = Container::new(&name);
    c.config["root"] = json!({"path": tree.dir.join("rootfs"), "readonly": true});
    match mode {
        Some(m) => c.config["linux"]["rootfsPropagation"] = json!(m),
        None => {
            c.config["linux"]
                .as_object_mut()
                .unwrap()
                .remove("rootfsPropagation");
        }
    }
    mounts(&mut c).push(json!({"destination": "/vol", "type": "bind",
        "source": tree.dir.join("vol"), "options": ["rbind", "rw"]}));
    c.args(&["sleep", "1000"]);
    c.write_config();
    let root = tmp_dir().join(format!("runc-state-{}", std::process::id()));
    let bin = if runtime == "rt" { rt_bin() } else { "runc" };
    let call = |args: &[&str]| {
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("--root").arg(if runtime == "rt" {
            state_root()
        } else {
            root.clone()
        });
        cmd.args(args);
        run_cmd(&mut cmd, &c.bundle)
    };
    let out = call(&["run", "-d", "--bundle", c.bundle.to_str().unwrap(), &c.id]);
    if !out.status.success() {
        // runc 1.1.5 cannot run an unbindable root (EINVAL binding the rootfs): no control.
        assert_ne!(runtime, "rt", "rt run, rootfsPropagation {mode:?}: {out:?}");
        eprintln!(
            "{runtime} run, rootfsPropagation {mode:?}: {}",
            out.stderr.trim()
        );
        let _ = call(&["delete", "--force", &c.id]);
        return None;
    }
    let state: Value = serde_json::from_str(&call(&["state", &c.id]).ok().stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let sub = tree.dir.join("vol").join(&name);
    fs::create_dir(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mi = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let seen = mi
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(format!("/vol/{name}").as_str()));
    let tags = |point: &str| {
        mi.lines()
            .rfind(|l| l.split(' ').nth(4) == Some(point))
            .map(|l| {
                l.split(' ')
                    .skip(6)
                    .take_while(|f| *f != "-")
                    .map(|f| f.split(':').next().unwrap().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let shown = format!("/ [{}] /vol [{}]", tags("/"), tags("/vol"));
    let _ = call(&["delete", "--force", &c.id]);
    let _ = nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH);
    let _ = fs::remove_dir_all(&root);
    Some((seen, shown))
}

/// runc's default root propagation is rslave, and a volume beside the rootfs on a shared host
/// mount stays a slave of it: what the host mounts under it after the start reaches the
/// container (docker's `-v src:dst:rslave`). For every rootfsPropagation value (and none),
/// what the container sees of such a host mount, and the propagation of its / and the volume,
/// are runc's (runc runs the same bundles in this test, as the control).
#[test]
fn rootfs_propagation_lets_host_mounts_reach_volumes_as_runc_does() {
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("runc is not installed (apt-get install -y runc): it is this test's control");
    }
    // In a mount namespace of this thread's (the runtimes it starts inherit it): the "host"
    // mounts it makes are seen by no other test.
    std::thread::spawn(propagation_cases).join().unwrap();
}

fn propagation_cases() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .unwrap();
    let tree = SharedTree::new("proptree");
    let modes = [
        None,
        Some("rslave"),
        Some("slave"),
        Some("rshared"),
        Some("shared"),
        Some("rprivate"),
        Some("private"),
        Some("runbindable"),
        Some("unbindable"),
    ];
    let mut differ = Vec::new();
    for (n, mode) in modes.iter().enumerate() {
        let rt = host_mount_seen("rt", &tree, *mode, n * 2).expect("rt runs it");
        // runc applies an unbindable mode to / before binding the rootfs, which then fails
        // (runbindable) or works only because this rootfs is on a mount of its own, whose
        // privatisation then cuts the volume off too (unbindable): no control for those. rt
        // makes / unbindable once the binds are made, the volume left as by default.
        let unbindable = mode.is_some_and(|m| m.ends_with("unbindable"));
        let runc = match unbindable {
            true => None,
            false => host_mount_seen("runc", &tree, *mode, n * 2 + 1),
        };
        eprintln!("{mode:?}: rt {rt:?}, runc {runc:?}");
        match runc {
            Some(runc) if rt.0 != runc.0 => differ.push(format!(
                "{mode:?}: host mount seen by rt {}, by runc {} (rt {}, runc {})",
                rt.0, runc.0, rt.1, runc.1
            )),
            Some(_) => {}
            // The root is unbindable, and recursively so for runbindable, whose volume
            // (unbindable, so private) sees nothing of the host.
            None => {
                assert!(rt.1.starts_with("/ [unbindable"), "{mode:?}: {}", rt.1);
                if *mode == Some("runbindable") {
                    assert!(!rt.0, "runbindable: the host's mount reached the volume");
                }
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // The default is a slave of the host: the new mount reached it.
    assert!(
        host_mount_seen("rt", &tree, None, 100)
            .expect("rt runs it")
            .0
    );
}

/// podman's `tmpcopyup` (on every tmpfs it generates: `--read-only`, `--tmpfs`, `--mount
/// type=tmpfs`): the tmpfs starts with a copy of the image's directory, each entry's type,
/// owner, mode (set-id bits too) and contents kept, the directory's own owner and mode too; the
/// container's writes land in the tmpfs, never in the image; on a bind it is refused by name.
#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_images_directory() {
    let mut c = Container::new("copyup");
    let root = c.own_rootfs();
    let data = root.join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::write(data.join("file"), "content\n").unwrap();
    fs::write(data.join("sub/deep"), "deep\n").unwrap();
    std::os::unix::fs::symlink("file", data.join("sym")).unwrap();
    nix::unistd::mkfifo(
        &data.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    let chown = |p: &Path, u: u32, g: u32| std::os::unix::fs::lchown(p, Some(u), Some(g)).unwrap();
    chown(&data.join("file"), 1000, 1000);
    chown(&data.join("sym"), 1000, 100);
    chown(&data, 0, 1000);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(data.join("file"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o775)).unwrap();
    c.config["root"]["readonly"] = json!(true);
    // podman's own option list for a --tmpfs.
    mounts(&mut c).push(tmpfs(
        "/data",
        &["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
    ));
    c.sh("cd /data && stat -c '%n %F %u:%g %a' . file sub sub/deep sym fifo && cat file sub/deep \
          && readlink sym && echo new > fresh && cat fresh && grep ' /data ' /proc/self/mountinfo | cut -d' ' -f9");
    let out = c.run().ok();
    assert_eq!(
        out.stdout,
        ". directory 0:1000 775\n\
         file regular file 1000:1000 4755\n\
         sub directory 0:0 755\n\
         sub/deep regular file 0:0 644\n\
         sym symbolic link 1000:100 777\n\
         fifo fifo 0:0 640\n\
         content\ndeep\nfile\nnew\ntmpfs\n"
    );
    assert!(!data.join("fresh").exists(), "the write reached the image");
    // A runtime-side option is never handed to the kernel as data: on a bind it is refused.
    let mut c = Container::new("copyup-bind");
    let src = c.bundle.join("src");
    fs::create_dir(&src).unwrap();
    mounts(&mut c).push(bind(&src, "/mnt", &["bind", "tmpcopyup"]));
    c.run().fails_with("tmpcopyup applies to tmpfs mounts only");
}

/// The other runtime-side options managers send: `nosymfollow` (no symlink on the mount is
/// followed), `copy-symlink` (a symlink as a bind's source is made again, not followed),
/// `src-nofollow` (the symlink itself is bound), `dest-nofollow` (a symlink at the destination is
/// mounted over, not followed out of it).
#[test]
fn symlink_mount_options_do_what_they_say() {
    let mut c = Container::new("symopts");
    let root = c.own_rootfs();
    c.config["root"]["readonly"] = json!(true);
    let host = c.bundle.join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("file"), "host file\n").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", host.join("link")).unwrap();
    // In the image: /mnt/d points at /etc, where a followed mount would land.
    fs::create_dir_all(root.join("mnt")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("mnt/d")).unwrap();
    let m = mounts(&mut c);
    m.push(tmpfs("/ns", &["nosymfollow"]));
    m.push(bind(
        host.join("link"),
        "/mnt/copied",
        &["bind", "copy-symlink"],
    ));
    m.push(bind(
        host.join("link"),
        "/mnt/bound",
        &["bind", "src-nofollow"],
    ));
    m.push(bind(
        host.join("file"),
        "/mnt/d",
        &["bind", "dest-nofollow"],
    ));
    c.sh(
        "grep -c ' /ns .*nosymfollow' /proc/self/mountinfo; ln -s /etc/hostname /ns/l; \
          cat /ns/l 2>&1 | grep -c 'symbolic links'; readlink /mnt/copied; readlink /mnt/bound; \
          cat /mnt/d; test -d /etc && echo etc-untouched",
    );
    let out = c.run().ok();
    assert_eq!(
        out.stdout,
        "1\n1\n/etc/hostname\n/etc/hostname\nhost file\netc-untouched\n"
    );
}

#[test]
fn rootfs_propagation_applies_to_root_and_its_r_form_to_submounts() {
    type Check = fn(&Mnt) -> bool;
    let cases: &[(&str, Check, Check)] = &[
        (
            "shared",
            |m: &Mnt| m.tag("shared:").is_some(),
            |m: &Mnt| m.tag("shared:").is_some(),
        ),
        (
            "rshared",
            |m: &Mnt| m.tag("shared:").is_some(),
            |m: &Mnt| m.tag("shared:").is_some(),
        ),
        (
            "private",
            |m: &Mnt| m.optional.is_empty(),
            |m: &Mnt| m.tag("shared:").is_some(),
        ),
        (
            "rprivate",
            |m: &Mnt| m.optional.is_empty(),
            |m: &Mnt| m.optional.is_empty(),
        ),
        (
            "rslave",
            |m: &Mnt| m.tag("shared:").is_none(),
            |m: &Mnt| m.tag("shared:").is_none(),
        ),
        (
            "unbindable",
            |m: &Mnt| m.tag("unbindable").is_some(),
            |m: &Mnt| m.tag("unbindable").is_none(),
        ),
        (
            "runbindable",
            |m: &Mnt| m.tag("unbindable").is_some(),
            |m: &Mnt| m.tag("unbindable").is_some(),
        ),
    ];
    std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(mode, root_ok, sub_ok)| {
                sc.spawn(move || {
                    let mut c = Container::new(&format!("rprop-{mode}"));
                    c.config["linux"]["rootfsPropagation"] = json!(mode);
                    mounts(&mut c).push(tmpfs("/mnt", &["shared"]));
                    let s = run_seen(&mut c, "true");
                    let root = s.at("/");
                    assert!(root_ok(root), "{mode}: / is {root:?}");
                    let sub = s.at("/mnt");
                    assert!(sub_ok(sub), "{mode}: /mnt is {sub:?}");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    let mut c = Container::new("rprop-bad");
    c.config["linux"]["rootfsPropagation"] = json!("sideways");
    c.run().fails_with("rootfsPropagation");
    assert_no_state(&c);
}

#[test]
fn idmapped_bind_mount_maps_owners() {
    let mut c = Container::new("idmap");
    let dir = c.bundle.join("idsrc");
    fs::create_dir_all(&dir).unwrap();
    for (name, id) in [("root", 0), ("five", 5), ("far", 3000)] {
        let p = dir.join(name);
        fs::write(&p, name).unwrap();
        std::os::unix::fs::chown(&p, Some(id), Some(id)).unwrap();
    }
    let m = mounts(&mut c);
    m.push(tmpfs("/mnt", &[]));
    m.push(json!({
        "destination": "/mnt/id", "type": "bind", "source": dir, "options": ["bind", "idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 100}],
        "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 100}],
    }));
    m.push(bind(&dir, "/mnt/plain", &["bind"]));
    let s = run_seen(
        &mut c,
        "for f in root five far; do echo $f=$(stat -c %u:%g /mnt/id/$f); done; \
         echo plain=$(stat -c %u:%g /mnt/plain/five)",
    );
    assert!(s.at("/mnt/id").has("idmapped"), "{:?}", s.at("/mnt/id"));
    assert!(!s.at("/mnt/plain").has("idmapped"));
    assert_eq!(s.line("root"), "1000:2000");
    assert_eq!(s.line("five"), "1005:2005");
    assert_eq!(s.line("far"), "65534:65534");
    assert_eq!(s.line("plain"), "5:5");
    // The files on the host keep their owners.
    assert_eq!(fs::metadata(dir.join("five")).unwrap().uid(), 5);
}

#[test]
fn idmap_without_mappings_is_refused() {
    let mut c = Container::new("idmap-none");
    let dir = c.bundle.join("idsrc");
    fs::create_dir_all(&dir).unwrap();
    mounts(&mut c).push(bind(&dir, "/mnt", &["bind", "idmap"]));
    c.run().fails_with("idmap");
    assert_no_state(&c);
}

#[test]
fn missing_destinations_are_created_by_source_type() {
    let mut c = Container::new("mkdest");
    let rootfs = c.own_rootfs();
    let file = c.bundle.join("hostfile");
    fs::write(&file, "file\n").unwrap();
    let dir = c.bundle.join("hostdir");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("inside"), "x").unwrap();
    let m = mounts(&mut c);
    m.push(bind(&file, "/new/deep/file", &["bind"]));
    m.push(bind(&dir, "/new/deep/dir", &["bind"]));
    m.push(tmpfs("/new/tmp", &[]));
    // Destinations are cleaned lexically: this is /new/clean, never a walk above the root.
    m.push(tmpfs("/new/x/../clean", &["size=8k"]));
    m.push(tmpfs("/../../new/top", &["size=16k"]));
    let s = run_seen(
        &mut c,
        "for p in /new/deep/file /new/deep/dir /new/tmp; do echo $p=$(stat -c %F $p); done; \
         echo content=$(cat /new/deep/file)",
    );
    assert_eq!(s.line("/new/deep/file"), "regular file");
    assert_eq!(s.line("/new/deep/dir"), "directory");
    assert_eq!(s.line("/new/tmp"), "directory");
    assert_eq!(s.line("content"), "file");
    assert_eq!(s.at("/new/tmp").fstype, "tmpfs");
    s.at("/new/deep/file");
    assert!(
        s.at("/new/clean").has_super("size=8k"),
        "{:?}",
        s.at("/new/clean")
    );
    assert!(
        s.at("/new/top").has_super("size=16k"),
        "{:?}",
        s.at("/new/top")
    );
    assert!(
        !rootfs.join("new/x").exists(),
        "/new/x/.. was walked through"
    );
    // The mount points were made in the container's rootfs, nowhere else.
    assert!(rootfs.join("new/deep/file").is_file());
    assert!(rootfs.join("new/deep/dir").is_dir());
}

#[test]
fn default_dev_mounts_cgroup_and_root() {
    let mut c = Container::new("devmounts");
    let s = run_seen(
        &mut c,
        "echo ptmx=$(readlink /dev/ptmx); echo ptmxmode=$(stat -c %a /dev/pts/ptmx); \
         touch /x 2>&1; echo root_rc=$?; \
         mkdir /sys/fs/cgroup/rt-probe 2>&1; echo cg_rc=$?; \
         touch /dev/shm/ok && echo shm_rc=$?; echo shm_mode=$(stat -c %a /dev/shm)",
    );
    let root = s.at("/");
    assert!(root.has("ro"), "root.readonly: {root:?}");
    assert_ne!(s.line("root_rc"), "0");
    assert!(s.rest.contains("Read-only file system"), "{}", s.rest);

    let pts = s.at("/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    for o in ["ptmxmode=666", "mode=620", "gid=5"] {
        assert!(pts.has_super(o), "{o}: {pts:?}");
    }
    assert!(pts.has("nosuid") && pts.has("noexec"), "{pts:?}");
    assert_eq!(s.line("ptmx"), "pts/ptmx");
    assert_eq!(s.line("ptmxmode"), "666");

    let mq = s.at("/dev/mqueue");
    assert_eq!(mq.fstype, "mqueue");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(mq.has(o), "{o}: {mq:?}");
    }
    let shm = s.at("/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    assert!(shm.has_super("size=65536k"), "{shm:?}");
    for o in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(shm.has(o), "{o}: {shm:?}");
    }
    assert_eq!(s.line("shm_rc"), "0");
    assert_eq!(s.line("shm_mode"), "1777");
    let dev = s.at("/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(dev.has("nosuid") && dev.has_super("mode=755"), "{dev:?}");

    // The cgroup mount and everything below it are read-only.
    let cg: Vec<&Mnt> = s
        .mounts
        .iter()
        .filter(|m| m.point.starts_with("/sys/fs/cgroup"))
        .collect();
    assert!(!cg.is_empty(), "no cgroup mounts: {:#?}", s.mounts);
    for m in &cg {
        assert!(m.has("ro"), "writable cgroup mount: {m:?}");
    }
    assert_ne!(s.line("cg_rc"), "0");

    // And with root.readonly false, / is writable.
    let mut c = Container::new("rootrw");
    c.config["root"]["readonly"] = json!(false);
    // The shared rootfs must not be written to: only look.
    let s = run_seen(&mut c, "true");
    assert!(s.at("/").has("rw"), "{:?}", s.at("/"));
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

#[test]
fn configured_and_default_devices() {
    let mut c = Container::new("devices");
    c.config["linux"]["devices"] = json!([
        {"path": "/dev/rtchar", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640,
         "uid": 1000, "gid": 2000},
        {"path": "/dev/rtblk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600},
        {"path": "/dev/rtfifo", "type": "p", "fileMode": 0o620, "uid": 5, "gid": 6},
        {"path": "/dev/sub/rtnull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    ]);
    let paths = "/dev/rtchar /dev/rtblk /dev/rtfifo /dev/sub/rtnull \
                 /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty";
    let s = run_seen(
        &mut c,
        &format!(
            "for p in {paths}; do echo $p=$(stat -c '%F|%a|%u:%g|%t:%T' $p); done; \
             for l in ptmx fd stdin stdout stderr; do echo $l=$(readlink /dev/$l); done"
        ),
    );
    let want = [
        ("/dev/rtchar", "character special file|640|1000:2000|1:5"),
        ("/dev/rtblk", "block special file|600|0:0|7:c8"),
        ("/dev/sub/rtnull", "character special file|666|0:0|1:3"),
        ("/dev/null", "character special file|666|0:0|1:3"),
        ("/dev/zero", "character special file|666|0:0|1:5"),
        ("/dev/full", "character special file|666|0:0|1:7"),
        ("/dev/random", "character special file|666|0:0|1:8"),
        ("/dev/urandom", "character special file|666|0:0|1:9"),
        ("/dev/tty", "character special file|666|0:0|5:0"),
    ];
    for (p, w) in want {
        assert_eq!(s.line(p), w, "{p}");
    }
    let fifo = s.line("/dev/rtfifo");
    assert!(fifo.starts_with("fifo|620|5:6|"), "{fifo}");
    for (l, t) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        assert_eq!(s.line(l), t, "/dev/{l}");
    }
}

#[test]
fn default_devices_are_usable() {
    let mut c = Container::new("devuse");
    let out = {
        c.sh("echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c");
        c.run()
    };
    let out = out.ok();
    assert_eq!(out.stdout, "4\n4\n", "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// Masked and read-only paths
// ---------------------------------------------------------------------------------------------

#[test]
fn masked_and_readonly_paths() {
    let mut c = Container::new("masked");
    let masked = c.config["linux"]["maskedPaths"].as_array_mut().unwrap();
    masked.push(json!("/etc/hostname"));
    masked.push(json!("/home"));
    masked.push(json!("/does/not/exist"));
    c.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/mnt"));
    mounts(&mut c).push(tmpfs("/mnt", &[]));
    let s = run_seen(
        &mut c,
        "echo keys=$(stat -c '%F|%t:%T' /proc/keys); echo keys_len=$(cat /proc/keys | wc -c); \
         echo hostname=$(stat -c '%F|%t:%T' /etc/hostname)\"|\"$(cat /etc/hostname); \
         echo home=$(ls -A /home | wc -l); echo fw=$(ls -A /sys/firmware | wc -l); \
         touch /home/x 2>&1; echo home_rc=$?; \
         echo 1 > /proc/sys/net/ipv4/ip_forward; echo sys_rc=$?; \
         touch /mnt/x 2>&1; echo mnt_rc=$?",
    );
    assert_eq!(s.line("keys"), "character special file|1:3");
    assert_eq!(s.line("keys_len"), "0");
    assert_eq!(
        s.line("hostname"),
        "character special file|1:3|",
        "masked /etc/hostname"
    );
    // Masked files are /dev/null bound over them.
    let keys = s.at("/proc/keys");
    assert!(
        keys.fstype == "tmpfs" || keys.fstype == "devtmpfs",
        "{keys:?}"
    );
    assert_eq!(s.line("home"), "0");
    assert_eq!(s.line("fw"), "0");
    for p in ["/home", "/sys/firmware"] {
        let m = s.at(p);
        assert_eq!(m.fstype, "tmpfs", "{p}");
        assert!(m.has("ro"), "{p}: {m:?}");
    }
    assert_ne!(s.line("home_rc"), "0");
    // Only what this kernel has (no /proc/sysrq-trigger without CONFIG_MAGIC_SYSRQ).
    let ro = [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/mnt",
    ];
    for p in ro
        .into_iter()
        .filter(|p| *p == "/mnt" || Path::new(p).exists())
    {
        let m = s.at(p);
        assert!(m.has("ro"), "{p}: {m:?}");
    }
    assert_ne!(s.line("sys_rc"), "0");
    assert_ne!(s.line("mnt_rc"), "0");
    assert!(s.rest.contains("Read-only file system"), "{}", s.rest);
}

// ---------------------------------------------------------------------------------------------
// Sysctls
// ---------------------------------------------------------------------------------------------

#[test]
fn namespaced_sysctl_is_applied_in_the_container_only() {
    let host = fs::read_to_string("/proc/sys/net/ipv4/conf/lo/forwarding").unwrap();
    let want = if host.trim() == "1" { "0" } else { "1" };
    let mut c = Container::new("sysctl");
    c.config["linux"]["sysctl"] = json!({
        "net.ipv4.conf.lo.forwarding": want,
        "kernel.shmmni": "1234",
    });
    c.sh("cat /proc/sys/net/ipv4/conf/lo/forwarding /proc/sys/kernel/shmmni");
    let out = c.run().ok();
    assert_eq!(out.stdout, format!("{want}\n1234\n"));
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/conf/lo/forwarding").unwrap(),
        host
    );
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/shmmni")
            .unwrap()
            .trim(),
        "1234"
    );
}

#[test]
fn ip_forward_sysctl_in_new_netns() {
    let host = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut c = Container::new("ipfwd");
    c.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    c.args(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    let out = c.run().ok();
    assert_eq!(out.stdout, "1\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host
    );
}

#[test]
fn host_wide_sysctls_are_refused_and_leave_nothing() {
    for (key, value) in [("kernel.panic", "7"), ("vm.swappiness", "13")] {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let host = fs::read_to_string(&path).unwrap();
        let mut c = Container::new("sysctl-host");
        c.config["linux"]["sysctl"] = json!({ key: value });
        c.run()
            .fails_with(&format!("{key:?}: not a namespaced sysctl"));
        assert_no_state(&c);
        assert!(!c.cgroup_dir("memory").exists(), "cgroup left behind");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            host,
            "{key} changed on the host"
        );
    }
    // A network sysctl without a network namespace of the container's own.
    let mut c = Container::new("sysctl-nonet");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    c.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    c.run().fails_with("network namespace");
    assert_no_state(&c);
}

// ---------------------------------------------------------------------------------------------
// Hostile images
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_etc_symlink_to_root_is_contained() {
    let g = HostGuard::new("etc");
    let mut c = Container::new("evil-etc");
    let rootfs = c.own_rootfs();
    fs::remove_dir_all(rootfs.join("etc")).unwrap();
    symlink("/", rootfs.join("etc")).unwrap();
    let file = c.bundle.join("planted");
    fs::write(&file, "planted\n").unwrap();
    let dest = format!("/etc/{}/planted", g.rel());
    mounts(&mut c).push(bind(&file, &dest, &["bind"]));
    mounts(&mut c).push(tmpfs(&format!("/etc/{}/tmp", g.rel()), &[]));
    c.sh(&format!(
        "cat /{0}/planted; cut -d' ' -f5 /proc/self/mountinfo | grep -x /{0}/tmp",
        g.rel()
    ));
    let out = c.run();
    g.assert_unchanged();
    // Contained: the mounts landed inside the rootfs, where /etc -> / leads in the container.
    let out = out.ok();
    assert_eq!(out.stdout, format!("planted\n/{}/tmp\n", g.rel()));
    assert!(rootfs.join(g.rel()).join("planted").is_file());
}

#[test]
fn hostile_destination_symlinks_are_contained() {
    let g = HostGuard::new("dest");
    let mut c = Container::new("evil-dest");
    let rootfs = c.own_rootfs();
    // A dotdot escape, an absolute host path, and a symlink to "/".
    symlink(
        format!("{}{}", "../".repeat(16), g.rel()),
        rootfs.join("mnt/up"),
    )
    .unwrap();
    symlink(&g.dir, rootfs.join("mnt/abs")).unwrap();
    symlink("/", rootfs.join("mnt/slash")).unwrap();
    let file = c.bundle.join("planted");
    fs::write(&file, "planted\n").unwrap();
    let m = mounts(&mut c);
    m.push(bind(&file, "/mnt/up/from-up", &["bind"]));
    m.push(bind(&file, "/mnt/abs/from-abs", &["bind"]));
    m.push(tmpfs("/mnt/abs/tmpfs", &[]));
    m.push(bind(&file, "/mnt/slash/from-slash", &["bind"]));
    // A file destination that is itself a dangling symlink to a host path.
    m.push(bind(&file, "/mnt/last", &["bind"]));
    symlink(g.dir.join("from-last"), rootfs.join("mnt/last")).unwrap();
    c.sh(&format!(
        "cat /{0}/from-up /{0}/from-abs /from-slash /{0}/from-last; cut -d' ' -f5 /proc/self/mountinfo | grep -x /{0}/tmpfs",
        g.rel()
    ));
    let out = c.run();
    g.assert_unchanged();
    let out = out.ok();
    assert_eq!(
        out.stdout,
        format!("planted\nplanted\nplanted\nplanted\n/{}/tmpfs\n", g.rel())
    );
}

#[test]
fn hostile_dev_symlink_to_host_dir_is_contained() {
    for keep_dev_tmpfs in [true, false] {
        let g = HostGuard::new(if keep_dev_tmpfs {
            "dev-tmpfs"
        } else {
            "dev-nodes"
        });
        let mut c = Container::new("evil-dev");
        let rootfs = c.own_rootfs();
        fs::remove_dir_all(rootfs.join("dev")).unwrap();
        symlink(&g.dir, rootfs.join("dev")).unwrap();
        if !keep_dev_tmpfs {
            drop_mount(&mut c, "/dev");
        }
        c.sh("echo x > /dev/null && stat -c '%F|%t:%T' /dev/null /dev/zero && test -d /dev/pts/");
        let out = c.run();
        g.assert_unchanged();
        let out = out.ok();
        assert_eq!(
            out.stdout, "character special file|1:3\ncharacter special file|1:5\n",
            "{keep_dev_tmpfs}"
        );
    }
}

#[test]
fn hostile_dev_null_regular_file_is_replaced() {
    let g = HostGuard::new("null");
    let host_file = g.dir.join("keep");
    let mut c = Container::new("evil-null");
    let rootfs = c.own_rootfs();
    // /dev is the image's own (no tmpfs): null is a regular file, zero a symlink to a host file.
    drop_mount(&mut c, "/dev");
    fs::write(rootfs.join("dev/null"), "not null\n").unwrap();
    symlink(&host_file, rootfs.join("dev/zero")).unwrap();
    c.sh("stat -c '%F|%t:%T' /dev/null /dev/zero /proc/keys; cat /dev/null /proc/keys | wc -c");
    let out = c.run();
    g.assert_unchanged();
    let out = out.ok();
    assert_eq!(
        out.stdout,
        "character special file|1:3\ncharacter special file|1:5\ncharacter special file|1:3\n0\n"
    );
}

#[test]
fn masking_refuses_a_fake_dev_null() {
    let g = HostGuard::new("fakedev");
    let mut c = Container::new("evil-fakedev");
    let dev = c.bundle.join("fakedev");
    fs::create_dir_all(&dev).unwrap();
    fs::write(dev.join("null"), "secret\n").unwrap();
    drop_mount(&mut c, "/dev");
    mounts(&mut c).insert(1, bind(&dev, "/dev", &["rbind"]));
    let out = c.run();
    g.assert_unchanged();
    out.fails_with("/dev/null in the container is not the null device");
    assert_no_state(&c);
    assert_eq!(fs::read_to_string(dev.join("null")).unwrap(), "secret\n");
}

/// An image whose /proc or /sys is a symlink: refused, as runc refuses it ("must be mounted
/// on ordinary directory"), with exit 1 and at once (it used to hang), and nothing left.
#[test]
fn proc_or_sys_as_a_symlink_is_refused() {
    for (dir, fs_type) in [("proc", "proc"), ("sys", "sysfs")] {
        let mut c = Container::new(&format!("symlinked-{dir}"));
        let root = c.own_rootfs();
        fs::remove_dir_all(root.join(dir)).unwrap();
        fs::create_dir_all(root.join("elsewhere")).unwrap();
        symlink("/elsewhere", root.join(dir)).unwrap();
        let start = std::time::Instant::now();
        c.run().fails_with(&format!(
            "filesystem \"{fs_type}\" must be mounted on an ordinary directory"
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert_no_state(&c);
    }
}

#[test]
fn only_procfs_may_be_mounted_on_proc() {
    let g = HostGuard::new("proc");
    let fake = g.dir.join("fakeproc");
    // Each case must be refused with a clear error and leave nothing behind.
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "bind",
            bind(&fake, "/proc", &["rbind"]),
            "only a procfs may be mounted on /proc",
        ),
        (
            "tmpfs",
            tmpfs("/proc", &[]),
            "only a procfs may be mounted on /proc",
        ),
        (
            "dotdot",
            bind(&fake, "/mnt/../proc", &["bind"]),
            "only a procfs may be mounted on /proc",
        ),
        (
            "under",
            bind(g.dir.join("keep"), "/proc/self/status", &["bind"]),
            "mounts under /proc are limited",
        ),
        (
            "symlink",
            bind(&fake, "/mnt/p", &["bind"]),
            "only a procfs may be mounted on /proc",
        ),
    ];
    fs::create_dir_all(&fake).unwrap();
    for (name, mount, needle) in cases {
        let mut c = Container::new(&format!("evil-proc-{name}"));
        if name == "symlink" {
            let rootfs = c.own_rootfs();
            symlink("/proc", rootfs.join("mnt/p")).unwrap();
        }
        mounts(&mut c).push(mount);
        let out = c.run();
        fs::remove_dir(&fake).unwrap();
        g.assert_unchanged();
        fs::create_dir(&fake).unwrap();
        out.fails_with(needle);
        assert_no_state(&c);
    }
    fs::remove_dir(&fake).unwrap();
    // A real procfs bind (the host's /proc) stays allowed, as are the listed files.
    let mut c = Container::new("proc-ok");
    mounts(&mut c).push(bind("/proc", "/proc", &["rbind"]));
    mounts(&mut c).push(bind("/proc/uptime", "/proc/uptime", &["bind"]));
    c.args(&["true"]);
    c.run().ok();
}
