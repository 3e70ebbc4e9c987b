//! Closing every inherited descriptor before exec (CVE-2024-21626): all but stdio and the
//! `--preserve-fds` range are marked close-on-exec; the preserved ones are made inheritable.

use anyhow::{Context, Result};
use std::os::fd::RawFd;
use std::sync::OnceLock;

/// The descriptors of the preserved range that rt's caller passed (see [`record_inherited`]).
static INHERITED: OnceLock<Vec<RawFd>> = OnceLock::new();

/// Note which of the descriptors 3..3+`count` are open, before rt opens any of its own: only
/// those are the caller's to pass on. One of rt's own may take a free number in that range (the
/// kernel gives the lowest), and must never be made inheritable: a host directory there would
/// let the container out (CVE-2024-21626).
pub fn record_inherited(count: i32) {
    let open = (3..3i64.saturating_add(count.max(0) as i64))
        .map(|fd| fd as RawFd)
        .filter(|&fd| crate::sys::is_open(fd))
        .collect();
    let _ = INHERITED.set(open);
}

pub fn close_all_but(preserve: i32, internal: &[RawFd]) -> Result<()> {
    let first = 3 + preserve.max(0) as u32;
    // With CLOSE_RANGE_CLOEXEC it closes nothing now; it only sets flags.
    if let Err(e) = crate::sys::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) {
        let e = std::io::Error::from(e);
        // Before Linux 5.11 (no CLOSE_RANGE_CLOEXEC) or 5.9 (no close_range): one by one.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(e).context("close_range");
        }
        for fd in open_fds()?.into_iter().filter(|&fd| fd >= first as RawFd) {
            crate::sys::set_cloexec(fd, true);
        }
    }
    let inherited = INHERITED.get().map(Vec::as_slice).unwrap_or_default();
    for fd in 3..first as RawFd {
        if internal.contains(&fd) || !inherited.contains(&fd) {
            continue;
        }
        crate::sys::set_cloexec(fd, false);
    }
    Ok(())
}

/// Close every descriptor from 3 up but `keep` and the caller's preserved ones, now: a process
/// that waits in the container (the parked init) must hold nothing of the runtime's (its cgroup
/// and state directories, its log, a manager's socket), since whatever it holds a process that
/// can reach its /proc files can use.
pub fn close_others(preserve: i32, keep: &[RawFd]) -> Result<()> {
    let inherited = INHERITED.get().map(Vec::as_slice).unwrap_or_default();
    let first_free = 3 + preserve.max(0);
    let mut kept: Vec<RawFd> = keep
        .iter()
        .copied()
        .chain(inherited.iter().copied().filter(|&fd| fd < first_free))
        .filter(|&fd| fd >= 3)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    let mut from: u32 = 3;
    for fd in kept.iter().map(|&fd| fd as u32).chain([u32::MAX]) {
        if fd > from {
            close_range(from, fd - 1)?;
        }
        from = fd.saturating_add(1);
    }
    Ok(())
}

fn close_range(first: u32, last: u32) -> Result<()> {
    // None of those in the range is in use by live objects of this process (the caller keeps
    // what it uses).
    match crate::sys::close_range(first, last, 0) {
        Ok(()) => return Ok(()),
        Err(nix::errno::Errno::ENOSYS) => {}
        Err(e) => return Err(std::io::Error::from(e)).context("close_range"),
    }
    // Before Linux 5.9: the open ones, as /proc lists them.
    for fd in open_fds()? {
        if fd as u32 >= first && fd as u32 <= last {
            crate::sys::close_number(fd);
        }
    }
    Ok(())
}

/// The descriptors open now, as /proc/self/fd lists them (the listing's own closed by then).
fn open_fds() -> Result<Vec<RawFd>> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .context("list /proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    Ok(fds)
}
