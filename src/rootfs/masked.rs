//! linux.maskedPaths (the null device over files, a read-only tmpfs over directories) and
//! linux.readonlyPaths (bind-mounted onto themselves read-only), after pivot_root.
//!
//! CVE-2025-31133: `/dev` may be a volume that another container writes to while we work, so
//! `/dev/null` is opened once, without following symlinks, checked to be the null device (char
//! 1:3) and every mask is a bind of that descriptor; each target is resolved once inside the
//! root, through no symlink, and the mount attached onto its descriptor. A path that does not
//! exist has nothing to hide; any other failure fails the create, never leaving a path unmasked.

use crate::errno::SysContext;
use crate::mountapi;
use anyhow::{bail, Context, Result};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{Mode, SFlag};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The container's root (`/` after pivot_root), as a descriptor.
pub fn open_root() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| "open the container's root")
}

/// `p` inside the root: symlinks are followed, but never out of it (with `O_NOFOLLOW` in
/// `flags`, not the last one; with RESOLVE_NO_SYMLINKS in `extra`, none).
fn resolve(root: &OwnedFd, p: &str, flags: OFlag, extra: ResolveFlag) -> nix::Result<OwnedFd> {
    let rel: PathBuf = Path::new(p)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS | extra);
    nix::fcntl::openat2(root, rel.as_path(), how)
}

/// `/dev/null` of the container, opened once and verified.
fn null_device(root: &OwnedFd) -> Result<OwnedFd> {
    let fd = resolve(root, "/dev/null", OFlag::O_NOFOLLOW, ResolveFlag::empty())
        .sys(|| "open /dev/null to mask paths with")?;
    let st = nix::sys::stat::fstat(&fd).sys(|| "stat /dev/null")?;
    let is_null = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR
        && nix::sys::stat::major(st.st_rdev) == 1
        && nix::sys::stat::minor(st.st_rdev) == 3;
    if !is_null {
        bail!("/dev/null in the container is not the null device (char 1:3): cannot mask paths with it");
    }
    Ok(fd)
}

/// A masked or read-only path, found without following any symlink: through one (an image
/// whose /proc is a link to elsewhere) the path would miss the filesystem it must protect,
/// and a missing path is taken as nothing to protect. A path that does not exist is skipped; one
/// that goes through a symlink fails the create.
fn protected_path(root: &OwnedFd, p: &str, what: &str) -> Result<Option<OwnedFd>> {
    match resolve(root, p, OFlag::empty(), ResolveFlag::RESOLVE_NO_SYMLINKS) {
        Ok(t) => Ok(Some(t)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(nix::errno::Errno::ELOOP) => {
            bail!("{what} {p:?}: the path goes through a symlink in the container")
        }
        Err(e) => Err(e).sys(|| format!("open {what} {p:?}")),
    }
}

pub fn mask(root: &OwnedFd, paths: &[String]) -> Result<()> {
    let mut null = None;
    for p in paths {
        let Some(target) = protected_path(root, p, "masked path")? else {
            continue;
        };
        let st = nix::sys::stat::fstat(&target).sys(|| format!("stat masked path {p:?}"))?;
        let tree = if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR
        {
            mountapi::new_fs(
                "tmpfs",
                Some("tmpfs"),
                &["size=0".to_string(), "mode=0555".to_string()],
                nix::mount::MsFlags::MS_RDONLY.bits(),
            )
            .with_context(|| format!("mask directory {p:?} with a read-only tmpfs"))?
        } else {
            if null.is_none() {
                null = Some(null_device(root)?);
            }
            let null = null.as_ref().expect("opened above");
            mountapi::clone_fd(null.as_raw_fd(), false)
                .with_context(|| format!("mask {p:?} with /dev/null"))?
        };
        mountapi::attach(&tree, target.as_raw_fd()).with_context(|| format!("mask {p:?}"))?;
    }
    Ok(())
}

pub fn make_readonly(root: &OwnedFd, paths: &[String]) -> Result<()> {
    for p in paths {
        let Some(target) = protected_path(root, p, "readonly path")? else {
            continue;
        };
        let tree = mountapi::clone_fd(target.as_raw_fd(), true)
            .with_context(|| format!("bind readonly path {p:?}"))?;
        read_only(&tree, true).with_context(|| format!("make {p:?} read-only"))?;
        mountapi::attach(&tree, target.as_raw_fd())
            .with_context(|| format!("bind readonly path {p:?}"))?;
    }
    Ok(())
}

/// Make the mount `fd` refers to read-only (with its submounts when `recursive`), its other
/// options untouched.
pub fn read_only(fd: &OwnedFd, recursive: bool) -> Result<()> {
    let attr = mountapi::MountAttr {
        attr_set: mountapi::MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    mountapi::setattr(fd.as_raw_fd(), &attr, recursive)
}
