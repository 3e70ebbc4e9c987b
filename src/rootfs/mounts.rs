//! One entry of config.json's `mounts`, mounted inside the rootfs through a resolved descriptor.

use super::options::{self, Parsed};
use super::paths::{Root, Target};
use super::Options;
use crate::errno::SysContext;
use crate::mountapi::{self, MountAttr};
use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// `userns`: the user namespace of an idmapped mount (`idmap`/`ridmap`).
pub fn mount_one(root: &Root, m: &Mount, opts: &Options, userns: Option<RawFd>) -> Result<()> {
    let dest = m.destination();
    let shown = dest.display().to_string();
    let mut parsed = options::parse(m.options().as_deref().unwrap_or(&[]))
        .with_context(|| format!("mount on {shown:?}"))?;
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "bind" {
        parsed.flags |= MsFlags::MS_BIND;
    }
    let source = m.source().as_ref().map(|s| s.display().to_string());
    check_proc(dest, typ, parsed.is_bind(), source.as_deref())?;
    if typ == "cgroup" || typ == "cgroup2" {
        let target = root.mkdir_all(dest)?;
        not_the_root(&root.inside(&target)?, &shown)?;
        return super::cgroupfs::mount(dest, &target, &parsed, opts);
    }
    if parsed.is_bind() {
        if parsed.ext.tmpcopyup {
            bail!("mount on {shown:?}: tmpcopyup applies to tmpfs mounts only");
        }
        let src = source.clone().unwrap_or_default();
        let link = std::fs::symlink_metadata(&src)
            .sys(|| format!("bind mount source {src:?} for {shown:?}"))?;
        if link.file_type().is_symlink() && parsed.ext.copy_symlink {
            return copy_symlink(root, &src, dest);
        }
        let meta = match parsed.ext.src_nofollow {
            true => link,
            false => std::fs::metadata(&src)
                .sys(|| format!("bind mount source {src:?} for {shown:?}"))?,
        };
        let target = match (parsed.ext.dest_nofollow, meta.is_dir()) {
            (true, dir) => root.entry_nofollow(dest, dir)?,
            (false, true) => root.mkdir_all(dest)?,
            (false, false) => root.create_file(dest, 0o644)?,
        };
        // Again on the resolved path: a symlink in the image may lead into /proc.
        let inside = root.inside(&target)?;
        check_proc(&inside, typ, true, source.as_deref())?;
        not_the_root(&inside, &shown)?;
        bind(&src, dest, &target, &parsed, opts, userns)
    } else {
        if parsed.idmap.is_some() {
            bail!("mount on {shown:?}: idmap and ridmap apply to bind mounts only");
        }
        if parsed.ext.copy_symlink || parsed.ext.src_nofollow {
            bail!("mount on {shown:?}: copy-symlink and src-nofollow apply to bind mounts only");
        }
        if parsed.ext.tmpcopyup && typ != "tmpfs" {
            bail!("mount on {shown:?}: tmpcopyup applies to tmpfs mounts only");
        }
        let target = match (typ, parsed.ext.dest_nofollow) {
            ("proc" | "sysfs", _) => root.plain_dir(dest, &format!("filesystem {typ:?}"))?,
            (_, true) => root.entry_nofollow(dest, true)?,
            _ => root.mkdir_all(dest)?,
        };
        let inside = root.inside(&target)?;
        check_proc(&inside, typ, false, source.as_deref())?;
        not_the_root(&inside, &shown)?;
        let src = source.clone().unwrap_or_else(|| typ.to_string());
        let mut data = parsed.data.clone();
        // SELinux labels what the container mounts fresh (tmpfs, mqueue, ...) with mountLabel.
        if let Some(label) = &opts.mount_label {
            if !matches!(typ, "proc" | "sysfs") {
                data.push(format!("context={label}"));
            }
        }
        // difference, not `& !`: bitflags' `!` drops the bits nix does not name (MS_NOSYMFOLLOW).
        let flags = parsed.flags.difference(MsFlags::MS_REMOUNT);
        let fs = match mountapi::new_fs(typ, Some(&src), &data, flags.bits()) {
            Ok(fs) => fs,
            // sysfs cannot be mounted without a private network namespace in a user namespace:
            // bind the host's instead, as runc does.
            Err(e) if e.errno == nix::errno::Errno::EPERM && typ == "sysfs" && opts.in_userns => {
                let mut p = parsed.clone();
                p.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                p.data.clear();
                return bind("/sys", dest, &target, &p, opts, None);
            }
            Err(e) => return Err(e).with_context(|| format!("mount {src:?} on {shown:?}")),
        };
        if parsed.ext.tmpcopyup {
            copy_up(&target, &fs, &parsed, &inside)?;
        }
        place(fs, dest, &target, &parsed)
    }
}

/// Attach a detached mount onto `target`, with the recursive attributes and propagation the
/// options ask for, set on the mount itself (never on a path looked up again).
fn place(tree: OwnedFd, dest: &Path, target: &Target, p: &Parsed) -> Result<()> {
    let shown = dest.display().to_string();
    if p.attr_set != 0 || p.attr_clr != 0 {
        let attr = MountAttr {
            attr_set: p.attr_set,
            attr_clr: p.attr_clr,
            ..Default::default()
        };
        mountapi::setattr(tree.as_raw_fd(), &attr, true)
            .with_context(|| format!("set recursive mount options on {shown:?}"))?;
    }
    mountapi::attach(&tree, target.fd.as_raw_fd())
        .with_context(|| format!("mount on {shown:?}"))?;
    for f in &p.propagation {
        mountapi::set_propagation(tree.as_raw_fd(), *f)
            .with_context(|| format!("set propagation of {shown:?}"))?;
    }
    Ok(())
}

/// `tmpcopyup`: what the image has at the destination goes into the new (still detached) tmpfs.
fn copy_up(target: &Target, tmpfs: &OwnedFd, p: &Parsed, inside: &Path) -> Result<()> {
    let open = |fd: &OwnedFd, what: &str| {
        nix::fcntl::openat(
            fd,
            ".",
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .sys(|| format!("tmpcopyup: open {what} {:?}", inside.display().to_string()))
    };
    let src = open(&target.fd, "the image's")?;
    let dst = open(tmpfs, "the tmpfs for")?;
    // mode=, uid= or gid= in the options say what the tmpfs root is; else the image's directory.
    let own_root = !p
        .data
        .iter()
        .any(|o| o.starts_with("mode=") || o.starts_with("uid=") || o.starts_with("gid="));
    super::copyup::copy(&src, &dst, own_root, inside)
}

/// `copy-symlink` with a symlink as the source: the same symlink at the destination.
fn copy_symlink(root: &Root, src: &str, dest: &Path) -> Result<()> {
    let shown = dest.display().to_string();
    let link = std::fs::read_link(src).sys(|| format!("readlink {src:?}"))?;
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        bail!("mount on {shown:?}: copy-symlink needs a destination with a last component");
    };
    let dir = root.mkdir_all(parent)?;
    match nix::unistd::symlinkat(link.as_os_str(), &dir.fd, name) {
        Ok(()) => Ok(()),
        // The same symlink already there is fine; anything else in the way is not replaced.
        Err(nix::errno::Errno::EEXIST)
            if nix::fcntl::readlinkat(&dir.fd, name).is_ok_and(|l| l == link.as_os_str()) =>
        {
            Ok(())
        }
        Err(e) => Err(e).sys(|| format!("copy-symlink: symlink {shown:?} -> {:?}", link.display())),
    }
}

/// A mount whose destination resolves to the container's root (`/data/x -> /` planted in a
/// volume) would be stacked on the root itself and taken for it (runc: "mountpoint is on the
/// top of rootfs").
fn not_the_root(inside: &Path, shown: &str) -> Result<()> {
    if inside == Path::new("/") {
        bail!("mount on {shown:?}: the destination resolves to the container's root");
    }
    Ok(())
}

/// Files under /proc that may be bind-mounted over (lxcfs and the like).
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Only a real procfs goes on /proc; below it, only the files listed above (CVE-2019-16884 and
/// friends: a fake /proc would let the image defeat masking and LSM labels).
fn check_proc(dest: &Path, typ: &str, bind: bool, source: Option<&str>) -> Result<()> {
    let clean = super::paths::lexical_clean(dest);
    if !clean.starts_with("/proc") {
        return Ok(());
    }
    let shown = clean.display().to_string();
    if clean == Path::new("/proc") {
        if !bind && typ == "proc" {
            return Ok(());
        }
        if bind {
            let src = source.unwrap_or("");
            let st = nix::sys::statfs::statfs(src).sys(|| format!("statfs {src:?}"))?;
            if st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC {
                return Ok(());
            }
        }
        bail!("mount on {shown:?}: only a procfs may be mounted on /proc");
    }
    if PROC_ALLOWED.iter().any(|p| Path::new(p) == clean) {
        return Ok(());
    }
    bail!(
        "mount on {shown:?}: mounts under /proc are limited to {}",
        PROC_ALLOWED.join(", ")
    )
}

/// A bind mount of `src` (a host path), made detached: idmapped if asked, given its flags (which
/// replace the source's, as a remount would) while nothing else can reach it, then attached.
fn bind(
    src: &str,
    dest: &Path,
    target: &Target,
    p: &Parsed,
    opts: &Options,
    userns: Option<RawFd>,
) -> Result<()> {
    let shown = dest.display().to_string();
    let rec = p.flags.contains(MsFlags::MS_REC);
    let tree =
        match p.ext.src_nofollow && std::fs::symlink_metadata(src).is_ok_and(|m| m.is_symlink()) {
            true => mountapi::clone_link(src),
            false => mountapi::clone_tree(src, rec),
        }
        .with_context(|| format!("bind mount {src:?} on {shown:?}"))?;
    if let Some(recursive) = p.idmap {
        let Some(ns) = userns else {
            bail!("mount on {shown:?}: idmap needs uidMappings and gidMappings, on the mount or for the container's user namespace");
        };
        let attr = MountAttr {
            attr_set: mountapi::MOUNT_ATTR_IDMAP,
            userns_fd: ns as u64,
            ..Default::default()
        };
        mountapi::setattr(tree.as_raw_fd(), &attr, recursive)
            .with_context(|| format!("idmap {src:?} for {shown:?}"))?;
    }
    // Flags other than bind replace the new mount's own (its top only, as mount(2)'s remount).
    let extra = p
        .flags
        .difference(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        mountapi::replace_flags(&tree, extra, opts.in_userns)
            .with_context(|| format!("set the options of {shown:?}"))?;
    }
    place(tree, dest, target, p)
}
