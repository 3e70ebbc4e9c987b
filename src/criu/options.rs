//! What a checkpoint and a restore share: runc's flags as CRIU options.

use anyhow::{bail, Result};
use rust_criu::rust_criu_protobuf::rpc::{Criu_cg_mode, Criu_opts, Ext_mount_map};

/// The flags of `checkpoint` and `restore` that become CRIU options as they are.
#[derive(Debug, Default, Clone)]
pub struct Common {
    pub shell_job: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub file_locks: bool,
    pub auto_dedup: bool,
    /// `--manage-cgroups-mode`; CRIU's default (soft) when unset.
    pub cgroups_mode: Option<Criu_cg_mode>,
    /// CLONE_NEW* flags of the namespaces CRIU makes empty instead of restoring.
    pub empty_ns: u32,
    /// CRIU's configuration file (runc: `/etc/criu/runc.conf` unless the `org.criu.config`
    /// annotation names another, or none when empty).
    pub config_file: Option<String>,
}

impl Common {
    pub(super) fn apply(&self, o: &mut Criu_opts) {
        o.set_log_level(4);
        o.set_manage_cgroups(true);
        o.set_notify_scripts(true);
        o.set_orphan_pts_master(true);
        o.set_shell_job(self.shell_job);
        o.set_tcp_established(self.tcp_established);
        o.set_ext_unix_sk(self.ext_unix_sk);
        o.set_file_locks(self.file_locks);
        o.set_auto_dedup(self.auto_dedup);
        o.set_empty_ns(self.empty_ns);
        if let Some(m) = self.cgroups_mode {
            o.set_manage_cgroups_mode(m);
        }
        if let Some(f) = &self.config_file {
            o.set_config_file(f.clone());
        }
    }
}

/// `--manage-cgroups-mode`: runc's names (soft, full, strict; ignore as runc 1.2).
pub fn cgroups_mode(name: &str) -> Result<Criu_cg_mode> {
    Ok(match name {
        "soft" => Criu_cg_mode::SOFT,
        "full" => Criu_cg_mode::FULL,
        "strict" => Criu_cg_mode::STRICT,
        "ignore" => Criu_cg_mode::IGNORE,
        _ => bail!("--manage-cgroups-mode {name:?}: invalid manage cgroups mode (want soft, full, strict or ignore)"),
    })
}

/// `--empty-ns`: the namespaces named (runc knows only `network`), plus the network namespace,
/// always: as runc, rt does not manage network devices, so CRIU leaves the namespace's contents
/// to whoever made them.
pub fn empty_ns(names: &[String]) -> Result<u32> {
    let mut mask = libc::CLONE_NEWNET as u32;
    for n in names {
        match n.as_str() {
            "network" => mask |= libc::CLONE_NEWNET as u32,
            _ => bail!("--empty-ns {n:?}: namespace is not supported (only network)"),
        }
    }
    Ok(mask)
}

pub(super) fn ext_mount(key: &str, val: &str) -> Ext_mount_map {
    let mut m = Ext_mount_map::new();
    m.set_key(key.to_string());
    m.set_val(val.to_string());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_modes_and_empty_namespaces() {
        assert_eq!(cgroups_mode("soft").unwrap(), Criu_cg_mode::SOFT);
        assert_eq!(cgroups_mode("strict").unwrap(), Criu_cg_mode::STRICT);
        assert!(cgroups_mode("props")
            .unwrap_err()
            .to_string()
            .contains("invalid manage cgroups mode"));
        assert_eq!(empty_ns(&[]).unwrap(), libc::CLONE_NEWNET as u32);
        assert_eq!(
            empty_ns(&["network".into()]).unwrap(),
            libc::CLONE_NEWNET as u32
        );
        assert!(empty_ns(&["pid".into()]).is_err());
    }
}
