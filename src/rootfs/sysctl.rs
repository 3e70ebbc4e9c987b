//! linux.sysctl: only namespaced sysctls, and only when the container has the namespace that
//! makes them its own (runc's rules); written under the container's /proc/sys.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;

/// The namespace a sysctl belongs to, if it is namespaced at all.
fn namespace_of(key: &str) -> Option<&'static str> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some("ipc")
    } else if key.starts_with("net.") {
        Some("network")
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some("uts")
    } else {
        None
    }
}

/// Check every key before anything is written. `has` tells whether the container has its own
/// namespace of a type (created, or joined by path).
pub fn validate(sysctls: &HashMap<String, String>, has: impl Fn(&str) -> bool) -> Result<()> {
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        if key.is_empty()
            || key.contains("..")
            || key.contains('/')
            || key.starts_with('.')
            || key.ends_with('.')
        {
            bail!("linux.sysctl: invalid key {key:?}");
        }
        match namespace_of(key) {
            None => bail!("linux.sysctl {key:?}: not a namespaced sysctl, so it would change the host; refused"),
            Some(ns) if !has(ns) => {
                bail!("linux.sysctl {key:?}: needs a {ns} namespace of the container's own")
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Write them through `proc`, a procfs the container's mounts cannot redirect (see procfs).
pub fn apply(proc: &crate::procfs::ProcFs, sysctls: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        let path = format!("sys/{}", key.replace('.', "/"));
        proc.write(&path, sysctls[key].as_bytes())
            .with_context(|| format!("set sysctl {key:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str) -> HashMap<String, String> {
        HashMap::from([(k.to_string(), "1".to_string())])
    }

    #[test]
    fn namespaced_sysctls_need_their_namespace() {
        validate(&one("net.ipv4.ip_forward"), |ns| ns == "network").unwrap();
        validate(&one("kernel.shmmax"), |ns| ns == "ipc").unwrap();
        validate(&one("fs.mqueue.msg_max"), |ns| ns == "ipc").unwrap();
        let e = validate(&one("net.ipv4.ip_forward"), |_| false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("network namespace"), "{e}");
    }

    #[test]
    fn host_wide_and_malformed_keys_are_refused() {
        for k in [
            "kernel.pid_max",
            "vm.swappiness",
            "net..x",
            "../x",
            "net/ipv4",
            "",
        ] {
            assert!(validate(&one(k), |_| true).is_err(), "{k} accepted");
        }
    }
}
