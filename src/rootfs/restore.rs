//! The rootfs side of a CRIU restore: CRIU rebuilds the container's mount tree from its images
//! on a root that must be a mount point, with the mount points of the config's mounts present
//! in it (as `create` made them). Done in a mount namespace of rt's own (made a slave of the
//! host's), so that the bind mount CRIU wants never reaches the host and vanishes with us,
//! whatever happens.

use super::paths::Root;
use crate::errno::SysContext;
use anyhow::{Context, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::path::{Path, PathBuf};

/// Whether a config mount is a bind mount (by its type or its options, as runc).
pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|o| o == "bind" || o == "rbind")
}

/// Enter a private mount namespace, make the mount points `mounts` need in `rootfs` (those not
/// under a tmpfs of the config: CRIU restores its contents, mount points included) and bind
/// `rootfs` onto `at`, which is returned for CRIU's `root`.
pub fn prepare(rootfs: &Path, mounts: &[Mount], at: &Path) -> Result<PathBuf> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .sys(|| "unshare the mount namespace for the restore")?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .sys(|| "make / a slave mount for the restore")?;
    make_mount_points(rootfs, mounts)?;
    std::fs::create_dir_all(at).sys(|| format!("mkdir {}", at.display()))?;
    nix::mount::mount(
        Some(rootfs),
        at,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .sys(|| format!("bind mount {} on {}", rootfs.display(), at.display()))?;
    Ok(at.to_path_buf())
}

fn make_mount_points(rootfs: &Path, mounts: &[Mount]) -> Result<()> {
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let root = Root::open(rootfs)?;
    for m in mounts {
        let dest = m.destination();
        if m.typ().as_deref() == Some("cgroup")
            || tmpfs.iter().any(|t| dest.starts_with(t) && dest != *t)
        {
            continue;
        }
        let file = is_bind(m) && m.source().as_deref().is_some_and(|s| !s.is_dir());
        let made = match file {
            true => root.create_file(dest, 0o644).map(|_| ()),
            false => root.mkdir_all(dest).map(|_| ()),
        };
        made.with_context(|| format!("make the mount point {} for the restore", dest.display()))?;
    }
    Ok(())
}
