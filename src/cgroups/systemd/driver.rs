//! The systemd driver as the container layer uses it: systemd creates the container's cgroup as
//! a transient unit with the init inside, rt checks the init landed where the unit's path says,
//! then manages the directories below the unit as the cgroupfs driver does (delegation).

use super::manager::{cgroup2_unified, Systemd};
use super::{properties, unit};
use crate::cgroups::Placement;
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
use std::path::PathBuf;

/// A container's unit, connected to systemd, ready to start once the init exists.
pub struct Driver {
    systemd: Systemd,
    name: unit::ScopeName,
    props: Vec<properties::Property>,
}

impl Driver {
    /// Connect first: without systemd there is nothing to create, and the error says so.
    pub fn connect(cgroups_path: &str, id: &str, r: &LinuxResources) -> Result<(Driver, PathBuf)> {
        let name = unit::parse_cgroups_path(cgroups_path, id)?;
        let rel = unit::relative_path(&name)?;
        let systemd = Systemd::connect()?;
        let props = properties::resource_properties(r, cgroup2_unified());
        Ok((
            Driver {
                systemd,
                name,
                props,
            },
            rel,
        ))
    }

    pub fn unit(&self) -> &str {
        &self.name.unit
    }

    /// Start the unit with `pid` in it, and refuse to go on if systemd put it anywhere else:
    /// limits written to the wrong cgroup would confine some other unit.
    pub fn start(&mut self, pid: i32, placement: &Placement) -> Result<()> {
        self.systemd.start_scope(&self.name, pid, &self.props)?;
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let systemd_dir = placement
            .hierarchies
            .iter()
            .zip(&placement.paths)
            .find(|(h, _)| h.v2 && placement.is_pure_v2() || h.has("name=systemd"));
        if let Some((h, dir)) = systemd_dir {
            let want = format!("/{}", dir.strip_prefix(&h.mount).unwrap_or(dir).display());
            let key = if h.v2 { "" } else { "name=systemd" };
            let got = cgroup.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
                (ctl == key).then_some(path)
            });
            if got != Some(want.as_str()) {
                let _ = self.systemd.stop_unit(&self.name.unit);
                bail!(
                    "systemd unit {}: the container init is in cgroup {:?}, expected {want:?}",
                    self.name.unit,
                    got.unwrap_or("?")
                );
            }
        }
        Ok(())
    }

    pub fn stop(&mut self) -> Result<()> {
        self.systemd.stop_unit(&self.name.unit)
    }
}

/// Stop a container's unit (delete).
pub fn stop(unit: &str) -> Result<()> {
    Systemd::connect()?.stop_unit(unit)
}

/// Change a running container's unit properties (update); the cgroupfs writes follow.
pub fn update(unit: &str, r: &LinuxResources) -> Result<()> {
    let props = properties::resource_properties(r, cgroup2_unified());
    if props.is_empty() {
        return Ok(());
    }
    Systemd::connect()?.set_properties(unit, &props)
}
