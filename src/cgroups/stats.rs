//! Container resource statistics for `rt events`, read from cgroup v1 and v2 files and serialised
//! in the JSON shape of runc 1.1 (`types/events.go`), so that tools which parse `runc events`
//! (containerd's runc shim, monitoring agents) read ours unchanged.
//!
//! Each controller is read on its own because hybrid hosts mix versions (v1 memory next to v2
//! hugetlb). Values follow runc's readers: v1 files as they are, v2 files converted to the v1
//! meaning (microseconds to nanoseconds, io.stat to blkio tables, swap reported as memory+swap).

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// One line of `rt events` output: `{"type":"stats","id":…,"data":{…}}`, or `{"type":"oom","id":…}`
/// (runc leaves `data` out when there is none).
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub r#type: &'a str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a Stats>,
}

// The field order, the JSON names and which fields are left out when zero/empty copy runc's
// `json:",omitempty"` tags. Go never omits a struct-valued field, so those are always written.

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// By page size name ("2MB", "1GB"); runc always writes the map, `{}` when empty. A BTreeMap
    /// because Go's encoder writes map keys sorted.
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// rt has no Intel RDT support; runc writes `{}` when RDT is not in use.
    pub intel_rdt: IntelRdt,
    /// runc fills this only for its own veth network strategy, which the OCI path never sets up,
    /// so `runc events` always writes `null` here; `()` serialises as exactly that.
    pub network_interfaces: (),
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// All in nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// Memory plus swap, as v1's memsw counts it (v2 values are added up to match).
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// Every line of memory.stat.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// "ioQueueRecursive" (not "Queued") is runc's spelling.
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(
        rename = "ioServiceTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 only: v2 has no such counter).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct IntelRdt {}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The controller's cgroup directory and whether it is v2, or None when it has none.
pub type DirFor<'a> = &'a dyn Fn(&str) -> Option<(PathBuf, bool)>;

/// Read every controller's statistics. A controller without a directory stays zero; on v2 a
/// controller whose files are absent (not enabled for this cgroup) stays zero too, as runc does.
pub fn collect(dir_for: DirFor) -> Result<Stats> {
    let mut s = Stats::default();

    // v2 has no cpuacct: cpu.stat carries both usage and throttling.
    let cpu = dir_for("cpu");
    match &cpu {
        Some((d, true)) => cpu_v2(d, &mut s.cpu)?,
        Some((d, false)) => throttling_v1(d, &mut s.cpu.throttling)?,
        None => {}
    }
    match dir_for("cpuacct") {
        Some((d, false)) => cpuacct_v1(&d, &mut s.cpu.usage)?,
        Some((d, true)) if cpu.is_none() => cpu_v2(&d, &mut s.cpu)?,
        _ => {}
    }
    // runc's v2 reader reports no cpuset statistics.
    if let Some((d, false)) = dir_for("cpuset") {
        cpuset_v1(&d, &mut s.cpuset)?;
    }
    match dir_for("memory") {
        Some((d, true)) => memory_v2(&d, &mut s.memory)?,
        Some((d, false)) => memory_v1(&d, &mut s.memory)?,
        None => {}
    }
    if let Some((d, _)) = dir_for("pids") {
        pids(&d, &mut s.pids)?;
    }
    match dir_for("blkio") {
        Some((d, true)) => io_v2(&d, &mut s.blkio)?,
        Some((d, false)) => blkio_v1(&d, &mut s.blkio)?,
        None => {}
    }
    match dir_for("hugetlb") {
        Some((d, true)) => hugetlb(&d, true, &mut s.hugetlb)?,
        Some((d, false)) => hugetlb(&d, false, &mut s.hugetlb)?,
        None => {}
    }
    Ok(s)
}

/// How many processes the kernel's OOM killer has killed in the container's memory cgroup, so
/// that `rt events` can emit an `oom` event whenever it grows. None when unknown (no memory
/// controller, or a kernel older than 4.13 without the counter).
pub fn oom_kills(dir_for: DirFor) -> Option<u64> {
    let (dir, v2) = dir_for("memory")?;
    let file = if v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    };
    let text = read_opt(&dir, file).ok()??;
    keyed(&dir, file, &text).ok()?.get("oom_kill").copied()
}

// ---- file access and parsing ----

fn read(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))
}

/// None when the file does not exist; any other failure is an error.
fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    let p = dir.join(file);
    match std::fs::read_to_string(&p) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
    }
}

/// A cgroup number as runc reads it: "max" is u64::MAX, and a negative value is 0 because some
/// kernels let memory counters dip below zero.
fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    if let Ok(v) = s.parse::<u64>() {
        return Some(v);
    }
    match s.parse::<i64>() {
        Ok(v) if v < 0 => Some(0),
        _ => None,
    }
}

fn num(dir: &Path, file: &str, text: &str) -> Result<u64> {
    parse_num(text).ok_or_else(|| {
        anyhow!(
            "{}: cannot parse {:?} as a number",
            dir.join(file).display(),
            text.trim()
        )
    })
}

fn read_num(dir: &Path, file: &str) -> Result<u64> {
    num(dir, file, &read(dir, file)?)
}

fn read_num_opt(dir: &Path, file: &str) -> Result<Option<u64>> {
    read_opt(dir, file)?.map(|t| num(dir, file, &t)).transpose()
}

/// A flat keyed file ("key value" lines: memory.stat, cpu.stat, memory.events, …).
fn keyed(dir: &Path, file: &str, text: &str) -> Result<BTreeMap<String, u64>> {
    let mut m = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        match (f.next(), f.next(), f.next()) {
            (Some(k), Some(v), None) => {
                m.insert(k.to_string(), num(dir, file, v)?);
            }
            _ => {
                return Err(anyhow!(
                    "{}: malformed line {line:?}",
                    dir.join(file).display()
                ))
            }
        }
    }
    Ok(m)
}

/// A cpu or node list ("0-3,8,10-11").
fn parse_list(dir: &Path, file: &str, text: &str) -> Result<Vec<u16>> {
    let bad = || {
        anyhow!(
            "{}: malformed list {:?}",
            dir.join(file).display(),
            text.trim()
        )
    };
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

// ---- cpu ----

fn cpu_v2(dir: &Path, cpu: &mut Cpu) -> Result<()> {
    let Some(text) = read_opt(dir, "cpu.stat")? else {
        return Ok(());
    };
    let m = keyed(dir, "cpu.stat", &text)?;
    let us = |k: &str| m.get(k).map_or(0, |v| v.saturating_mul(1000));
    cpu.usage.total = us("usage_usec");
    cpu.usage.user = us("user_usec");
    cpu.usage.kernel = us("system_usec");
    cpu.throttling.periods = m.get("nr_periods").copied().unwrap_or(0);
    cpu.throttling.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
    cpu.throttling.throttled_time = us("throttled_usec");
    Ok(())
}

fn throttling_v1(dir: &Path, t: &mut Throttling) -> Result<()> {
    // Absent when the kernel lacks CFS bandwidth control.
    let Some(text) = read_opt(dir, "cpu.stat")? else {
        return Ok(());
    };
    let m = keyed(dir, "cpu.stat", &text)?;
    t.periods = m.get("nr_periods").copied().unwrap_or(0);
    t.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
    t.throttled_time = m.get("throttled_time").copied().unwrap_or(0);
    Ok(())
}

fn cpuacct_v1(dir: &Path, u: &mut CpuUsage) -> Result<()> {
    u.total = read_num(dir, "cpuacct.usage")?;

    let f = "cpuacct.usage_percpu";
    u.percpu = read(dir, f)?
        .split_whitespace()
        .map(|v| num(dir, f, v))
        .collect::<Result<_>>()?;

    // cpuacct.stat counts clock ticks (USER_HZ).
    let f = "cpuacct.stat";
    let m = keyed(dir, f, &read(dir, f)?)?;
    let hz = clock_ticks();
    let ns = |k: &str| -> Result<u64> {
        let ticks = *m
            .get(k)
            .ok_or_else(|| anyhow!("{}: no {k:?} line", dir.join(f).display()))?;
        Ok(u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(hz)).unwrap_or(u64::MAX))
    };
    u.user = ns("user")?;
    u.kernel = ns("system")?;

    // Since Linux 4.16: a "cpu user system" header, then one line of nanoseconds per CPU.
    let f = "cpuacct.usage_all";
    if let Some(text) = read_opt(dir, f)? {
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if let [_, user, system] = cols[..] {
                u.percpu_user.push(num(dir, f, user)?);
                u.percpu_kernel.push(num(dir, f, system)?);
            }
        }
    }
    Ok(())
}

/// USER_HZ, the unit of cpuacct.stat; 100 on every architecture containers run on.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a constant of the C library.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100)
}

// ---- cpuset (v1) ----

fn cpuset_v1(dir: &Path, c: &mut CpuSet) -> Result<()> {
    // runc skips any of these files that the kernel lacks.
    if let Some(t) = read_opt(dir, "cpuset.cpus")? {
        c.cpus = parse_list(dir, "cpuset.cpus", &t)?;
    }
    if let Some(t) = read_opt(dir, "cpuset.mems")? {
        c.mems = parse_list(dir, "cpuset.mems", &t)?;
    }
    for (file, slot) in [
        ("cpuset.cpu_exclusive", &mut c.cpu_exclusive),
        ("cpuset.mem_hardwall", &mut c.mem_hardwall),
        ("cpuset.mem_exclusive", &mut c.mem_exclusive),
        ("cpuset.memory_migrate", &mut c.memory_migrate),
        ("cpuset.memory_spread_page", &mut c.memory_spread_page),
        ("cpuset.memory_spread_slab", &mut c.memory_spread_slab),
        ("cpuset.memory_pressure", &mut c.memory_pressure),
        ("cpuset.sched_load_balance", &mut c.sched_load_balance),
    ] {
        if let Some(v) = read_num_opt(dir, file)? {
            *slot = v;
        }
    }
    // Signed: -1 means "use the system default".
    let f = "cpuset.sched_relax_domain_level";
    if let Some(t) = read_opt(dir, f)? {
        c.sched_relax_domain_level = t.trim().parse().map_err(|_| {
            anyhow!(
                "{}: cannot parse {:?} as a number",
                dir.join(f).display(),
                t.trim()
            )
        })?;
    }
    Ok(())
}

// ---- memory ----

fn memory_v1(dir: &Path, mem: &mut Memory) -> Result<()> {
    mem.raw = keyed(dir, "memory.stat", &read(dir, "memory.stat")?)?;
    mem.cache = mem.raw.get("cache").copied().unwrap_or(0);
    mem.usage = memory_entry_v1(dir, "memory")?.unwrap_or_default();
    // Swap accounting and kernel memory accounting are optional in the kernel.
    mem.swap = memory_entry_v1(dir, "memory.memsw")?.unwrap_or_default();
    mem.kernel = memory_entry_v1(dir, "memory.kmem")?.unwrap_or_default();
    mem.kernel_tcp = memory_entry_v1(dir, "memory.kmem.tcp")?.unwrap_or_default();
    Ok(())
}

/// `<prefix>.usage_in_bytes` and its siblings; None when an optional set (memsw, kmem) is absent.
fn memory_entry_v1(dir: &Path, prefix: &str) -> Result<Option<MemoryEntry>> {
    let file = format!("{prefix}.usage_in_bytes");
    let usage = if prefix == "memory" {
        read_num(dir, &file)?
    } else {
        match read_num_opt(dir, &file)? {
            Some(v) => v,
            None => return Ok(None),
        }
    };
    // Newer kernels dropped some kmem knobs while keeping its usage, so only the main set is
    // required in full.
    let get = |name: &str| -> Result<u64> {
        let file = format!("{prefix}.{name}");
        if prefix == "memory" {
            read_num(dir, &file)
        } else {
            Ok(read_num_opt(dir, &file)?.unwrap_or(0))
        }
    };
    Ok(Some(MemoryEntry {
        usage,
        max: get("max_usage_in_bytes")?,
        failcnt: get("failcnt")?,
        limit: get("limit_in_bytes")?,
    }))
}

fn memory_v2(dir: &Path, mem: &mut Memory) -> Result<()> {
    // No memory.stat: the memory controller is not enabled for this cgroup.
    let Some(text) = read_opt(dir, "memory.stat")? else {
        return Ok(());
    };
    mem.raw = keyed(dir, "memory.stat", &text)?;
    mem.cache = mem.raw.get("file").copied().unwrap_or(0);
    mem.usage = MemoryEntry {
        usage: read_num(dir, "memory.current")?,
        limit: read_num(dir, "memory.max")?,
        // memory.peak exists since Linux 5.19.
        max: read_num_opt(dir, "memory.peak")?.unwrap_or(0),
        failcnt: 0,
    };
    // Without swap accounting there are no memory.swap.* files.
    if let Some(swap) = read_num_opt(dir, "memory.swap.current")? {
        let limit = read_num(dir, "memory.swap.max")?;
        // v1's memsw counts memory plus swap; v2's swap files count swap alone.
        mem.swap = MemoryEntry {
            usage: swap.saturating_add(mem.usage.usage),
            limit: if limit == u64::MAX {
                limit
            } else {
                limit.saturating_add(mem.usage.limit)
            },
            max: 0,
            failcnt: 0,
        };
    }
    Ok(())
}

// ---- pids ----

fn pids(dir: &Path, p: &mut Pids) -> Result<()> {
    let Some(current) = read_num_opt(dir, "pids.current")? else {
        // The controller is off for this cgroup (or it is a root cgroup): count the processes.
        let procs = read(dir, "cgroup.procs")?;
        p.current = procs.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        return Ok(());
    };
    p.current = current;
    let text = read(dir, "pids.max")?;
    // "max" (no limit) is reported as 0, not u64::MAX.
    p.limit = if text.trim() == "max" {
        0
    } else {
        num(dir, "pids.max", &text)?
    };
    Ok(())
}

// ---- blkio / io ----

#[derive(Clone, Copy)]
enum Table {
    ServiceBytes,
    Serviced,
    Queued,
    ServiceTime,
    WaitTime,
    Merged,
    Time,
    Sectors,
}

fn table(b: &mut Blkio, t: Table) -> &mut Vec<BlkioEntry> {
    match t {
        Table::ServiceBytes => &mut b.io_service_bytes_recursive,
        Table::Serviced => &mut b.io_serviced_recursive,
        Table::Queued => &mut b.io_queued_recursive,
        Table::ServiceTime => &mut b.io_service_time_recursive,
        Table::WaitTime => &mut b.io_wait_time_recursive,
        Table::Merged => &mut b.io_merged_recursive,
        Table::Time => &mut b.io_time_recursive,
        Table::Sectors => &mut b.sectors_recursive,
    }
}

/// Which v1 files fill the tables depends on the I/O scheduler and kernel options. As runc does,
/// the first set whose first file has any entries is used: BFQ with debug statistics, BFQ, CFQ,
/// then the throttling layer's counters (which every kernel has).
const BLKIO_V1_SETS: &[&[(&str, Table)]] = &[
    &[
        ("blkio.bfq.sectors_recursive", Table::Sectors),
        ("blkio.bfq.io_service_time_recursive", Table::ServiceTime),
        ("blkio.bfq.io_wait_time_recursive", Table::WaitTime),
        ("blkio.bfq.io_merged_recursive", Table::Merged),
        ("blkio.bfq.io_queued_recursive", Table::Queued),
        ("blkio.bfq.time_recursive", Table::Time),
        ("blkio.bfq.io_serviced_recursive", Table::Serviced),
        ("blkio.bfq.io_service_bytes_recursive", Table::ServiceBytes),
    ],
    &[
        ("blkio.bfq.io_serviced_recursive", Table::Serviced),
        ("blkio.bfq.io_service_bytes_recursive", Table::ServiceBytes),
    ],
    &[
        ("blkio.sectors_recursive", Table::Sectors),
        ("blkio.io_service_time_recursive", Table::ServiceTime),
        ("blkio.io_wait_time_recursive", Table::WaitTime),
        ("blkio.io_merged_recursive", Table::Merged),
        ("blkio.io_queued_recursive", Table::Queued),
        ("blkio.time_recursive", Table::Time),
        ("blkio.io_serviced_recursive", Table::Serviced),
        ("blkio.io_service_bytes_recursive", Table::ServiceBytes),
    ],
    &[
        ("blkio.throttle.io_serviced_recursive", Table::Serviced),
        (
            "blkio.throttle.io_service_bytes_recursive",
            Table::ServiceBytes,
        ),
    ],
    &[
        ("blkio.throttle.io_serviced", Table::Serviced),
        ("blkio.throttle.io_service_bytes", Table::ServiceBytes),
    ],
];

fn blkio_v1(dir: &Path, b: &mut Blkio) -> Result<()> {
    for set in BLKIO_V1_SETS {
        let (first, t) = set[0];
        let entries = blkio_v1_file(dir, first)?;
        if entries.is_empty() {
            continue;
        }
        *table(b, t) = entries;
        for &(file, t) in &set[1..] {
            *table(b, t) = blkio_v1_file(dir, file)?;
        }
        break;
    }
    Ok(())
}

/// Lines "8:0 Read 1282048" or, for sectors and time, "8:0 6792"; the "Total N" line is a sum.
/// A missing file has no entries.
fn blkio_v1_file(dir: &Path, file: &str) -> Result<Vec<BlkioEntry>> {
    let Some(text) = read_opt(dir, file)? else {
        return Ok(Vec::new());
    };
    let bad = |line: &str| anyhow!("{}: malformed line {line:?}", dir.join(file).display());
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dev, op, value) = match f[..] {
            [] | ["Total", _] => continue,
            [dev, value] => (dev, "", value),
            [dev, op, value] => (dev, op, value),
            _ => return Err(bad(line)),
        };
        let (major, minor) = dev.split_once(':').ok_or_else(|| bad(line))?;
        out.push(BlkioEntry {
            major: major.parse().map_err(|_| bad(line))?,
            minor: minor.parse().map_err(|_| bad(line))?,
            op: op.to_string(),
            value: value.parse().map_err(|_| bad(line))?,
        });
    }
    Ok(out)
}

/// io.stat lines "8:0 rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…", mapped to v1's
/// service-bytes and serviced tables with ops "Read" and "Write"; other keys have no v1 table.
fn io_v2(dir: &Path, b: &mut Blkio) -> Result<()> {
    // No io.stat: the io controller is not enabled for this cgroup.
    let Some(text) = read_opt(dir, "io.stat")? else {
        return Ok(());
    };
    let bad = |line: &str| anyhow!("{}: malformed line {line:?}", dir.join("io.stat").display());
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(dev) = f.next() else { continue };
        let (major, minor) = dev.split_once(':').ok_or_else(|| bad(line))?;
        let major: u64 = major.parse().map_err(|_| bad(line))?;
        let minor: u64 = minor.parse().map_err(|_| bad(line))?;
        for item in f {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let (t, op) = match key {
                "rbytes" => (Table::ServiceBytes, "Read"),
                "wbytes" => (Table::ServiceBytes, "Write"),
                "rios" => (Table::Serviced, "Read"),
                "wios" => (Table::Serviced, "Write"),
                _ => continue,
            };
            table(b, t).push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: value.parse().map_err(|_| bad(line))?,
            });
        }
    }
    Ok(())
}

// ---- hugetlb ----

/// The page sizes come from the cgroup's own file names (hugetlb.2MB.current), so the keys are
/// the kernel's names, the ones runc uses, and no sysfs lookup is needed.
fn hugetlb(dir: &Path, v2: bool, out: &mut BTreeMap<String, Hugetlb>) -> Result<()> {
    let usage_suffix = if v2 { ".current" } else { ".usage_in_bytes" };
    let rd = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
    let mut sizes = Vec::new();
    for entry in rd {
        let entry = entry.with_context(|| format!("read {}", dir.display()))?;
        let name = entry.file_name();
        let Some(size) = name
            .to_str()
            .and_then(|n| n.strip_prefix("hugetlb."))
            .and_then(|n| n.strip_suffix(usage_suffix))
        else {
            continue;
        };
        // Skips the reservation counters (hugetlb.2MB.rsvd.current).
        if !size.is_empty() && !size.contains('.') {
            sizes.push(size.to_string());
        }
    }
    for size in sizes {
        let p = format!("hugetlb.{size}");
        let h = if v2 {
            let events = format!("{p}.events");
            let m = keyed(dir, &events, &read(dir, &events)?)?;
            Hugetlb {
                usage: read_num(dir, &format!("{p}.current"))?,
                max: 0,
                // v2 counts allocations refused at the limit as "max" events.
                failcnt: *m
                    .get("max")
                    .ok_or_else(|| anyhow!("{}: no \"max\" line", dir.join(&events).display()))?,
            }
        } else {
            Hugetlb {
                usage: read_num(dir, &format!("{p}.usage_in_bytes"))?,
                max: read_num(dir, &format!("{p}.max_usage_in_bytes"))?,
                failcnt: read_num(dir, &format!("{p}.failcnt"))?,
            }
        };
        out.insert(size, h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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

        // The JSON, key by key as runc writes it.
        let v = to_value(&s);
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

    #[test]
    fn reads_v2_controllers() {
        let t = Tree::new("v2");
        let d = t.dir(
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
        );
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
}
