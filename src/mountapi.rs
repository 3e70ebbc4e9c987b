//! The new mount API (fsopen, fsmount, open_tree, move_mount, mount_setattr): every mount rt
//! makes is built detached, given its flags while nothing can reach it, then attached onto a
//! descriptor of its target. Later changes (propagation) act on the descriptor of the mount
//! made, never on a path looked up again, which a racing neighbour could have redirected.

use crate::errno::SysContext;
use anyhow::Result;
use nix::mount::MsFlags;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_IDMAP: u64 = 0x10_0000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x20_0000;

/// mount(2)'s MS_NOSYMFOLLOW (Linux 5.10), which nix does not name.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(0x100);

const AT_EMPTY_PATH: u32 = 0x1000;
const AT_RECURSIVE: u32 = 0x8000;
const OPEN_TREE_CLONE: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

pub use crate::sys::MountAttr;

/// The per-mount flags of mount(2) as mount attributes that *replace* the mount's own, as a
/// `MS_BIND|MS_REMOUNT` with those flags does: what is not asked for is cleared, except `keep`
/// (flags a user namespace may not clear: the kernel locked them).
pub fn replacing(flags: MsFlags, keep: u64) -> MountAttr {
    let mut set = 0;
    for (ms, attr) in [
        (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags.contains(ms) {
            set |= attr;
        }
    }
    // mount(2)'s atime rule: relatime unless noatime, and strictatime overrides both.
    let atime = if flags.contains(MsFlags::MS_STRICTATIME) {
        MOUNT_ATTR_STRICTATIME
    } else if flags.contains(MsFlags::MS_NOATIME) {
        MOUNT_ATTR_NOATIME
    } else {
        MOUNT_ATTR_RELATIME
    };
    let kept_atime = keep & MOUNT_ATTR_ATIME;
    let atime = if keep & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME) != 0 {
        kept_atime
    } else {
        atime
    };
    set |= atime | (keep & !MOUNT_ATTR_ATIME);
    let all = MOUNT_ATTR_RDONLY
        | MOUNT_ATTR_NOSUID
        | MOUNT_ATTR_NODEV
        | MOUNT_ATTR_NOEXEC
        | MOUNT_ATTR_NODIRATIME
        | MOUNT_ATTR_NOSYMFOLLOW
        | MOUNT_ATTR_ATIME;
    MountAttr {
        attr_set: set,
        attr_clr: all & !(set & !MOUNT_ATTR_ATIME),
        ..Default::default()
    }
}

/// Give the mount `tree` (its top only) mount(2)'s per-mount `flags`, replacing its own as a
/// remount would; in a user namespace, what the kernel locked (all the mount has, but
/// read-only, whose clearing must fail as it would) is kept.
pub fn replace_flags(tree: &OwnedFd, flags: MsFlags, in_userns: bool) -> Result<()> {
    let keep = match in_userns {
        true => current_attrs(tree)? & !MOUNT_ATTR_RDONLY,
        false => 0,
    };
    setattr(tree.as_raw_fd(), &replacing(flags, keep), false)
}

/// The attributes a mount now has (for `replacing`'s `keep` in a user namespace).
pub fn current_attrs(fd: &OwnedFd) -> Result<u64> {
    use nix::sys::statvfs::FsFlags;
    let st = nix::sys::statvfs::fstatvfs(fd).sys(|| "statvfs of a mount")?;
    let f = st.flags();
    let mut out = 0;
    for (s, a) in [
        (FsFlags::ST_RDONLY, MOUNT_ATTR_RDONLY),
        (FsFlags::ST_NOSUID, MOUNT_ATTR_NOSUID),
        (FsFlags::ST_NODEV, MOUNT_ATTR_NODEV),
        (FsFlags::ST_NOEXEC, MOUNT_ATTR_NOEXEC),
        (FsFlags::ST_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (FsFlags::ST_NOATIME, MOUNT_ATTR_NOATIME),
    ] {
        if f.contains(s) {
            out |= a;
        }
    }
    if !f.contains(FsFlags::ST_NOATIME) && !f.contains(FsFlags::ST_RELATIME) {
        out |= MOUNT_ATTR_STRICTATIME;
    }
    Ok(out)
}

fn empty() -> CString {
    CString::default()
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow::anyhow!("{s:?} contains a NUL byte"))
}

/// mount_setattr on the mount `fd` refers to (recursively with `recursive`).
pub fn setattr(fd: RawFd, attr: &MountAttr, recursive: bool) -> Result<()> {
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    crate::sys::mount_setattr(fd, c"", flags, attr).sys(|| "mount_setattr")
}

/// Propagation (MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, with MS_REC for the whole
/// tree) of the mount `fd` refers to.
pub fn set_propagation(fd: RawFd, flags: MsFlags) -> Result<()> {
    let attr = MountAttr {
        propagation: (flags & !MsFlags::MS_REC).bits(),
        ..Default::default()
    };
    setattr(fd, &attr, flags.contains(MsFlags::MS_REC))
}

fn open_tree(
    dirfd: RawFd,
    path: &CString,
    flags: u32,
    shown: &dyn Fn() -> String,
) -> Result<OwnedFd> {
    crate::sys::open_tree(dirfd, path, flags).sys(|| format!("open_tree {}", shown()))
}

/// A detached copy of the mount tree at `src` (with its submounts when `recursive`).
pub fn clone_tree(src: &str, recursive: bool) -> Result<OwnedFd> {
    let c = cstr(src)?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | if recursive { AT_RECURSIVE } else { 0 };
    open_tree(libc::AT_FDCWD, &c, flags, &|| format!("{src:?}"))
}

/// A detached read-only bind of `src` alone (a file or a directory).
pub fn read_only_clone(src: &str) -> Result<OwnedFd> {
    let tree = clone_tree(src, false)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    setattr(tree.as_raw_fd(), &attr, false)?;
    Ok(tree)
}

/// A plain descriptor (O_RDONLY) of the root of a detached tree, whose own descriptor is O_PATH
/// (which mmap, PR_SET_MM and CLONE_INTO_CGROUP refuse); it keeps the tree alive.
pub fn reopen(tree: &OwnedFd) -> Result<std::fs::File> {
    let path = format!("/proc/self/fd/{}", tree.as_raw_fd());
    std::fs::File::open(&path).sys(|| format!("open {path}"))
}

/// A detached bind of the symlink `src` itself (`src-nofollow`), not of what it points to.
pub fn clone_link(src: &str) -> Result<OwnedFd> {
    let c = cstr(src)?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_SYMLINK_NOFOLLOW as u32;
    open_tree(libc::AT_FDCWD, &c, flags, &|| {
        format!("{src:?} (not followed)")
    })
}

/// A detached copy of what the descriptor `fd` refers to (a file or a directory, not
/// necessarily a mount's root): a bind mount of exactly that, with no path looked up.
pub fn clone_fd(fd: RawFd, recursive: bool) -> Result<OwnedFd> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as u32
        | AT_EMPTY_PATH
        | if recursive { AT_RECURSIVE } else { 0 };
    open_tree(fd, &empty(), flags, &|| format!("of descriptor {fd}"))
}

/// Attach a detached tree onto the place `target` refers to.
pub fn attach(tree: &OwnedFd, target: RawFd) -> Result<()> {
    let flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
    crate::sys::move_mount(tree.as_raw_fd(), c"", target, c"", flags).sys(|| "move_mount")
}

/// The superblock flags of mount(2) that fsconfig takes by name; the others are per-mount
/// attributes (see `replacing`). MS_SILENT only quiets the kernel's log and MS_I_VERSION is the
/// filesystems' own business since Linux 6.x: neither has a name there.
const SB_FLAGS: &[(MsFlags, &str)] = &[
    (MsFlags::MS_RDONLY, "ro"),
    (MsFlags::MS_SYNCHRONOUS, "sync"),
    (MsFlags::MS_DIRSYNC, "dirsync"),
    (MsFlags::MS_MANDLOCK, "mand"),
    (MsFlags::MS_LAZYTIME, "lazytime"),
];

/// Why a new filesystem could not be made: the errno (callers fall back on some) and what failed.
#[derive(Debug)]
pub struct FsError {
    pub errno: nix::errno::Errno,
    pub what: String,
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, crate::errno::describe(self.errno))
    }
}

impl std::error::Error for FsError {}

/// A new, detached filesystem of type `fstype` (a fresh tmpfs, proc, mqueue, ...): `source` is
/// what mountinfo shows, `options` the filesystem's own (`size=64k`, `mode=755`, a flag alone),
/// `flags` mount(2)'s flags (superblock flags and per-mount attributes alike).
pub fn new_fs(
    fstype: &str,
    source: Option<&str>,
    options: &[String],
    flags: u64,
) -> std::result::Result<OwnedFd, FsError> {
    let flags = MsFlags::from_bits_retain(flags);
    let c = |s: &str| {
        CString::new(s).map_err(|_| FsError {
            errno: nix::errno::Errno::EINVAL,
            what: format!("{s:?} contains a NUL byte"),
        })
    };
    let t = c(fstype)?;
    let fs = crate::sys::fsopen(&t, FSOPEN_CLOEXEC).map_err(|errno| FsError {
        errno,
        what: format!("fsopen {fstype:?}"),
    })?;
    let config = |cmd: u32, key: Option<&str>, value: Option<&str>| {
        let k = key.map(c).transpose()?;
        let v = value.map(c).transpose()?;
        if let Err(errno) = crate::sys::fsconfig(fs.as_fd(), cmd, k.as_deref(), v.as_deref()) {
            let what = match (key, value) {
                (Some(k), Some(v)) => format!("{fstype} option {k}={v}"),
                (Some(k), None) => format!("{fstype} option {k}"),
                _ => format!("create {fstype}"),
            };
            let what = match fs_log(&fs) {
                Some(l) => format!("{what} ({l})"),
                None => what,
            };
            return Err(FsError { errno, what });
        }
        Ok(())
    };
    if let Some(s) = source {
        config(FSCONFIG_SET_STRING, Some("source"), Some(s))?;
    }
    for (f, name) in SB_FLAGS {
        if flags.contains(*f) {
            config(FSCONFIG_SET_FLAG, Some(name), None)?;
        }
    }
    for o in options {
        match o.split_once('=') {
            Some((k, v)) => config(FSCONFIG_SET_STRING, Some(k), Some(v))?,
            None => config(FSCONFIG_SET_FLAG, Some(o), None)?,
        }
    }
    config(FSCONFIG_CMD_CREATE, None, None)?;
    let attr = replacing(flags, 0).attr_set;
    crate::sys::fsmount(fs.as_fd(), FSMOUNT_CLOEXEC, attr).map_err(|errno| {
        let what = match fs_log(&fs) {
            Some(l) => format!("fsmount {fstype} ({l})"),
            None => format!("fsmount {fstype}"),
        };
        FsError { errno, what }
    })
}

/// What the kernel wrote to a filesystem context's log (why fsconfig refused), if anything.
fn fs_log(fs: &OwnedFd) -> Option<String> {
    let mut lines = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = nix::unistd::read(fs, &mut buf) {
        if n == 0 {
            break;
        }
        let s = String::from_utf8_lossy(&buf[..n]).into_owned();
        // "e message", "w message", "i message".
        lines.push(s.get(2..).unwrap_or(&s).trim().to_string());
    }
    (!lines.is_empty()).then(|| lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_clears_what_is_not_asked_for() {
        let a = replacing(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID, 0);
        assert_eq!(a.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(
            a.attr_clr,
            MOUNT_ATTR_NODEV
                | MOUNT_ATTR_NOEXEC
                | MOUNT_ATTR_NODIRATIME
                | MOUNT_ATTR_NOSYMFOLLOW
                | MOUNT_ATTR_ATIME
        );
        assert_eq!(
            replacing(MS_NOSYMFOLLOW, 0).attr_set & MOUNT_ATTR_NOSYMFOLLOW,
            MOUNT_ATTR_NOSYMFOLLOW
        );
        // rw: read-only cleared.
        let a = replacing(MsFlags::MS_NODEV, 0);
        assert_ne!(a.attr_clr & MOUNT_ATTR_RDONLY, 0);
        assert_eq!(a.attr_set & MOUNT_ATTR_RDONLY, 0);
    }

    #[test]
    fn atime_follows_mount_2() {
        assert_eq!(
            replacing(MsFlags::empty(), 0).attr_set & MOUNT_ATTR_ATIME,
            MOUNT_ATTR_RELATIME
        );
        assert_eq!(
            replacing(MsFlags::MS_NOATIME, 0).attr_set & MOUNT_ATTR_ATIME,
            MOUNT_ATTR_NOATIME
        );
        assert_eq!(
            replacing(MsFlags::MS_NOATIME | MsFlags::MS_STRICTATIME, 0).attr_set & MOUNT_ATTR_ATIME,
            MOUNT_ATTR_STRICTATIME
        );
        // The whole atime field is always in attr_clr, as the kernel wants for a change.
        assert_eq!(
            replacing(MsFlags::MS_NOATIME, 0).attr_clr & MOUNT_ATTR_ATIME,
            MOUNT_ATTR_ATIME
        );
    }

    #[test]
    fn locked_flags_are_kept() {
        let a = replacing(MsFlags::MS_RDONLY, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
        assert_eq!(
            a.attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(a.attr_clr & MOUNT_ATTR_NOSUID, 0);
    }
}
