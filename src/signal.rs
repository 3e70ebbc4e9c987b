//! Signal names and numbers as `kill` takes them: `KILL`, `SIGKILL`, `9`, `SIGRTMIN+3`.

pub mod forward;

use anyhow::{bail, Result};

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

pub fn parse(s: &str) -> Result<i32> {
    let max = libc::SIGRTMAX();
    if let Ok(n) = s.parse::<i32>() {
        if n <= 0 || n > max {
            bail!("invalid signal number {n}");
        }
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    let rt = |base: i32, off: &str| -> Option<i32> {
        let off: i32 = if off.is_empty() { 0 } else { off.parse().ok()? };
        let n = base + off;
        (libc::SIGRTMIN()..=max).contains(&n).then_some(n)
    };
    if let Some(off) = name.strip_prefix("RTMIN") {
        if let Some(n) = rt(libc::SIGRTMIN(), off.trim_start_matches('+')) {
            return Ok(n);
        }
    }
    if let Some(off) = name.strip_prefix("RTMAX-") {
        if let Some(n) = off.parse::<i32>().ok().map(|o| max - o) {
            if n >= libc::SIGRTMIN() {
                return Ok(n);
            }
        }
    }
    bail!("unknown signal {s:?}")
}

/// Every signal whose disposition can be set: 1 to SIGRTMAX inclusive, but SIGKILL and SIGSTOP.
fn settable() -> impl Iterator<Item = i32> {
    (1..=libc::SIGRTMAX()).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
}

/// The runtime ignores SIGPIPE; ignored signals survive exec, so restore every default.
pub fn reset_all() {
    for sig in settable() {
        // SAFETY: resetting dispositions in a single-threaded process.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::{parse, reset_all, settable};

    #[test]
    fn every_signal_up_to_sigrtmax_is_reset() {
        let all: Vec<i32> = settable().collect();
        assert_eq!(all.first(), Some(&1));
        assert_eq!(all.last(), Some(&libc::SIGRTMAX()));
        assert!(all.contains(&libc::SIGRTMIN()));
        assert!(!all.contains(&libc::SIGKILL) && !all.contains(&libc::SIGSTOP));
        assert_eq!(all.len() as i32, libc::SIGRTMAX() - 2);
    }

    #[test]
    fn reset_all_leaves_no_signal_ignored() {
        let ignored = [
            libc::SIGHUP,
            libc::SIGPIPE,
            libc::SIGRTMIN(),
            libc::SIGRTMAX(),
        ];
        // In a child of its own: dispositions are the whole test process's.
        // SAFETY: the child only changes its own dispositions and _exits; it touches no lock
        // another thread of the test runner could hold (reset_all's calls take none).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: plain disposition changes and queries in the child, then _exit.
            unsafe {
                for sig in ignored {
                    libc::signal(sig, libc::SIG_IGN);
                }
                reset_all();
                for sig in ignored.into_iter().chain(settable()) {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(sig, std::ptr::null(), &mut old);
                    if old.sa_sigaction != libc::SIG_DFL {
                        libc::_exit(sig);
                    }
                }
                libc::_exit(0)
            }
        }
        let mut status = 0;
        // SAFETY: reaping our own child into a live int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "{status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "this signal was left as it was"
        );
    }

    #[test]
    fn names_numbers_and_prefixes() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("sigterm").unwrap(), 15);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("28").unwrap(), 28);
        assert_eq!(parse("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(parse("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        assert!(parse("0").is_err());
        assert!(parse("65").is_err());
        assert!(parse("NOPE").is_err());
        assert!(parse("-3").is_err());
    }
}
