//! Linux security modules: process.apparmorProfile and process.selinuxLabel, applied to the next
//! exec. Asking for one on a host without that LSM is an error, as runc's config validation has it.

use anyhow::{bail, Context, Result};
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

/// In the init, after pivot: label the exec that follows. Written through `proc`: a path
/// under the container's /proc could be a bind mount of another file (CVE-2025-52881), and a
/// label written elsewhere would leave the process unconfined.
pub fn apply(
    proc: &crate::procfs::Lazy,
    apparmor: Option<&str>,
    selinux: Option<&str>,
) -> Result<()> {
    if let Some(p) = apparmor.filter(|p| !p.is_empty()) {
        let proc = proc.get()?;
        let attr = if proc.exists("thread-self/attr/apparmor/exec") {
            "thread-self/attr/apparmor/exec"
        } else {
            "thread-self/attr/exec"
        };
        proc.write(attr, format!("exec {p}").as_bytes())
            .with_context(|| format!("apply AppArmor profile {p:?}"))?;
    }
    if let Some(l) = selinux.filter(|l| !l.is_empty()) {
        let proc = proc.get()?;
        proc.write("thread-self/attr/keycreate", l.as_bytes())
            .with_context(|| format!("set SELinux keycreate label {l:?}"))?;
        proc.write("thread-self/attr/exec", l.as_bytes())
            .with_context(|| format!("set SELinux exec label {l:?}"))?;
    }
    Ok(())
}
