//! Container resource statistics for `rt events`, read from cgroup v1 and v2 files and serialised
//! in the JSON shape of runc 1.1 (`types/events.go`), so that tools which parse `runc events`
//! (containerd's runc shim, monitoring agents) read ours unchanged.
//!
//! Each controller is read on its own because hybrid hosts mix versions (v1 memory next to v2
//! hugetlb). Values follow runc's readers: v1 files as they are, v2 files converted to the v1
//! meaning (microseconds to nanoseconds, io.stat to blkio tables, swap reported as memory+swap).

mod readers;
#[cfg(test)]
mod tests;

use anyhow::{anyhow, Context, Result};
use readers::*;
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

pub(super) fn is_zero(v: &u64) -> bool {
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

pub(super) fn read(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))
}

/// None when the file does not exist; any other failure is an error.
pub(super) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    let p = dir.join(file);
    match std::fs::read_to_string(&p) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
    }
}

/// A cgroup number as runc reads it: "max" is u64::MAX, and a negative value is 0 because some
/// kernels let memory counters dip below zero.
pub(super) fn parse_num(s: &str) -> Option<u64> {
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

pub(super) fn num(dir: &Path, file: &str, text: &str) -> Result<u64> {
    parse_num(text).ok_or_else(|| {
        anyhow!(
            "{}: cannot parse {:?} as a number",
            dir.join(file).display(),
            text.trim()
        )
    })
}

pub(super) fn read_num(dir: &Path, file: &str) -> Result<u64> {
    num(dir, file, &read(dir, file)?)
}

pub(super) fn read_num_opt(dir: &Path, file: &str) -> Result<Option<u64>> {
    read_opt(dir, file)?.map(|t| num(dir, file, &t)).transpose()
}

/// A flat keyed file ("key value" lines: memory.stat, cpu.stat, memory.events, …).
pub(super) fn keyed(dir: &Path, file: &str, text: &str) -> Result<BTreeMap<String, u64>> {
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
pub(super) fn parse_list(dir: &Path, file: &str, text: &str) -> Result<Vec<u16>> {
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
