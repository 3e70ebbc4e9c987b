//! Waiting in the foreground for a container's process (`run`, `exec`): signals the runtime gets
//! are forwarded to it, and its exit becomes our status (128+N for a signal).
//!
//! As with runc, every signal is forwarded, real-time ones included, but SIGCHLD (about our own
//! children), SIGWINCH (a terminal's size, which reaches the container by resizing its pty, see
//! tty::Proxy) and SIGURG (runc's: Go's preemption). The handlers go in before the process exists
//! (`catch_signals`), so that a signal sent to rt while it sets the container up neither kills rt
//! (leaving the container behind) nor gets lost: it is kept and delivered as soon as the process is
//! known (`forward_signals`).
//!
//! A foreground `run` is also a child subreaper, as runc's: the orphans of the container's
//! processes (without a PID namespace of its own, nobody in the container reaps them) and of its
//! hooks come to rt, which reaps them while it waits.

use anyhow::{Context as _, Result};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Once;

static CHILD: AtomicI32 = AtomicI32::new(0);
/// Signals caught before there was a process to forward them to, bit N-1 for signal N.
static PENDING: AtomicU64 = AtomicU64::new(0);
static INSTALLED: Once = Once::new();
/// The dispositions the forwarder replaced (handler and flags, by signal number): restored in a
/// child, and for a fault of our own.
static PREVIOUS: [(AtomicUsize, AtomicI32); 65] =
    [const { (AtomicUsize::new(libc::SIG_DFL), AtomicI32::new(0)) }; 65];

/// Signals the kernel raises for a fault of the thread that gets them.
const FAULTS: [i32; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// Every signal that goes to the container: not those that cannot be caught, not SIGCHLD, SIGWINCH
/// and SIGURG, and not the two below SIGRTMIN that glibc keeps for itself.
fn forwarded() -> impl Iterator<Item = i32> {
    (1..32)
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
        .filter(|&s| {
            !matches!(
                s,
                libc::SIGKILL | libc::SIGSTOP | libc::SIGCHLD | libc::SIGWINCH | libc::SIGURG
            )
        })
}

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Safety: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let (code, sender) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // Safety: getpid, kill and sigaction are async-signal-safe.
    let own = unsafe { libc::getpid() };
    if code > 0 && code != libc::SI_KERNEL && FAULTS.contains(&sig) {
        // A fault of ours, not a signal for the container: back to the disposition we replaced
        // (Rust's stack overflow report, or the default), which the faulting instruction meets
        // when it runs again.
        restore(sig);
        return;
    }
    if code <= 0 && sender == own {
        // Raised by ourselves: the kernel's SIGPIPE or SIGXFSZ for a write of ours (the write
        // then fails, as when they are ignored), abort's SIGABRT (which insists by itself).
        return;
    }
    if code == libc::SI_KERNEL && (sig == libc::SIGTTIN || sig == libc::SIGTTOU) {
        // Our own terminal I/O from the background: stop, as job control expects. Forwarded,
        // the I/O would be restarted and the signal sent again, forever.
        unsafe { libc::kill(own, libc::SIGSTOP) };
        return;
    }
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // Safety: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING.fetch_or(1 << (sig - 1), Ordering::SeqCst);
    }
}

/// Put back the disposition of `sig` from before `catch_signals`.
fn restore(sig: i32) {
    let (handler, flags) = &PREVIOUS[sig as usize];
    // Safety: a zeroed sigaction is valid (empty mask); async-signal-safe calls only.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = handler.load(Ordering::SeqCst);
        act.sa_flags = flags.load(Ordering::SeqCst);
        libc::sigaction(sig, &act, std::ptr::null_mut());
    }
}

/// From now on, keep the signals for the process `forward_signals` will name.
pub fn catch_signals() {
    INSTALLED.call_once(|| {
        for sig in forwarded() {
            // Safety: installing a handler that only calls async-signal-safe functions.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = forward as *const () as libc::sighandler_t;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &act, &mut old) == 0 {
                    PREVIOUS[sig as usize]
                        .0
                        .store(old.sa_sigaction, Ordering::SeqCst);
                    PREVIOUS[sig as usize]
                        .1
                        .store(old.sa_flags, Ordering::SeqCst);
                }
            }
        }
    });
}

/// In a child cloned after `catch_signals` (the container's init, `exec`'s process): the
/// dispositions from before, so that it dies of signals as any process would.
pub fn reset_in_child() {
    if INSTALLED.is_completed() {
        for sig in forwarded() {
            restore(sig);
        }
    }
}

/// Forward the signals to `pid` from now on, those caught so far first.
pub fn forward_signals(pid: i32) {
    catch_signals();
    CHILD.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    for sig in forwarded() {
        if pending & (1 << (sig - 1)) != 0 {
            // Safety: plain kill of our own child.
            unsafe { libc::kill(pid, sig) };
        }
    }
}

/// Become a child subreaper: orphaned descendants come to us (and `wait_exit` reaps them).
pub fn become_subreaper() -> Result<()> {
    // Safety: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("prctl PR_SET_CHILD_SUBREAPER");
    }
    Ok(())
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
