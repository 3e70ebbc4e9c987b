//! `tmpcopyup` (podman adds it to every tmpfs it generates): the new tmpfs starts with a copy of
//! what the image has at its destination, owners, modes and times kept, as runc and crun do.
//!
//! The image is not trusted: nothing in it is followed (symlinks are copied as symlinks), device
//! nodes and fifos are made anew rather than opened, and a file is copied only if what was
//! opened is a regular file. The copy goes into the detached tmpfs, which nothing else can reach.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Directories deeper than this are refused: an image could nest them without end.
const MAX_DEPTH: usize = 256;

/// Copy the directory `src` (opened for reading) into `dst` (the tmpfs root), and give `dst` the
/// owner and mode of `src` unless the mount's options set them (`own_root` false).
pub fn copy(src: &OwnedFd, dst: &OwnedFd, own_root: bool, shown: &Path) -> Result<()> {
    copy_dir(src, dst, 0, shown)?;
    if own_root {
        let st = nix::sys::stat::fstat(src).sys(|| format!("stat {:?}", shown.display()))?;
        nix::unistd::fchown(
            dst,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        )
        .sys(|| format!("chown the tmpfs on {:?}", shown.display()))?;
        nix::sys::stat::fchmod(dst, Mode::from_bits_truncate(st.st_mode & 0o7777))
            .sys(|| format!("chmod the tmpfs on {:?}", shown.display()))?;
    }
    Ok(())
}

fn open_dir(dir: &impl AsFd, name: &OsStr) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn entries(dir: &OwnedFd) -> nix::Result<Vec<OsString>> {
    let d = nix::dir::Dir::from_fd(nix::unistd::dup(dir)?)?;
    let mut names = Vec::new();
    for e in d.into_iter() {
        let e = e?;
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: usize, shown: &Path) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!(
            "tmpcopyup {:?}: directories nested deeper than {MAX_DEPTH}",
            shown.display()
        );
    }
    for name in entries(src).sys(|| format!("read directory {:?}", shown.display()))? {
        let path = shown.join(&name);
        let st = nix::sys::stat::fstatat(src, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .sys(|| format!("stat {:?}", path.display()))?;
        copy_entry(src, dst, &name, &st, depth, &path)
            .map_err(|e| e.context(format!("tmpcopyup: copy {:?}", path.display())))?;
    }
    Ok(())
}

fn copy_entry(
    src: &OwnedFd,
    dst: &OwnedFd,
    name: &OsStr,
    st: &FileStat,
    depth: usize,
    path: &Path,
) -> Result<()> {
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match kind {
        SFlag::S_IFDIR => {
            nix::sys::stat::mkdirat(dst, name, Mode::from_bits_truncate(0o700)).sys(|| "mkdir")?;
            let from = open_dir(src, name).sys(|| "open")?;
            let to = open_dir(dst, name).sys(|| "open the copy")?;
            copy_dir(&from, &to, depth + 1, path)?;
        }
        SFlag::S_IFREG => {
            let from = nix::fcntl::openat(
                src,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .sys(|| "open")?;
            // What was opened, not what was stat'ed: the image may have changed in between.
            let opened = nix::sys::stat::fstat(&from).sys(|| "stat")?;
            if opened.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
                bail!("it is no longer a regular file");
            }
            let to = nix::fcntl::openat(
                dst,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .sys(|| "create the copy")?;
            let mut r = std::fs::File::from(from);
            let mut w = std::fs::File::from(to);
            std::io::copy(&mut r, &mut w).sys(|| "copy")?;
        }
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(src, name).sys(|| "readlink")?;
            nix::unistd::symlinkat(target.as_os_str(), dst, name).sys(|| "symlink")?;
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO | SFlag::S_IFSOCK => {
            nix::sys::stat::mknodat(dst, name, kind, perm, st.st_rdev).sys(|| "mknod")?;
        }
        _ => bail!("unknown file type {:o}", st.st_mode),
    }
    // Owner before mode: a chown clears the set-id bits.
    nix::unistd::fchownat(
        dst,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .sys(|| "chown the copy")?;
    if kind != SFlag::S_IFLNK {
        nix::sys::stat::fchmodat(dst, name, perm, FchmodatFlags::FollowSymlink)
            .sys(|| "chmod the copy")?;
    }
    let atime = TimeSpec::new(st.st_atime, st.st_atime_nsec);
    let mtime = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    nix::sys::stat::utimensat(dst, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
        .sys(|| "set the copy's times")?;
    Ok(())
}
