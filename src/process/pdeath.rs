//! PR_SET_PDEATHSIG: a process being set up for a container (the init until `create` has recorded
//! it, `exec`'s process until it is ready) dies with the runtime that makes it, so that a killed rt
//! leaves no such process behind. The kernel clears the setting at every change of credentials
//! (ids, capabilities gained, a user namespace entered): each such change goes through [`keep`].
//! Should the runtime die just before the setting is back, the next message on the setup channel
//! fails and the process exits all the same.

use nix::sys::prctl;
use nix::sys::signal::Signal;

/// Die (SIGKILL) with the parent from now on.
pub fn set() {
    let _ = prctl::set_pdeathsig(Signal::SIGKILL);
}

/// Outlive the parent from now on.
pub fn clear() {
    let _ = prctl::set_pdeathsig(None);
}

/// Run `change` (of credentials), then set the death signal again as it was before it.
pub fn keep<T>(change: impl FnOnce() -> T) -> T {
    let sig = prctl::get_pdeathsig().ok().flatten();
    let r = change();
    if sig.is_some() {
        let _ = prctl::set_pdeathsig(sig);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> libc::c_int {
        prctl::get_pdeathsig()
            .unwrap()
            .map_or(0, |s| s as libc::c_int)
    }

    #[test]
    fn a_change_of_ids_keeps_the_death_signal() {
        // In a child of its own: the test runner must keep its credentials.
        let (r, w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only makes raw syscalls (no lock another thread of the test
        // runner may hold) and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            set();
            let cleared = {
                // A change of credentials, as root.
                let _ = crate::sys::setresgid_thread(1000);
                current()
            };
            set();
            let kept = keep(|| crate::sys::setresuid_thread(1000));
            let report = [cleared as u8, kept.is_ok() as u8, current() as u8];
            let _ = nix::unistd::write(&w, &report);
            crate::sys::exit_now(0)
        }
        drop(w);
        let mut got = [0u8; 3];
        assert_eq!(nix::unistd::read(&r, &mut got).unwrap(), 3);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        assert_eq!(got[0], 0, "the kernel clears it at a change of ids");
        assert_eq!(got[1], 1, "the change itself succeeded");
        assert_eq!(got[2], libc::SIGKILL as u8, "set again after the change");
    }
}
