//! A `cgroup` mount inside the container. On a v2-only host: cgroup2 itself (a bind of the host's
//! cgroup2 mount when the container shares the runtime's cgroup namespace). With v1 hierarchies
//! (pure v1 or hybrid): a tmpfs holding, per hierarchy, a bind mount of the container's own cgroup,
//! plus the usual `cpu -> cpu,cpuacct` links, as runc lays it out. Everything is made through
//! the descriptors of the mounts rt makes, never through a path looked up again.

use super::options::Parsed;
use super::paths::Target;
use super::Options;
use crate::errno::SysContext;
use crate::mountapi;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

pub fn mount(dest: &Path, target: &Target, p: &Parsed, opts: &Options) -> Result<()> {
    let shown = dest.display().to_string();
    let flags = p
        .flags
        .difference(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let cg = &opts.cgroups;
    let pure_v2 = cg.hierarchies.len() == 1 && cg.hierarchies[0].v2;
    if pure_v2 && !opts.own_cgroupns && !opts.in_userns {
        // What a new cgroup2 mount would show here is the host's hierarchy mount, which is
        // listed only when its root is the hierarchy's root. A new mount in the initial cgroup
        // namespace also re-applies the root's flags (clearing a host's nsdelegate) and
        // waits 5-30 ms about one time in ten (kernel 6.18); a bind does neither.
        let host = cg.hierarchies[0].mount.display().to_string();
        let tree = bind_leaf(&host, target.fd.as_raw_fd(), flags, opts, &shown)?;
        for f in &p.propagation {
            mountapi::set_propagation(tree.as_raw_fd(), *f)
                .with_context(|| format!("set propagation of {shown:?}"))?;
        }
        return Ok(());
    }
    if pure_v2 {
        match mountapi::new_fs("cgroup2", Some("cgroup2"), &[], flags.bits()) {
            Ok(fs) => {
                return mountapi::attach(&fs, target.fd.as_raw_fd())
                    .with_context(|| format!("mount cgroup2 on {shown:?}"))
            }
            // Not allowed here (a user namespace without a cgroup namespace): bind our own.
            Err(e) if matches!(e.errno, nix::errno::Errno::EPERM | nix::errno::Errno::EBUSY) => {}
            Err(e) => return Err(e).with_context(|| format!("mount cgroup2 on {shown:?}")),
        }
        let leaf = cg
            .paths
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return bind_leaf(&leaf, target.fd.as_raw_fd(), flags, opts, &shown).map(drop);
    }
    let tmpfs = mountapi::new_fs(
        "tmpfs",
        Some("tmpfs"),
        &["mode=755".to_string()],
        (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC).bits(),
    )
    .with_context(|| format!("mount tmpfs for cgroups on {shown:?}"))?;
    mountapi::attach(&tmpfs, target.fd.as_raw_fd())
        .with_context(|| format!("mount tmpfs for cgroups on {shown:?}"))?;
    for (h, leaf) in cg.hierarchies.iter().zip(&cg.paths) {
        let Some(name) = h.mount.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let sub = format!("{shown}/{name}");
        let dir = subdir(&tmpfs, name).with_context(|| format!("make {sub:?}"))?;
        bind_leaf(
            &leaf.display().to_string(),
            dir.as_raw_fd(),
            flags,
            opts,
            &sub,
        )?;
        if name.contains(',') {
            for part in name.split(',') {
                match nix::unistd::symlinkat(name, &tmpfs, part) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(e).sys(|| format!("symlink {part} -> {name} in {shown:?}"))
                    }
                }
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let attr = mountapi::MountAttr {
            attr_set: mountapi::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        mountapi::setattr(tmpfs.as_raw_fd(), &attr, false)
            .with_context(|| format!("make {shown:?} read-only"))?;
    }
    Ok(())
}

/// A directory made in our own tmpfs, opened without following anything.
fn subdir(tmpfs: &OwnedFd, name: &str) -> Result<OwnedFd> {
    nix::sys::stat::mkdirat(tmpfs, name, Mode::from_bits_truncate(0o755)).sys(|| "mkdir")?;
    nix::fcntl::openat(
        tmpfs,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| "open")
}

/// The container's cgroup directory `src` (a host path), bind-mounted onto `target` with the
/// cgroup mount's flags. Private, as a new mount would be: a clone of a shared host mount is its
/// peer, and a container allowed to mount would reach the host's cgroup tree through it.
fn bind_leaf(
    src: &str,
    target: RawFd,
    flags: MsFlags,
    opts: &Options,
    shown: &str,
) -> Result<OwnedFd> {
    let tree = mountapi::clone_tree(src, false)
        .with_context(|| format!("bind mount cgroup {src:?} on {shown:?}"))?;
    // Only a cgroup filesystem: never what another mount over the host path might be.
    let fs = nix::sys::statfs::fstatfs(&tree).sys(|| format!("statfs {src:?}"))?;
    let t = fs.filesystem_type();
    if t != nix::sys::statfs::CGROUP2_SUPER_MAGIC && t != nix::sys::statfs::CGROUP_SUPER_MAGIC {
        bail!("bind mount cgroup {src:?} on {shown:?}: not a cgroup filesystem");
    }
    mountapi::set_propagation(tree.as_raw_fd(), MsFlags::MS_PRIVATE)
        .with_context(|| format!("make cgroup {shown:?} private"))?;
    if !flags.is_empty() {
        mountapi::replace_flags(&tree, flags, opts.in_userns)
            .with_context(|| format!("set the options of cgroup {shown:?}"))?;
    }
    mountapi::attach(&tree, target).with_context(|| format!("bind mount cgroup on {shown:?}"))?;
    Ok(tree)
}
