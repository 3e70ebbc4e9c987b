//! Linux security modules: process.apparmorProfile and process.selinuxLabel, applied to the next
//! exec. Asking for one on a host without that LSM is an error, as runc's config validation has it.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use std::path::Path;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Before anything is set up: refuse what this host cannot do.
pub fn check(apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        if !apparmor_enabled() {
            bail!("process.apparmorProfile {p:?}: AppArmor is not enabled on this host");
        }
    }
    if let Some(l) = selinux.filter(|l| !l.is_empty()) {
        if !selinux_enabled() {
            bail!("process.selinuxLabel {l:?}: SELinux is not enabled on this host");
        }
    }
    Ok(())
}

/// In the init, after pivot: label the exec that follows.
pub fn apply(apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        std::fs::write(attr, format!("exec {p}"))
            .sys(|| format!("apply AppArmor profile {p:?} ({attr})"))?;
    }
    if let Some(l) = selinux.filter(|l| !l.is_empty()) {
        std::fs::write("/proc/self/attr/keycreate", l)
            .sys(|| format!("set SELinux keycreate label {l:?}"))?;
        std::fs::write("/proc/self/attr/exec", l)
            .sys(|| format!("set SELinux exec label {l:?}"))?;
    }
    Ok(())
}
