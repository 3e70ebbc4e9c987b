//! v1 memory controller: memory.limit_in_bytes and memory.memsw.limit_in_bytes (memory plus swap,
//! as the spec counts it), soft limit, kernel memory, swappiness, OOM killer, hierarchy.

use super::super::{read, write, write_error};
use crate::logging::warn;
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

pub fn apply(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    // Unlimited memory with swap left unset means unlimited swap too, where the kernel accounts it.
    if limit == -1 && swap == 0 && dir.join(MEMSW).exists() {
        swap = -1;
    }
    check(limit, "limit")?;
    check(swap, "swap")?;
    if swap != 0 && !dir.join(MEMSW).exists() {
        bail!(
            "linux.resources.memory.swap: this kernel does not account swap ({} is missing)",
            dir.join(MEMSW).display()
        );
    }
    if limit != 0 && swap != 0 {
        // memsw may never be below the memory limit: raise whichever must go first.
        let current: i64 = read(dir, LIMIT)?.parse().unwrap_or(i64::MAX);
        if swap == -1 || current < swap {
            write(dir, MEMSW, &swap.to_string())?;
            write(dir, LIMIT, &limit.to_string())?;
        } else {
            write(dir, LIMIT, &limit.to_string())?;
            write(dir, MEMSW, &swap.to_string())?;
        }
    } else if limit != 0 {
        write(dir, LIMIT, &limit.to_string())?;
    } else if swap != 0 {
        write(dir, MEMSW, &swap.to_string())?;
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        check(r, "reservation")?;
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    for (v, file, field) in [
        (m.kernel(), "memory.kmem.limit_in_bytes", "kernel"),
        (
            m.kernel_tcp(),
            "memory.kmem.tcp.limit_in_bytes",
            "kernelTCP",
        ),
    ] {
        let Some(v) = v.filter(|v| *v != 0) else {
            continue;
        };
        check(v, field)?;
        match std::fs::write(dir.join(file), v.to_string()) {
            Ok(()) => {}
            // Kernels since 5.16 refuse kernel memory limits; runc ignores them too.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EOPNOTSUPP)) => {
                warn(&format!(
                    "linux.resources.memory.{field}: ignored, this kernel does not support kernel memory limits"
                ))
            }
            Err(e) => return Err(write_error(dir, file, &v.to_string(), &e)),
        }
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            bail!("linux.resources.memory.swappiness: {s} is not within [0, 100]");
        }
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        write(dir, "memory.oom_control", "1")?;
    }
    if let Some(h) = m.use_hierarchy() {
        write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    Ok(())
}

fn check(v: i64, field: &str) -> Result<()> {
    if v < -1 {
        bail!("linux.resources.memory.{field}: invalid value {v}");
    }
    Ok(())
}

/// checkBeforeUpdate: refuse a limit below what the container already uses (`usage_file`:
/// memory.usage_in_bytes on v1, memory.current on v2).
pub fn check_usage(dir: &Path, usage_file: &str, m: &LinuxMemory) -> Result<()> {
    if let Some(limit) = m.limit().filter(|l| *l > 0) {
        let usage: i64 = read(dir, usage_file)?.parse().unwrap_or(0);
        if limit < usage {
            bail!("linux.resources.memory.limit: {limit} is below the container's current memory usage {usage} (checkBeforeUpdate)");
        }
    }
    Ok(())
}
