//! Waiting in the foreground for a container's process (`run`, `exec`): signals the runtime gets
//! are forwarded to it, and its exit becomes our status (128+N for a signal).

use anyhow::{Context as _, Result};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, Ordering};

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        // Safety: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
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

/// Forward the usual signals to `pid` from now on.
pub fn forward_signals(pid: i32) {
    CHILD.store(pid, Ordering::Relaxed);
    for &sig in FORWARDED {
        // Safety: installing a handler that only calls kill.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
}

/// Wait for our child `pid` to end; its exit code, or 128+N if signal N killed it.
pub fn wait_exit(pid: i32) -> Result<i32> {
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
