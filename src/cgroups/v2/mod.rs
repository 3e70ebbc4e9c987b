//! cgroup v2: controllers enabled down the path, and the unified files for each resource.

pub mod bpf;
pub mod devices;
mod io;
mod memory;

pub use io::apply as io;
pub use memory::apply as memory;

use super::{convert, read, write};
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxCpu;
use std::collections::HashMap;
use std::path::Path;

/// Enable `controllers` in `cgroup.subtree_control` of every ancestor of `leaf` below `mount`,
/// so that the leaf gets their files. Controllers already enabled are not written again.
pub fn enable_controllers(mount: &Path, leaf: &Path, controllers: &[&str]) -> Result<()> {
    let Ok(rel) = leaf.strip_prefix(mount) else {
        bail!("cgroup {} is not under {}", leaf.display(), mount.display());
    };
    let mut dir = mount.to_path_buf();
    for c in rel.components() {
        let enabled = read(&dir, "cgroup.subtree_control")?;
        let missing: Vec<String> = controllers
            .iter()
            .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if !missing.is_empty() {
            write(&dir, "cgroup.subtree_control", &missing.join(" "))?;
        }
        dir.push(c);
    }
    Ok(())
}

pub fn cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if c.realtime_runtime().unwrap_or(0) != 0 || c.realtime_period().unwrap_or(0) != 0 {
        bail!("linux.resources.cpu.realtimeRuntime/realtimePeriod: not supported by cgroup v2");
    }
    let weight = convert::shares_to_weight(c.shares().unwrap_or(0));
    if weight != 0 {
        write(dir, "cpu.weight", &weight.to_string())?;
    }
    if let Some(max) = convert::cpu_max(c.quota(), c.period()) {
        write(dir, "cpu.max", &max)?;
    }
    if let Some(b) = c.burst() {
        write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// The device filter (eBPF), replacing any the cgroup had.
pub fn devices(dir: &Path, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
    bpf::apply_device_filter(dir, rules)
}

/// `linux.resources.unified`: file name to value, written as given. Names are plain files of
/// this cgroup (no path), and only of controllers this cgroup has.
pub fn unified(dir: &Path, values: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = values.keys().collect();
    keys.sort();
    for key in keys {
        if key.is_empty() || key.contains('/') || key.starts_with('.') {
            bail!("linux.resources.unified: {key:?} is not a cgroup file name");
        }
        if !dir.join(key).exists() {
            let controller = key.split('.').next().unwrap_or_default();
            bail!(
                "linux.resources.unified.{key:?}: no such file in {} (is the {controller:?} controller available?)",
                dir.display()
            );
        }
        write(dir, key, &values[key])?;
    }
    Ok(())
}
