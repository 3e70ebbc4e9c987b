//! Waiting in the foreground for a container's process (`run`, `exec`): signals the runtime gets
//! are forwarded to it, and its exit becomes our status (128+N for a signal).
//!
//! Signals the runtime gets are caught from the start and forwarded to the process once it exists
//! (crate::signal::forward says which and how).
//!
//! A foreground `run` is also a child subreaper, as runc's: the orphans of the container's
//! processes (without a PID namespace of its own, nobody in the container reaps them) and of its
//! hooks come to rt, which reaps them while it waits.

use anyhow::{Context as _, Result};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub use crate::signal::forward::{catch_signals, forward_signals};

/// Become a child subreaper: orphaned descendants come to us (and `wait_exit` reaps them).
pub fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(std::io::Error::from)
        .context("prctl PR_SET_CHILD_SUBREAPER")
}

/// Wait for our child `pid` to end; its exit code, or 128+N if signal N killed it. Any other
/// child that ends meanwhile (an orphan that came to a subreaper) is reaped.
pub fn wait_exit(pid: i32) -> Result<i32> {
    // Stop forwarding while the exited child is still unreaped, so that its pid, free again
    // once reaped, never gets a signal meant for it.
    loop {
        match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(st) if st.pid() == Some(Pid::from_raw(pid)) => break,
            Ok(st) => {
                if let Some(other) = st.pid() {
                    let _ = waitpid(other, Some(WaitPidFlag::WNOHANG));
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for the container process"),
        }
    }
    crate::signal::forward::stop_forwarding();
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for the container process"),
        }
    }
}
