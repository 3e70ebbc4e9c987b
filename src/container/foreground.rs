//! Waiting in the foreground for a container's process (`run`, `exec`): signals the runtime gets
//! are forwarded to it, and its exit becomes our status (128+N for a signal).
//!
//! The handlers go in before the process exists (`catch_signals`), so that a signal sent to rt
//! while it sets the container up neither kills rt (leaving the container behind) nor gets lost:
//! it is kept and delivered as soon as the process is known (`forward_signals`).

use anyhow::{Context as _, Result};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

static CHILD: AtomicI32 = AtomicI32::new(0);
/// Signals caught before there was a process to forward them to, one bit per number.
static PENDING: AtomicU64 = AtomicU64::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // Safety: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING.fetch_or(1 << sig, Ordering::SeqCst);
    }
}

// Not SIGWINCH: as in runc, a terminal's resize reaches the container by resizing its pty
// (tty::Proxy), and without a terminal there is nothing to resize.
const FORWARDED: &[i32] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// From now on, keep the usual signals for the process `forward_signals` will name.
pub fn catch_signals() {
    for &sig in FORWARDED {
        // Safety: installing a handler that only calls kill or sets a bit.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
}

/// In a child cloned after `catch_signals` (the container's init): the default dispositions.
pub fn reset_in_child() {
    for &sig in FORWARDED {
        // Safety: restoring a default disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Forward the usual signals to `pid` from now on, those caught so far first.
pub fn forward_signals(pid: i32) {
    catch_signals();
    CHILD.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    for &sig in FORWARDED {
        if pending & (1 << sig) != 0 {
            // Safety: plain kill of our own child.
            unsafe { libc::kill(pid, sig) };
        }
    }
}

/// Wait for our child `pid` to end; its exit code, or 128+N if signal N killed it.
pub fn wait_exit(pid: i32) -> Result<i32> {
    // Stop forwarding while the exited child is still unreaped, so that its pid, free again
    // once reaped, never gets a signal meant for it.
    loop {
        match waitid(
            Id::Pid(Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        ) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for the container process"),
        }
    }
    CHILD.store(0, Ordering::SeqCst);
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
