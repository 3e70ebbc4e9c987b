//! linux.sysctl, written under /proc/sys of the container.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use std::collections::HashMap;

pub fn apply(sysctls: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        if key.is_empty() || key.contains("..") || key.starts_with('/') || key.starts_with('.') {
            bail!("linux.sysctl: invalid key {key:?}");
        }
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, &sysctls[key])
            .sys(|| format!("set sysctl {key:?} (write {path})"))?;
    }
    Ok(())
}
