//! v1 devices controller: write only the change from the rules in force (read back from
//! devices.list) to the container's, never "deny everything, then allow": the cgroup may already
//! hold processes (containers sharing its cgroupsPath; the container itself on `update`), and
//! for the span of those writes every one of them would lose even /dev/null.

use super::super::devices::policy::Policy;
use super::super::devices::transition::transition;
use super::super::{devices, read, write};
use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::LinuxDeviceCgroup;
use std::path::Path;

pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let to = Policy::from_rules(rules)?;
    // Another rt between our read and our writes would make them wrong (lock.rs).
    let _lock = devices::lock(dir)?;
    let from = current(dir)?;
    for w in transition(&from, &to) {
        write(dir, w.file(), &w.line)?;
    }
    // As runc does: check that the kernel took it all. An allow-all list does not show its
    // deny exceptions, so only the mode can be checked there.
    let now = current(dir)?;
    if now.default_allow != to.default_allow || (!to.default_allow && now != to) {
        bail!(
            "{}: the device rules in force are not the ones written",
            dir.join("devices.list").display()
        );
    }
    Ok(())
}

fn current(dir: &Path) -> Result<Policy> {
    Policy::from_list(&read(dir, "devices.list")?)
        .map_err(|e| anyhow!("{}: {e}", dir.join("devices.list").display()))
}
