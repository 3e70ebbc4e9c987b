//! A `cgroup` mount inside the container. On a v2-only host: cgroup2 itself. With v1 hierarchies
//! (pure v1 or hybrid): a tmpfs holding, per hierarchy, a bind mount of the container's own cgroup,
//! plus the usual `cpu -> cpu,cpuacct` links, as runc lays it out.

use super::options::Parsed;
use super::paths::{Root, Target};
use super::Options;
use crate::errno::SysContext;
use anyhow::Result;
use nix::mount::MsFlags;
use std::path::Path;

const NONE: Option<&str> = None;

pub fn mount(root: &Root, dest: &Path, target: &Target, p: &Parsed, opts: &Options) -> Result<()> {
    let shown = dest.display().to_string();
    let flags = p.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let cg = &opts.cgroups;
    let pure_v2 = cg.hierarchies.len() == 1 && cg.hierarchies[0].v2;
    if pure_v2 {
        match nix::mount::mount(
            Some("cgroup2"),
            target.proc_path().as_str(),
            Some("cgroup2"),
            flags,
            NONE,
        ) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EPERM) | Err(nix::errno::Errno::EBUSY) => {}
            Err(e) => return Err(e).sys(|| format!("mount cgroup2 on {shown:?}")),
        }
        let leaf = cg
            .paths
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return bind_ro(&leaf, target, flags, &shown);
    }
    nix::mount::mount(
        Some("tmpfs"),
        target.proc_path().as_str(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .sys(|| format!("mount tmpfs for cgroups on {shown:?}"))?;
    for (h, leaf) in cg.hierarchies.iter().zip(&cg.paths) {
        let Some(name) = h.mount.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let sub = dest.join(name);
        let t = root.mkdir_all(&sub)?;
        bind_ro(
            &leaf.display().to_string(),
            &t,
            flags,
            &sub.display().to_string(),
        )?;
        if name.contains(',') {
            let dir = root.resolve(dest).sys(|| format!("open {shown:?}"))?;
            for part in name.split(',') {
                match nix::unistd::symlinkat(name, &dir.fd, part) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(e).sys(|| format!("symlink {part} -> {name} in {shown:?}"))
                    }
                }
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let top = root.resolve(dest).sys(|| format!("open {shown:?}"))?;
        nix::mount::mount(
            NONE,
            top.proc_path().as_str(),
            NONE,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )
        .sys(|| format!("remount {shown:?} read-only"))?;
    }
    Ok(())
}

fn bind_ro(src: &str, target: &Target, flags: MsFlags, shown: &str) -> Result<()> {
    nix::mount::mount(
        Some(src),
        target.proc_path().as_str(),
        NONE,
        MsFlags::MS_BIND,
        NONE,
    )
    .sys(|| format!("bind mount cgroup {src:?} on {shown:?}"))?;
    let extra = flags;
    if !extra.is_empty() {
        // The bind above is now on top of `target`'s directory; /proc/self/fd/N still names
        // the directory below, so remount through a fresh resolution of the same path.
        let path = std::fs::read_link(target.proc_path()).sys(|| "readlink of a cgroup mount")?;
        nix::mount::mount(
            NONE,
            &path,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
            NONE,
        )
        .sys(|| format!("remount cgroup {shown:?}"))?;
    }
    Ok(())
}
