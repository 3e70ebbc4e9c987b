//! Unit properties: those every container unit gets, and linux.resources translated as runc's
//! systemd drivers translate them (opencontainers/cgroups systemd/v1.go genV1ResourcesProperties,
//! v2.go genV2ResourcesProperties and unifiedResToSystemdProps, common.go addCPUQuota and
//! addCpuset). systemd writes these to the cgroup itself and re-applies them on daemon-reload, so
//! they must agree with what the fs path writes.
//!
//! A value the fs path would refuse (a swap limit below the memory limit, a malformed cpuset) is
//! left out here rather than failing: the fs path then reports it with its own error.

use super::dbus::{Type, Value};
use super::unit::ScopeName;
use oci_spec::runtime::LinuxResources;

/// One (sv) of StartTransientUnit or SetUnitProperties.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: Value,
}

impl Property {
    pub fn new(name: &str, value: Value) -> Property {
        Property {
            name: name.to_string(),
            value,
        }
    }

    fn u64(name: &str, v: u64) -> Property {
        Property::new(name, Value::U64(v))
    }

    fn bool(name: &str, v: bool) -> Property {
        Property::new(name, Value::Bool(v))
    }
}

/// The a(sv) D-Bus value of a property list.
pub fn to_array(props: &[Property]) -> Value {
    Value::Array(
        Type::Struct(vec![Type::Str, Type::Variant]),
        props
            .iter()
            .map(|p| {
                Value::Struct(vec![
                    Value::Str(p.name.clone()),
                    Value::variant(p.value.clone()),
                ])
            })
            .collect(),
    )
}

/// systemd's "infinity" for limits and quotas (USEC_INFINITY, CGROUP_LIMIT_MAX).
const INFINITY: u64 = u64::MAX;
/// The kernel's default CFS period, for a quota given without one.
const DEFAULT_CPU_PERIOD: u64 = 100_000;
/// systemd's CPU_SET_MAX_NCPU: a larger cpuset is refused rather than allocated.
const MAX_CPUSET_BIT: u32 = 8192;

/// The properties every container unit is started with (runc's Apply in v1.go and v2.go): a
/// scope goes into its slice with delegation (so rt may manage the cgroup below it), a slice
/// container merely wants its parent; accounting is on so every controller is enabled; and
/// DefaultDependencies=no keeps the unit out of shutdown ordering.
pub fn unit_properties(name: &ScopeName, pid: i32, unified: bool) -> Vec<Property> {
    let mut p = vec![Property::new(
        "Description",
        Value::Str(format!("rt container {}", name.unit)),
    )];
    if name.unit.ends_with(".slice") {
        p.push(Property::new(
            "Wants",
            Value::Array(Type::Str, vec![Value::Str(name.slice.clone())]),
        ));
    } else {
        p.push(Property::new("Slice", Value::Str(name.slice.clone())));
        p.push(Property::bool("Delegate", true));
    }
    if pid > 0 {
        p.push(Property::new(
            "PIDs",
            Value::Array(Type::U32, vec![Value::U32(pid as u32)]),
        ));
    }
    let io = if unified {
        "IOAccounting"
    } else {
        "BlockIOAccounting"
    };
    for a in ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"] {
        p.push(Property::bool(a, true));
    }
    p.push(Property::bool("DefaultDependencies", false));
    p
}

/// linux.resources as unit properties, for cgroup v2 (`v2`) or v1. Device rules are not among
/// them: rt applies those itself (v1 devices controller, v2 eBPF).
pub fn resource_properties(r: &LinuxResources, v2: bool) -> Vec<Property> {
    let mut p = Vec::new();
    let mem = r.memory().as_ref();
    let cpu = r.cpu().as_ref();
    let limit = mem.and_then(|m| m.limit()).unwrap_or(0);
    if v2 {
        if let Some(v) = as_limit(limit) {
            p.push(Property::u64("MemoryMax", v));
        }
        if let Some(v) = as_limit(mem.and_then(|m| m.reservation()).unwrap_or(0)) {
            p.push(Property::u64("MemoryLow", v));
        }
        let swap = mem.and_then(|m| m.swap()).unwrap_or(0);
        if let Some(v) = swap_v2(swap, limit).and_then(as_limit) {
            p.push(Property::u64("MemorySwapMax", v));
        }
        if let Some(w) = cpu.and_then(|c| c.shares()).map(shares_to_weight) {
            if w != 0 {
                p.push(Property::u64("CPUWeight", w));
            }
        }
    } else {
        if let Some(v) = as_limit(limit) {
            p.push(Property::u64("MemoryLimit", v));
        }
        if let Some(s) = cpu.and_then(|c| c.shares()).filter(|s| *s != 0) {
            p.push(Property::u64("CPUShares", s));
        }
    }
    cpu_quota(
        &mut p,
        cpu.and_then(|c| c.quota()).unwrap_or(0),
        cpu.and_then(|c| c.period()).unwrap_or(0),
    );
    if !v2 {
        if let Some(w) = r
            .block_io()
            .as_ref()
            .and_then(|b| b.weight())
            .filter(|w| *w != 0)
        {
            p.push(Property::u64("BlockIOWeight", u64::from(w)));
        }
    }
    if let Some(l) = r.pids().as_ref().map(|p| p.limit()) {
        if l > 0 || l == -1 {
            p.push(Property::u64("TasksMax", l as u64));
        }
    }
    cpuset(&mut p, "AllowedCPUs", cpu.and_then(|c| c.cpus().as_deref()));
    cpuset(
        &mut p,
        "AllowedMemoryNodes",
        cpu.and_then(|c| c.mems().as_deref()),
    );
    if v2 {
        if let Some(u) = r.unified() {
            let mut keys: Vec<_> = u.iter().collect();
            keys.sort();
            for (k, v) in keys {
                unified(&mut p, k, v.trim());
            }
        }
    }
    p
}

/// A byte limit as systemd takes it: -1 (unlimited) is infinity; 0 (unset) and other negative
/// values (invalid) give no property.
fn as_limit(v: i64) -> Option<u64> {
    match v {
        -1 => Some(INFINITY),
        v if v > 0 => Some(v as u64),
        _ => None,
    }
}

/// OCI's swap is memory+swap; cgroup v2's is swap alone (runc's
/// ConvertMemorySwapToCgroupV2Value). None for a combination the fs path refuses.
fn swap_v2(swap: i64, memory: i64) -> Option<i64> {
    match (swap, memory) {
        // Unlimited memory with swap unset: unlimited swap too, as on v1.
        (0, -1) => Some(-1),
        (-1 | 0, _) => Some(swap),
        (_, m) if m <= 0 || swap < m => None,
        _ => Some(swap - memory),
    }
}

/// cpu.shares (v1, 2..262144) to cpu.weight (v2, 1..10000) as current runc converts it: a
/// quadratic in log2(shares) that maps 2, 1024 and 262144 onto 1, 100 and 10000.
fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// CPUQuotaPeriodUSec and CPUQuotaPerSecUSec. systemd keeps the quota as a whole percentage of
/// a CPU, so it is rounded up to 10 ms per second, as runc does. (runc also writes the rounded
/// quota back to cgroupfs so both agree; the caller's fs path should do the same.)
fn cpu_quota(p: &mut Vec<Property>, quota: i64, period: u64) {
    if period != 0 {
        p.push(Property::u64("CPUQuotaPeriodUSec", period));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = INFINITY;
    if quota > 0 {
        let period = if period == 0 {
            DEFAULT_CPU_PERIOD
        } else {
            period
        };
        per_sec = (quota as u64).saturating_mul(1_000_000) / period;
        per_sec = per_sec.div_ceil(10_000).saturating_mul(10_000);
    }
    p.push(Property::u64("CPUQuotaPerSecUSec", per_sec));
}

fn cpuset(p: &mut Vec<Property>, name: &str, list: Option<&str>) {
    if let Some(bits) = list.filter(|l| !l.is_empty()).and_then(range_to_bits) {
        p.push(Property::new(
            name,
            Value::Array(Type::Byte, bits.into_iter().map(Value::Byte).collect()),
        ));
    }
}

/// A cpuset list ("0-3,8") as the bitmap systemd takes for AllowedCPUs: bit n in byte n/8, least
/// significant first, no trailing zero bytes (runc's RangeToBits since it was fixed to match
/// systemd's cpu_set_from_dbus).
fn range_to_bits(list: &str) -> Option<Vec<u8>> {
    let mut bits: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (start, end) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if start > end || end >= MAX_CPUSET_BIT {
            return None;
        }
        for n in start..=end {
            let byte = (n / 8) as usize;
            if bits.len() <= byte {
                bits.resize(byte + 1, 0);
            }
            bits[byte] |= 1 << (n % 8);
        }
    }
    (!bits.is_empty()).then_some(bits)
}

/// One linux.resources.unified entry, for the keys runc's unifiedResToSystemdProps knows.
/// cpu.idle is not among them: systemd takes it as CPUWeight=idle only from v252 on, and
/// without asking systemd its version the fs path is the safe one for it.
fn unified(p: &mut Vec<Property>, key: &str, v: &str) {
    let max_or = |v: &str| {
        if v == "max" {
            Some(INFINITY)
        } else {
            v.parse::<u64>().ok()
        }
    };
    match key {
        "cpu.weight" => {
            if let Ok(w) = v.parse::<u64>() {
                p.push(Property::u64("CPUWeight", w));
            }
        }
        "cpu.max" => {
            let f: Vec<&str> = v.split_whitespace().collect();
            let quota = match f.first() {
                Some(&"max") => Some(0),
                Some(q) => q.parse::<i64>().ok(),
                None => None,
            };
            let period = match f.get(1) {
                Some(x) => x.parse::<u64>().ok(),
                None => Some(DEFAULT_CPU_PERIOD),
            };
            if let (Some(q), Some(per), true) = (quota, period, f.len() <= 2) {
                cpu_quota(p, q, per);
            }
        }
        "cpuset.cpus" => cpuset(p, "AllowedCPUs", Some(v)),
        "cpuset.mems" => cpuset(p, "AllowedMemoryNodes", Some(v)),
        "memory.high" | "memory.low" | "memory.min" | "memory.max" | "memory.swap.max" => {
            let name = match key {
                "memory.high" => "MemoryHigh",
                "memory.low" => "MemoryLow",
                "memory.min" => "MemoryMin",
                "memory.max" => "MemoryMax",
                _ => "MemorySwapMax",
            };
            if let Some(n) = max_or(v) {
                p.push(Property::u64(name, n));
            }
        }
        "pids.max" => {
            if let Some(n) = max_or(v) {
                p.push(Property::u64("TasksMax", n));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
