//! v2 io: weights (BFQ's io.bfq.weight takes blkio values as they are; io.weight takes them
//! converted) and io.max throttles, one line per device.

use super::super::{convert, write};
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxBlockIo;
use std::collections::BTreeMap;
use std::path::Path;

pub fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            write(dir, "io.bfq.weight", &w.to_string())?;
        } else if dir.join("io.weight").exists() {
            write(
                dir,
                "io.weight",
                &convert::blkio_to_io_weight(w).to_string(),
            )?;
        } else {
            bail!("linux.resources.blockIO.weight: this kernel has no io.weight or io.bfq.weight");
        }
    }
    if b.leaf_weight().is_some_and(|w| w != 0) {
        bail!("linux.resources.blockIO.leafWeight: not supported by cgroup v2");
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            if !bfq {
                bail!("linux.resources.blockIO.weightDevice: needs the BFQ I/O scheduler (io.bfq.weight) on cgroup v2");
            }
            write(
                dir,
                "io.bfq.weight",
                &format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    // One io.max line per device carries all four limits.
    let mut max: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for d in list.iter().flatten() {
            max.entry((d.major(), d.minor()))
                .or_default()
                .push(format!("{key}={}", d.rate()));
        }
    }
    for ((major, minor), limits) in max {
        write(
            dir,
            "io.max",
            &format!("{major}:{minor} {}", limits.join(" ")),
        )?;
    }
    Ok(())
}
