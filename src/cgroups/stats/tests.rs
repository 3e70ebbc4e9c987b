use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A directory tree under the temp dir, removed when dropped.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Tree {
        let root =
            std::env::temp_dir().join(format!("rt-stats-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Tree(root)
    }

    /// Make `sub` with the given files and return its path.
    fn dir(&self, sub: &str, files: &[(&str, &str)]) -> PathBuf {
        let d = self.0.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        for (name, text) in files {
            std::fs::write(d.join(name), text).unwrap();
        }
        d
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn set<'a>(k: &[&'a str]) -> BTreeSet<&'a str> {
    k.iter().copied().collect()
}

fn to_value(s: &Stats) -> Value {
    serde_json::to_value(s).unwrap()
}

const MAX_V1: &str = "9223372036854771712\n";

// From a 6.18 kernel's v1 memory controller (trimmed).
const V1_MEMORY_STAT: &str = "cache 9519104\nrss 3395584\nrss_huge 0\nshmem 9166848\n\
mapped_file 7053312\ndirty 8192\nwriteback 0\nswap 0\npgpgin 26463\npgpgout 23310\n\
pgfault 36003\npgmajfault 0\ninactive_anon 0\nactive_anon 1531904\ninactive_file 28672\n\
active_file 323584\nunevictable 11030528\nhierarchical_memory_limit 9223372036854771712\n\
hierarchical_memsw_limit 9223372036854771712\ntotal_cache 409554944\ntotal_rss 9314304\n";

fn v1_tree(
    t: &Tree,
) -> (
    PathBuf,
    PathBuf,
    PathBuf,
    PathBuf,
    PathBuf,
    PathBuf,
    PathBuf,
) {
    let memory = t.dir(
        "memory/c",
        &[
            ("memory.stat", V1_MEMORY_STAT),
            ("memory.usage_in_bytes", "419004416\n"),
            ("memory.max_usage_in_bytes", "3383545856\n"),
            ("memory.limit_in_bytes", "536870912\n"),
            ("memory.failcnt", "3\n"),
            ("memory.memsw.usage_in_bytes", "419012608\n"),
            ("memory.memsw.max_usage_in_bytes", "3383545856\n"),
            ("memory.memsw.limit_in_bytes", MAX_V1),
            ("memory.memsw.failcnt", "0\n"),
            ("memory.kmem.usage_in_bytes", "76476416\n"),
            ("memory.kmem.max_usage_in_bytes", "127258624\n"),
            ("memory.kmem.limit_in_bytes", MAX_V1),
            ("memory.kmem.failcnt", "0\n"),
            // No memory.kmem.tcp.*: an optional set may be missing.
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
        ],
    );
    let cpuacct = t.dir(
        "cpuacct/c",
        &[
            ("cpuacct.usage", "2022695923635\n"),
            ("cpuacct.usage_percpu", "874786387670 1147915742848 \n"),
            ("cpuacct.stat", "user 153397\nsystem 48873\n"),
            (
                "cpuacct.usage_all",
                "cpu user system\n0 635912411842 220628034933\n1 873396845645 260255086868\n",
            ),
        ],
    );
    let cpu = t.dir(
        "cpu/c",
        &[(
            "cpu.stat",
            "nr_periods 120\nnr_throttled 7\nthrottled_time 81234567\nnr_bursts 0\nburst_time 0\n",
        )],
    );
    let cpuset = t.dir(
        "cpuset/c",
        &[
            ("cpuset.cpus", "0-1,3\n"),
            ("cpuset.mems", "0\n"),
            ("cpuset.cpu_exclusive", "0\n"),
            ("cpuset.mem_exclusive", "0\n"),
            ("cpuset.mem_hardwall", "1\n"),
            ("cpuset.memory_migrate", "0\n"),
            ("cpuset.memory_pressure", "0\n"),
            ("cpuset.memory_spread_page", "0\n"),
            ("cpuset.memory_spread_slab", "0\n"),
            ("cpuset.sched_load_balance", "1\n"),
            ("cpuset.sched_relax_domain_level", "-1\n"),
        ],
    );
    let pids = t.dir("pids/c", &[("pids.current", "3\n"), ("pids.max", "max\n")]);
    let blkio = t.dir(
        "blkio/c",
        &[
            // Empty BFQ counters: the throttling set is used instead.
            ("blkio.bfq.io_serviced_recursive", "Total 0\n"),
            ("blkio.bfq.io_service_bytes_recursive", "Total 0\n"),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 1282048\n8:0 Write 2195456\n8:0 Sync 2195456\n8:0 Async 1282048\n\
8:0 Discard 0\n8:0 Total 3477504\nTotal 3477504\n",
            ),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 124\n8:0 Write 104\n8:0 Sync 104\n8:0 Async 124\n8:0 Discard 0\n\
8:0 Total 228\nTotal 228\n",
            ),
        ],
    );
    // A hybrid host: hugetlb lives in the v2 hierarchy.
    let unified = t.dir(
        "unified/c",
        &[
            ("hugetlb.2MB.current", "4194304\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.events", "max 1\n"),
            ("hugetlb.2MB.events.local", "max 1\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
            ("hugetlb.2MB.rsvd.max", "max\n"),
            ("hugetlb.1GB.current", "0\n"),
            ("hugetlb.1GB.max", "max\n"),
            ("hugetlb.1GB.events", "max 0\n"),
            ("hugetlb.1GB.rsvd.current", "0\n"),
            ("cgroup.procs", "1\n"),
        ],
    );
    (memory, cpuacct, cpu, cpuset, pids, blkio, unified)
}

#[test]
fn reads_v1_controllers_with_v2_hugetlb() {
    let t = Tree::new("v1");
    let (memory, cpuacct, cpu, cpuset, pids, blkio, unified) = v1_tree(&t);
    let dir_for = |c: &str| match c {
        "memory" => Some((memory.clone(), false)),
        "cpuacct" => Some((cpuacct.clone(), false)),
        "cpu" => Some((cpu.clone(), false)),
        "cpuset" => Some((cpuset.clone(), false)),
        "pids" => Some((pids.clone(), false)),
        "blkio" => Some((blkio.clone(), false)),
        "hugetlb" => Some((unified.clone(), true)),
        _ => None,
    };
    let s = collect(&dir_for).unwrap();

    let u = &s.cpu.usage;
    assert_eq!(u.total, 2022695923635);
    assert_eq!(u.percpu, [874786387670, 1147915742848]);
    assert_eq!(u.percpu_user, [635912411842, 873396845645]);
    assert_eq!(u.percpu_kernel, [220628034933, 260255086868]);
    let hz = clock_ticks();
    assert_eq!(u.user, 153397 * 1_000_000_000 / hz);
    assert_eq!(u.kernel, 48873 * 1_000_000_000 / hz);
    assert_eq!(s.cpu.throttling.periods, 120);
    assert_eq!(s.cpu.throttling.throttled_periods, 7);
    assert_eq!(s.cpu.throttling.throttled_time, 81234567);

    assert_eq!(s.cpuset.cpus, [0, 1, 3]);
    assert_eq!(s.cpuset.mems, [0]);
    assert_eq!(s.cpuset.mem_hardwall, 1);
    assert_eq!(s.cpuset.sched_load_balance, 1);
    assert_eq!(s.cpuset.sched_relax_domain_level, -1);

    let m = &s.memory;
    assert_eq!(m.cache, 9519104);
    assert_eq!(m.raw["hierarchical_memory_limit"], 9223372036854771712);
    assert_eq!(m.raw["total_rss"], 9314304);
    assert_eq!(m.raw.len(), 21);
    assert_eq!(
        (m.usage.usage, m.usage.max, m.usage.limit, m.usage.failcnt),
        (419004416, 3383545856, 536870912, 3)
    );
    assert_eq!(
        (m.swap.usage, m.swap.limit),
        (419012608, 9223372036854771712)
    );
    assert_eq!((m.kernel.usage, m.kernel.max), (76476416, 127258624));
    assert_eq!((m.kernel_tcp.usage, m.kernel_tcp.limit), (0, 0));

    assert_eq!((s.pids.current, s.pids.limit), (3, 0));

    let b = &s.blkio;
    let e = |op: &str, value| BlkioEntry {
        major: 8,
        minor: 0,
        op: op.into(),
        value,
    };
    assert_eq!(b.io_service_bytes_recursive.len(), 6);
    assert_eq!(b.io_service_bytes_recursive[0], e("Read", 1282048));
    assert_eq!(b.io_service_bytes_recursive[1], e("Write", 2195456));
    assert_eq!(b.io_serviced_recursive[5], e("Total", 228));
    assert!(b.sectors_recursive.is_empty());

    assert_eq!(s.hugetlb.len(), 2);
    assert_eq!(
        s.hugetlb["2MB"],
        Hugetlb {
            usage: 4194304,
            max: 0,
            failcnt: 1
        }
    );
    assert_eq!(s.hugetlb["1GB"], Hugetlb::default());

    assert_eq!(oom_kills(&dir_for), Some(2));

    v1_json_is_runcs(&s);
}

/// The JSON of the v1 statistics, key by key as runc writes it.
fn v1_json_is_runcs(s: &Stats) {
    let v = to_value(s);
    assert_eq!(
        keys(&v),
        set(&[
            "cpu",
            "cpuset",
            "memory",
            "pids",
            "blkio",
            "hugetlb",
            "intel_rdt",
            "network_interfaces"
        ])
    );
    assert_eq!(keys(&v["cpu"]), set(&["usage", "throttling"]));
    assert_eq!(
        keys(&v["cpu"]["usage"]),
        set(&[
            "total",
            "percpu",
            "percpu_kernel",
            "percpu_user",
            "kernel",
            "user"
        ])
    );
    assert_eq!(
        v["cpu"]["throttling"],
        json!({"periods": 120, "throttledPeriods": 7, "throttledTime": 81234567})
    );
    assert_eq!(
        v["cpuset"],
        json!({
            "cpus": [0, 1, 3], "cpu_exclusive": 0, "mems": [0], "mem_hardwall": 1,
            "mem_exclusive": 0, "memory_migrate": 0, "memory_spread_page": 0,
            "memory_spread_slab": 0, "memory_pressure": 0, "sched_load_balance": 1,
            "sched_relax_domain_level": -1
        })
    );
    assert_eq!(
        keys(&v["memory"]),
        set(&["cache", "usage", "swap", "kernel", "kernelTCP", "raw"])
    );
    assert_eq!(
        v["memory"]["usage"],
        json!({"limit": 536870912u64, "usage": 419004416u64, "max": 3383545856u64, "failcnt": 3})
    );
    // Zero usage and max are left out; limit and failcnt never are.
    assert_eq!(v["memory"]["kernelTCP"], json!({"limit": 0, "failcnt": 0}));
    assert_eq!(v["memory"]["raw"]["cache"], 9519104);
    assert_eq!(v["pids"], json!({"current": 3}));
    assert_eq!(
        keys(&v["blkio"]),
        set(&["ioServiceBytesRecursive", "ioServicedRecursive"])
    );
    assert_eq!(
        v["blkio"]["ioServiceBytesRecursive"][0],
        json!({"major": 8, "op": "Read", "value": 1282048})
    );
    // Discard 0: a zero value is omitted, as Go does.
    assert_eq!(
        v["blkio"]["ioServicedRecursive"][4],
        json!({"major": 8, "op": "Discard"})
    );
    assert_eq!(
        v["hugetlb"],
        json!({"1GB": {"failcnt": 0}, "2MB": {"usage": 4194304, "failcnt": 1}})
    );
    assert_eq!(v["intel_rdt"], json!({}));
    assert_eq!(v["network_interfaces"], Value::Null);
}

/// A v2 cgroup with every controller's files.
fn v2_tree(t: &Tree) -> PathBuf {
    t.dir(
        "c",
        &[
            (
                "cpu.stat",
                "usage_usec 1990616867\nuser_usec 1509459463\nsystem_usec 481157403\n\
nice_usec 0\nnr_periods 50\nnr_throttled 4\nthrottled_usec 12345\nnr_bursts 0\nburst_usec 0\n",
            ),
            (
                "memory.stat",
                "anon 1531904\nfile 9519104\nkernel 2101248\nkernel_stack 65536\n\
pagetables 98304\nsock 0\nshmem 9166848\nfile_mapped 7053312\nfile_dirty 8192\n\
file_writeback 0\nswapcached 0\ninactive_anon 0\nactive_anon 1531904\n\
inactive_file 28672\nactive_file 323584\nunevictable 0\nslab 1708032\npgfault 36003\n",
            ),
            ("memory.current", "13631488\n"),
            ("memory.max", "max\n"),
            ("memory.peak", "20971520\n"),
            ("memory.swap.current", "4096\n"),
            ("memory.swap.max", "max\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n",
            ),
            (
                "io.stat",
                "8:0 rbytes=1282048 wbytes=2195456 rios=124 wios=104 dbytes=0 dios=0\n\
253:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
            ),
            ("pids.current", "5\n"),
            ("pids.max", "100\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.events", "max 0\n"),
            ("cgroup.procs", "1\n"),
        ],
    )
}

#[test]
fn reads_v2_controllers() {
    let t = Tree::new("v2");
    let d = v2_tree(&t);
    let dir_for = |c: &str| match c {
        "cpu" | "cpuacct" | "cpuset" | "memory" | "pids" | "blkio" | "hugetlb" => {
            Some((d.clone(), true))
        }
        _ => None,
    };
    let s = collect(&dir_for).unwrap();

    assert_eq!(s.cpu.usage.total, 1990616867000);
    assert_eq!(s.cpu.usage.user, 1509459463000);
    assert_eq!(s.cpu.usage.kernel, 481157403000);
    assert!(s.cpu.usage.percpu.is_empty());
    assert_eq!(s.cpu.throttling.periods, 50);
    assert_eq!(s.cpu.throttling.throttled_periods, 4);
    assert_eq!(s.cpu.throttling.throttled_time, 12345000);

    assert!(s.cpuset.cpus.is_empty());

    let m = &s.memory;
    assert_eq!(m.cache, 9519104);
    assert_eq!(m.raw["anon"], 1531904);
    assert_eq!(m.raw.len(), 18);
    assert_eq!(
        (m.usage.usage, m.usage.limit, m.usage.max),
        (13631488, u64::MAX, 20971520)
    );
    // Swap is reported as memory+swap; an unlimited limit stays unlimited.
    assert_eq!((m.swap.usage, m.swap.limit), (13631488 + 4096, u64::MAX));

    assert_eq!((s.pids.current, s.pids.limit), (5, 100));

    let b = &s.blkio;
    let e = |major, minor, op: &str, value| BlkioEntry {
        major,
        minor,
        op: op.into(),
        value,
    };
    assert_eq!(
        b.io_service_bytes_recursive,
        [
            e(8, 0, "Read", 1282048),
            e(8, 0, "Write", 2195456),
            e(253, 1, "Read", 4096),
            e(253, 1, "Write", 0)
        ]
    );
    assert_eq!(
        b.io_serviced_recursive,
        [
            e(8, 0, "Read", 124),
            e(8, 0, "Write", 104),
            e(253, 1, "Read", 1),
            e(253, 1, "Write", 0)
        ]
    );

    assert_eq!(s.hugetlb["2MB"], Hugetlb::default());
    assert_eq!(oom_kills(&dir_for), Some(1));

    let v = to_value(&s);
    assert_eq!(
        v["cpu"]["usage"],
        json!({"total": 1990616867000u64, "kernel": 481157403000u64, "user": 1509459463000u64})
    );
    // runc's v2 reader has no cpuset statistics: only the never-omitted fields remain.
    assert_eq!(keys(&v["cpuset"]).len(), 9);
    assert_eq!(
        v["memory"]["usage"],
        json!({"limit": u64::MAX, "usage": 13631488, "max": 20971520, "failcnt": 0})
    );
    assert_eq!(v["memory"]["raw"]["file"], 9519104);
    assert_eq!(v["pids"], json!({"current": 5, "limit": 100}));
    assert_eq!(
        v["blkio"]["ioServiceBytesRecursive"][3],
        json!({"major": 253, "minor": 1, "op": "Write"})
    );
    assert_eq!(v["hugetlb"], json!({"2MB": {"failcnt": 0}}));
}

#[test]
fn v2_controllers_not_enabled_stay_zero() {
    // A cgroup whose parent enables no controllers: only the core files exist.
    let t = Tree::new("v2-bare");
    let d = t.dir(
        "c",
        &[
            (
                "cpu.stat",
                "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n",
            ),
            ("cgroup.procs", "10\n11\n"),
        ],
    );
    let dir_for = |_: &str| Some((d.clone(), true));
    let s = collect(&dir_for).unwrap();
    assert_eq!(s.cpu.usage.total, 1_000_000);
    assert_eq!(s.memory.usage.usage, 0);
    assert!(s.memory.raw.is_empty());
    // Without the pids controller the processes are counted, as runc does.
    assert_eq!((s.pids.current, s.pids.limit), (2, 0));
    assert!(s.blkio.io_service_bytes_recursive.is_empty());
    assert!(s.hugetlb.is_empty());
    assert_eq!(oom_kills(&dir_for), None);
}

#[test]
fn v2_swap_limit_adds_memory_limit() {
    let t = Tree::new("v2-swap");
    let d = t.dir(
        "c",
        &[
            ("memory.stat", "anon 0\nfile 0\n"),
            ("memory.current", "1000\n"),
            ("memory.max", "268435456\n"),
            ("memory.swap.current", "24\n"),
            ("memory.swap.max", "268435456\n"),
        ],
    );
    let dir_for = |c: &str| (c == "memory").then(|| (d.clone(), true));
    let s = collect(&dir_for).unwrap();
    assert_eq!(s.memory.usage.max, 0); // no memory.peak on this kernel
    assert_eq!(
        (s.memory.swap.usage, s.memory.swap.limit),
        (1024, 536870912)
    );
}

#[test]
fn empty_stats_match_runc_shape() {
    let s = collect(&|_: &str| None).unwrap();
    assert_eq!(
        to_value(&s),
        json!({
            "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": {
                "cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0
            },
            "memory": {
                "usage": {"limit": 0, "failcnt": 0},
                "swap": {"limit": 0, "failcnt": 0},
                "kernel": {"limit": 0, "failcnt": 0},
                "kernelTCP": {"limit": 0, "failcnt": 0}
            },
            "pids": {},
            "blkio": {},
            "hugetlb": {},
            "intel_rdt": {},
            "network_interfaces": null
        })
    );
    // Field order is part of the shape too: Go writes fields in declaration order.
    let text = serde_json::to_string(&s).unwrap();
    let order = [
        "\"cpu\"",
        "\"cpuset\"",
        "\"memory\"",
        "\"pids\"",
        "\"blkio\"",
        "\"hugetlb\"",
        "\"intel_rdt\"",
        "\"network_interfaces\"",
    ];
    let pos: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn events_serialise_like_runc() {
    let oom = Event {
        r#type: "oom",
        id: "c1",
        data: None,
    };
    assert_eq!(
        serde_json::to_string(&oom).unwrap(),
        r#"{"type":"oom","id":"c1"}"#
    );
    let s = Stats::default();
    let ev = serde_json::to_value(Event {
        r#type: "stats",
        id: "c1",
        data: Some(&s),
    })
    .unwrap();
    assert_eq!(keys(&ev), set(&["type", "id", "data"]));
    assert_eq!(ev["data"]["pids"], json!({}));
}

#[test]
fn missing_or_bad_files_are_named_in_errors() {
    let t = Tree::new("errors");
    // A v1 memory cgroup without memory.usage_in_bytes.
    let d = t.dir("memory", &[("memory.stat", "cache 1\n")]);
    let dir_for = |c: &str| (c == "memory").then(|| (d.clone(), false));
    let e = format!("{:#}", collect(&dir_for).unwrap_err());
    assert!(e.contains("memory.usage_in_bytes"), "{e}");

    let d = t.dir("cpuacct", &[("cpuacct.usage", "12x\n")]);
    let dir_for = |c: &str| (c == "cpuacct").then(|| (d.clone(), false));
    let e = format!("{:#}", collect(&dir_for).unwrap_err());
    assert!(e.contains("cpuacct.usage") && e.contains("12x"), "{e}");

    let d = t.dir("io", &[("io.stat", "8-0 rbytes=1\n")]);
    let dir_for = |c: &str| (c == "blkio").then(|| (d.clone(), true));
    let e = format!("{:#}", collect(&dir_for).unwrap_err());
    assert!(e.contains("io.stat"), "{e}");
}

#[test]
fn parses_numbers_and_lists_like_runc() {
    assert_eq!(parse_num("max\n"), Some(u64::MAX));
    assert_eq!(parse_num("-4096"), Some(0));
    assert_eq!(parse_num("18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_num("x"), None);
    let p = Path::new("/x");
    assert_eq!(
        parse_list(p, "f", "0-2,4,6-7\n").unwrap(),
        [0, 1, 2, 4, 6, 7]
    );
    assert_eq!(parse_list(p, "f", "\n").unwrap(), Vec::<u16>::new());
    assert!(parse_list(p, "f", "3-1").is_err());
    assert!(parse_list(p, "f", "a").is_err());
}

/// Reads this host's root v1 cgroups (read-only) to prove the readers work on real kernel files.
#[test]
fn reads_real_root_v1_cgroups() {
    let root = Path::new("/sys/fs/cgroup");
    let v1 = |c: &str| {
        let d = root.join(c);
        // A v1 controller mount has its own files at the root.
        let marker = match c {
            "memory" => "memory.stat",
            "cpuacct" => "cpuacct.usage",
            "pids" => "cgroup.procs",
            _ => return None,
        };
        d.join(marker).exists().then_some((d, false))
    };
    if v1("memory").is_none() || v1("cpuacct").is_none() {
        eprintln!("no v1 memory/cpuacct hierarchy on this host; skipped");
        return;
    }
    let s = collect(&v1).unwrap();
    assert!(s.cpu.usage.total > 0);
    assert!(!s.cpu.usage.percpu.is_empty());
    assert!(s.memory.usage.usage > 0);
    assert!(!s.memory.raw.is_empty());
    if v1("pids").is_some() {
        assert!(s.pids.current > 0);
    }
    assert!(oom_kills(&v1).is_some());
    let v = to_value(&s);
    assert!(v["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    assert!(v["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
}
