//! The process's identity: uid, gid, supplementary groups, umask.

use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

/// In a fresh user namespace, become its root (if mapped) so that files we create are owned by it.
pub fn become_namespace_root() {
    let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
    let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
}

/// Switch to the configured user, keeping the permitted capabilities across the uid change so that
/// the capability sets can be applied afterwards.
pub fn switch(proc: &crate::procfs::Lazy, user: &User) -> Result<()> {
    nix::sys::prctl::set_keepcaps(true)
        .map_err(std::io::Error::from)
        .context("prctl PR_SET_KEEPCAPS")?;
    let gids: Vec<libc::gid_t> = user.additional_gids().iter().flatten().copied().collect();
    match this_thread::setgroups(&gids) {
        Ok(()) => {}
        // A rootless container mapping only the caller's gid: setgroups(2) is off for good
        // (CVE-2014-8989), and the process keeps the groups the namespace was made with.
        Err(nix::errno::Errno::EPERM) if gids.is_empty() && setgroups_denied(proc) => {}
        Err(nix::errno::Errno::EPERM) if setgroups_denied(proc) => bail!(
            "process.user.additionalGids: supplementary groups cannot be set in this user namespace (setgroups is denied for a rootless container that maps only the caller's gid; map more gids through /etc/subgid)"
        ),
        Err(e) => return Err(e).context(groups_shown(user)),
    }
    this_thread::setresgid(user.gid())
        .with_context(|| format!("setgid {} (process.user.gid)", user.gid()))?;
    this_thread::setresuid(user.uid())
        .with_context(|| format!("setuid {} (process.user.uid)", user.uid()))?;
    let _ = nix::sys::prctl::set_keepcaps(false);
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
            mask as libc::mode_t,
        ));
    }
    Ok(())
}

/// The credential calls on the calling thread only. glibc's wrappers change every thread of the
/// process (POSIX wants that), and the thread that loads the seccomp filter must stay root with
/// its capabilities (see the seccomp module).
mod this_thread {
    pub use crate::sys::{
        setgroups_thread as setgroups, setresgid_thread as setresgid, setresuid_thread as setresuid,
    };
}

/// True in a user namespace whose setgroups(2) was denied before its gid map was written.
fn setgroups_denied(proc: &crate::procfs::Lazy) -> bool {
    proc.get()
        .and_then(|p| p.read_to_string("self/setgroups"))
        .is_ok_and(|s| s.trim() == "deny")
}

/// process.user.additionalGids for an error: a long list would drown it, its size says enough.
fn groups_shown(user: &User) -> String {
    let list = user.additional_gids().clone().unwrap_or_default();
    if list.len() > 16 {
        format!(
            "setgroups ({} groups) (process.user.additionalGids)",
            list.len()
        )
    } else {
        format!("setgroups {list:?} (process.user.additionalGids)")
    }
}

/// runc's fixStdioPermissions, before the uid switch: stdio (the container's terminal above all)
/// is handed to the process's user so that it can use it (reopen its tty). Only the owner
/// changes; /dev/null and what we may not change (unmapped ids, read-only /dev) are left alone.
pub fn chown_stdio(uid: u32) -> Result<()> {
    use nix::sys::stat::{fstat, stat};
    let null = stat("/dev/null").context("stat /dev/null")?;
    for fd in 0..3 {
        // SAFETY: stdio numbers, borrowed for the calls below; a closed one is EBADF.
        let f = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let st = match fstat(f) {
            Ok(st) => st,
            Err(nix::errno::Errno::EBADF) => continue, // closed: nothing to hand over
            Err(e) => return Err(e).with_context(|| format!("fstat stdio fd {fd}")),
        };
        if st.st_uid == uid || st.st_rdev == null.st_rdev {
            continue;
        }
        match nix::unistd::fchown(f, Some(Uid::from_raw(uid)), Some(Gid::from_raw(st.st_gid))) {
            Ok(()) => {}
            Err(
                nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM | nix::errno::Errno::EROFS,
            ) => {}
            Err(e) => return Err(e).with_context(|| format!("fchown stdio fd {fd} to uid {uid}")),
        }
    }
    Ok(())
}

/// The user's home from the container's /etc/passwd, "/" when it has none (runc's behaviour).
pub fn home_dir(uid: u32) -> String {
    read_passwd()
        .and_then(|p| home_in_passwd(&p, uid))
        .unwrap_or_else(|| "/".to_string())
}

/// The container's /etc/passwd if it is a regular file: the image (or a process of a running
/// container, for `exec`) could make it a fifo that never ends, or something huge.
fn read_passwd() -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open("/etc/passwd")
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut s = String::new();
    f.take(16 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

fn home_in_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) && !f[5].is_empty())
            .then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::home_in_passwd;

    #[test]
    fn finds_home_by_uid() {
        let p = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nbad\n";
        assert_eq!(home_in_passwd(p, 1000).as_deref(), Some("/home/user"));
        assert_eq!(home_in_passwd(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_in_passwd(p, 5), None);
    }
}
