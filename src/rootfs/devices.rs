//! /dev: the default devices (which the config may override), linux.devices, and the standard
//! symlinks. Nodes are made with mknod, or bind-mounted from the host inside a user namespace.

use super::paths::Root;
use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

struct Node {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn from_config(d: &LinuxDevice) -> Result<Node> {
    let shown = d.path().display().to_string();
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => bail!("linux.devices {shown:?}: type \"a\" is not a device node"),
    };
    // Component-wise, and without "..": "/dev/../x" starts with "/dev" but is not under it.
    let climbs = d
        .path()
        .components()
        .any(|c| c == std::path::Component::ParentDir);
    if !d.path().starts_with("/dev") || climbs {
        bail!("linux.devices {shown:?}: devices must be under /dev");
    }
    Ok(Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

pub fn create(root: &Root, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    let mut nodes: Vec<Node> = Vec::new();
    for &(p, major, minor) in DEFAULTS {
        if devices.iter().any(|d| d.path() == Path::new(p)) {
            continue; // the config overrides it
        }
        nodes.push(Node {
            path: p.into(),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    }
    for d in devices {
        nodes.push(from_config(d)?);
    }
    root.mkdir_all(Path::new("/dev"))?;
    let old = nix::sys::stat::umask(Mode::empty());
    let result = nodes.iter().try_for_each(|n| make(root, n, in_userns));
    nix::sys::stat::umask(old);
    result?;
    symlinks(root)
}

fn make(root: &Root, n: &Node, in_userns: bool) -> Result<()> {
    let shown = n.path.display().to_string();
    if in_userns {
        let target = root.create_file(&n.path, 0o000)?;
        let host = n.path.display().to_string();
        let tree = crate::mountapi::clone_tree(&host, false)
            .with_context(|| format!("bind mount device {host:?} from the host"))?;
        return crate::mountapi::attach(&tree, target.fd.as_raw_fd())
            .with_context(|| format!("bind mount device {host:?} from the host"));
    }
    let parent = n.path.parent().unwrap_or(Path::new("/dev"));
    let dir = root.mkdir_all(parent)?;
    let name = n.path.file_name().unwrap_or_default();
    // Replace whatever the image or the config put there.
    let _ = nix::unistd::unlinkat(&dir.fd, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    nix::sys::stat::mknodat(
        &dir.fd,
        name,
        n.kind,
        Mode::from_bits_truncate(n.mode),
        nix::sys::stat::makedev(n.major, n.minor),
    )
    .sys(|| format!("mknod {shown:?}"))?;
    nix::unistd::fchownat(
        &dir.fd,
        name,
        Some(nix::unistd::Uid::from_raw(n.uid)),
        Some(nix::unistd::Gid::from_raw(n.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .sys(|| format!("chown {shown:?} to {}:{}", n.uid, n.gid))
}

fn symlinks(root: &Root) -> Result<()> {
    let dev = root
        .resolve(Path::new("/dev"))
        .sys(|| "open /dev in rootfs")?;
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        if name == "ptmx" {
            let _ = nix::unistd::unlinkat(&dev.fd, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        match nix::unistd::symlinkat(target, &dev.fd, name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).sys(|| format!("symlink /dev/{name} -> {target}")),
        }
    }
    Ok(())
}
