//! v2 memory: memory.max, memory.low and memory.swap.max (swap alone, where the spec counts
//! memory plus swap).

use super::super::{convert, write, write_error};
use crate::logging::warn;
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

pub fn apply(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let swap = convert::swap_v2(m.swap(), m.limit())?;
    let limit = convert::memory_v2(m.limit(), "limit")?;
    // Swap first: memory.max may be lowered below a swap limit, never the other way round.
    if let Some(s) = swap {
        match std::fs::write(dir.join("memory.swap.max"), &s) {
            Ok(()) => {}
            // Without swap accounting there is no file; "no limit" or "no swap" then hold anyway.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && (s == "max" || s == "0") => {}
            Err(e) => return Err(write_error(dir, "memory.swap.max", &s, &e)),
        }
    }
    if let Some(l) = limit {
        write(dir, "memory.max", &l)?;
    }
    if let Some(r) = convert::memory_v2(m.reservation(), "reservation")? {
        write(dir, "memory.low", &r)?;
    }
    let unsupported = [
        ("kernel", m.kernel().is_some_and(|v| v != 0)),
        ("kernelTCP", m.kernel_tcp().is_some_and(|v| v != 0)),
        ("swappiness", m.swappiness().is_some()),
        ("disableOOMKiller", m.disable_oom_killer() == Some(true)),
    ];
    for (field, set) in unsupported {
        if set {
            warn(&format!(
                "linux.resources.memory.{field}: ignored, cgroup v2 has no such setting"
            ));
        }
    }
    if m.use_hierarchy() == Some(false) {
        bail!("linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical");
    }
    Ok(())
}
