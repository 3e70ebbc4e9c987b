//! PR_SET_PDEATHSIG: a process being set up for a container (the init until `create` has recorded
//! it, `exec`'s process until it is ready) dies with the runtime that makes it, so that a killed rt
//! leaves no such process behind. The kernel clears the setting at every change of credentials
//! (ids, capabilities gained, a user namespace entered): each such change goes through [`keep`].
//! Should the runtime die just before the setting is back, the next message on the setup channel
//! fails and the process exits all the same.

/// Die (SIGKILL) with the parent from now on.
pub fn set() {
    // Safety: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
}

/// Outlive the parent from now on.
pub fn clear() {
    // Safety: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
}

/// Run `change` (of credentials), then set the death signal again as it was before it.
pub fn keep<T>(change: impl FnOnce() -> T) -> T {
    let mut sig: libc::c_int = 0;
    // Safety: PR_GET_PDEATHSIG writes an int where it is told.
    unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig as *mut libc::c_int) };
    let r = change();
    if sig != 0 {
        // Safety: plain prctl.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig) };
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> libc::c_int {
        let mut sig: libc::c_int = 0;
        // Safety: as in `keep`.
        unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig as *mut libc::c_int) };
        sig
    }

    #[test]
    fn a_change_of_ids_keeps_the_death_signal() {
        // In a child of its own: the test runner must keep its credentials.
        let mut pipe = [0; 2];
        // Safety: pipe and fork; the child only makes raw syscalls and _exits.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            set();
            let cleared = {
                // Safety: raw setresgid (a change of credentials), as root.
                unsafe { libc::syscall(libc::SYS_setresgid, 1000, 1000, 1000) };
                current()
            };
            set();
            let kept = keep(|| unsafe { libc::syscall(libc::SYS_setresuid, 1000, 1000, 1000) });
            let report = [cleared as u8, (kept == 0) as u8, current() as u8];
            unsafe {
                libc::write(pipe[1], report.as_ptr().cast(), 3);
                libc::_exit(0)
            };
        }
        let mut got = [0u8; 3];
        // Safety: reading into a live buffer; reaping our child.
        unsafe {
            libc::close(pipe[1]);
            assert_eq!(libc::read(pipe[0], got.as_mut_ptr().cast(), 3), 3);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            libc::close(pipe[0]);
        }
        assert_eq!(got[0], 0, "the kernel clears it at a change of ids");
        assert_eq!(got[1], 1, "the change itself succeeded");
        assert_eq!(got[2], libc::SIGKILL as u8, "set again after the change");
    }
}
