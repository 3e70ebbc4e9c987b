//! cgroup v1 controllers: one file per controller with more than a line or two of logic; the
//! one-file controllers are here.

pub mod blkio;
pub mod cpu;
pub mod devices;
pub mod memory;

use super::write;
use anyhow::Result;
use oci_spec::runtime::{LinuxHugepageLimit, LinuxInterfacePriority, LinuxRdma};
use std::collections::HashMap;
use std::path::Path;

pub fn pids(dir: &Path, limit: i64) -> Result<()> {
    match super::convert::pids_max(limit) {
        Some(v) => write(dir, "pids.max", &v),
        None => Ok(()),
    }
}

/// hugetlb.<size>.limit_in_bytes on v1, hugetlb.<size>.max on v2.
pub fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit], v2: bool) -> Result<()> {
    for l in limits {
        let size = l.page_size();
        let file = if v2 {
            format!("hugetlb.{size}.max")
        } else {
            format!("hugetlb.{size}.limit_in_bytes")
        };
        if !dir.join(&file).exists() {
            anyhow::bail!(
                "linux.resources.hugepageLimits: page size {size:?} is not supported by this kernel (no {})",
                dir.join(&file).display()
            );
        }
        write(dir, &file, &l.limit().to_string())?;
    }
    Ok(())
}

pub fn net_cls(dir: &Path, class_id: u32) -> Result<()> {
    write(dir, "net_cls.classid", &class_id.to_string())
}

pub fn net_prio(dir: &Path, priorities: &[LinuxInterfacePriority]) -> Result<()> {
    for p in priorities {
        write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}

/// rdma.max, the same format on v1 and v2.
pub fn rdma(dir: &Path, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (device, l) in limits {
        let mut line = device.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        write(dir, "rdma.max", &line)?;
    }
    Ok(())
}
