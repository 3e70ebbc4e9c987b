//! Reliability: many containers at once, commands racing on one container, rt SIGKILLed at each
//! phase of create/start/delete (through the RT_TEST_PAUSE pause points), signals reaching a
//! foreground container, no zombie children, and a closed stdout. Every check is bounded in
//! time, and every container is cleaned up by `Container`'s drop even when a check fails.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Longest any single rt command may take here.
const CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// `rt ARGS` with its stdout/stderr in files of `scratch`, killed (failing the test) after
/// CMD_TIMEOUT: no command may hang.
fn rt_in(scratch: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root").arg(state_root()).args(args);
    run_cmd_within(&mut cmd, scratch, CMD_TIMEOUT)
}

/// The process did not end by a signal (abort, SIGPIPE...) nor by a panic (exit 101), and it
/// exited 0 or 1; with 1, it said why.
#[track_caller]
fn assert_clean_exit(what: &str, out: &Output) {
    assert_eq!(
        out.status.signal(),
        None,
        "{what}: killed by a signal: {out:?}"
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{what}: panicked: {out:?}"
    );
    match out.code() {
        0 => {}
        1 => assert!(
            !out.stderr.trim().is_empty(),
            "{what}: exit 1 without a message"
        ),
        c => panic!("{what}: exit status {c}: {out:?}"),
    }
}

/// `rt list --format json`, which must always succeed and parse.
fn list_json() -> Vec<Value> {
    let out = rt_in(&tmp_dir().join("scratch"), &["list", "--format", "json"]);
    assert_eq!(out.code(), 0, "list failed: {out:?}");
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("list output does not parse: {e}: {:?}", out.stdout));
    let arr = v.as_array().expect("list: not an array").clone();
    for e in &arr {
        assert!(
            e["id"].is_string() && e["status"].is_string() && e["pid"].is_i64(),
            "list entry: {e}"
        );
    }
    arr
}

/// The init's pid and start time, as the state file records them (0 when there is none yet).
fn recorded_init(c: &Container) -> (i32, u64) {
    let raw = fs::read(state_root().join(&c.id).join("state.json")).unwrap_or_default();
    let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    (
        v["pid"].as_i64().unwrap_or(0) as i32,
        v["initStartTime"].as_u64().unwrap_or(0),
    )
}

/// Whether `pid` is still the live (not zombie) process that started at `start`.
fn alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Some(f) = stat_fields(pid) else {
        return false;
    };
    f[0] != "Z" && f[0] != "X" && f[19].parse::<u64>().ok() == Some(start)
}

/// The fields of /proc/<pid>/stat after the command name (the state first).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The start time of the live process `pid` (/proc/<pid>/stat).
fn start_time(pid: i32) -> u64 {
    stat_fields(pid).unwrap()[19].parse().unwrap()
}

#[track_caller]
fn wait_dead(pid: i32, start: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid, start) {
        assert!(Instant::now() < deadline, "{what}: pid {pid} still alive");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Nothing of `c` is left on the host: no state directory (with its exec fifo), no cgroup
/// directory in any hierarchy, no mount, no live init, no `list` entry.
#[track_caller]
fn assert_nothing_left(c: &Container, init: (i32, u64)) {
    assert_eq!(c.leftovers(), Vec::<PathBuf>::new(), "{}: leftovers", c.id);
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let bundle = c.bundle.to_str().unwrap();
    for l in mi.lines() {
        assert!(
            !l.contains(&c.id) && !l.contains(bundle),
            "{}: mount left: {l}",
            c.id
        );
    }
    wait_dead(init.0, init.1, &c.id);
    assert!(
        !list_json().iter().any(|e| e["id"] == c.id.as_str()),
        "{}: still listed",
        c.id
    );
}

/// `rt list` shows `c` the way `rt state` does, or not at all: never a ghost.
#[track_caller]
fn assert_listed_consistently(c: &Container) -> Option<String> {
    let listed = list_json().into_iter().find(|e| e["id"] == c.id.as_str())?;
    let out = c.rt(&["state", &c.id]);
    assert_eq!(out.code(), 0, "listed but no state: {listed} {out:?}");
    let st: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(listed["status"], st["status"], "list and state disagree");
    assert_eq!(listed["pid"], st["pid"], "list and state disagree");
    Some(st["status"].as_str().unwrap().to_string())
}

#[test]
fn two_hundred_lifecycles_in_parallel_while_listing() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 25;
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let lists = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let lister = s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                list_json();
                lists.fetch_add(1, Ordering::Relaxed);
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        let mut c = Container::new(&format!("par{t}"));
                        c.sh(&format!("exit {}", i % 3));
                        if i % 2 == 0 {
                            // One process: create, start, wait, delete.
                            assert_eq!(c.run().code(), (i % 3) as i32, "{}", c.id);
                        } else {
                            // One process per step.
                            c.create().ok();
                            c.start().ok();
                            c.wait_status("stopped");
                            c.delete().ok();
                        }
                        assert_eq!(c.leftovers(), Vec::<PathBuf>::new(), "{}", c.id);
                    }
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Relaxed);
        lister.join().unwrap();
        for r in results {
            if let Err(e) = r {
                std::panic::resume_unwind(e);
            }
        }
    });
    assert!(lists.load(Ordering::Relaxed) > 0);
    eprintln!(
        "200 lifecycles in {:?}, {} lists meanwhile",
        started.elapsed(),
        lists.load(Ordering::Relaxed)
    );
}

#[test]
fn racing_commands_on_one_container() {
    const ITERATIONS: usize = 20;
    let commands: &[&[&str]] = &[
        &["start"],
        &["kill", "ID", "9"],
        &["delete"],
        &["delete", "--force"],
        &["state"],
        &["start"],
        &["state"],
        &["kill", "ID", "TERM"],
    ];
    for _ in 0..ITERATIONS {
        let mut c = Container::new("race");
        c.args(&["sleep", "10"]);
        c.create().ok();
        let init = recorded_init(&c);
        let barrier = Arc::new(Barrier::new(commands.len() + 1));
        std::thread::scope(|s| {
            let c = &c;
            let handles: Vec<_> = commands
                .iter()
                .map(|cmd| {
                    let barrier = barrier.clone();
                    s.spawn(move || {
                        let args: Vec<&str> = if cmd.contains(&"ID") {
                            cmd.iter()
                                .map(|a| if *a == "ID" { c.id.as_str() } else { a })
                                .collect()
                        } else {
                            cmd.iter().copied().chain([c.id.as_str()]).collect()
                        };
                        barrier.wait();
                        let out = rt_in(&c.bundle, &args);
                        assert_clean_exit(&format!("rt {args:?}"), &out);
                        if args[0] == "state" && out.code() == 0 {
                            let v: Value = serde_json::from_str(&out.stdout)
                                .unwrap_or_else(|e| panic!("state JSON: {e}: {out:?}"));
                            assert_eq!(v["id"], c.id.as_str());
                        }
                        if args[..2] == ["delete", "--force"] {
                            assert_eq!(out.code(), 0, "{out:?}");
                        }
                    })
                })
                .collect();
            barrier.wait();
            // `list` meanwhile must parse and show the container as `state` would.
            list_json();
            for h in handles {
                if let Err(e) = h.join() {
                    std::panic::resume_unwind(e);
                }
            }
        });
        c.rt(&["delete", "--force", &c.id]).ok();
        assert_nothing_left(&c, init);
    }
}

#[test]
fn racing_creates_and_deletes_of_one_id() {
    // Creates of one id exclude each other; a delete --force meanwhile either finds nothing or
    // waits for the create it raced with, never removes a directory a create is filling.
    for _ in 0..20 {
        let mut c = Container::new("racecreate");
        c.args(&["sleep", "10"]);
        c.write_config();
        let b = c.bundle.to_str().unwrap().to_string();
        let commands: Vec<Vec<&str>> = vec![
            vec!["create", "--bundle", &b, &c.id],
            vec!["create", "--bundle", &b, &c.id],
            vec!["create", "--bundle", &b, &c.id],
            vec!["delete", "--force", &c.id],
            vec!["state", &c.id],
            vec!["delete", "--force", &c.id],
        ];
        let barrier = Barrier::new(commands.len());
        std::thread::scope(|s| {
            let handles: Vec<_> = commands
                .iter()
                .map(|args| {
                    let (barrier, c) = (&barrier, &c);
                    s.spawn(move || {
                        barrier.wait();
                        let out = rt_in(&c.bundle, args);
                        assert_clean_exit(&format!("rt {args:?}"), &out);
                        match args[0] {
                            "create" if out.code() == 1 => {
                                assert!(out.stderr.contains("container with id exists"), "{out:?}")
                            }
                            "delete" => assert_eq!(out.code(), 0, "{out:?}"),
                            "state" if out.code() == 0 => {
                                serde_json::from_str::<Value>(&out.stdout).unwrap();
                            }
                            _ => {}
                        }
                    })
                })
                .collect();
            for h in handles {
                if let Err(e) = h.join() {
                    std::panic::resume_unwind(e);
                }
            }
        });
        list_json();
        let init = recorded_init(&c);
        rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
        assert_nothing_left(&c, init);
        // Creates of other tests may be under way: only a dead process's directory is left over.
        for e in fs::read_dir(state_root()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(".rt-new:") {
                // `<pid>:<start time>`.
                let pid = pid.split(':').next().unwrap();
                assert!(
                    Path::new("/proc").join(pid).exists(),
                    "a create's temporary directory is left: {name}"
                );
            }
        }
    }
}

#[test]
fn start_of_a_frozen_created_container_refuses_instead_of_hanging() {
    let mut c = Container::new("frozen");
    c.args(&["sleep", "10"]);
    c.create().ok();
    rt_in(&c.bundle, &["pause", &c.id]).ok();
    assert_eq!(c.status(), "paused");
    rt_in(&c.bundle, &["start", &c.id]).fails_with("paused");
    rt_in(&c.bundle, &["resume", &c.id]).ok();
    assert_eq!(c.status(), "created");
    rt_in(&c.bundle, &["start", &c.id]).ok();
    assert_eq!(c.status(), "running");
    let init = recorded_init(&c);
    rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
    assert_nothing_left(&c, init);
}

/// rt started with a pause point: the point it was asked for, the file its marker goes to.
struct Paused {
    child: Child,
    marker: PathBuf,
}

impl Paused {
    fn spawn(c: &Container, point: &str, args: &[&str]) -> Paused {
        let marker = c.bundle.join("pause-marker");
        let _ = fs::remove_file(&marker);
        let child = Command::new(rt_bin())
            .arg("--root")
            .arg(state_root())
            .args(args)
            .env("RT_TEST_PAUSE", point)
            .env("RT_TEST_PAUSE_FILE", &marker)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Paused { child, marker }
    }

    /// Wait for the marker; the pid that paused (the init for create:init-setup).
    #[track_caller]
    fn wait(&mut self, point: &str) -> i32 {
        let deadline = Instant::now() + CMD_TIMEOUT;
        loop {
            // rt makes the file when it starts and writes the line, whole, once it pauses.
            if let Some(line) = fs::read_to_string(&self.marker)
                .ok()
                .filter(|s| s.ends_with('\n'))
            {
                let (p, pid) = line.trim().split_once(' ').unwrap();
                assert_eq!(p, point);
                return pid.parse().unwrap();
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("rt exited ({st}) before pausing at {point}");
            }
            assert!(Instant::now() < deadline, "never paused at {point}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// SIGKILL rt by its pid and reap it.
    fn kill(mut self) {
        self.child.kill().unwrap();
        let st = self.child.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGKILL rt at `point` of the command `args` (after `prepare` brought the container where the
/// command expects it); then `list` shows no ghost, `delete --force` succeeds, nothing is left.
/// `expect` is the status `state` must report after the kill (None: the container is not listed).
fn crash_at(point: &str, prepare: &[&str], args: &[&str], expect: Option<&str>) {
    crash_at_with(point, prepare, args, expect, |_| {})
}

/// `crash_at` with the container's config changed by `config` first.
fn crash_at_with(
    point: &str,
    prepare: &[&str],
    args: &[&str],
    expect: Option<&str>,
    config: impl FnOnce(&mut Container),
) {
    let mut c = Container::new("crash");
    c.args(&["sleep", "30"]);
    config(&mut c);
    c.write_config();
    for step in prepare {
        match *step {
            "create" => drop(c.create().ok()),
            "start" => drop(c.start().ok()),
            _ => unreachable!(),
        }
    }
    let b = c.bundle.to_str().unwrap().to_string();
    let full: Vec<&str> = args
        .iter()
        .map(|a| match *a {
            "BUNDLE" => b.as_str(),
            "ID" => c.id.as_str(),
            a => a,
        })
        .collect();
    let mut paused = Paused::spawn(&c, point, &full);
    let who = paused.wait(point);
    let mut init = recorded_init(&c);
    if point == "create:init-setup" && init.0 == 0 {
        // Without id maps to wait for, the init sets up while its pid is being recorded: it may
        // pause before that. It is the init all the same.
        init = (who, start_time(who));
    }
    // Dropped before `c`: should a check fail, an init left behind must not make the cleanup
    // wait on it.
    let _guard = KillOnDrop(init);
    paused.kill();
    if point == "create:init-setup" || point == "prepare:user-switched" {
        // The init paused mid-setup: its creator's death kills it, nobody has to (also once it
        // became the process's user, which clears a death signal).
        assert_eq!(who, init.0, "the init is the one that paused");
        wait_dead(init.0, init.1, "init of a killed create");
    }
    if point == "create:parked" {
        assert!(init.0 > 0);
        wait_dead(
            init.0,
            init.1,
            "parked init of a create killed before it recorded it",
        );
    }
    assert_eq!(
        assert_listed_consistently(&c).as_deref(),
        expect,
        "status after a kill at {point}"
    );
    // Commands give clear answers (none waits on a lock the killed rt held), then
    // delete --force cleans all.
    let st = rt_in(&c.bundle, &["state", &c.id]);
    assert_clean_exit("state", &st);
    if expect == Some("created") {
        // Recorded as created: it is a container like any other, and starts.
        rt_in(&c.bundle, &["start", &c.id]).ok();
        assert_eq!(c.status(), "running");
    }
    let out = rt_in(&c.bundle, &["delete", "--force", &c.id]);
    assert_eq!(
        out.code(),
        0,
        "delete --force after a kill at {point}: {out:?}"
    );
    assert_nothing_left(&c, init);
}

/// SIGKILL the init `(pid, start time)` on drop if it is still that process.
struct KillOnDrop((i32, u64));

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0 .0, self.0 .1) {
            kill_pid(self.0 .0);
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_create_before_clone() {
    crash_at(
        "create:before-clone",
        &[],
        &["create", "--bundle", "BUNDLE", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_create_during_init_setup() {
    crash_at(
        "create:init-setup",
        &[],
        &["create", "--bundle", "BUNDLE", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_create_once_the_init_is_parked() {
    crash_at(
        "create:parked",
        &[],
        &["create", "--bundle", "BUNDLE", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_create_once_the_container_is_recorded() {
    // The init outlives its creator, parked: the container is a created one.
    crash_at(
        "create:created",
        &[],
        &["create", "--bundle", "BUNDLE", "ID"],
        Some("created"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_start_before_release() {
    crash_at(
        "start:before-release",
        &["create"],
        &["start", "ID"],
        Some("created"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_start_after_release() {
    crash_at(
        "start:after-release",
        &["create"],
        &["start", "ID"],
        Some("running"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_delete_after_kill() {
    crash_at(
        "delete:after-kill",
        &["create", "start"],
        &["delete", "--force", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_delete_before_cgroup_removal() {
    crash_at(
        "delete:before-cgroup-remove",
        &["create", "start"],
        &["delete", "--force", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_delete_before_state_removal() {
    crash_at(
        "delete:before-state-remove",
        &["create", "start"],
        &["delete", "--force", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_run_during_init_setup() {
    // `run` creates as `create` does: the same guarantee when it dies.
    crash_at(
        "create:init-setup",
        &[],
        &["run", "--bundle", "BUNDLE", "ID"],
        Some("stopped"),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_create_after_the_user_switch() {
    // Becoming the process's user clears the init's death signal: it must be set again.
    crash_at_with(
        "prepare:user-switched",
        &[],
        &["create", "--bundle", "BUNDLE", "ID"],
        Some("stopped"),
        |c| c.config["process"]["user"] = json!({"uid": 1000, "gid": 1000}),
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_create_once_its_cgroups_are_made() {
    // The parents made for the container's cgroup (rt-test/<id> and rt-test/<id>/a) are not
    // recorded yet when create dies: delete --force must still remove them.
    crash_at_with(
        "create:cgroups-made",
        &[],
        &["create", "--bundle", "BUNDLE", "ID"],
        Some("stopped"),
        |c| {
            c.config["linux"]["cgroupsPath"] = json!(format!("/{CGROUP_PREFIX}/{}/a/b", c.id));
        },
    );
}

/// The temporary directories under the state root of a `create` whose pid is `pid`
/// (`.rt-new:<pid>` or `.rt-new:<pid>:<start time>`).
fn claims_of(pid: i32) -> Vec<String> {
    let pid = pid.to_string();
    fs::read_dir(state_root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.strip_prefix(".rt-new:")
                .is_some_and(|rest| rest.split(':').next() == Some(pid.as_str()))
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_while_claiming_the_id_leaves_no_temporary_directory() {
    // Killed between the mkdir of its temporary directory and its rename to the id: the next
    // delete --force, or the next create, finds the dead create's directory and removes it.
    let mut c = Container::new("claim");
    c.args(&["sleep", "30"]);
    c.write_config();
    let b = c.bundle.to_str().unwrap().to_string();
    for next in ["delete", "create"] {
        let mut paused = Paused::spawn(&c, "create:claim", &["create", "--bundle", &b, &c.id]);
        let pid = paused.wait("create:claim");
        paused.kill();
        assert_eq!(claims_of(pid).len(), 1, "the killed create's directory");
        assert!(
            assert_listed_consistently(&c).is_none(),
            "an id without a state"
        );
        let out = match next {
            "delete" => rt_in(&c.bundle, &["delete", "--force", &c.id]),
            _ => rt_in(&c.bundle, &["create", "--bundle", &b, &c.id]),
        };
        assert_eq!(out.code(), 0, "{next}: {out:?}");
        assert_eq!(claims_of(pid), Vec::<String>::new(), "left by {next}");
    }
    let init = recorded_init(&c);
    rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
    assert_nothing_left(&c, init);
}

/// No directory the process `p` holds leads out: `..` of each is itself (the root of its mount,
/// or the container's root), and none is a procfs that shows the host's processes (ours).
#[track_caller]
fn assert_no_way_out_through_fds(p: i32, point: &str) {
    use std::os::unix::fs::MetadataExt;
    let me = std::process::id().to_string();
    let Ok(fds) = fs::read_dir(format!("/proc/{p}/fd")) else {
        return;
    };
    for fd in fds.flatten() {
        let path = fd.path();
        let Ok(here) = fs::metadata(&path) else {
            continue;
        };
        if !here.is_dir() {
            continue;
        }
        let link = fs::read_link(&path).unwrap_or_default();
        assert!(
            !path.join(&me).exists(),
            "{point}: fd {} of {p} ({link:?}) shows the host's processes",
            fd.file_name().to_string_lossy()
        );
        let up = fs::metadata(path.join("..")).unwrap();
        assert_eq!(
            (up.dev(), up.ino()),
            (here.dev(), here.ino()),
            "{point}: fd {} of {p} ({link:?}) leads up out of it",
            fd.file_name().to_string_lossy()
        );
    }
}

/// Wait until `init` is alone in its PID namespace again, after `exec` was killed at `point`.
#[track_caller]
fn wait_alone_in(pidns: &str, init: i32, point: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = others_in_pid_namespace(pidns, init);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{point}: processes left in the container after exec was killed: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Processes in the PID namespace `pidns` (a `pid:[N]` link) but `init`.
fn others_in_pid_namespace(pidns: &str, init: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| p != init)
        .filter(|p| {
            fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l.to_string_lossy() == pidns)
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn crash_in_exec_at_each_phase_leaves_no_process_in_the_container() {
    let mut c = Container::new("execcrash");
    c.args(&["sleep", "60"]);
    c.create().ok();
    c.start().ok();
    let init = c.pid();
    let pidns = ns(&init.to_string(), "pid");
    for point in [
        "exec:before-clone",
        "exec:cloned",
        "exec:child-setup",
        "prepare:user-switched",
    ] {
        let args = ["exec", "--user", "1000:1000", &c.id, "sleep", "999"];
        let mut paused = Paused::spawn(&c, point, &args);
        let who = paused.wait(point);
        let rt_pid = paused.child.id() as i32;
        if who != rt_pid {
            // The exec'd process paused: it is in the container already.
            assert_eq!(ns(&who.to_string(), "pid"), pidns, "{point}: {who}");
        }
        paused.kill();
        wait_alone_in(&pidns, init, point);
        assert_eq!(c.status(), "running", "{point}");
    }
    rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
    assert_nothing_left(&c, (0, 0));
}

/// The attack of a container process with CAP_SYS_PTRACE on `exec`: catch the exec'd process
/// while it is set up and reach the host's files through /proc/<pid>/root, cwd or fd/N. At each
/// pause point of `exec`, every process of the container's PID namespace but the init must
/// already have the container's root and cwd, and no directory descriptor leading out. (The
/// process was once born in the PID namespace and joined the mount namespace after; then it held
/// a procfs of the host's PID namespace and the host's cgroup2 directory: all found by review.)
#[test]
#[cfg_attr(
    not(feature = "test-pause"),
    ignore = "needs the pause points: cargo test --features test-pause"
)]
fn exec_process_is_never_seen_in_the_container_with_the_hosts_root() {
    use std::os::unix::fs::MetadataExt;
    let mut c = Container::new("execroot");
    c.args(&["sleep", "60"]);
    c.create().ok();
    c.start().ok();
    let init = c.pid();
    let pidns = ns(&init.to_string(), "pid");
    let id = |link: String| fs::metadata(link).map(|m| (m.dev(), m.ino()));
    let root = id(format!("/proc/{init}/root")).unwrap();
    let mut seen = 0;
    for point in ["exec:cloned", "exec:child-setup", "prepare:user-switched"] {
        let mut paused = Paused::spawn(&c, point, &["exec", &c.id, "true"]);
        paused.wait(point);
        for p in others_in_pid_namespace(&pidns, init) {
            seen += 1;
            for what in ["root", "cwd"] {
                let got = id(format!("/proc/{p}/{what}"));
                assert_eq!(
                    got.as_ref().ok(),
                    Some(&root),
                    "{point}: /proc/{p}/{what} of the exec'd process is not the container's root"
                );
            }
            assert_no_way_out_through_fds(p, point);
        }
        paused.kill();
        wait_alone_in(&pidns, init, point);
    }
    assert!(
        seen >= 3,
        "the exec'd process was not seen at every point ({seen})"
    );
    rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
    assert_nothing_left(&c, (0, 0));
}

/// An rt command left running in the background, its output in files of the bundle.
struct Background {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Background {
    fn spawn(c: &Container, args: &[&str]) -> Background {
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let out = c.bundle.join(format!("bg{n}.out"));
        let err = c.bundle.join(format!("bg{n}.err"));
        let child = Command::new(rt_bin())
            .arg("--root")
            .arg(state_root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Background { child, out, err }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    #[track_caller]
    fn wait_output(&mut self, want: &str) {
        let deadline = Instant::now() + CMD_TIMEOUT;
        while !fs::read_to_string(&self.out).unwrap().contains(want) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "rt exited ({st}) before printing {want:?}: {}",
                    fs::read_to_string(&self.err).unwrap()
                );
            }
            assert!(Instant::now() < deadline, "no {want:?} from the container");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Its status and output, failing the test if it does not end within `limit`.
    #[track_caller]
    fn finish_within(mut self, limit: Duration) -> Output {
        let status = wait_within(&mut self.child, limit, "rt in the background");
        Output {
            status,
            stdout: fs::read_to_string(&self.out).unwrap(),
            stderr: fs::read_to_string(&self.err).unwrap(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// A created container whose startContainer hook (in the container) sleeps forever, with the
/// hook's `timeout` if any.
fn with_a_hung_start_container_hook(name: &str, timeout: Option<u64>) -> Container {
    let mut c = Container::new(name);
    let mut hook = json!({"path": "/bin/sleep", "args": ["sleep", "100000"]});
    if let Some(t) = timeout {
        hook["timeout"] = json!(t);
    }
    c.config["hooks"] = json!({ "startContainer": [hook] });
    c.args(&["sleep", "30"]);
    c.create().ok();
    c
}

/// `state` and `list` answer at once while `start` waits: it holds no lock meanwhile.
#[track_caller]
fn answers_meanwhile(c: &Container) {
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root").arg(state_root()).args(["state", &c.id]);
    let out = run_cmd_within(&mut cmd, &c.bundle, Duration::from_secs(2)).ok();
    let st: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_ne!(st["status"], "stopped", "{st}");
    assert_listed_consistently(c);
}

#[test]
fn start_ends_when_a_hung_start_container_hook_times_out() {
    let c = with_a_hung_start_container_hook("hunghook", Some(3));
    let init = recorded_init(&c);
    let _guard = KillOnDrop(init);
    let t = Instant::now();
    let start = Background::spawn(&c, &["start", &c.id]);
    std::thread::sleep(Duration::from_millis(500));
    answers_meanwhile(&c);
    let out = start.finish_within(Duration::from_secs(8));
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("startContainer hook #0") && out.stderr.contains("timed out after 3s"),
        "{out:?}"
    );
    wait_dead(init.0, init.1, "the init of a failed start");
    assert_eq!(c.status(), "stopped");
    rt_in(&c.bundle, &["delete", &c.id]).ok();
    assert_nothing_left(&c, init);
}

#[test]
fn kill_and_delete_work_while_start_waits_for_a_hook_without_timeout() {
    for end in ["kill", "delete"] {
        let c = with_a_hung_start_container_hook("nohooktimeout", None);
        let init = recorded_init(&c);
        let _guard = KillOnDrop(init);
        let start = Background::spawn(&c, &["start", &c.id]);
        std::thread::sleep(Duration::from_millis(500));
        answers_meanwhile(&c);
        let args: &[&str] = match end {
            "kill" => &["kill", &c.id, "KILL"],
            _ => &["delete", "--force", &c.id],
        };
        let mut cmd = Command::new(rt_bin());
        cmd.arg("--root").arg(state_root()).args(args);
        run_cmd_within(&mut cmd, &c.bundle, Duration::from_secs(2)).ok();
        // Its init gone, start ends.
        let out = start.finish_within(CMD_TIMEOUT);
        assert_clean_exit("start", &out);
        wait_dead(init.0, init.1, end);
        rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
        assert_nothing_left(&c, init);
    }
}

/// Foreground `rt run` started by hand: its pid, and the files its output goes to.
struct Foreground {
    child: Child,
    out: PathBuf,
}

impl Foreground {
    fn spawn(c: &Container) -> Foreground {
        c.write_config();
        let out = c.bundle.join("run.out");
        let child = Command::new(rt_bin())
            .arg("--root")
            .arg(state_root())
            .args(["run", "--bundle", c.bundle.to_str().unwrap(), &c.id])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(c.bundle.join("run.err")).unwrap())
            .spawn()
            .unwrap();
        Foreground { child, out }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    #[track_caller]
    fn wait_output(&mut self, want: &str) {
        let deadline = Instant::now() + CMD_TIMEOUT;
        while !fs::read_to_string(&self.out).unwrap().contains(want) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("rt run exited ({st}) before printing {want:?}");
            }
            assert!(Instant::now() < deadline, "no {want:?} from the container");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Exit code and output, within CMD_TIMEOUT.
    #[track_caller]
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + CMD_TIMEOUT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert_eq!(st.signal(), None, "rt run died of a signal");
                return (st.code().unwrap(), fs::read_to_string(&self.out).unwrap());
            }
            assert!(Instant::now() < deadline, "rt run did not finish");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn run_forwards_term_int_and_hup() {
    for (sig, name, code) in [
        (libc::SIGTERM, "TERM", 7),
        (libc::SIGINT, "INT", 8),
        (libc::SIGHUP, "HUP", 9),
    ] {
        let mut c = Container::new("fwd");
        c.sh(&format!(
            "trap 'echo got-{name}; exit {code}' {name}; echo ready; \
             while :; do sleep 0.05; done"
        ));
        let mut run = Foreground::spawn(&c);
        run.wait_output("ready");
        // Safety: a signal to our own child.
        assert_eq!(unsafe { libc::kill(run.pid(), sig) }, 0);
        let (got, out) = run.finish();
        assert_eq!(got, code, "{name}: {out}");
        assert!(out.contains(&format!("got-{name}")), "{name}: {out}");
        assert_nothing_left(&c, (0, 0));
    }
}

#[test]
fn run_survives_a_signal_during_setup() {
    // The createRuntime hook holds the setup until the test has signalled rt: rt must neither die
    // (leaving the container behind) nor lose track of it.
    let mut c = Container::new("early");
    let flag = c.bundle.join("hook-running");
    let go = c.bundle.join("hook-go");
    let hook = c.bundle.join("hook.sh");
    script(
        &hook,
        &format!(
            "touch {f}; i=0; while [ ! -e {g} ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done",
            f = flag.display(),
            g = go.display()
        ),
    );
    c.config["hooks"] = json!({"createRuntime": [{"path": hook}]});
    c.sh("echo ran; exit 3");
    let mut run = Foreground::spawn(&c);
    let deadline = Instant::now() + CMD_TIMEOUT;
    while !flag.exists() {
        assert!(
            run.child.try_wait().unwrap().is_none(),
            "rt run ended early"
        );
        assert!(Instant::now() < deadline, "hook never ran");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Safety: a signal to our own child.
    assert_eq!(unsafe { libc::kill(run.pid(), libc::SIGTERM) }, 0);
    std::thread::sleep(Duration::from_millis(50));
    fs::write(&go, "").unwrap();
    // The container's init (PID 1 of its namespace, without a handler) ignores the forwarded
    // SIGTERM: it runs to its end and rt reports its status.
    let (code, out) = run.finish();
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("ran"), "{out}");
    assert_nothing_left(&c, (0, 0));
}

/// A shell script that says `got-N` for each signal N it gets, and exits 7 on SIGTERM.
fn trapping(signals: &[i32]) -> String {
    let mut s: String = signals
        .iter()
        .map(|n| format!("trap 'echo got-{n}' {n}; "))
        .collect();
    s.push_str("trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done");
    s
}

/// Send each of `forwarded` to `fg` and wait for the container to say it got it; then the
/// signals that are not for it, then SIGTERM, which ends it with 7.
#[track_caller]
fn forwards_all_but_chld_winch_and_urg(mut fg: Background, forwarded: &[i32]) -> Output {
    fg.wait_output("ready");
    for &sig in forwarded {
        // Safety: a signal to our own child.
        assert_eq!(unsafe { libc::kill(fg.pid(), sig) }, 0);
        fg.wait_output(&format!("got-{sig}\n"));
    }
    for sig in [libc::SIGWINCH, libc::SIGURG, libc::SIGTERM] {
        // Safety: as above.
        assert_eq!(unsafe { libc::kill(fg.pid(), sig) }, 0);
    }
    let out = fg.finish_within(CMD_TIMEOUT);
    assert_eq!(out.code(), 7, "{out:?}");
    for sig in [libc::SIGWINCH, libc::SIGURG] {
        assert!(
            !out.stdout.contains(&format!("got-{sig}\n")),
            "signal {sig} reached the container: {out:?}"
        );
    }
    out
}

/// Signals a foreground rt forwards, as runc: all but SIGCHLD, SIGWINCH (a terminal's size) and
/// SIGURG (Go's preemption, for runc); real-time ones included.
fn forwarded_signals() -> Vec<i32> {
    vec![
        libc::SIGALRM,
        libc::SIGPWR,
        libc::SIGUSR1,
        libc::SIGCONT,
        libc::SIGRTMIN() + 3,
        libc::SIGRTMAX(),
    ]
}

#[test]
fn run_forwards_every_signal_but_chld_winch_and_urg() {
    let mut c = Container::new("fwdall");
    let mut all = forwarded_signals();
    all.extend([libc::SIGWINCH, libc::SIGURG]);
    c.sh(&trapping(&all));
    c.write_config();
    let b = c.bundle.to_str().unwrap().to_string();
    let run = Background::spawn(&c, &["run", "--bundle", &b, &c.id]);
    forwards_all_but_chld_winch_and_urg(run, &forwarded_signals());
    assert_nothing_left(&c, (0, 0));
}

#[test]
fn exec_forwards_every_signal_but_chld_winch_and_urg() {
    let mut c = Container::new("execfwd");
    c.args(&["sleep", "30"]);
    c.create().ok();
    c.start().ok();
    let mut all = forwarded_signals();
    all.extend([libc::SIGWINCH, libc::SIGURG]);
    let script = trapping(&all);
    let exec = Background::spawn(&c, &["exec", &c.id, "sh", "-c", &script]);
    forwards_all_but_chld_winch_and_urg(exec, &forwarded_signals());
    assert_eq!(c.status(), "running");
    rt_in(&c.bundle, &["delete", "--force", &c.id]).ok();
    assert_nothing_left(&c, (0, 0));
}

#[test]
fn run_reaps_the_orphans_of_the_container_as_a_subreaper() {
    // Without a PID namespace of its own nobody in the container reaps its orphans: as with
    // runc, they come to the foreground rt, which reaps them and still exits with the init's
    // status.
    let mut c = Container::new("subreaper");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    c.sh("(sleep 0.8 &); echo started; sleep 1.6; exit 3");
    let mut run = Foreground::spawn(&c);
    run.wait_output("started");
    let init = c.pid();
    let deadline = Instant::now() + Duration::from_millis(500);
    let orphan = loop {
        let kids = children(run.pid());
        if let Some(&(p, _)) = kids.iter().find(|(p, _)| *p != init) {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the container's orphan did not come to rt: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // Reaped once it ends (after 0.8 s), while the init still runs.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while children(run.pid()).iter().any(|(p, _)| *p == orphan) {
        assert!(
            Instant::now() < deadline,
            "orphan {orphan} not reaped: {:?}",
            children(run.pid())
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, out) = run.finish();
    assert_eq!(code, 3, "{out}");
    assert_nothing_left(&c, (0, 0));
}

/// Children of `pid` with their state letter, from /proc/<pid>/task/*/children.
fn children(pid: i32) -> Vec<(i32, String)> {
    let mut v = Vec::new();
    for t in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let list = fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for child in list
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let stat = fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .map(|i| stat[i + 2..i + 3].to_string())
                .unwrap_or_default();
            v.push((child, state));
        }
    }
    v
}

#[test]
fn run_leaves_no_zombie_children() {
    // With a PID namespace the container's init reaps its orphans; without one they come to rt
    // (a subreaper), as the hooks' do: either way rt holds no zombie.
    for own_pid_ns in [true, false] {
        let mut c = Container::new("zombie");
        let hook = c.bundle.join("hook.sh");
        // Hooks that leave a background child behind, and a container whose orphans exit.
        script(&hook, "sleep 0.05 & exit 0");
        c.config["hooks"] = json!({
            "createRuntime": [{"path": hook}],
            "poststart": [{"path": hook}],
        });
        if !own_pid_ns {
            c.config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "pid");
        }
        c.sh("(sleep 0.05 &); echo started; sleep 0.6");
        let mut run = Foreground::spawn(&c);
        run.wait_output("started");
        let init = c.pid();
        // Give the hooks' and the container's orphans time to end: none may stay as rt's
        // unreaped zombie.
        std::thread::sleep(Duration::from_millis(200));
        let kids = children(run.pid());
        assert!(
            kids.iter().all(|(p, st)| *p == init && st != "Z"),
            "rt's children besides its running init {init}: {kids:?}"
        );
        let (code, _) = run.finish();
        assert_eq!(code, 0);
        assert_nothing_left(&c, (0, 0));
    }
}

#[test]
fn closed_stdout_is_an_error_not_a_crash() {
    let mut c = Container::new("epipe");
    c.args(&["sleep", "30"]);
    c.create().ok();
    c.start().ok();
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", "--format", "json"],
        &["list", "-q"],
        &["state", &c.id],
        &["ps", &c.id],
        &["ps", "--format", "json", &c.id],
        &["features"],
        &["--version"],
    ];
    for args in commands {
        let (r, w) = nix::unistd::pipe().unwrap();
        // The reader is gone before rt writes: every write gets EPIPE.
        drop(r);
        let err = c.bundle.join("epipe.err");
        let mut child = Command::new(rt_bin())
            .arg("--root")
            .arg(state_root())
            .args(*args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let st = wait_within(
            &mut child,
            CMD_TIMEOUT,
            &format!("rt {args:?} on a closed stdout"),
        );
        let stderr = fs::read_to_string(&err).unwrap();
        assert_eq!(st.signal(), None, "rt {args:?} died of a signal: {stderr}");
        assert!(!stderr.contains("panicked"), "rt {args:?}: {stderr}");
        assert_eq!(st.code(), Some(1), "rt {args:?}: {stderr}");
        assert!(
            stderr.contains("write to stdout: broken pipe"),
            "rt {args:?}: {stderr}"
        );
    }
    c.rt(&["delete", "--force", &c.id]).ok();
}
