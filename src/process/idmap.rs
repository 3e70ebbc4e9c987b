//! uid/gid maps of a new user namespace, written by the parent (which holds the privilege the
//! child lacks inside its fresh namespace).

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::os::fd::OwnedFd;

fn render(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_maps(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, render(maps)).with_context(|| format!("write {path}"))?;
    }
    Ok(())
}

/// A user namespace with the given maps, held by its descriptor: a short-lived child is cloned
/// into a new user namespace, mapped, and its namespace opened before it exits.
fn userns_fd(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe().context("pipe")?;
    match super::clone::clone(libc::CLONE_NEWUSER as u64, None)? {
        super::clone::Forked::Child => {
            drop(w);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&r, &mut b);
            // Safety: leave the short-lived child without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
        super::clone::Forked::Parent(pid) => {
            drop(r);
            let result = write_maps(pid, uids, gids).and_then(|()| {
                let path = format!("/proc/{pid}/ns/user");
                Ok(OwnedFd::from(
                    std::fs::File::open(&path).with_context(|| format!("open {path}"))?,
                ))
            });
            drop(w);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            result
        }
    }
}

/// For each mount with `idmap`/`ridmap`, a user namespace carrying its mapping: the mount's own
/// uidMappings/gidMappings, else the container's.
pub fn mount_userns(spec: &Spec) -> Result<Vec<Option<OwnedFd>>> {
    let linux = spec.linux().as_ref();
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let idmapped = m
            .options()
            .iter()
            .flatten()
            .any(|o| o == "idmap" || o == "ridmap");
        if !idmapped {
            out.push(None);
            continue;
        }
        let uids = m
            .uid_mappings()
            .as_ref()
            .or(linux.and_then(|l| l.uid_mappings().as_ref()));
        let gids = m
            .gid_mappings()
            .as_ref()
            .or(linux.and_then(|l| l.gid_mappings().as_ref()));
        let (Some(uids), Some(gids)) = (uids, gids) else {
            bail!("mounts[{i}]: idmap needs uidMappings and gidMappings, on the mount or in linux");
        };
        out.push(Some(userns_fd(uids, gids).with_context(|| {
            format!("mounts[{i}]: user namespace for idmap")
        })?));
    }
    Ok(out)
}

pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux.and_then(|l| l.uid_mappings().as_ref());
    let gids = linux.and_then(|l| l.gid_mappings().as_ref());
    let (Some(uids), Some(gids)) = (uids, gids) else {
        bail!("linux.uidMappings and linux.gidMappings are required for a new user namespace");
    };
    if uids.is_empty() || gids.is_empty() {
        bail!("linux.uidMappings and linux.gidMappings must not be empty for a new user namespace");
    }
    write_maps(pid, uids, gids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_range() {
        let maps: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":100000,"size":65536},{"containerID":65536,"hostID":1,"size":1}]"#)
                .unwrap();
        assert_eq!(render(&maps), "0 100000 65536\n65536 1 1\n");
    }
}
