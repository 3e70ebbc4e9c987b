//! One entry of config.json's `mounts`, mounted inside the rootfs through a resolved descriptor.

use super::mountapi::{self, MountAttr};
use super::options::{self, Parsed};
use super::paths::{Root, Target};
use super::Options;
use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::FsFlags;
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

const NONE: Option<&str> = None;

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
        return super::cgroupfs::mount(root, dest, &target, &parsed, opts);
    }
    if parsed.is_bind() {
        let src = source.clone().unwrap_or_default();
        let meta =
            std::fs::metadata(&src).sys(|| format!("bind mount source {src:?} for {shown:?}"))?;
        let target = if meta.is_dir() {
            root.mkdir_all(dest)?
        } else {
            root.create_file(dest, 0o644)?
        };
        // Again on the resolved path: a symlink in the image may lead into /proc.
        check_proc(&root.inside(&target)?, typ, true, source.as_deref())?;
        bind(root, &src, dest, &target, &parsed, opts, userns)
    } else {
        if parsed.idmap.is_some() {
            bail!("mount on {shown:?}: idmap and ridmap apply to bind mounts only");
        }
        let target = root.mkdir_all(dest)?;
        check_proc(&root.inside(&target)?, typ, false, source.as_deref())?;
        let src = source.clone().unwrap_or_else(|| typ.to_string());
        let flags = parsed.flags & !MsFlags::MS_REMOUNT;
        let mut data = parsed.data_string();
        // SELinux labels what the container mounts fresh (tmpfs, mqueue, ...) with mountLabel.
        if let Some(label) = &opts.mount_label {
            if !matches!(typ, "proc" | "sysfs") {
                let ctx = format!("context=\"{label}\"");
                data = Some(match data {
                    Some(d) => format!("{d},{ctx}"),
                    None => ctx,
                });
            }
        }
        let result = mount(
            Some(src.as_str()),
            target.proc_path().as_str(),
            Some(typ),
            flags,
            data.as_deref(),
        );
        match result {
            Ok(()) => {}
            // sysfs cannot be mounted without a private network namespace in a user namespace:
            // bind the host's instead, as runc does.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" && opts.in_userns => {
                let mut p = parsed.clone();
                p.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                p.data.clear();
                return bind(root, "/sys", dest, &target, &p, opts, None);
            }
            Err(e) => return Err(e).sys(|| format!("mount {src:?} on {shown:?}")),
        }
        finish(root, dest, &parsed)
    }
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
    // Lexically clean, as the kernel will walk it inside the root ("/.." is "/").
    let mut clean = std::path::PathBuf::from("/");
    for c in dest.components() {
        match c {
            std::path::Component::Normal(n) => clean.push(n),
            std::path::Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
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

fn bind(
    root: &Root,
    src: &str,
    dest: &Path,
    target: &Target,
    p: &Parsed,
    opts: &Options,
    userns: Option<RawFd>,
) -> Result<()> {
    let shown = dest.display().to_string();
    let rec = p.flags & MsFlags::MS_REC;
    match p.idmap {
        Some(recursive) => {
            let Some(ns) = userns else {
                bail!("mount on {shown:?}: idmap needs uidMappings and gidMappings, on the mount or for the container's user namespace");
            };
            let tree = mountapi::clone_tree(src, !rec.is_empty())
                .with_context(|| format!("idmapped mount of {src:?} on {shown:?}"))?;
            let attr = MountAttr {
                attr_set: mountapi::MOUNT_ATTR_IDMAP,
                userns_fd: ns as u64,
                ..Default::default()
            };
            mountapi::setattr(tree.as_raw_fd(), &attr, recursive)
                .with_context(|| format!("idmap {src:?} for {shown:?}"))?;
            mountapi::attach(&tree, target.fd.as_raw_fd())
                .with_context(|| format!("attach idmapped {src:?} on {shown:?}"))?;
        }
        None => mount(
            Some(src),
            target.proc_path().as_str(),
            NONE,
            MsFlags::MS_BIND | rec,
            NONE,
        )
        .sys(|| format!("bind mount {src:?} on {shown:?}"))?,
    }
    // Flags other than bind need a remount of the new mount, reached by resolving again.
    let extra = p.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let top = root
            .resolve(dest)
            .sys(|| format!("open {shown:?} after mounting"))?;
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra;
        if opts.in_userns {
            flags |= locked_flags(&top)?;
        }
        mount(NONE, top.proc_path().as_str(), NONE, flags, NONE)
            .sys(|| format!("remount {shown:?} with its options"))?;
    }
    finish(root, dest, p)
}

/// Recursive attributes and propagation, on the mount now at `dest`.
fn finish(root: &Root, dest: &Path, p: &Parsed) -> Result<()> {
    if p.propagation.is_empty() && p.attr_set == 0 && p.attr_clr == 0 {
        return Ok(());
    }
    let shown = dest.display().to_string();
    let top = root
        .resolve(dest)
        .sys(|| format!("open {shown:?} after mounting"))?;
    if p.attr_set != 0 || p.attr_clr != 0 {
        let attr = MountAttr {
            attr_set: p.attr_set,
            attr_clr: p.attr_clr,
            ..Default::default()
        };
        mountapi::setattr(top.fd.as_raw_fd(), &attr, true)
            .with_context(|| format!("set recursive mount options on {shown:?}"))?;
    }
    for f in &p.propagation {
        mount(NONE, top.proc_path().as_str(), NONE, *f, NONE)
            .sys(|| format!("set propagation of {shown:?}"))?;
    }
    Ok(())
}

/// Flags a user namespace may not clear on a remount (the kernel locks them).
fn locked_flags(t: &Target) -> Result<MsFlags> {
    let st = nix::sys::statvfs::fstatvfs(&t.fd).sys(|| "statvfs of a mount")?;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    Ok(out)
}

/// Remount an existing mount point read-only, keeping its other flags.
pub fn remount_readonly(p: &Path) -> Result<()> {
    let shown = p.display().to_string();
    let st = nix::sys::statvfs::statvfs(p).sys(|| format!("statvfs {shown:?}"))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.flags().contains(s) {
            flags |= m;
        }
    }
    mount(NONE, p, NONE, flags, NONE).sys(|| format!("remount {shown:?} read-only"))
}
