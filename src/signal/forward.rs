//! Signals for a container's process in the foreground (`run`, `exec`): caught from before the
//! process exists, kept, and forwarded to it once it is known (a foreground `run` or `exec` then
//! waits for it).
//!
//! As with runc, every signal is forwarded, real-time ones included, but SIGCHLD (about our own
//! children), SIGWINCH (a terminal's size, which reaches the container by resizing its pty, see
//! tty::Proxy) and SIGURG (runc's: Go's preemption). The handlers go in before the process exists
//! (`catch_signals`), so that a signal sent to rt while it sets the container up neither kills rt
//! (leaving the container behind) nor gets lost: it is kept and delivered as soon as the process is
//! known (`forward_signals`).

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
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let (code, sender) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // getpid, kill and sigaction are async-signal-safe.
    let own = nix::unistd::getpid().as_raw();
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
        let _ = crate::sys::kill(own, libc::SIGSTOP);
        return;
    }
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // kill is async-signal-safe.
        let _ = crate::sys::kill(pid, sig);
    } else {
        PENDING.fetch_or(1 << (sig - 1), Ordering::SeqCst);
    }
}

/// Put back the disposition of `sig` from before `catch_signals`.
fn restore(sig: i32) {
    let (handler, flags) = &PREVIOUS[sig as usize];
    // SAFETY: a zeroed sigaction is valid (empty mask); async-signal-safe calls only.
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
            // SAFETY: installing a handler that only calls async-signal-safe functions.
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
            // Our own child.
            let _ = crate::sys::kill(pid, sig);
        }
    }
}

/// Forward nothing any more (the process ended): its pid, free again once reaped, must never get
/// a signal meant for it.
pub fn stop_forwarding() {
    CHILD.store(0, Ordering::SeqCst);
}
