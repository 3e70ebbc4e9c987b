//! linux.maskedPaths (a verified /dev/null over files, a read-only tmpfs over directories) and
//! linux.readonlyPaths (bind-mounted onto themselves read-only). Paths that do not exist are skipped.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::SFlag;
use std::path::Path;

const NONE: Option<&str> = None;

pub fn mask(paths: &[String]) -> Result<()> {
    let null = nix::sys::stat::stat("/dev/null").sys(|| "stat /dev/null")?;
    let is_null = SFlag::from_bits_truncate(null.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR
        && nix::sys::stat::major(null.st_rdev) == 1
        && nix::sys::stat::minor(null.st_rdev) == 3;
    for p in paths {
        let meta = match std::fs::symlink_metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).sys(|| format!("stat masked path {p:?}")),
        };
        if meta.is_dir() {
            mount(
                Some("tmpfs"),
                p.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0,mode=0555"),
            )
            .sys(|| format!("mask directory {p:?} with a read-only tmpfs"))?;
        } else {
            if !is_null {
                bail!("mask {p:?}: /dev/null in the container is not the null device (char 1:3)");
            }
            match mount(Some("/dev/null"), p.as_str(), NONE, MsFlags::MS_BIND, NONE) {
                Ok(()) => {}
                // A symlink may point at nothing we can bind over: nothing to hide then.
                Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(e).sys(|| format!("mask {p:?} with /dev/null")),
            }
        }
    }
    Ok(())
}

pub fn make_readonly(paths: &[String]) -> Result<()> {
    for p in paths {
        match mount(
            Some(p.as_str()),
            p.as_str(),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        ) {
            Ok(()) => {}
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e).sys(|| format!("bind readonly path {p:?}")),
        }
        super::mounts::remount_readonly(Path::new(p))?;
    }
    Ok(())
}
