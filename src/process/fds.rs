//! Closing every inherited descriptor before exec (CVE-2024-21626): all but stdio and the
//! `--preserve-fds` range are marked close-on-exec; the preserved ones are made inheritable.

use anyhow::{Context, Result};
use std::os::fd::RawFd;

pub fn close_all_but(preserve: i32, internal: &[RawFd]) -> Result<()> {
    let first = 3 + preserve.max(0) as u32;
    // Safety: close_range with CLOSE_RANGE_CLOEXEC closes nothing now; it only sets flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("close_range");
    }
    for fd in 3..first as RawFd {
        if internal.contains(&fd) {
            continue;
        }
        // Safety: F_SETFD on a descriptor number; EBADF for a hole is fine.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    Ok(())
}
