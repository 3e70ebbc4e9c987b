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

/// Written through a procfs handle (see procfs), as every write rt makes under /proc.
fn write_map(pid: i32, file: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let proc = crate::procfs::ProcFs::host()?;
    proc.write(&format!("{pid}/{file}"), render(maps).as_bytes())
}

fn write_maps(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    write_map(pid, "uid_map", uids)?;
    write_map(pid, "gid_map", gids)
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
            // The short-lived child leaves without running the parent's exit handlers.
            crate::sys::exit_now(0)
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

/// Write the new user namespace's maps. As root the maps are written directly. A rootless caller
/// may write only a map of its own id that way (and a gid map only once setgroups is denied:
/// CVE-2014-8989); anything more goes through the setuid helpers newuidmap/newgidmap, which
/// allow the ranges /etc/subuid and /etc/subgid give the caller.
pub fn write(pid: i32, spec: &Spec, rootless: bool) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux.and_then(|l| l.uid_mappings().as_ref());
    let gids = linux.and_then(|l| l.gid_mappings().as_ref());
    let (Some(uids), Some(gids)) = (uids, gids) else {
        bail!("linux.uidMappings and linux.gidMappings are required for a new user namespace");
    };
    if uids.is_empty() || gids.is_empty() {
        bail!("linux.uidMappings and linux.gidMappings must not be empty for a new user namespace");
    }
    if !rootless || nix::unistd::geteuid().is_root() {
        return write_maps(pid, uids, gids);
    }
    if only_own_id(uids, nix::unistd::geteuid().as_raw()) {
        write_map(pid, "uid_map", uids)?;
    } else {
        run_helper("newuidmap", pid, uids, "linux.uidMappings")?;
    }
    if only_own_id(gids, nix::unistd::getegid().as_raw()) {
        crate::procfs::ProcFs::host()?.write(&format!("{pid}/setgroups"), b"deny")?;
        write_map(pid, "gid_map", gids)?;
    } else {
        run_helper("newgidmap", pid, gids, "linux.gidMappings")?;
    }
    Ok(())
}

/// A map an unprivileged process may write itself: its own id, alone.
fn only_own_id(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

fn helper_args(pid: i32, maps: &[LinuxIdMapping]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    args
}

fn run_helper(helper: &str, pid: i32, maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    let args = helper_args(pid, maps);
    let out = match std::process::Command::new(helper)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{field}: a rootless container mapping more than the caller's own id needs {helper} (package uidmap), which is not in PATH"
        ),
        Err(e) => return Err(e).with_context(|| format!("{field}: run {helper}")),
    };
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{field}: {helper} {} failed ({}): {}",
            args.join(" "),
            out.status,
            why.trim()
        );
    }
    Ok(())
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
        assert_eq!(
            helper_args(42, &maps),
            ["42", "0", "100000", "65536", "65536", "1", "1"]
        );
    }

    #[test]
    fn only_a_single_map_of_the_own_id_needs_no_helper() {
        let maps = |s: &str| serde_json::from_str::<Vec<LinuxIdMapping>>(s).unwrap();
        assert!(only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":1}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":2}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1001,"size":1}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(
                r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":10}]"#
            ),
            1000
        ));
    }
}
