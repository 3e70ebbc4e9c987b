//! linux.resources: each block goes to the hierarchy that holds its controller, in v1 or v2 form.
//! A hybrid host mixes both (here: hugetlb on v2, the rest on v1). A block that asks for something
//! no hierarchy offers is an error naming the field, never a container without its limit.

use super::{devices, v1, v2, Placement};
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, LinuxResources};
use serde::Serialize;
use std::path::Path;

/// Apply `r` to the container's cgroups. `nodes` are the device nodes the config creates
/// (allowed on top of the rules). `update` is set when a running container's limits change.
pub fn apply(
    p: &Placement,
    r: &LinuxResources,
    nodes: &[(LinuxDeviceType, i64, i64)],
    update: bool,
) -> Result<()> {
    enable_v2(p, r)?;
    limits(p, r, nodes, update, true)
}

/// What of a new container's [`apply`] must be in place before its init exists: the v2
/// controllers (see [`enable_v2`]) and the v1 device rules, which are written one by one (deny
/// all, then each allow): the init making its device nodes meanwhile would meet the deny.
pub fn before_init(
    p: &Placement,
    r: &LinuxResources,
    nodes: &[(LinuxDeviceType, i64, i64)],
) -> Result<()> {
    enable_v2(p, r)?;
    if let (false, Some((dir, false))) = (p.rootless, p.dir_for("devices")) {
        v1::devices::apply(
            dir,
            &devices::rules(r.devices().as_deref().unwrap_or_default(), nodes),
        )?;
    }
    Ok(())
}

/// The rest of a new container's [`apply`], which may go on while its init sets up (the v2
/// device program is swapped in whole).
pub fn after_init(
    p: &Placement,
    r: &LinuxResources,
    nodes: &[(LinuxDeviceType, i64, i64)],
) -> Result<()> {
    limits(p, r, nodes, false, false)
}

/// [`apply`] without enabling v2 controllers; `v1_devices`: with the v1 device rules.
fn limits(
    p: &Placement,
    r: &LinuxResources,
    nodes: &[(LinuxDeviceType, i64, i64)],
    update: bool,
    v1_devices: bool,
) -> Result<()> {
    if let Some(m) = r.memory().as_ref().filter(set) {
        let (dir, is_v2) = need(p, "memory", "memory")?;
        if update && m.check_before_update() == Some(true) {
            let usage = if is_v2 {
                "memory.current"
            } else {
                "memory.usage_in_bytes"
            };
            v1::memory::check_usage(dir, usage, m)?;
        }
        match is_v2 {
            true => v2::memory(dir, m)?,
            false => v1::memory::apply(dir, m)?,
        }
    }
    if let Some(c) = r.cpu().as_ref() {
        if c.cpus().is_some() || c.mems().is_some() {
            let (dir, _) = need(p, "cpuset", "cpu.cpus/mems")?;
            v1::cpu::apply_cpuset(dir, c)?;
        }
        let mut rest = c.clone();
        rest.set_cpus(None);
        rest.set_mems(None);
        if set(&rest) {
            match need(p, "cpu", "cpu")? {
                (dir, true) => v2::cpu(dir, c)?,
                (dir, false) => v1::cpu::apply(dir, c)?,
            }
        }
    }
    if let Some(pids) = r.pids() {
        if pids.limit() != 0 {
            v1::pids(need(p, "pids", "pids")?.0, pids.limit())?;
        }
    }
    if let Some(b) = r.block_io().as_ref().filter(set) {
        match p.dir_for("blkio").or_else(|| p.dir_for("io")) {
            Some((dir, false)) => v1::blkio::apply(dir, b)?,
            Some((dir, true)) => v2::io(dir, b)?,
            None if p.skipped.iter().any(|(h, _)| h.has("blkio") || h.has("io")) => {
                return Err(missing(p, "blkio", "blockIO"))
            }
            None => bail!("linux.resources.blockIO: no blkio or io cgroup controller on this host"),
        }
    }
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        let (dir, is_v2) = need(p, "hugetlb", "hugepageLimits")?;
        v1::hugetlb(dir, h, is_v2)?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            v1::net_cls(need_v1(p, "net_cls", "network.classID")?, id)?;
        }
        if let Some(prio) = n.priorities().as_ref().filter(|v| !v.is_empty()) {
            v1::net_prio(need_v1(p, "net_prio", "network.priorities")?, prio)?;
        }
    }
    if let Some(rdma) = r.rdma().as_ref().filter(|v| !v.is_empty()) {
        v1::rdma(need(p, "rdma", "rdma")?.0, rdma)?;
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        let Some(dir) = p.v2_dir() else {
            bail!("linux.resources.unified: this host has no cgroup v2 hierarchy");
        };
        v2::unified(dir, u)?;
    }
    // Devices are a security boundary: on create they are always set (default deny), on update
    // only when given.
    if p.rootless {
        // Device rules need CAP_SYS_ADMIN on the host (v1's devices.allow, v2's BPF program), as
        // runc finds too. Without them the container still cannot mknod in its user namespace,
        // and gets only host devices bind-mounted, which its user may open anyway.
        crate::logging::debug("rootless: linux.resources.devices not applied");
    } else if !update || r.devices().is_some() {
        let rules = devices::rules(r.devices().as_deref().unwrap_or_default(), nodes);
        match (p.dir_for("devices"), p.v2_dir()) {
            (Some((dir, false)), _) if v1_devices => v1::devices::apply(dir, &rules)?,
            (Some((_, false)), _) => {}
            (_, Some(dir)) => v2::devices(dir, &rules)?,
            _ => bail!("linux.resources.devices: no devices cgroup controller and no cgroup v2 on this host"),
        }
    }
    Ok(())
}

/// True if a resource block has any field set.
fn set<T: Serialize>(block: &T) -> bool {
    serde_json::to_value(block).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
}

fn need<'a>(p: &'a Placement, controller: &str, field: &str) -> Result<(&'a Path, bool)> {
    match p.dir_for(controller) {
        Some(d) => Ok(d),
        None => Err(missing(p, controller, field)),
    }
}

fn need_v1<'a>(p: &'a Placement, controller: &str, field: &str) -> Result<&'a Path> {
    match p.dir_for(controller) {
        Some((dir, false)) => Ok(dir),
        Some((_, true)) => bail!("linux.resources.{field}: not supported by cgroup v2"),
        None => Err(missing(p, controller, field)),
    }
}

/// Why no cgroup holds `controller`: not on this host, or (rootless) not delegated to us.
fn missing(p: &Placement, controller: &str, field: &str) -> anyhow::Error {
    match p.skipped.iter().find(|(h, _)| h.has(controller)) {
        Some((_, dir)) => anyhow::anyhow!(
            "linux.resources.{field}: cannot be set by a rootless container: the {controller} cgroup {} is not delegated to this user",
            dir.display()
        ),
        None => anyhow::anyhow!("linux.resources.{field}: no {controller} cgroup controller on this host"),
    }
}

/// The v2 controllers to enable down the container's path: on a pure v2 host all of them (as
/// runc does, so stats and later updates find their files); on a hybrid host only those this
/// config uses, so the host's own unified tree is not changed for nothing. Best done while the
/// cgroup is empty: enabling a controller over a cgroup with processes migrates them, which
/// waits for an RCU grace period (10-20 ms here).
fn enable_v2(p: &Placement, r: &LinuxResources) -> Result<()> {
    let Some((h, leaf)) = p.hierarchies.iter().zip(&p.paths).find(|(h, _)| h.v2) else {
        return Ok(());
    };
    let wanted: Vec<&str> = if p.is_pure_v2() {
        h.controllers.iter().map(String::as_str).collect()
    } else {
        let mut w = Vec::new();
        let uses = [
            ("memory", r.memory().as_ref().is_some_and(set)),
            ("cpu", r.cpu().as_ref().is_some_and(set)),
            (
                "cpuset",
                r.cpu()
                    .as_ref()
                    .is_some_and(|c| c.cpus().is_some() || c.mems().is_some()),
            ),
            ("pids", r.pids().is_some()),
            ("io", r.block_io().as_ref().is_some_and(set)),
            (
                "hugetlb",
                r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            ),
            ("rdma", r.rdma().as_ref().is_some_and(|h| !h.is_empty())),
        ];
        for (c, used) in uses {
            if used && h.has(c) {
                w.push(c);
            }
        }
        for key in r.unified().iter().flat_map(|u| u.keys()) {
            if let Some(c) = key.split('.').next().filter(|c| h.has(c)) {
                if !w.contains(&c) {
                    w.push(c);
                }
            }
        }
        w
    };
    if wanted.is_empty() {
        return Ok(());
    }
    v2::enable_controllers(&h.mount, leaf, &wanted)
}

/// The device nodes `linux.devices` creates, which the container may always use.
pub fn device_nodes(devices: Option<&[LinuxDevice]>) -> Vec<(LinuxDeviceType, i64, i64)> {
    let typ = |t: LinuxDeviceType| match t {
        LinuxDeviceType::B => LinuxDeviceType::B,
        _ => LinuxDeviceType::C,
    };
    devices
        .unwrap_or_default()
        .iter()
        .map(|d| (typ(d.typ()), d.major(), d.minor()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_blocks_are_not_set() {
        let r: LinuxResources =
            serde_json::from_str(r#"{"memory":{},"cpu":{"shares":512},"blockIO":{}}"#).unwrap();
        assert!(!set(r.memory().as_ref().unwrap()));
        assert!(set(r.cpu().as_ref().unwrap()));
        assert!(!set(r.block_io().as_ref().unwrap()));
    }

    #[test]
    fn missing_controllers_are_named() {
        let r: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":1048576}}"#).unwrap();
        let e = apply(&Placement::default(), &r, &[], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.memory"), "{e}");
    }
}
