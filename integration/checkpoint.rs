//! `checkpoint` and `restore` through CRIU, on real containers: a counter that goes on from where
//! it stopped (through a unix socket pair, into a file open for writing on a tmpfs), the process
//! gone after the dump, `--leave-running`, pre-dump + final dump (`--parent-path`), a terminal
//! container restored through `--console-socket`, and a failed restore that leaves nothing.
//!
//! CRIU must work on the running kernel: Debian's CRIU 3.17 does on the VM's 6.1 kernel
//! (scripts/vm/v2-tests.sh runs these there, with RT_REQUIRE_CRIU=1), not on 6.18 ("Unexpected rt
//! vDSO area bounds", needs CRIU >= 4.1). Where `criu check` fails, each test says so and passes
//! without running, unless RT_REQUIRE_CRIU=1 makes that a failure.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Why CRIU cannot be used here, if it cannot (`criu check`'s complaint).
fn criu_unusable() -> Option<&'static str> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        let out = match Command::new("criu").arg("check").output() {
            Ok(o) => o,
            Err(e) => return Some(format!("criu: {e} (apt-get install criu)")),
        };
        if out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        Some(format!(
            "`criu check` fails on this kernel ({}): {}",
            nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            text.trim()
        ))
    })
    .as_deref()
}

/// True when the test may go on; false (after saying why) when CRIU cannot work here.
fn criu_ok(test: &str) -> bool {
    let Some(why) = criu_unusable() else {
        return true;
    };
    if std::env::var_os("RT_REQUIRE_CRIU").is_some_and(|v| v == "1") {
        panic!("{test}: RT_REQUIRE_CRIU=1 but {why}");
    }
    eprintln!("{test}: SKIPPED: CRIU cannot checkpoint on this host: {why}");
    false
}

/// A restored container (another id than the bundle's), deleted on drop.
struct Restored(String);

impl Drop for Restored {
    fn drop(&mut self) {
        let _ = rt(&["delete", "--force", &self.0]);
        let _ = fs::remove_dir_all(state_root().join(&self.0));
    }
}

const COUNTER: &str = "exec 5>>/tmp/w/log; i=0; \
    while :; do i=$((i+1)); echo $i >&3; read -r j <&4; echo $j >&5; sleep 0.05; done";

/// A container counting into /tmp/w/log (a tmpfs), each number sent through a unix socket pair
/// (fds 3 and 4, passed with --preserve-fds) and read back first.
fn counter() -> Container {
    let mut c = Container::new("ckpt");
    c.sh(COUNTER);
    c.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp/w", "type": "tmpfs", "source": "tmpfs"}));
    // The socket pair is made here, in our network namespace: CRIU finds a unix socket only in
    // the namespaces of the tasks it dumps, so the container shares ours.
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    c.write_config();
    let (a, b) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    // Above 4 first, so that placing one end never closes the other (or keeps its CLOEXEC).
    let high =
        |fd: &OwnedFd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100)).unwrap();
    let (a, b) = (high(&a), high(&b));
    let (a, b) = (a.as_raw_fd(), b.as_raw_fd());
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root")
        .arg(state_root())
        .args(["run", "-d", "--preserve-fds", "2", "--bundle"])
        .arg(&c.bundle)
        .arg(&c.id)
        // CRIU dumps stdio it can see from the container: the null device (rt reopens the
        // container's own), not files of the host.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Safety: dup2 only, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let st = cmd.status().unwrap();
    assert!(st.success(), "rt run -d {}: {st}", c.id);
    c
}

/// The numbers the counter wrote so far, read through the process's root.
fn counted(pid: i32) -> Vec<u64> {
    fs::read_to_string(format!("/proc/{pid}/root/tmp/w/log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Wait until the counter of `pid` has passed `n`; the whole log so far.
#[track_caller]
fn wait_count_past(pid: i32, n: u64) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = counted(pid);
        if v.last().is_some_and(|&l| l > n) {
            return v;
        }
        assert!(Instant::now() < deadline, "counter of {pid} stuck at {v:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 1, 2, 3, ... without a gap, a repeat or a restart.
#[track_caller]
fn assert_consecutive(v: &[u64]) {
    for (i, n) in v.iter().enumerate() {
        assert_eq!(*n, i as u64 + 1, "the count restarted or skipped: {v:?}");
    }
}

fn pid_of(id: &str) -> i32 {
    let out = rt(&["state", id]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "running", "{id}: {v}");
    v["pid"].as_i64().unwrap() as i32
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn images(c: &Container, name: &str) -> PathBuf {
    c.bundle.join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `restore -d` of the bundle of `c` as `id`, from `img`.
fn restore(c: &Container, id: &str, img: &Path, extra: &[&str]) -> Output {
    let work = c.bundle.join(format!("work-{id}"));
    let mut args = vec![
        "restore",
        "-d",
        "--image-path",
        path(img),
        "--work-path",
        path(&work),
        "--bundle",
        path(&c.bundle),
    ];
    args.extend_from_slice(extra);
    args.push(id);
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root").arg(state_root()).args(&args);
    // As for run -d: the restored stdio is CRIU's (ours), files here would be the host's.
    run_cmd_within(
        cmd.stdin(Stdio::null()),
        &c.bundle,
        Duration::from_secs(120),
    )
}

#[test]
fn checkpoint_stops_the_container_and_restore_goes_on_counting() {
    if !criu_ok("checkpoint_stops_the_container_and_restore_goes_on_counting") {
        return;
    }
    let c = counter();
    let pid = pid_of(&c.id);
    wait_count_past(pid, 5);
    let fd_kinds = |pid: i32| -> Vec<String> {
        [3, 4, 5]
            .iter()
            .map(|fd| {
                let l = fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
                l.to_string_lossy().split(':').next().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(fd_kinds(pid), ["socket", "socket", "/tmp/w/log"]);

    let img = images(&c, "img");
    let work = c.bundle.join("work");
    c.rt(&[
        "checkpoint",
        "--image-path",
        path(&img),
        "--work-path",
        path(&work),
        &c.id,
    ])
    .ok();
    // As runc: the processes are gone and so is the container (its id is free again).
    assert!(!alive(pid), "the init {pid} survived the checkpoint");
    c.rt(&["state", &c.id]).fails_with("does not exist");
    assert!(img.join("inventory.img").exists());
    assert!(work.join("dump.log").exists());

    let id2 = format!("{}-r", c.id);
    let _r = Restored(id2.clone());
    restore(&c, &id2, &img, &[]).ok();
    let pid2 = pid_of(&id2);
    assert!(alive(pid2));
    // Same cgroup (the bundle's cgroupsPath), with the restored init in it.
    let procs = fs::read_to_string(c.v2_dir().join("cgroup.procs")).unwrap_or_default();
    assert!(
        procs.lines().any(|l| l.trim() == pid2.to_string()),
        "restored init {pid2} not in {}: {procs:?}",
        c.v2_dir().display()
    );
    // The socket pair and the file open for writing came back, and the count goes on where it
    // stopped (in the tmpfs, restored with its contents).
    assert_eq!(fd_kinds(pid2), ["socket", "socket", "/tmp/w/log"]);
    let before = counted(pid2).len() as u64;
    let v = wait_count_past(pid2, before + 3);
    assert_consecutive(&v);
    rt(&["delete", "--force", &id2]).ok();
    assert!(!alive(pid2));
}

#[test]
fn leave_running_then_pre_dump_and_final_dump() {
    if !criu_ok("leave_running_then_pre_dump_and_final_dump") {
        return;
    }
    let c = counter();
    let pid = pid_of(&c.id);
    wait_count_past(pid, 3);

    let snap = images(&c, "snap");
    c.rt(&[
        "checkpoint",
        "--leave-running",
        "--image-path",
        path(&snap),
        &c.id,
    ])
    .ok();
    assert!(snap.join("inventory.img").exists());
    assert_eq!(pid_of(&c.id), pid, "--leave-running: the same init runs on");
    // Restored beside it, from the same bundle, it would share its cgroup, and a failed restore
    // kills what is in its cgroup: refused, with nothing left and the original untouched.
    let busy = format!("{}-busy", c.id);
    let _b = Restored(busy.clone());
    restore(&c, &busy, &snap, &[]).fails_with("already has processes");
    assert!(alive(pid), "a refused restore killed the running container");
    assert!(
        !state_root().join(&busy).exists(),
        "a refused restore left its state"
    );
    let n = *counted(pid).last().unwrap();
    wait_count_past(pid, n + 2);

    // Pre-dump (memory only, the container runs on), then the final dump against it.
    let img = images(&c, "img");
    let pre = img.join("pre");
    c.rt(&[
        "checkpoint",
        "--pre-dump",
        "--image-path",
        path(&pre),
        &c.id,
    ])
    .ok();
    assert_eq!(pid_of(&c.id), pid, "--pre-dump: the same init runs on");
    let n = *counted(pid).last().unwrap();
    wait_count_past(pid, n + 2);
    let fin = img.join("final");
    c.rt(&[
        "checkpoint",
        "--parent-path",
        "bad",
        "--image-path",
        path(&fin),
        &c.id,
    ])
    .fails_with("invalid --parent-path");
    c.rt(&[
        "checkpoint",
        "--parent-path",
        "../pre",
        "--image-path",
        path(&fin),
        &c.id,
    ])
    .ok();
    assert!(!alive(pid));
    // CRIU links the final images to their parent.
    assert!(
        fs::symlink_metadata(fin.join("parent")).is_ok(),
        "no parent link in {}",
        fin.display()
    );

    let id2 = format!("{}-r", c.id);
    let _r = Restored(id2.clone());
    restore(&c, &id2, &fin, &[]).ok();
    let pid2 = pid_of(&id2);
    let before = counted(pid2).len() as u64;
    assert_consecutive(&wait_count_past(pid2, before + 3));
}

#[test]
fn terminal_container_is_restored_through_the_console_socket() {
    if !criu_ok("terminal_container_is_restored_through_the_console_socket") {
        return;
    }
    let mut c = Container::new("ckpt-tty");
    c.sh("while read -r l; do echo got:$l; done");
    c.config["process"]["terminal"] = json!(true);
    let sock = c.bundle.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root").arg(state_root()).args([
        "run",
        "-d",
        "--console-socket",
        path(&sock),
        "--bundle",
        path(&c.bundle),
        &c.id,
    ]);
    c.write_config();
    let st = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (_, master) = receive_fd(&listener);
    talk(&master, "one");
    let pid = pid_of(&c.id);

    let img = images(&c, "img");
    c.rt(&["checkpoint", "--image-path", path(&img), &c.id])
        .ok();
    assert!(!alive(pid));
    drop(master);

    let id2 = format!("{}-r", c.id);
    let _r = Restored(id2.clone());
    let sock2 = c.bundle.join("console2.sock");
    let listener2 = UnixListener::bind(&sock2).unwrap();
    let out = std::thread::scope(|s| {
        let got = s.spawn(|| receive_fd(&listener2));
        let out = restore(&c, &id2, &img, &["--console-socket", path(&sock2)]);
        (out, got.join().unwrap())
    });
    let (out, (name, master2)) = out;
    out.ok();
    assert_eq!(name, "/dev/ptmx");
    // The same shell, on a new pty, still answers.
    talk(&master2, "two");
}

/// Write a line to the pty master and wait for the shell's answer.
#[track_caller]
fn talk(master: &OwnedFd, word: &str) {
    let mut f = fs::File::from(master.try_clone().unwrap());
    f.write_all(format!("{word}\n").as_bytes()).unwrap();
    let want = format!("got:{word}");
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains(&want) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} on the pty: {seen:?}"
        );
        wait_readable(std::os::fd::AsFd::as_fd(master), "the shell's answer");
        let mut buf = [0u8; 256];
        let n = f.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[test]
fn failed_restore_leaves_nothing_behind() {
    if !criu_ok("failed_restore_leaves_nothing_behind") {
        return;
    }
    let mut c = Container::new("ckpt-fail");
    c.sh("sleep 100");
    c.write_config();
    // Images without an inventory: CRIU starts (in the new cgroup) and fails.
    let img = images(&c, "img");
    fs::create_dir_all(&img).unwrap();
    fs::write(
        img.join("descriptors.json"),
        r#"["/dev/null","/dev/null","/dev/null"]"#,
    )
    .unwrap();
    let id2 = format!("{}-r", c.id);
    let _r = Restored(id2.clone());
    let out = restore(&c, &id2, &img, &[]);
    let err = out.error_text();
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(err.contains("restore: criu failed"), "{err}");
    let log = c.bundle.join(format!("work-{id2}/restore.log"));
    assert!(
        err.contains(path(&log)),
        "the error names CRIU's log: {err}"
    );
    assert!(log.exists());
    // No state, no cgroup, no process.
    assert!(
        !state_root().join(&id2).exists(),
        "state of {id2} left behind"
    );
    assert!(
        !c.v2_dir().exists()
            || fs::read_to_string(c.v2_dir().join("cgroup.procs"))
                .unwrap_or_default()
                .is_empty()
    );
    assert!(
        !c.v2_dir().exists(),
        "cgroup {} left behind",
        c.v2_dir().display()
    );
    rt(&["state", &id2]).fails_with("does not exist");
    let list = rt(&["list", "-q"]).ok();
    assert!(!list.stdout.lines().any(|l| l == id2), "{list:?}");
}

/// podman with private configuration and storage under `dir`, rt as its runtime.
fn podman(dir: &Path, args: &[&str]) -> Output {
    let d = dir.display();
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", format!("{d}/containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", format!("{d}/storage.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", format!("{d}/registries.conf"))
        .arg("--runtime")
        .arg(rt_bin())
        .args(args);
    run_cmd_within(&mut c, dir, Duration::from_secs(120))
}

struct PodmanDir(PathBuf, String);

impl Drop for PodmanDir {
    fn drop(&mut self) {
        let _ = podman(&self.0, &["rm", "-af", "-t", "0"]);
        let _ = podman(&self.0, &["system", "reset", "-f"]);
        let _ = fs::remove_dir_all(&self.0);
        remove_test_cgroup(&self.1);
    }
}

#[test]
fn podman_container_checkpoint_and_restore() {
    if !criu_ok("podman_container_checkpoint_and_restore") {
        return;
    }
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("podman_container_checkpoint_and_restore: SKIPPED: podman is not installed");
        return;
    }
    let name = format!("podman-ckpt-{}", std::process::id());
    let dir = tmp_dir().join(&name);
    fs::create_dir_all(dir.join("tmp")).unwrap();
    let g = PodmanDir(dir.clone(), name.clone());
    let d = dir.display();
    // As integration/managers.rs, plus a network config directory of its own (the VM's /etc is
    // read-only).
    fs::write(
        dir.join("containers.conf"),
        format!(
            "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"{d}/events.log\"\n\
             runtime_supports_json = [\"rt\"]\ntmp_dir = \"{d}/tmp\"\n[network]\nnetwork_config_dir = \"{d}/networks\"\n"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("registries.conf"),
        "unqualified-search-registries = []\n",
    )
    .unwrap();
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    podman(&dir, &["import", path(&tar), "localhost/rt-ckpt"]).ok();
    let parent = format!("/{CGROUP_PREFIX}/{name}");
    podman(
        &dir,
        &[
            "run",
            "-d",
            "--name",
            "c1",
            "--cgroup-parent",
            &parent,
            "localhost/rt-ckpt",
            "sh",
            "-c",
            COUNTER_SIMPLE,
        ],
    )
    .ok();
    let pid = |what: &str| -> i32 {
        let out = podman(&dir, &["inspect", "-f", "{{.State.Pid}}", "c1"]).ok();
        let p = out.stdout.trim().parse().unwrap_or(0);
        assert!(p > 0, "{what}: no pid: {out:?}");
        p
    };
    let p1 = pid("run");
    let n = *wait_count_past(p1, 3).last().unwrap();
    podman(&dir, &["container", "checkpoint", "c1"]).ok();
    assert!(!alive(p1), "podman checkpoint left {p1} running");
    podman(&dir, &["container", "restore", "c1"]).ok();
    let p2 = pid("restore");
    // The count goes on from where the checkpoint stopped it.
    let v = wait_count_past(p2, n + 3);
    assert_consecutive(&v);
    drop(g);
}

/// The counter without the socket pair (podman passes no descriptors).
const COUNTER_SIMPLE: &str =
    "mkdir -p /tmp/w; exec 5>>/tmp/w/log; i=0; while :; do i=$((i+1)); echo $i >&5; sleep 0.05; done";
