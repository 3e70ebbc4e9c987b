//! Entering the rootfs: pivot_root(".", ".") and a detached old root, or chroot with --no-pivot.

use crate::errno::SysContext;
use anyhow::Result;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use std::os::fd::OwnedFd;
use std::path::Path;

const NONE: Option<&str> = None;

/// pivot_root refuses a new root whose parent mount is shared: make that parent private, if it
/// is (as runc: only then). Left as it is otherwise: after the default rslave of `/`, it is a
/// slave of the host's mount, and so is everything bound from it (the rootfs, volumes beside
/// it), which then still sees what the host mounts under a volume later.
pub fn make_parent_unshared(rootfs: &Path) -> Result<()> {
    let mi = crate::mountinfo::read().sys(|| "read /proc/self/mountinfo")?;
    // (mount point, shared): the last (topmost) of the longest mount points above the rootfs.
    let mut best: Option<(String, bool)> = None;
    for e in crate::mountinfo::entries(&mi) {
        let shared = e.is_shared();
        let mp = e.mount_point;
        if rootfs.starts_with(&mp) && best.as_ref().is_none_or(|(b, _)| mp.len() >= b.len()) {
            best = Some((mp, shared));
        }
    }
    match best {
        Some((parent, true)) => mount(NONE, parent.as_str(), NONE, MsFlags::MS_PRIVATE, NONE)
            .sys(|| format!("make the rootfs' parent mount {parent:?} private")),
        _ => Ok(()),
    }
}

/// pivot_root onto the rootfs the descriptor `new` was opened on, before any mount was made in
/// it: a mount stacked on top of it since (through a destination that resolved to the root)
/// is never taken for the root.
pub fn pivot_into(new: &OwnedFd) -> Result<()> {
    let old = nix::fcntl::open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| "open /")?;
    nix::unistd::fchdir(new).sys(|| "fchdir to the rootfs")?;
    nix::unistd::pivot_root(".", ".").sys(|| "pivot_root into the rootfs")?;
    // The old root is now stacked under "."; detach it without propagating the unmount to the host.
    nix::unistd::fchdir(&old).sys(|| "fchdir to the old root")?;
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .sys(|| "make the old root a slave")?;
    umount2(".", MntFlags::MNT_DETACH).sys(|| "detach the old root")?;
    nix::unistd::chdir("/").sys(|| "chdir /")?;
    Ok(())
}

/// --no-pivot: the rootfs mount moved onto / and chroot into it.
pub fn chroot_into(new: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(new).sys(|| "fchdir to the rootfs")?;
    mount(Some("."), "/", NONE, MsFlags::MS_MOVE, NONE).sys(|| "move the rootfs mount to /")?;
    nix::unistd::chroot(".").sys(|| "chroot into the rootfs")?;
    nix::unistd::chdir("/").sys(|| "chdir /")?;
    Ok(())
}

/// Without a mount namespace of the container's own: a chroot, the host's mounts untouched.
pub fn chroot_only(new: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(new).sys(|| "fchdir to the rootfs")?;
    nix::unistd::chroot(".").sys(|| "chroot into the rootfs")?;
    nix::unistd::chdir("/").sys(|| "chdir /")?;
    Ok(())
}

/// The rootfs, held for the pivot (see `pivot_into`).
pub fn open_rootfs(rootfs: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| format!("open rootfs {:?}", rootfs.display().to_string()))
}
