//! v1 cpu controller (CFS shares, quota, period and burst; realtime budget; idle) and cpuset.

use super::super::{write, write_error};
use anyhow::Result;
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

pub fn apply(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        write(dir, "cpu.shares", &s.to_string())?;
    }
    // A shorter period can push quota/period over the parent's bandwidth and be refused until
    // the quota is written; then the period is written again after it (runc's order).
    let mut period_pending = None;
    if let Some(p) = c.period().filter(|p| *p != 0) {
        let v = p.to_string();
        match std::fs::write(dir.join("cpu.cfs_period_us"), &v) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && c.quota().unwrap_or(0) != 0 => {
                period_pending = Some(v)
            }
            Err(e) => return Err(write_error(dir, "cpu.cfs_period_us", &v, &e)),
        }
    }
    if let Some(q) = c.quota().filter(|q| *q != 0) {
        write(dir, "cpu.cfs_quota_us", &q.to_string())?;
        if let Some(v) = period_pending {
            write(dir, "cpu.cfs_period_us", &v)?;
        }
    }
    if let Some(b) = c.burst() {
        write(dir, "cpu.cfs_burst_us", &b.to_string())?;
    }
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        write(dir, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        write(dir, "cpu.rt_runtime_us", &r.to_string())?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// cpuset.cpus and cpuset.mems (the same file names on v1 and v2).
pub fn apply_cpuset(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}
