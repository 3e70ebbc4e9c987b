//! v1 blkio controller: weights (CFQ's blkio.weight or BFQ's blkio.bfq.weight, whichever the
//! kernel has) and per-device throttles.

use super::super::write;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};
use std::path::Path;

pub fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let weight_file = ["blkio.weight", "blkio.bfq.weight"]
        .into_iter()
        .find(|f| dir.join(f).exists());
    let need_weight = |field: &str| -> Result<&str> {
        weight_file.ok_or_else(|| {
            anyhow::anyhow!("linux.resources.blockIO.{field}: this kernel has no blkio weight files (no CFQ or BFQ I/O scheduler)")
        })
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        write(dir, need_weight("weight")?, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        if !dir.join("blkio.leaf_weight").exists() {
            bail!("linux.resources.blockIO.leafWeight: this kernel has no blkio.leaf_weight");
        }
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let file = format!("{}_device", need_weight("weightDevice")?);
            write(dir, &file, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
        if let Some(w) = d.leaf_weight() {
            write(
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    throttle(
        dir,
        "blkio.throttle.read_bps_device",
        b.throttle_read_bps_device(),
    )?;
    throttle(
        dir,
        "blkio.throttle.write_bps_device",
        b.throttle_write_bps_device(),
    )?;
    throttle(
        dir,
        "blkio.throttle.read_iops_device",
        b.throttle_read_iops_device(),
    )?;
    throttle(
        dir,
        "blkio.throttle.write_iops_device",
        b.throttle_write_iops_device(),
    )
}

fn throttle(dir: &Path, file: &str, list: &Option<Vec<LinuxThrottleDevice>>) -> Result<()> {
    for d in list.iter().flatten() {
        write(
            dir,
            file,
            &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
        )?;
    }
    Ok(())
}
