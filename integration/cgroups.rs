//! Cgroups: every resource read back from the kernel's files, limits enforced (OOM kill, fork
//! refused), freeze/thaw, live updates, ps, events, kill --all and delete --force. The same tests
//! run on this hybrid v1 host and inside the cgroup-v2-only VM (scripts/vm/run.sh): each check
//! reads the v1 file where the host has the v1 controller, else the v2 file.

mod common;
mod devloop;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

fn read(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn has_v1(ctrl: &str) -> bool {
    !pure_v2()
        && Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join("cgroup.procs")
            .exists()
}

/// A key's value in a flat keyed file such as memory.events or pids.events.
fn keyed(p: &Path, key: &str) -> u64 {
    read(p)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} in {}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

fn started(c: &mut Container, script: &str) {
    c.sh(script);
    c.create().ok();
    c.start().ok();
}

#[test]
fn memory_cpu_cpuset_and_pids_are_written() {
    let mut c = Container::new("cg-limits");
    c.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42}
    });
    c.args(&["true"]);
    c.create().ok();
    let f = |ctrl, v1, v2| read(&c.cgroup_file(ctrl, v1, v2));
    assert_eq!(
        f("memory", "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    assert_eq!(
        f("memory", "memory.soft_limit_in_bytes", "memory.low"),
        "33554432"
    );
    if has_v1("memory") {
        assert_eq!(
            read(&c.cgroup_dir("memory").join("memory.memsw.limit_in_bytes")),
            "134217728"
        );
    } else if c.v2_dir().join("memory.swap.max").exists() {
        // v2 counts swap alone: 128 MiB memory+swap over a 64 MiB limit.
        assert_eq!(read(&c.v2_dir().join("memory.swap.max")), "67108864");
    }
    if has_v1("cpu") {
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.shares")), "512");
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.cfs_quota_us")), "50000");
        assert_eq!(
            read(&c.cgroup_dir("cpu").join("cpu.cfs_period_us")),
            "100000"
        );
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.cfs_burst_us")), "1000");
    } else {
        // runc's shares-to-weight formula: 1 + (512 - 2) * 9999 / 262142.
        assert_eq!(read(&c.v2_dir().join("cpu.weight")), "20");
        assert_eq!(read(&c.v2_dir().join("cpu.max")), "50000 100000");
        assert_eq!(read(&c.v2_dir().join("cpu.max.burst")), "1000");
    }
    assert_eq!(f("cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    assert_eq!(f("cpuset", "cpuset.mems", "cpuset.mems"), "0");
    assert_eq!(f("pids", "pids.max", "pids.max"), "42");
    c.rt(&["delete", "--force", &c.id]).ok();
}

#[test]
fn v1_only_memory_settings_are_written() {
    if !has_v1("memory") {
        eprintln!("skipped: no v1 memory controller");
        return;
    }
    let mut c = Container::new("cg-memv1");
    c.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "swappiness": 7, "disableOOMKiller": true}
    });
    c.create().ok();
    let dir = c.cgroup_dir("memory");
    assert_eq!(read(&dir.join("memory.swappiness")), "7");
    assert_eq!(
        keyed(&dir.join("memory.oom_control"), "oom_kill_disable"),
        1
    );
}

#[test]
fn cpu_idle_is_written() {
    let mut c = Container::new("cg-idle");
    c.config["linux"]["resources"] = json!({"cpu": {"idle": 1}});
    c.create().ok();
    assert_eq!(read(&c.cgroup_file("cpu", "cpu.idle", "cpu.idle")), "1");
}

#[test]
fn hugetlb_limits_are_written() {
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2 MiB huge pages");
        return;
    }
    let mut c = Container::new("cg-huge");
    c.config["linux"]["resources"] =
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    c.create().ok();
    let file = c.cgroup_file("hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max");
    assert_eq!(read(&file), "4194304");
}

/// The first whole disk of the host, as major:minor, for block I/O throttles.
fn a_disk() -> Option<(u32, u32)> {
    let parts = fs::read_to_string("/proc/partitions").ok()?;
    parts.lines().skip(2).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let name = *f.get(3)?;
        let whole = Path::new("/sys/block").join(name).exists();
        let real =
            !name.starts_with("zram") && !name.starts_with("loop") && !name.starts_with("ram");
        (whole && real).then(|| Some((f[0].parse().ok()?, f[1].parse().ok()?)))?
    })
}

#[test]
fn block_io_throttles_are_written() {
    let Some((major, minor)) = a_disk() else {
        eprintln!("skipped: no block device");
        return;
    };
    let mut c = Container::new("cg-blkio");
    c.config["linux"]["resources"] = json!({"blockIO": {
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 300}]
    }});
    c.create().ok();
    if has_v1("blkio") {
        let dir = c.cgroup_dir("blkio");
        assert_eq!(
            read(&dir.join("blkio.throttle.read_bps_device")),
            format!("{major}:{minor} 1048576")
        );
        assert_eq!(
            read(&dir.join("blkio.throttle.write_iops_device")),
            format!("{major}:{minor} 300")
        );
    } else {
        let max = read(&c.v2_dir().join("io.max"));
        assert!(
            max.contains(&format!("{major}:{minor} rbps=1048576")),
            "{max}"
        );
        assert!(max.contains("wiops=300"), "{max}");
    }
}

#[test]
fn memory_limit_is_enforced_by_the_oom_killer() {
    let mut c = Container::new("cg-oom");
    c.config["linux"]["resources"] = json!({"memory": {"limit": 33554432, "swap": 33554432}});
    let out = c.bundle.join("out");
    fs::create_dir(&out).unwrap();
    c.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind"]}));
    // dd fills a 64 MiB buffer from /dev/zero: twice the limit.
    started(
        &mut c,
        "dd if=/dev/zero of=/dev/null bs=64M count=1; echo status=$? > /out/dd",
    );
    c.wait_status("stopped");
    let oom = if has_v1("memory") {
        keyed(
            &c.cgroup_dir("memory").join("memory.oom_control"),
            "oom_kill",
        )
    } else {
        keyed(&c.v2_dir().join("memory.events"), "oom_kill")
    };
    assert!(oom >= 1, "no OOM kill recorded");
    let dd = fs::read_to_string(out.join("dd")).unwrap_or_default();
    assert_eq!(dd.trim(), "status=137", "dd was not SIGKILLed");
    c.delete().ok();
}

#[test]
fn pids_limit_refuses_forks() {
    let mut c = Container::new("cg-pids");
    c.config["linux"]["resources"] = json!({"pids": {"limit": 6}});
    started(
        &mut c,
        "i=0; while [ $i -lt 12 ]; do sleep 30 & i=$((i+1)); done; cat /sys/fs/cgroup/pids.current 2>/dev/null; sleep 30",
    );
    let dir = c.cgroup_file("pids", "pids.current", "pids.current");
    let deadline = Instant::now() + Duration::from_secs(10);
    while keyed(&dir.with_file_name("pids.events"), "max") == 0 {
        assert!(Instant::now() < deadline, "no fork was refused");
        std::thread::sleep(Duration::from_millis(20));
    }
    let current: u64 = read(&dir).parse().unwrap();
    assert!(current <= 6, "pids.current {current} above the limit");
    c.rt(&["delete", "--force", &c.id]).ok();
}

#[test]
fn device_rules_allow_and_deny_opening() {
    // /dev/kmsg (c 1:11) is not among the default devices; opening it write-only needs no
    // capability, so only the device cgroup decides.
    let kmsg = json!({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]});
    let mut denied = Container::new("cg-devdeny");
    denied.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(kmsg.clone());
    denied.sh(": > /dev/kmsg && echo opened");
    let out = denied.run();
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("ermission denied") || out.stderr.contains("not permitted"),
        "{out:?}"
    );

    let mut allowed = Container::new("cg-devallow");
    allowed.config["mounts"].as_array_mut().unwrap().push(kmsg);
    allowed.config["linux"]["resources"] = json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}
    ]});
    allowed.sh(": > /dev/kmsg && echo opened");
    assert_eq!(allowed.run().ok().stdout.trim(), "opened");
}

/// The devices every container gets on top of its config (src/cgroups/devices/mod.rs), as
/// devices.list shows them.
const DEFAULT_DEVICES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// A cgroup that several test containers share (none of them owns it) and a directory of the
/// test's files, removed at the end whatever happened.
struct Shared {
    name: String,
    dir: std::path::PathBuf,
}

impl Drop for Shared {
    fn drop(&mut self) {
        remove_test_cgroup(&self.name);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// What the kernel enforces on a cgroup: v1's devices.list (sorted: the kernel lists exceptions
/// in the order they were added), or v2's device program tags (one expected).
fn device_state(v1_dir: &Path, v2_dir: &Path) -> Vec<String> {
    if has_v1("devices") {
        let mut l: Vec<String> = read(&v1_dir.join("devices.list"))
            .lines()
            .map(String::from)
            .collect();
        l.sort();
        l
    } else {
        devloop::attached(v2_dir)
            .into_iter()
            .map(|id| format!("{:02x?}", devloop::tag(id)))
            .collect()
    }
}

/// The device state rt gives a fresh container of its own with `devices`: the reference.
fn fresh_device_state(devices: &Value) -> Vec<String> {
    let mut c = Container::new("cg-devref");
    c.config["linux"]["resources"]["devices"] = devices.clone();
    c.create().ok();
    let s = device_state(&c.cgroup_dir("devices"), &c.v2_dir());
    c.rt(&["delete", "--force", &c.id]).ok();
    s
}

/// Issue 25: containers may share a cgroupsPath. Creating one there, or `update -r` with device
/// rules, must change the device rules without a moment of "deny everything" for the processes
/// already in it (runc computes the transition from the current rules; so does rt now).
#[test]
fn device_rules_change_with_no_deny_all_window_in_a_shared_cgroup() {
    let name = format!("cg-shared-{}", std::process::id());
    let shared = Shared {
        name: name.clone(),
        dir: tmp_dir().join(&name),
    };
    let dir = &shared.dir;
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    devloop::build(dir);
    let cgroups_path = json!(format!("/{CGROUP_PREFIX}/{name}"));

    let kmsg = json!({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]});
    let mut holder = Container::new("cg-devloop");
    holder.config["linux"]["cgroupsPath"] = cgroups_path.clone();
    let mounts = holder.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/mnt", "type": "bind", "source": dir, "options": ["rbind", "rw"]}),
    );
    mounts.push(kmsg);
    holder.args(&["/mnt/devloop", "/mnt"]);
    holder.create().ok();
    holder.start().ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("ready").exists() {
        assert!(
            Instant::now() < deadline,
            "the /dev/null loop never got going"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let v1_dir = Path::new("/sys/fs/cgroup/devices")
        .join(CGROUP_PREFIX)
        .join(&name);
    let v2_dir = if pure_v2() {
        Path::new("/sys/fs/cgroup")
    } else {
        Path::new("/sys/fs/cgroup/unified")
    }
    .join(CGROUP_PREFIX)
    .join(&name);

    let base = holder.config["linux"]["resources"]["devices"].clone();
    let update = |devices: &Value, n: usize| {
        let file = dir.join(format!("update-{n}.json"));
        fs::write(&file, json!({"devices": devices}).to_string()).unwrap();
        holder
            .rt(&["update", "-r", file.to_str().unwrap(), &holder.id])
            .ok();
    };

    // 20 containers created and deleted in the holder's cgroup, 10 at a time, while `update -r`
    // gives the holder the device list it already has.
    std::thread::scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                for _ in 0..2 {
                    let mut c = Container::new("cg-sharer");
                    c.config["linux"]["cgroupsPath"] = cgroups_path.clone();
                    c.create().ok();
                    // The cgroup stays busy with the holder: delete says so after its retries
                    // (as runc's does), but the container is gone.
                    let out = c.rt(&["delete", "--force", &c.id]);
                    assert!(
                        out.status.success() || out.stderr.contains("resource busy"),
                        "{out:?}"
                    );
                    assert!(!state_root().join(&c.id).exists(), "{} left", c.id);
                }
            });
        }
        for n in 0..5 {
            update(&base, n);
        }
    });
    let want: Vec<String> = {
        let mut v: Vec<String> = DEFAULT_DEVICES.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let state = device_state(&v1_dir, &v2_dir);
    if has_v1("devices") {
        assert_eq!(state, want);
    } else {
        assert_eq!(state.len(), 1, "device programs attached: {state:?}");
    }
    assert_eq!(
        state,
        fresh_device_state(&base),
        "not what a fresh cgroup gets"
    );

    // A changed list: one more device (write-only /dev/kmsg), then back (one less).
    let more = json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]);
    update(&more, 10);
    let state = device_state(&v1_dir, &v2_dir);
    if has_v1("devices") {
        let mut w = want.clone();
        w.push("c 1:11 w".to_string());
        w.sort();
        assert_eq!(state, w);
    }
    assert_eq!(
        state,
        fresh_device_state(&more),
        "not what a fresh cgroup gets"
    );
    let probe = |script: &str| holder.rt(&["exec", &holder.id, "sh", "-c", script]);
    probe(": > /dev/kmsg").ok();
    assert_ne!(probe(": < /dev/kmsg").code(), 0);
    update(&base, 11);
    assert_eq!(device_state(&v1_dir, &v2_dir), fresh_device_state(&base));
    assert_ne!(probe(": > /dev/kmsg").code(), 0);

    fs::write(dir.join("stop"), "").unwrap();
    holder.wait_status("stopped");
    let (opens, eperm, other) = devloop::result(dir);
    assert!(
        opens > 0 && other == 0,
        "opens {opens}, other failures {other}"
    );
    assert_eq!(
        eperm, 0,
        "/dev/null was refused {eperm} times in {opens} opens"
    );
    holder.rt(&["delete", &holder.id]).ok();
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let mut c = Container::new("cg-pause");
    started(&mut c, "sleep 100");
    c.rt(&["pause", &c.id]).ok();
    assert_eq!(c.status(), "paused");
    if has_v1("freezer") {
        assert_eq!(
            read(&c.cgroup_dir("freezer").join("freezer.state")),
            "FROZEN"
        );
    } else {
        assert_eq!(keyed(&c.v2_dir().join("cgroup.events"), "frozen"), 1);
    }
    let exec = c.rt(&["exec", &c.id, "true"]);
    assert_eq!(exec.code(), 255, "{exec:?}");
    assert!(exec.stderr.contains("paused"), "{exec:?}");
    c.rt(&["pause", &c.id]).fails_with("already paused");
    c.rt(&["resume", &c.id]).ok();
    assert_eq!(c.status(), "running");
    if has_v1("freezer") {
        assert_eq!(
            read(&c.cgroup_dir("freezer").join("freezer.state")),
            "THAWED"
        );
    } else {
        assert_eq!(keyed(&c.v2_dir().join("cgroup.events"), "frozen"), 0);
    }
    c.rt(&["resume", &c.id]).fails_with("container not paused");
    // A paused container is deleted by --force: thawed, killed and removed.
    c.rt(&["pause", &c.id]).ok();
    c.rt(&["delete", "--force", &c.id]).ok();
    assert!(!c.v2_dir().exists() && !c.cgroup_dir("freezer").exists());
}

#[test]
fn update_changes_live_limits_and_merges() {
    let mut c = Container::new("cg-update");
    c.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 10}});
    started(&mut c, "sleep 100");
    c.rt(&[
        "update",
        "--memory",
        "128m",
        "--pids-limit",
        "20",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "100000",
        &c.id,
    ])
    .ok();
    let mem = c.cgroup_file("memory", "memory.limit_in_bytes", "memory.max");
    let pids = c.cgroup_file("pids", "pids.max", "pids.max");
    assert_eq!(read(&mem), "134217728");
    assert_eq!(read(&pids), "20");
    if has_v1("cpu") {
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.cfs_quota_us")), "20000");
    } else {
        assert_eq!(read(&c.v2_dir().join("cpu.max")), "20000 100000");
    }
    // --resources FILE and --resources - (stdin) take linux.resources JSON; other limits stay.
    let file = c.bundle.join("res.json");
    fs::write(&file, r#"{"pids":{"limit":30}}"#).unwrap();
    c.rt(&["update", &format!("--resources={}", file.display()), &c.id])
        .ok();
    assert_eq!(read(&pids), "30");
    fs::write(&file, r#"{"pids":{"limit":31}}"#).unwrap();
    let st = std::process::Command::new(rt_bin())
        .arg("--root")
        .arg(state_root())
        .args(["update", "-r", "-", &c.id])
        .stdin(fs::File::open(&file).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(read(&pids), "31");
    assert_eq!(read(&mem), "134217728");
    c.rt(&["update", "--memory", "12x", &c.id])
        .fails_with("--memory");
    c.rt(&["kill", &c.id, "KILL"]).ok();
    c.wait_status("stopped");
    c.rt(&["update", "--pids-limit", "5", &c.id])
        .fails_with("container not running");
}

#[test]
fn update_refuses_a_limit_below_usage_with_check_before_update() {
    let mut c = Container::new("cg-check");
    c.config["linux"]["resources"] =
        json!({"memory": {"limit": 67108864, "checkBeforeUpdate": true}});
    started(&mut c, "sleep 100");
    c.rt(&["update", "--memory", "4096", &c.id])
        .fails_with("below the container's current memory usage");
    let mem = c.cgroup_file("memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(read(&mem), "67108864");
}

#[test]
fn ps_lists_the_containers_processes() {
    let mut c = Container::new("cg-ps");
    started(&mut c, "sleep 100 & sleep 100 & wait");
    let init = c.pid();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pids: Vec<i32> = loop {
        let out = c.rt(&["ps", "--format", "json", &c.id]).ok();
        let v: Vec<i32> = serde_json::from_str(out.stdout.trim()).unwrap();
        if v.len() == 3 || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.contains(&init));
    for pid in &pids {
        let cg = read(Path::new(&format!("/proc/{pid}/cgroup")));
        assert!(
            cg.contains(&c.id),
            "{pid} not in the container's cgroup: {cg}"
        );
    }
    let table = c.rt(&["ps", &c.id]).ok();
    let mut lines = table.stdout.lines();
    assert!(lines.next().unwrap().contains("PID"));
    assert_eq!(
        lines.filter(|l| l.ends_with(" sleep 100")).count(),
        2,
        "{table:?}"
    );
}

#[test]
fn kill_all_signals_every_process() {
    let mut c = Container::new("cg-killall");
    started(&mut c, "sleep 100 & sleep 100 & wait");
    c.rt(&["kill", "--all", &c.id, "KILL"]).ok();
    c.wait_status("stopped");
    // containerd sends it again after the exit: still fine.
    c.rt(&["kill", "--all", &c.id, "9"]).ok();
}

#[test]
fn delete_force_kills_everything_in_the_cgroup() {
    // In the host's PID namespace the init's death does not take its children with it.
    let mut c = Container::new("cg-force");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    started(&mut c, "sleep 100 & sleep 100 & wait");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pids: Vec<i32> = loop {
        let out = c.rt(&["ps", "-f", "json", &c.id]).ok();
        let v: Vec<i32> = serde_json::from_str(out.stdout.trim()).unwrap();
        if v.len() == 3 || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    c.pids.extend(&pids);
    c.rt(&["delete", "--force", &c.id]).ok();
    for pid in pids {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "pid {pid} survived: {stat}"
        );
    }
    assert!(!c.v2_dir().exists(), "v2 cgroup left");
    for ctrl in ["memory", "pids", "cpu", "freezer"] {
        assert!(
            !c.cgroup_dir(ctrl).exists() || pure_v2(),
            "{ctrl} cgroup left"
        );
    }
}

#[test]
fn a_resource_the_host_cannot_limit_is_an_error_naming_the_field() {
    let mut c = Container::new("cg-nonet");
    c.config["linux"]["resources"] = json!({"network": {"classID": 1048577}});
    let out = c.create();
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("linux.resources.network.classID"),
        "{out:?}"
    );
    assert!(!c.v2_dir().exists() && !c.cgroup_dir("memory").exists());
}

#[test]
fn unified_values_are_written_on_v2_and_checked() {
    let mut c = Container::new("cg-unified");
    if pure_v2() {
        c.config["linux"]["resources"] =
            json!({"unified": {"pids.max": "17", "memory.high": "50000000"}});
        c.create().ok();
        assert_eq!(read(&c.v2_dir().join("pids.max")), "17");
        assert_eq!(read(&c.v2_dir().join("memory.high")), "49999872");
    } else {
        // Hybrid: memory is a v1 controller, so memory.high has no unified file to go to.
        c.config["linux"]["resources"] = json!({"unified": {"memory.high": "50000000"}});
        c.create()
            .fails_with("linux.resources.unified.\"memory.high\"");
    }
    let mut bad = Container::new("cg-unified-bad");
    bad.config["linux"]["resources"] = json!({"unified": {"../cgroup.procs": "1"}});
    bad.create().fails_with("not a cgroup file name");
}

#[test]
fn container_processes_are_in_every_hierarchy() {
    let mut c = Container::new("cg-member");
    started(&mut c, "sleep 100");
    let cg = read(Path::new(&format!("/proc/{}/cgroup", c.pid())));
    let want = format!("/{CGROUP_PREFIX}/{}", c.id);
    for line in cg.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap();
        // Named hierarchies other than ours (and v1 ones not mounted) are not managed.
        if line.contains("name=") && !line.contains("name=systemd") {
            continue;
        }
        assert_eq!(path, want, "{line}");
    }
}

#[test]
fn events_stats_reports_real_numbers() {
    let mut c = Container::new("cg-stats");
    c.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}});
    started(
        &mut c,
        "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 100",
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = c.rt(&["events", "--stats", &c.id]).ok();
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], c.id.as_str());
    let d = &v["data"];
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["memory"]["usage"]["limit"], 67108864);
    assert!(d["pids"]["current"].as_u64().unwrap() >= 1, "{d}");
    assert_eq!(d["pids"]["limit"], 50);
    c.rt(&["events", "--interval", "5x", &c.id])
        .fails_with("invalid duration");
}

#[test]
fn events_streams_stats_and_oom_until_the_container_stops() {
    let mut c = Container::new("cg-events");
    c.config["linux"]["resources"] = json!({"memory": {"limit": 33554432, "swap": 33554432}});
    started(
        &mut c,
        "sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 100",
    );
    let log = c.bundle.join("events.log");
    let mut events = std::process::Command::new(rt_bin())
        .arg("--root")
        .arg(state_root())
        .args(["events", "--interval", "100ms", &c.id])
        .stdout(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    c.pids.push(events.id() as i32);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fs::read_to_string(&log)
        .unwrap()
        .contains("\"type\":\"oom\"")
    {
        assert!(
            Instant::now() < deadline,
            "no oom event: {}",
            fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.rt(&["kill", &c.id, "KILL"]).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = events.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "events did not end with the container"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let text = fs::read_to_string(&log).unwrap();
    let stats = text
        .lines()
        .filter(|l| l.contains("\"type\":\"stats\""))
        .count();
    assert!(stats >= 2, "{text}");
    for l in text.lines() {
        let _: Value = serde_json::from_str(l).unwrap();
    }
}

#[test]
fn systemd_driver_without_systemd_is_a_clear_error() {
    if std::path::Path::new("/run/systemd/private").exists() {
        eprintln!("skipped: systemd runs here");
        return;
    }
    let mut c = Container::new("cg-systemd");
    c.config["linux"]["cgroupsPath"] = json!(format!("system.slice:rt-test:{}", c.id));
    c.write_config();
    let b = c.bundle.to_str().unwrap().to_string();
    let out = c.rt(&["--systemd-cgroup", "create", "--bundle", &b, &c.id]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("cannot connect to systemd over D-Bus (/run/systemd/private: "),
        "{out:?}"
    );
    assert!(!state_root().join(&c.id).exists());
    for root in [
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ] {
        assert!(!Path::new(root)
            .join("system.slice")
            .join(format!("rt-test-{}.scope", c.id))
            .exists());
    }
    // A malformed systemd path is refused before any connection is tried.
    c.config["linux"]["cgroupsPath"] = json!("a:b");
    c.write_config();
    c.rt(&["--systemd-cgroup", "create", "--bundle", &b, &c.id])
        .fails_with("slice:prefix:name");
}

/// The init sets itself up while rt moves it into its cgroups; a createContainer hook (a child of
/// the init) and the process itself must already be inside them.
#[test]
fn hooks_and_the_process_start_inside_the_cgroup() {
    let mut c = Container::new("cg-early");
    let hook_out = c.bundle.join("hook.cgroup");
    let hook = c.bundle.join("hook.sh");
    script(
        &hook,
        &format!("cat /proc/self/cgroup > {}", hook_out.display()),
    );
    c.config["hooks"] = json!({"createContainer": [{"path": hook}]});
    c.sh("cat /proc/self/cgroup");
    // Without a cgroup namespace, /proc/self/cgroup shows the paths as the host sees them.
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
    let out = c.run().ok();
    let want = format!("/{CGROUP_PREFIX}/{}", c.id);
    let hook_seen = fs::read_to_string(&hook_out).unwrap();
    for (who, seen) in [
        ("process", out.stdout.as_str()),
        ("hook", hook_seen.as_str()),
    ] {
        // Every hierarchy but the machine's own named ones must show the container's cgroup.
        for line in seen.lines() {
            let path = line.splitn(3, ':').nth(2).unwrap();
            let ctrls = line.split(':').nth(1).unwrap();
            if ctrls.is_empty() && !pure_v2() && path == "/" {
                continue; // the hybrid unified mount: only hugetlb, not used here
            }
            assert!(
                path.ends_with(&want),
                "{who} in {line:?}, want {want}: {seen}"
            );
        }
        assert!(seen.contains(&want), "{who}: {seen}");
    }
}

#[test]
fn an_init_that_cannot_join_its_cgroup_is_an_error() {
    if !has_v1("cpuset") {
        return;
    }
    // The init moves itself into its v1 cgroups: a cpuset without CPUs refuses it, and that
    // error must reach the caller.
    let c = Container::new("cg-nojoin");
    let dir = c.cgroup_dir("cpuset");
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(read(&dir.join("cpuset.cpus")), "");
    c.create().fails_with(&format!(
        "join cgroup {}: write \"0\" to tasks: no space left on device",
        dir.display()
    ));
    assert!(!state_root().join(&c.id).exists());
}

/// The super options of the cgroup2 mount at /sys/fs/cgroup, as this process sees them.
fn v2_root_options() -> String {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .find(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup") && l.contains(" - cgroup2 "))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no cgroup2 mount at /sys/fs/cgroup: {mi}"))
        .to_string()
}

#[test]
fn v2_cgroup_mount_shows_the_hierarchy_and_leaves_the_host_flags() {
    if !pure_v2() {
        eprintln!("SKIPPED: needs a cgroup-v2-only host (runs in the VM)");
        return;
    }
    let before = v2_root_options();
    // In the runtime's cgroup namespace: what a new cgroup2 mount shows there, the whole
    // hierarchy, read-only (runc's default /sys/fs/cgroup mount carries "ro").
    let mut c = Container::new("cg-v2mount");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
    c.sh(&format!(
        "cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; \
         test -d /sys/fs/cgroup/{CGROUP_PREFIX}/{}/ && echo own-cgroup-seen",
        c.id
    ));
    let out = c.run().ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("0::/{CGROUP_PREFIX}/{}", c.id), "{out:?}");
    let m: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(m[3], "/", "mount root: {}", lines[1]);
    assert!(m[5].split(',').any(|o| o == "ro"), "{}", lines[1]);
    assert!(lines[1].contains(" - cgroup2 "), "{}", lines[1]);
    assert_eq!(lines[2], "own-cgroup-seen", "{out:?}");
    // A new cgroup2 mount in the initial cgroup namespace re-applies the hierarchy's root
    // flags: the host's nsdelegate (the VM mounts with it) would be cleared.
    assert_eq!(
        v2_root_options(),
        before,
        "the host's cgroup2 options changed"
    );

    // With a cgroup namespace (rt spec's default, as runc 1.2's): the container's cgroup is
    // the root.
    let mut c = Container::new("cg-v2mount-ns");
    let ns = c.config["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "cgroup"), "{ns:?}");
    c.sh("cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; ls /sys/fs/cgroup | grep -c '^cgroup.procs$'");
    let out = c.run().ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0::/", "{out:?}");
    assert_eq!(lines[1].split(' ').nth(3), Some("/"), "{}", lines[1]);
    assert_eq!(lines[2], "1", "{out:?}");
    assert_eq!(
        v2_root_options(),
        before,
        "the host's cgroup2 options changed"
    );
}

/// Whether `point` is a mount point in this process's mount namespace.
fn mounted_at(point: &str) -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(point))
}

#[test]
fn a_container_mounting_under_its_cgroup_mount_does_not_reach_the_host() {
    if !pure_v2() {
        eprintln!("SKIPPED: needs a cgroup-v2-only host (runs in the VM)");
        return;
    }
    // As on a systemd host, the host's cgroup mount is shared; the container's is bound from
    // it (no cgroup namespace), all its mounts are shared (rshared, as Kubernetes'
    // Bidirectional mounts ask) and it may mount. A bind keeps the source's peer group unless
    // made private: the tmpfs would then cover the host's /sys/fs/cgroup/rt-test.
    let st = std::process::Command::new("mount")
        .args(["--make-shared", "/sys/fs/cgroup"])
        .status()
        .unwrap();
    assert!(st.success());
    struct Private;
    impl Drop for Private {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .args(["-l", "/sys/fs/cgroup/rt-test"])
                .stderr(std::process::Stdio::null())
                .status();
            let _ = std::process::Command::new("mount")
                .args(["--make-private", "/sys/fs/cgroup"])
                .status();
        }
    }
    let _private = Private;
    let mut c = Container::new("cg-v2mount-prop");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
    c.config["linux"]["rootfsPropagation"] = json!("rshared");
    for set in ["bounding", "effective", "permitted"] {
        c.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    c.sh(&format!(
        "mount -t tmpfs rtprobe /sys/fs/cgroup/{CGROUP_PREFIX} && echo mounted"
    ));
    let out = c.run().ok();
    assert_eq!(out.stdout.trim(), "mounted", "{out:?}");
    assert!(
        !mounted_at(&format!("/sys/fs/cgroup/{CGROUP_PREFIX}")),
        "the container's mount reached the host's cgroup tree"
    );
}
