//! A container without a mount namespace of its own inherits the runtime's (config-linux.md:
//! a namespace not listed MUST be inherited). Its mounts are then made in the host's mount
//! namespace, under the rootfs, and runc leaves them there after `delete`. rt binds the rootfs
//! onto itself first, privately (nothing made under it propagates anywhere), records that mount
//! in the container's state, makes every other mount beneath it, and `delete` (or a failed
//! `create`) detaches it, and with it everything beneath.

use crate::errno::SysContext;
use crate::mountapi;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

fn open(rootfs: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| format!("open rootfs {:?}", rootfs.display().to_string()))
}

/// The mount id of what `fd` refers to.
fn mount_id(fd: &OwnedFd) -> Result<u64> {
    crate::sys::mount_id(fd.as_fd()).sys(|| "statx of the rootfs mount")
}

/// Bind the rootfs onto itself, private, in the host's mount namespace; its mount id.
pub fn bind(rootfs: &Path) -> Result<u64> {
    let shown = rootfs.display().to_string();
    let tree = mountapi::clone_tree(&shown, true)
        .with_context(|| format!("bind the rootfs {shown:?} onto itself"))?;
    let target = open(rootfs)?;
    mountapi::attach(&tree, target.as_raw_fd())
        .with_context(|| format!("bind the rootfs {shown:?} onto itself"))?;
    // Before anything is mounted beneath it: no mount of the container's reaches another mount
    // namespace, and no unmount of theirs reaches the container.
    mountapi::set_propagation(tree.as_raw_fd(), MsFlags::MS_PRIVATE | MsFlags::MS_REC)
        .with_context(|| format!("make the rootfs {shown:?} private"))?;
    mount_id(&tree)
}

/// Detach the rootfs bind `id` and everything beneath it, if it is still there.
pub fn unbind(rootfs: &Path, id: u64) -> Result<()> {
    let fd = match open(rootfs) {
        Ok(fd) => fd,
        Err(_) if !rootfs.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    if mount_id(&fd)? != id {
        // Gone already (a delete interrupted after the unmount): nothing of ours is there.
        return Ok(());
    }
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    nix::mount::umount2(path.as_str(), nix::mount::MntFlags::MNT_DETACH).sys(|| {
        format!(
            "unmount the container's rootfs {:?} from the host",
            rootfs.display().to_string()
        )
    })
}
