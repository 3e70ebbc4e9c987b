//! `kill`: signal the init (through a pidfd, so a reused PID is never hit), or with `--all` every
//! process in the container's cgroup.

use super::error::wrong;
use super::status::{proc_stat, Status};
use super::{load, open_existing, Context};
use crate::errno::SysContext;
use anyhow::{bail, Result};
use std::os::fd::{AsFd, OwnedFd};

pub fn kill(ctx: &Context, id: &str, sig: i32, all: bool) -> Result<()> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    crate::logging::debug(&format!(
        "kill {id}: signal {sig} (all: {all}), status {st}"
    ));
    if all && state.cgroup_paths.is_empty() {
        // Rootless without a delegated cgroup: the processes are found by PID namespace.
        for pid in super::pause::members(&state)? {
            // Processes in the container's PID namespace.
            let _ = crate::sys::kill(pid, sig);
        }
        return Ok(());
    }
    if all {
        state.cgroup().kill(sig);
        return Ok(());
    }
    if st == Status::Stopped {
        bail!(wrong(st, "container not running"));
    }
    match signal_init(state.pid, state.init_start_time, sig)? {
        true => Ok(()),
        false => bail!(wrong(Status::Stopped, "container not running")),
    }
}

pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    crate::sys::pidfd_open(pid).ok()
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
    match crate::sys::pidfd_send_signal(fd.as_fd(), sig) {
        Ok(()) => {}
        Err(nix::errno::Errno::ESRCH) => return Ok(false),
        Err(e) => return Err(e).sys(|| format!("send signal {sig} to pid {pid}")),
    }
    Ok(true)
}
