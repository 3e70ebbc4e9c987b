//! The per-controller readers: v1 files as they are, v2 files converted to the v1 meaning.

use super::*;

// ---- cpu ----

pub(super) fn cpu_v2(dir: &Path, cpu: &mut Cpu) -> Result<()> {
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

pub(super) fn throttling_v1(dir: &Path, t: &mut Throttling) -> Result<()> {
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

pub(super) fn cpuacct_v1(dir: &Path, u: &mut CpuUsage) -> Result<()> {
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
pub(super) fn clock_ticks() -> u64 {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK);
    hz.ok()
        .flatten()
        .and_then(|h| u64::try_from(h).ok())
        .filter(|&h| h > 0)
        .unwrap_or(100)
}

// ---- cpuset (v1) ----

pub(super) fn cpuset_v1(dir: &Path, c: &mut CpuSet) -> Result<()> {
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

pub(super) fn memory_v1(dir: &Path, mem: &mut Memory) -> Result<()> {
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
pub(super) fn memory_entry_v1(dir: &Path, prefix: &str) -> Result<Option<MemoryEntry>> {
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

pub(super) fn memory_v2(dir: &Path, mem: &mut Memory) -> Result<()> {
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

pub(super) fn pids(dir: &Path, p: &mut Pids) -> Result<()> {
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
pub(super) enum Table {
    ServiceBytes,
    Serviced,
    Queued,
    ServiceTime,
    WaitTime,
    Merged,
    Time,
    Sectors,
}

pub(super) fn table(b: &mut Blkio, t: Table) -> &mut Vec<BlkioEntry> {
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

pub(super) fn blkio_v1(dir: &Path, b: &mut Blkio) -> Result<()> {
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
pub(super) fn blkio_v1_file(dir: &Path, file: &str) -> Result<Vec<BlkioEntry>> {
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
pub(super) fn io_v2(dir: &Path, b: &mut Blkio) -> Result<()> {
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
pub(super) fn hugetlb(dir: &Path, v2: bool, out: &mut BTreeMap<String, Hugetlb>) -> Result<()> {
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
