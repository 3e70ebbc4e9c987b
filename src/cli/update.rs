//! `update`: runc's flags, or a LinuxResources JSON document with `--resources FILE|-`; flags
//! override the document.

use crate::container::{self, Context};
use crate::errno::SysContext;
use anyhow::{bail, Context as _, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to a file with the resources to update (JSON, linux.resources format), or '-' for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Block IO weight (10 to 1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst in microseconds
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// Realtime period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// SCHED_IDLE for the cgroup (0 or 1)
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (ignored by kernels since 5.16)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit
    #[arg(long = "kernel-memory-tcp")]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (in bytes, or with a unit: 512m, 1g)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation or soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids; -1 for unlimited
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported");
    }
    let mut doc = match a.resources.as_deref() {
        None => json!({}),
        Some(src) => {
            let mut raw = Vec::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_end(&mut raw)
                    .sys(|| "read resources from stdin")?;
            } else {
                raw = std::fs::read(src).sys(|| format!("read {src}"))?;
            }
            serde_json::from_slice(&raw).with_context(|| format!("parse resources from {src}"))?
        }
    };
    let mut set = |block: &str, field: &str, v: Value| {
        doc[block][field] = v;
    };
    for (flag, field, val) in [
        ("memory", "limit", &a.memory),
        ("memory-reservation", "reservation", &a.memory_reservation),
        ("memory-swap", "swap", &a.memory_swap),
        ("kernel-memory", "kernel", &a.kernel_memory),
        ("kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(v) = val {
            set(
                "memory",
                field,
                json!(ram_in_bytes(v).with_context(|| format!("--{flag} {v:?}"))?),
            );
        }
    }
    let cpu: [(&str, Option<Value>); 9] = [
        ("shares", a.cpu_share.map(Value::from)),
        ("period", a.cpu_period.map(Value::from)),
        ("quota", a.cpu_quota.map(Value::from)),
        ("burst", a.cpu_burst.map(Value::from)),
        ("realtimePeriod", a.cpu_rt_period.map(Value::from)),
        ("realtimeRuntime", a.cpu_rt_runtime.map(Value::from)),
        ("idle", a.cpu_idle.map(Value::from)),
        ("cpus", a.cpuset_cpus.map(Value::from)),
        ("mems", a.cpuset_mems.map(Value::from)),
    ];
    for (field, v) in cpu {
        if let Some(v) = v {
            set("cpu", field, v);
        }
    }
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", json!(w));
    }
    if let Some(l) = a.pids_limit {
        set("pids", "limit", json!(l));
    }
    let resources: LinuxResources =
        serde_json::from_value(doc).context("the resources to update")?;
    container::update(ctx, &a.id, &resources)?;
    Ok(0)
}

/// A size as docker and runc take it: bytes, or a number with a binary unit (k, m, g, t, p,
/// optionally followed by "b" or "ib"); "-1" means unlimited.
fn ram_in_bytes(s: &str) -> Result<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (t[..i].trim(), &t[i..]),
        None => (t, ""),
    };
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0f64.powi(3),
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        _ => bail!("invalid size: unknown unit {unit:?}"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {s:?}"))?;
    if n < 0.0 || !n.is_finite() {
        bail!("invalid size {s:?}");
    }
    Ok((n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(ram_in_bytes("1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(ram_in_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("2kb").unwrap(), 2048);
        assert_eq!(ram_in_bytes("1.5MiB").unwrap(), 3 << 19);
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        assert!(ram_in_bytes("12x").is_err());
        assert!(ram_in_bytes("m").is_err());
        assert!(ram_in_bytes("-5").is_err());
    }
}
