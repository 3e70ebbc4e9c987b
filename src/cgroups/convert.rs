//! Translation of the spec's v1-style values to cgroup v2 files, with the formulas runc uses so
//! that a config means the same under both runtimes.

use anyhow::{bail, Result};

/// cpu.shares [2, 262144] to cpu.weight [1, 10000]; 0 means unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// blkio.weight [10, 1000] to io.weight [1, 10000]; 0 means unset.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = u64::from(weight.clamp(10, 1000));
    1 + ((w - 10) * 9999) / 990
}

/// The spec's memory.swap is memory+swap; v2's memory.swap.max is swap alone. None: leave the
/// file alone; Some("max") unlimited.
pub fn swap_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let limit = limit.unwrap_or(0);
    match swap {
        None | Some(0) if limit == -1 => Ok(Some("max".into())),
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some("max".into())),
        Some(s) if s < 0 => bail!("linux.resources.memory.swap: invalid value {s}"),
        Some(_) if limit == 0 || limit == -1 => {
            bail!("linux.resources.memory.swap: a swap limit needs a memory limit (linux.resources.memory.limit)")
        }
        Some(s) if s < limit => bail!(
            "linux.resources.memory.swap: {s} is below memory.limit {limit} (swap counts memory plus swap)"
        ),
        Some(s) => Ok(Some((s - limit).to_string())),
    }
}

/// A memory value for a v2 file: -1 is "max", 0 means unset.
pub fn memory_v2(v: Option<i64>, field: &str) -> Result<Option<String>> {
    match v {
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some("max".into())),
        Some(n) if n < 0 => bail!("linux.resources.memory.{field}: invalid value {n}"),
        Some(n) => Ok(Some(n.to_string())),
    }
}

/// The v2 cpu.max line for a quota and period (runc: a non-positive quota is "max").
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let (q, p) = (quota.unwrap_or(0), period.unwrap_or(0));
    if q == 0 && p == 0 {
        return None;
    }
    let mut s = if q > 0 { q.to_string() } else { "max".into() };
    if p != 0 {
        s.push_str(&format!(" {p}"));
    }
    Some(s)
}

/// pids.max: a positive limit, or "max" for -1 (0 means unset).
pub fn pids_max(limit: i64) -> Option<String> {
    match limit {
        0 => None,
        n if n > 0 => Some(n.to_string()),
        _ => Some("max".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weights_as_runc_does() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_translated_to_swap_alone() {
        assert_eq!(swap_v2(None, Some(100)).unwrap(), None);
        assert_eq!(
            swap_v2(Some(300), Some(100)).unwrap().as_deref(),
            Some("200")
        );
        assert_eq!(swap_v2(Some(100), Some(100)).unwrap().as_deref(), Some("0"));
        assert_eq!(
            swap_v2(Some(-1), Some(100)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(swap_v2(None, Some(-1)).unwrap().as_deref(), Some("max"));
        assert!(swap_v2(Some(50), Some(100)).is_err());
        assert!(swap_v2(Some(50), None).is_err());
    }

    #[test]
    fn cpu_max_and_pids_max() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None).as_deref(), Some("50000"));
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000)).as_deref(),
            Some("50000 100000")
        );
        assert_eq!(
            cpu_max(Some(-1), Some(100_000)).as_deref(),
            Some("max 100000")
        );
        assert_eq!(pids_max(0), None);
        assert_eq!(pids_max(-1).as_deref(), Some("max"));
        assert_eq!(pids_max(20).as_deref(), Some("20"));
        assert_eq!(
            memory_v2(Some(-1), "limit").unwrap().as_deref(),
            Some("max")
        );
        assert!(memory_v2(Some(-5), "limit").is_err());
    }
}
