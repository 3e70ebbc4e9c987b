//! `kill`: signal the init (through a pidfd, so a reused PID is never hit), or with `--all` every
//! process in the container's cgroup.

use super::status::{proc_stat, Status};
use super::{load, open_existing, Context};
use crate::errno::SysContext;
use anyhow::{bail, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn kill(ctx: &Context, id: &str, sig: i32, all: bool) -> Result<()> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    crate::logging::debug(&format!(
        "kill {id}: signal {sig} (all: {all}), status {st}"
    ));
    if all && state.cgroup_paths.is_empty() {
        // Rootless without a delegated cgroup: the processes are found by PID namespace.
        for pid in super::pause::members(&state)? {
            // Safety: plain kill; processes in the container's PID namespace.
            unsafe { libc::kill(pid, sig) };
        }
        return Ok(());
    }
    if all {
        state.cgroup().kill(sig);
        return Ok(());
    }
    if st == Status::Stopped {
        bail!("container not running");
    }
    match signal_init(state.pid, state.init_start_time, sig)? {
        true => Ok(()),
        false => bail!("container not running"),
    }
}

pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // Safety: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Signal the init if it is still the process we started. False if it is gone.
pub fn signal_init(pid: i32, start_time: u64, sig: i32) -> Result<bool> {
    let Some(fd) = pidfd_open(pid) else {
        return Ok(false);
    };
    // The pidfd pins the process: if the start time matches now, the signal reaches our init.
    if proc_stat(pid).map(|(_, s)| s) != Some(start_time) {
        return Ok(false);
    }
    // Safety: pidfd_send_signal with a valid pidfd and no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(false);
        }
        return Err(e).sys(|| format!("send signal {sig} to pid {pid}"));
    }
    Ok(true)
}
