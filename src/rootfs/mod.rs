//! The container's root filesystem: propagation, the rootfs bind-mounted onto itself, the
//! config's mounts, /dev, pivot_root (or chroot with --no-pivot), then masked and read-only paths
//! and a read-only root.

mod cgroupfs;
mod copyup;
mod devices;
pub mod host_ns;
mod masked;
mod mounts;
mod options;
mod paths;
pub use paths::lexical_clean;
mod pivot;
pub mod restore;
pub mod sysctl;

pub use options::known as known_mount_options;

use crate::errno::SysContext;
use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;
use std::path::Path;

pub struct Options {
    pub no_pivot: bool,
    /// No mount namespace of the container's own: the runtime bound the rootfs onto itself in
    /// the host's (see host_ns); nothing of the host's mounts may change, and chroot replaces
    /// pivot_root.
    pub host_ns: bool,
    pub in_userns: bool,
    /// linux.mountLabel, when SELinux is enabled on the host (otherwise there is nothing to
    /// apply it to, and runc ignores it the same way).
    pub mount_label: Option<String>,
    /// User namespaces of idmapped mounts, by index in `mounts`.
    pub mount_userns: Vec<Option<std::os::fd::RawFd>>,
    /// The container's cgroups, for `cgroup` mounts.
    pub cgroups: crate::cgroups::Placement,
    /// The container creates or joins a cgroup namespace (otherwise it shares the runtime's).
    pub own_cgroupns: bool,
}

const NONE: Option<&str> = None;

/// `before_pivot` runs once the mounts are made and before pivot_root (the create hooks),
/// `after_pivot` right after it, while everything is still writable (the console).
pub fn setup(
    spec: &Spec,
    rootfs: &Path,
    opts: &Options,
    before_pivot: &mut dyn FnMut() -> Result<()>,
    after_pivot: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    let linux = spec.linux().as_ref();
    let propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        Some(p) if !p.is_empty() => Some(options::propagation(p)?),
        _ => None,
    };
    if !opts.host_ns {
        // Nothing we mount may leak back to the host: slave by default, as runc does. An
        // unbindable mode waits until after pivot_root: made now, it would forbid every bind
        // mount from the host (cgroups, the config's binds) with EINVAL.
        let early = match propagation {
            Some(p) if !p.contains(MsFlags::MS_UNBINDABLE) => p,
            _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        };
        mount(NONE, "/", NONE, early, NONE)
            .sys(|| "set the propagation of / (rootfsPropagation)")?;
        pivot::make_parent_unshared(rootfs)?;
        mount(
            Some(rootfs),
            rootfs,
            Some("bind"),
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
        .sys(|| {
            format!(
                "bind mount rootfs {:?} onto itself",
                rootfs.display().to_string()
            )
        })?;
    }

    let rootfs_fd = pivot::open_rootfs(rootfs)?;
    let root = paths::Root::open(rootfs)?;
    let spec_mounts = spec.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in spec_mounts.iter().enumerate() {
        let userns = opts.mount_userns.get(i).copied().flatten();
        mounts::mount_one(&root, m, opts, userns)?;
    }
    let dev_is_bind = spec_mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if !dev_is_bind {
        devices::create(
            &root,
            linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]),
            opts.in_userns,
        )?;
    }
    drop(root);
    before_pivot()?;

    if opts.host_ns {
        pivot::chroot_only(&rootfs_fd)?;
    } else if opts.no_pivot {
        pivot::chroot_into(&rootfs_fd)?;
    } else {
        pivot::pivot_into(&rootfs_fd)?;
    }
    drop(rootfs_fd);
    after_pivot()?;
    let root = masked::open_root()?;
    if let Some(l) = linux {
        // Before readonlyPaths makes /proc/sys read-only, as runc does.
        if let Some(s) = l.sysctl().as_ref().filter(|s| !s.is_empty()) {
            sysctl::apply(&crate::procfs::ProcFs::for_sysctls()?, s)?;
        }
        masked::mask(&root, l.masked_paths().as_deref().unwrap_or(&[]))?;
        masked::make_readonly(&root, l.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        masked::read_only(&root, false).context("make the root read-only (root.readonly)")?;
    }
    // Last: masked and read-only paths are bind mounts, which an unbindable mode would forbid.
    if let Some(p) = propagation {
        mount(NONE, "/", NONE, p, NONE).sys(|| "set rootfsPropagation on /")?;
    }
    Ok(())
}
