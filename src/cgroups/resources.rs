//! linux.resources. The device rules are applied (v1 devices controller); the other resource
//! blocks are refused with a clear error until the cgroup issue implements them, rather than
//! running a container without the limits it asked for.

use super::Placement;
use crate::errno::SysContext;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::Path;

/// Devices every container may use, as runc allows them.
const DEFAULT_ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

pub fn apply(placement: &Placement, r: &LinuxResources, extra_devices: &[String]) -> Result<()> {
    let unsupported = [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|v| !v.is_empty())),
        (
            "unified",
            r.unified().as_ref().is_some_and(|v| !v.is_empty()),
        ),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, set)| *set) {
        bail!("linux.resources.{name}: resource limits are not implemented yet");
    }
    let Some(rules) = r.devices() else {
        return Ok(());
    };
    let Some(dir) = placement
        .paths
        .iter()
        .find(|p| p.join("devices.allow").exists())
    else {
        if rules.is_empty() {
            return Ok(());
        }
        bail!("linux.resources.devices: no v1 devices controller on this host (cgroup v2 device filters are not implemented yet)");
    };
    write(dir, "devices.deny", "a")?;
    for rule in rules {
        let (file, line) = render(rule);
        write(dir, file, &line)?;
    }
    for line in DEFAULT_ALLOWED
        .iter()
        .map(|s| s.to_string())
        .chain(extra_devices.iter().cloned())
    {
        write(dir, "devices.allow", &line)?;
    }
    Ok(())
}

fn write(dir: &Path, file: &str, line: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, line).sys(|| format!("write {line:?} to {}", p.display()))
}

fn render(rule: &LinuxDeviceCgroup) -> (&'static str, String) {
    let typ = match rule.typ() {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    let line = if typ == "a" {
        "a".to_string()
    } else {
        format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
    };
    let file = if rule.allow() {
        "devices.allow"
    } else {
        "devices.deny"
    };
    (file, line)
}

/// A cgroup rule for a device node the config creates.
pub fn node_rule(typ: &str, major: i64, minor: i64) -> String {
    format!("{typ} {major}:{minor} rwm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_runc_style_rules() {
        let r: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},{"allow":true,"type":"b","major":8,"access":"r"}]"#,
        )
        .unwrap();
        assert_eq!(render(&r[0]), ("devices.deny", "a".to_string()));
        assert_eq!(render(&r[1]), ("devices.allow", "c 1:3 rw".to_string()));
        assert_eq!(render(&r[2]), ("devices.allow", "b 8:* r".to_string()));
    }

    #[test]
    fn unimplemented_limits_are_refused() {
        let r: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":1048576}}"#).unwrap();
        let e = apply(&Placement::default(), &r, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.memory"), "{e}");
    }
}
