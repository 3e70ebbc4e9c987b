//! Hostile and malformed input: broken bundles, absurd values and bad ids. Each fails `create` and
//! `run` with exit 1 and an error naming the field or path, and leaves the host as it was: no
//! state, no cgroup, no mount, no process. Huge inputs either work or fail as clearly, in bounded
//! time.
//!
//! Every test uses a state root of its own (in a sandbox directory that must hold nothing else
//! afterwards), so that "no state left" is checked exactly, ids such as ".." included.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SANDBOXES: AtomicUsize = AtomicUsize::new(0);

/// A directory holding a private state root (`state`) and the commands' output files
/// (`scratch`); removed on drop, after deleting whatever container a failed test left.
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tmp_dir().join("hostile").join(format!(
            "{}-{}",
            std::process::id(),
            SANDBOXES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("state")).unwrap();
        fs::create_dir_all(dir.join("scratch")).unwrap();
        Sandbox { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// `rt --root <private root> ARGS`.
    fn rt(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(rt_bin());
        cmd.arg("--root").arg(self.root()).args(args);
        run_cmd(&mut cmd, &self.dir.join("scratch"))
    }

    /// What is in the sandbox besides its two directories, and in the state root.
    fn leftovers(&self) -> Vec<String> {
        let names = |d: &Path| -> Vec<String> {
            fs::read_dir(d)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path().display().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut v: Vec<String> = names(&self.dir)
            .into_iter()
            .filter(|n| !n.ends_with("/state") && !n.ends_with("/scratch"))
            .collect();
        v.extend(names(&self.root()));
        v
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Ok(rd) = fs::read_dir(self.root()) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.rt(&["delete", "--force", &id]);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The mount points of our mount namespace, but for those of other checkouts beside this one
/// (on a shared machine, their tests mount and unmount while ours run).
fn mounts() -> BTreeSet<String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let beside = repo.parent().unwrap_or(repo);
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(4).unwrap_or("").to_string())
        .filter(|m| !Path::new(m).starts_with(beside) || Path::new(m).starts_with(repo))
        .collect()
}

/// Processes that belong to container `c`: in its cgroup, or an rt (or its init clone) working
/// on its bundle.
fn processes_of(c: &Container) -> Vec<String> {
    let cgroup = format!("/{CGROUP_PREFIX}/{}", c.id);
    let bundle = c.bundle.display().to_string();
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        let cg = fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cg.lines().any(|l| l.ends_with(&cgroup)) || cmdline.contains(&bundle) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

/// Nothing of a failed create is on the host.
#[track_caller]
fn assert_host_unchanged(what: &str, s: &Sandbox, c: &Container, mounts_before: &BTreeSet<String>) {
    let left = s.leftovers();
    assert!(left.is_empty(), "{what}: state left: {left:?}");
    let left = c.leftovers();
    assert!(left.is_empty(), "{what}: left on the host: {left:?}");
    let after = mounts();
    let new: Vec<_> = after.difference(mounts_before).collect();
    assert!(new.is_empty(), "{what}: new mounts: {new:?}");
    // A killed init may take a moment to be gone from /proc after it was reaped.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let procs = processes_of(c);
        if procs.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: processes left: {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One way to break a bundle, and what the error must say.
struct Case {
    name: &'static str,
    /// Edits config.json (as JSON) before it is written.
    edit: fn(&mut Value),
    /// Edits config.json's text after it is serialized (for what JSON values cannot hold).
    text: fn(Vec<u8>) -> Vec<u8>,
    /// Changes the bundle's files after config.json is written.
    files: fn(&Path),
    /// The --bundle to pass, if not the container's own.
    bundle: Option<&'static str>,
    /// The container id to pass, if not the container's own.
    id: Option<String>,
    want: String,
}

fn nothing(_: &mut Value) {}
fn same(t: Vec<u8>) -> Vec<u8> {
    t
}
fn no_files(_: &Path) {}

fn base(name: &'static str, want: &str) -> Case {
    Case {
        name,
        edit: nothing,
        text: same,
        files: no_files,
        bundle: None,
        id: None,
        want: want.to_string(),
    }
}

/// A config edited as JSON.
fn config(name: &'static str, edit: fn(&mut Value), want: &str) -> Case {
    Case {
        edit,
        ..base(name, want)
    }
}

/// config.json's text replaced or rewritten.
fn text(name: &'static str, text: fn(Vec<u8>) -> Vec<u8>, want: &str) -> Case {
    Case {
        text,
        ..base(name, want)
    }
}

/// The bundle's files changed.
fn files(name: &'static str, files: fn(&Path), want: &str) -> Case {
    Case {
        files,
        ..base(name, want)
    }
}

fn id(name: &'static str, id: String) -> Case {
    Case {
        id: Some(id),
        ..base(name, "invalid container id")
    }
}

/// `"@BIG@"` in the config becomes 10^20: more than any i64 or u64 holds.
fn big(t: Vec<u8>) -> Vec<u8> {
    String::from_utf8(t)
        .unwrap()
        .replace("\"@BIG@\"", "100000000000000000000")
        .into_bytes()
}

fn push_mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().unwrap().push(m);
}

/// Index the next mount gets: the default config has seven.
const NEXT_MOUNT: usize = 7;

fn cases() -> Vec<Case> {
    let m = NEXT_MOUNT;
    vec![
        // Not JSON, or not the JSON of a config.
        text(
            "truncated JSON",
            |t| t[..t.len() / 2].to_vec(),
            "config.json: EOF while parsing",
        ),
        text(
            "empty file",
            |_| Vec::new(),
            "config.json: EOF while parsing a value",
        ),
        text(
            "binary garbage",
            |_| b"\x7fELF\x00\xff\xfe".to_vec(),
            "config.json: expected value at line 1 column 1",
        ),
        text(
            "an array",
            |_| b"[]".to_vec(),
            "config.json: not a JSON object",
        ),
        text(
            "invalid UTF-8 in a string",
            |t| {
                let s = String::from_utf8(t).unwrap();
                let mut b = s.replace("\"@X@\"", "\"\u{1}\"").into_bytes();
                let at = b.iter().position(|&x| x == 1).unwrap();
                b[at] = 0xff;
                b
            },
            "config.json: invalid unicode code point",
        )
        .with_edit(|c| c["hostname"] = json!("@X@")),
        text(
            "nesting deeper than serde's recursion limit",
            |_| {
                let mut t = br#"{"ociVersion":"1.0.2","annotations":"#.to_vec();
                t.extend(std::iter::repeat_n(b'[', 100_000));
                t.extend(std::iter::repeat_n(b']', 100_000));
                t.push(b'}');
                t
            },
            "config.json: recursion limit exceeded",
        ),
        // Wrong types.
        config(
            "process.args is a string",
            |c| c["process"]["args"] = json!("true"),
            "process.args: invalid type: string \"true\", expected a sequence",
        ),
        config(
            "memory limit is a string",
            |c| c["linux"]["resources"]["memory"] = json!({"limit": "1g"}),
            "linux.resources.memory.limit: invalid type: string \"1g\", expected i64",
        ),
        config(
            "negative uid",
            |c| c["process"]["user"]["uid"] = json!(-1),
            "process.user.uid: invalid value: integer `-1`, expected u32",
        ),
        config(
            "uid above 2^32",
            |c| c["process"]["user"]["uid"] = json!(1u64 << 32),
            "process.user.uid: invalid value: integer `4294967296`, expected u32",
        ),
        config(
            "mount destination is a number",
            |c| push_mount(c, json!({"destination": 5, "type": "tmpfs"})),
            &format!("mounts[{m}].destination: invalid type: integer `5`"),
        ),
        config(
            "unknown namespace type",
            |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "nope"}))
            },
            "linux.namespaces[6].type: unknown variant `nope`",
        ),
        config(
            "unknown rlimit",
            |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]),
            "process.rlimits[0].type: unknown variant `RLIMIT_NOPE`",
        ),
        // Required fields missing.
        config(
            "ociVersion missing",
            |c| {
                c.as_object_mut().unwrap().remove("ociVersion");
            },
            "ociVersion: required field missing",
        ),
        config(
            "ociVersion is a number",
            |c| c["ociVersion"] = json!(1),
            "ociVersion: must be a string",
        ),
        config(
            "root missing",
            |c| {
                c.as_object_mut().unwrap().remove("root");
            },
            "root: required field missing",
        ),
        config(
            "root.path missing",
            |c| c["root"] = json!({"readonly": true}),
            "root.path: required field missing",
        ),
        config(
            "root.path empty",
            |c| c["root"]["path"] = json!(""),
            "root.path: required field missing (or empty)",
        ),
        config(
            "process missing",
            |c| {
                c.as_object_mut().unwrap().remove("process");
            },
            "process: required to create a container",
        ),
        config(
            "process.cwd missing",
            |c| {
                c["process"].as_object_mut().unwrap().remove("cwd");
            },
            "process.cwd: required field missing",
        ),
        config(
            "process.user missing",
            |c| {
                c["process"].as_object_mut().unwrap().remove("user");
            },
            "process.user: required field missing",
        ),
        config(
            "mount destination missing",
            |c| push_mount(c, json!({"type": "tmpfs", "source": "tmpfs"})),
            &format!("mounts[{m}].destination: required field missing"),
        ),
        // Versions.
        config(
            "ociVersion 2.0.0",
            |c| c["ociVersion"] = json!("2.0.0"),
            "ociVersion \"2.0.0\": unsupported major version",
        ),
        config(
            "ociVersion garbage",
            |c| c["ociVersion"] = json!("garbage"),
            "ociVersion \"garbage\": not a SemVer version",
        ),
        // Paths.
        config(
            "relative root.path that does not exist",
            |c| c["root"]["path"] = json!("../no-such-rootfs"),
            "no-such-rootfs\" (root.path): no such file or directory",
        ),
        config(
            "absolute root.path that does not exist",
            |c| c["root"]["path"] = json!("/no/such/rootfs"),
            "rootfs \"/no/such/rootfs\" (root.path): no such file or directory",
        ),
        files(
            "rootfs is a regular file",
            |b| {
                fs::write(b.join("rootfs-file"), "x").unwrap();
                let mut c: Value =
                    serde_json::from_slice(&fs::read(b.join("config.json")).unwrap()).unwrap();
                c["root"]["path"] = json!("rootfs-file");
                fs::write(b.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
            },
            "rootfs-file\" (root.path): not a directory",
        ),
        config(
            "relative cwd",
            |c| c["process"]["cwd"] = json!("tmp"),
            "process.cwd \"tmp\": must be an absolute path",
        ),
        config(
            "empty mount destination",
            |c| {
                push_mount(
                    c,
                    json!({"destination": "", "type": "tmpfs", "source": "tmpfs"}),
                )
            },
            &format!("mounts[{m}].destination: must not be empty"),
        ),
        config(
            "cgroupsPath with ..",
            |c| c["linux"]["cgroupsPath"] = json!("/rt-test/../../escape"),
            "linux.cgroupsPath \"/rt-test/../../escape\": must not contain \"..\"",
        ),
        config(
            "sysctl key leading out of /proc/sys",
            |c| c["linux"]["sysctl"] = json!({"net/../../../etc/rt-hostile": "1"}),
            "linux.sysctl: invalid key \"net/../../../etc/rt-hostile\"",
        ),
        config(
            "relative hook path",
            |c| c["hooks"] = json!({"createRuntime": [{"path": "bin/true"}]}),
            "hooks.createRuntime[0].path \"bin/true\": must be absolute",
        ),
        config(
            "env entry without =",
            |c| {
                c["process"]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("JUSTAKEY"))
            },
            "process.env[2]: \"JUSTAKEY\" is not of the form KEY=value",
        ),
        config(
            "NUL inside an argument",
            |c| c["process"]["args"] = json!(["tr\u{0}ue"]),
            "process.args[0] \"tr\\0ue\": contains a NUL byte",
        ),
        // Absurd values.
        config(
            "negative memory limit",
            |c| c["linux"]["resources"]["memory"] = json!({"limit": -5}),
            "linux.resources.memory.limit: invalid value -5",
        ),
        text(
            "memory limit 10^20",
            big,
            "linux.resources.memory.limit: invalid type: floating point",
        )
        .with_edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": "@BIG@"})),
        text(
            "cpu shares 10^20",
            big,
            "linux.resources.cpu.shares: invalid type: floating point",
        )
        .with_edit(|c| c["linux"]["resources"]["cpu"] = json!({"shares": "@BIG@"})),
        config(
            "pids limit -5",
            |c| c["linux"]["resources"]["pids"] = json!({"limit": -5}),
            "linux.resources.pids.limit: invalid value -5",
        ),
        config(
            "swappiness 1000",
            |c| c["linux"]["resources"]["memory"] = json!({"swappiness": 1000}),
            "linux.resources.memory.swappiness: 1000 is not within [0, 100]",
        ),
        config(
            "oomScoreAdj 5000",
            |c| c["process"]["oomScoreAdj"] = json!(5000),
            "process.oomScoreAdj 5000: must be within [-1000, 1000]",
        ),
        config(
            "100,000 supplementary groups",
            |c| c["process"]["user"]["additionalGids"] = json!((0..100_000).collect::<Vec<u32>>()),
            "process.user.additionalGids: 100000 groups, more than the kernel's limit of 65536",
        ),
        config(
            "device node path leaving /dev",
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/../rt-hostile", "type": "c", "major": 1, "minor": 3}])
            },
            "linux.devices[0].path \"/dev/../rt-hostile\": must be a path under /dev",
        ),
        config(
            "device node with a negative major",
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "c", "major": -5, "minor": 3}])
            },
            "linux.devices[0]: major -5 and minor 3 cannot be negative",
        ),
        config(
            "uid mappings without a user namespace",
            |c| {
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1}])
            },
            "linux.uidMappings: needs a user namespace in linux.namespaces",
        ),
        config(
            "hostname of 1,000 bytes",
            |c| c["hostname"] = json!("h".repeat(1000)),
            "hostname: 1000 bytes, more than the kernel's limit of 64",
        ),
        config(
            // libseccomp's time grows with the square of the rules: this took minutes.
            "100,000 seccomp rules",
            |c| {
                let rule = json!({"names": ["read"], "action": "SCMP_ACT_ERRNO"});
                c["linux"]["seccomp"] =
                    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": vec![rule; 100_000]});
            },
            "linux.seccomp.syscalls: 100000 rules, more than rt's limit of 8192",
        ),
        // Refused late, after the cgroup and the init exist: all of it is undone.
        config(
            "program not in the rootfs",
            |c| c["process"]["args"] = json!(["no-such-program"]),
            "exec: \"no-such-program\": executable file not found in $PATH",
        ),
        config(
            "cpuset of CPUs the host does not have",
            |c| c["linux"]["resources"]["cpu"] = json!({"cpus": "4000-4001"}),
            "4000-4001",
        ),
        config(
            "tmpfs with a bad size",
            |c| {
                push_mount(
                    c,
                    json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=huge"]}),
                )
            },
            "\"/tmp\"",
        ),
        config(
            "failing createRuntime hook",
            |c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]}),
            "createRuntime hook #0 \"/bin/false\"",
        ),
        // config.json that is not a regular file, or too big to be a config.
        files(
            "config.json is a FIFO",
            |b| {
                fs::remove_file(b.join("config.json")).unwrap();
                nix::unistd::mkfifo(
                    &b.join("config.json"),
                    nix::sys::stat::Mode::from_bits_truncate(0o600),
                )
                .unwrap();
            },
            "config.json: is a FIFO, not a regular file",
        ),
        files(
            "config.json is a symlink to /dev/zero",
            |b| {
                fs::remove_file(b.join("config.json")).unwrap();
                std::os::unix::fs::symlink("/dev/zero", b.join("config.json")).unwrap();
            },
            "config.json: is a device, not a regular file",
        ),
        files(
            "config.json is a directory",
            |b| {
                fs::remove_file(b.join("config.json")).unwrap();
                fs::create_dir(b.join("config.json")).unwrap();
            },
            "config.json: is a directory, not a regular file",
        ),
        files(
            "config.json is missing",
            |b| fs::remove_file(b.join("config.json")).unwrap(),
            "config.json: no such file or directory",
        ),
        files(
            "config.json is a dangling symlink",
            |b| {
                fs::remove_file(b.join("config.json")).unwrap();
                std::os::unix::fs::symlink("/no/such/config.json", b.join("config.json")).unwrap();
            },
            "config.json: no such file or directory",
        ),
        files(
            "config.json is a symlink loop",
            |b| {
                fs::remove_file(b.join("config.json")).unwrap();
                std::os::unix::fs::symlink("config.json", b.join("config.json")).unwrap();
            },
            "config.json: too many levels of symbolic links",
        ),
        files(
            "config.json of 17 MiB",
            |b| {
                let f = fs::OpenOptions::new()
                    .append(true)
                    .open(b.join("config.json"))
                    .unwrap();
                f.set_len(17 << 20).unwrap();
            },
            "config.json: 17825792 bytes is larger than the 16777216 byte limit",
        ),
        Case {
            bundle: Some("/no/such/bundle"),
            ..base(
                "bundle that does not exist",
                "bundle \"/no/such/bundle\": no such file or directory",
            )
        },
        Case {
            bundle: Some("/etc/hostname"),
            ..base(
                "bundle that is a file",
                "/etc/hostname/config.json: not a directory",
            )
        },
        // Ids that are paths, or not ids at all.
        id("id with a slash", "a/b".into()),
        id("id ..", "..".into()),
        id("id .", ".".into()),
        id("id ../x", "../x".into()),
        id("id with a space", "a b".into()),
        id("empty id", String::new()),
        id("id of 2000 characters", "a".repeat(2000)),
        id("id with a newline", "a\nb".into()),
        id("id with a non-ASCII letter", "é".into()),
    ]
}

impl Case {
    fn with_edit(self, edit: fn(&mut Value)) -> Case {
        Case { edit, ..self }
    }
}

#[test]
fn bad_bundles_fail_cleanly_naming_the_field_or_path() {
    let s = Sandbox::new();
    for case in cases() {
        let mut c = Container::new("hostile");
        (case.edit)(&mut c.config);
        let text = (case.text)(serde_json::to_vec_pretty(&c.config).unwrap());
        fs::write(c.bundle.join("config.json"), text).unwrap();
        (case.files)(&c.bundle);
        let bundle = case.bundle.unwrap_or(c.bundle.to_str().unwrap());
        let id = case.id.clone().unwrap_or(c.id.clone());
        for cmd in ["create", "run"] {
            let before = mounts();
            let start = Instant::now();
            let out = s.rt(&[cmd, "--bundle", bundle, &id]);
            let what = format!("{} ({cmd})", case.name);
            assert_eq!(out.code(), 1, "{what}: expected exit 1: {out:?}");
            assert!(
                out.error_text().contains(&case.want),
                "{what}: stderr lacks {:?}: {out:?}",
                case.want
            );
            // runc's form: one log line, its message naming the command.
            assert!(
                out.stderr.contains(&format!(" level=error msg=\"{cmd}: "))
                    && out.stderr.lines().count() == 1,
                "{what}: not one error line naming the command: {out:?}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: took {:?}",
                start.elapsed()
            );
            assert_host_unchanged(&what, &s, &c, &before);
        }
        // Nothing that the cases write may reach the host's /etc.
        assert!(!Path::new("/etc/rt-hostile").exists(), "{}", case.name);
    }
}

/// Bad ids fail every command that takes one, before any path is made of them: nothing outside
/// the state root is touched, even when it looks like a container.
#[test]
fn bad_ids_never_reach_outside_the_state_root() {
    let s = Sandbox::new();
    // A sibling of the state root dressed as a container directory.
    let victim = s.dir.join("victim");
    fs::create_dir_all(&victim).unwrap();
    fs::write(victim.join("state.json"), "{}").unwrap();
    let long = "a".repeat(2000);
    let ids = [
        "../victim",
        "..",
        ".",
        "a/../../victim",
        "",
        "a b",
        "a\nb",
        &long,
    ];
    for bad in ids {
        let commands: [&[&str]; 12] = [
            &["state", bad],
            &["delete", bad],
            &["delete", "--force", bad],
            &["kill", bad, "KILL"],
            &["start", bad],
            &["pause", bad],
            &["resume", bad],
            &["ps", bad],
            &["events", "--stats", bad],
            &["update", "--pids-limit", "5", bad],
            &["exec", bad, "true"],
            &["create", "--bundle", "/nonexistent", bad],
        ];
        for args in commands {
            let out = s.rt(args);
            // As runc, a failed exec exits 255 (the process's own status is any other).
            let code = if args[0] == "exec" { 255 } else { 1 };
            assert_eq!(out.code(), code, "{args:?}: {out:?}");
            assert!(
                out.stderr.contains("invalid container id"),
                "{args:?}: {out:?}"
            );
        }
        assert_eq!(
            fs::read_to_string(victim.join("state.json")).unwrap(),
            "{}",
            "{bad:?}"
        );
    }
    fs::remove_dir_all(&victim).unwrap();
    assert!(s.leftovers().is_empty(), "{:?}", s.leftovers());
}

/// Foreground `run` of `c` in `s`, within a bound on the time it takes.
fn run_ok(s: &Sandbox, c: &Container) -> Output {
    c.write_config();
    let start = Instant::now();
    let out = s.rt(&["run", "--bundle", c.bundle.to_str().unwrap(), &c.id]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    out
}

#[test]
fn huge_argument_lists_and_environments_work_up_to_the_kernel_limit() {
    let s = Sandbox::new();
    let before = mounts();
    // 100,000 arguments fit in the kernel's limit (a quarter of the 8 MiB stack).
    let mut c = Container::new("hugeargs");
    let mut args: Vec<String> = ["sh", "-c", "echo $#", "sh"].map(String::from).to_vec();
    args.extend((0..100_000).map(|i| i.to_string()));
    c.config["process"]["args"] = json!(args);
    let out = run_ok(&s, &c).ok();
    assert_eq!(out.stdout.trim(), "100000");
    assert_host_unchanged("100,000 args", &s, &c, &before);

    // 100,000 environment entries, likewise.
    let mut c = Container::new("hugeenv");
    let mut env = vec!["PATH=/bin".to_string()];
    env.extend((0..100_000).map(|i| format!("V{i}=x")));
    c.config["process"]["env"] = json!(env);
    // `env` itself: busybox's shell takes minutes to import that many variables.
    c.args(&["env"]);
    let out = run_ok(&s, &c).ok();
    let n = out.stdout.lines().filter(|l| l.starts_with('V')).count();
    assert_eq!(n, 100_000);
    assert_host_unchanged("100,000 env entries", &s, &c, &before);

    // Beyond the limit, the exec fails with the kernel's reason and the program's name.
    let mut c = Container::new("e2big");
    let mut args = vec!["true".to_string()];
    args.extend((0..3_000).map(|_| "x".repeat(1_000)));
    c.config["process"]["args"] = json!(args);
    let out = run_ok(&s, &c);
    assert_eq!(out.code(), 1, "{out:?}");
    // (The init also writes it to the container's stderr, which `run` shares.)
    assert!(
        out.error_text()
            .contains("run: exec \"/bin/true\": argument list too long"),
        "{out:?}"
    );
    assert_host_unchanged("3 MB of args", &s, &c, &before);

    // One argument longer than the kernel takes (MAX_ARG_STRLEN, 128 KiB).
    let mut c = Container::new("e2big1");
    c.config["process"]["args"] = json!(["echo", "x".repeat(200_000)]);
    let out = run_ok(&s, &c);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("argument list too long"), "{out:?}");
    assert_host_unchanged("a 200 kB arg", &s, &c, &before);
}

#[test]
fn ten_thousand_mounts_are_made_in_bounded_time() {
    let s = Sandbox::new();
    let before = mounts();
    let mut c = Container::new("mounts");
    push_mount(
        &mut c.config,
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}),
    );
    for i in 0..10_000 {
        push_mount(
            &mut c.config,
            json!({"destination": format!("/tmp/m{i}"), "type": "tmpfs", "source": "tmpfs", "options": ["size=4k"]}),
        );
    }
    c.sh("grep -c ' /tmp/m[0-9]* ' /proc/self/mountinfo");
    let out = run_ok(&s, &c).ok();
    assert_eq!(out.stdout.trim(), "10000");
    assert_host_unchanged("10,000 mounts", &s, &c, &before);
}

/// Relative mount destinations are legal on Linux (config.md: relative to "/"), a relative bind
/// source is relative to the bundle, and no destination leads out of the rootfs.
#[test]
fn relative_mount_paths_mean_what_the_spec_says() {
    let s = Sandbox::new();
    let mut c = Container::new("relmount");
    fs::create_dir_all(c.bundle.join("data")).unwrap();
    fs::write(c.bundle.join("data/hello"), "from the bundle\n").unwrap();
    push_mount(
        &mut c.config,
        json!({"destination": "tmp", "type": "tmpfs", "source": "tmpfs"}),
    );
    push_mount(
        &mut c.config,
        json!({"destination": "tmp/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]}),
    );
    // ".." above the root stays at the root, as in the kernel and runc: this lands on the
    // container's /<sandbox>/escaped, never on the host's.
    let escaped = s.dir.join("escaped");
    let up = "../".repeat(20);
    push_mount(
        &mut c.config,
        json!({"destination": format!("{up}{}", escaped.display()), "type": "tmpfs", "source": "tmpfs"}),
    );
    let rootfs = c.own_rootfs();
    c.sh(&format!(
        "grep -c ' /tmp ' /proc/self/mountinfo; cat /tmp/data/hello; grep -c ' {} ' /proc/self/mountinfo",
        escaped.display()
    ));
    // rt runs from the crate's directory, not the bundle: "data" is found through the bundle.
    let out = run_ok(&s, &c).ok();
    assert_eq!(out.stdout, "1\nfrom the bundle\n1\n");
    assert!(!escaped.exists(), "a mount point was made on the host");
    assert!(rootfs.join(escaped.strip_prefix("/").unwrap()).is_dir());
}

/// The checks above are not vacuous: a container that exists is seen by each of them.
#[test]
fn the_leak_checks_see_a_live_container() {
    let s = Sandbox::new();
    let mut c = Container::new("leakcheck");
    c.args(&["sleep", "100"]);
    c.write_config();
    let before = mounts();
    s.rt(&["create", "--bundle", c.bundle.to_str().unwrap(), &c.id])
        .ok();
    assert!(!s.leftovers().is_empty(), "state not seen");
    assert!(!c.leftovers().is_empty(), "cgroups not seen");
    assert!(!processes_of(&c).is_empty(), "init not seen");
    s.rt(&["delete", "--force", &c.id]).ok();
    assert_host_unchanged("deleted", &s, &c, &before);
}

/// `exec --process FILE` reads a process as config.json's, and names the wrong field likewise.
#[test]
fn a_bad_process_file_names_the_field() {
    let s = Sandbox::new();
    let mut c = Container::new("execproc");
    c.args(&["sleep", "100"]);
    c.write_config();
    s.rt(&["create", "--bundle", c.bundle.to_str().unwrap(), &c.id])
        .ok();
    let file = c.bundle.join("process.json");
    let cases = [
        (
            json!({"cwd": "/", "args": ["true"], "user": {"uid": "root"}}),
            "user.uid: invalid type: string \"root\", expected u32",
        ),
        (
            json!({"args": ["true"], "user": {"uid": 0}}),
            "cwd: required field missing",
        ),
        (
            json!({"cwd": "/", "args": ["true"], "user": {"uid": 0}, "env": ["NOEQUALS"]}),
            "process.env[0]: \"NOEQUALS\" is not of the form KEY=value",
        ),
    ];
    for (process, want) in cases {
        fs::write(&file, process.to_string()).unwrap();
        let out = s.rt(&["exec", "--process", file.to_str().unwrap(), &c.id]);
        // As runc, a failed exec exits 255.
        assert_eq!(out.code(), 255, "{out:?}");
        assert!(out.error_text().contains(want), "{want}: {out:?}");
    }
    s.rt(&["delete", "--force", &c.id]).ok();
}
