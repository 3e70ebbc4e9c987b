//! Pause points for the crash-safety tests, compiled in only with the cargo feature `test-pause`
//! (scripts/test.sh builds the tests with it; a plain `cargo build`, the binary users and the
//! benchmark run, has none: every point is an empty function there).
//!
//! With `RT_TEST_PAUSE=<point>` in the environment, rt stops at the named point of a command,
//! says so, and waits there forever, so that a test can SIGKILL it at exactly that phase:
//!
//! - `create:claim`: the id's temporary directory made, no state in it yet (`state::create`);
//! - `create:cgroups-made`: the container's cgroups and their parents made, not recorded yet;
//! - `create:before-clone`: state and cgroups made, no init yet;
//! - `create:init-setup`: in the container's init, once told to go on (the init pauses, not rt);
//! - `create:parked`: the init is ready to park, the container is not recorded as created yet;
//! - `create:created`: recorded as created, the init parked, `create` not returned yet;
//! - `start:before-release`, `start:after-release`: around the write to the exec fifo;
//! - `exec:before-clone`, `exec:cloned`: `exec` before and right after its process exists;
//! - `exec:child-setup`: in `exec`'s process, once told to go on (the process pauses);
//! - `prepare:user-switched`: in the init or `exec`'s process, right after it became the
//!   process's user;
//! - `delete:after-kill`, `delete:before-cgroup-remove`, `delete:before-state-remove`.
//!
//! `run` passes those of `create` and `start`, and of `delete` in its cleanup. The marker is a line
//! `<point> <host pid>\n` written to the file named by `RT_TEST_PAUSE_FILE` (else to stderr).
//!
//! With the feature and without the variable a pause point is a load of an already initialised
//! `OnceLock`: the environment is read once per process, at the first point reached.

#[cfg(feature = "test-pause")]
pub use on::{active, fd, forked, forked_as, pause_point};

#[cfg(not(feature = "test-pause"))]
pub use off::{active, fd, forked, forked_as, pause_point};

#[cfg(feature = "test-pause")]
mod on {
    use std::ffi::OsString;
    use std::io::Write;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::OnceLock;

    struct Wanted {
        point: OsString,
        /// The marker file, opened when the environment is read: a process that pauses inside the
        /// container (another root, maybe another user by then) still reaches it. Kept open by the
        /// processes that close every other descriptor (see [`fd`]).
        marker: Option<OwnedFd>,
    }

    /// Read once: a container's init scrubs the environment it inherited (see process::title) and
    /// must still find it.
    static WANTED: OnceLock<Option<Wanted>> = OnceLock::new();
    /// This process's pid as the host sees it, noted by [`forked`] while /proc was still the host's.
    static HOST_PID: AtomicI32 = AtomicI32::new(0);

    fn wanted() -> Option<&'static Wanted> {
        WANTED
            .get_or_init(|| {
                let point = std::env::var_os("RT_TEST_PAUSE")?;
                let marker = std::env::var_os("RT_TEST_PAUSE_FILE").and_then(|path| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .mode(0o644)
                        .custom_flags(libc::O_CLOEXEC)
                        .open(path)
                        .ok()
                        .map(OwnedFd::from)
                });
                Some(Wanted { point, marker })
            })
            .as_ref()
    }

    /// The marker's descriptor while pause points are on: processes that close what they do not
    /// need keep it.
    pub fn fd() -> Option<RawFd> {
        wanted()?.marker.as_ref().map(|f| f.as_raw_fd())
    }

    /// In a child just cloned (by `process::clone`), while /proc is still the host's: note its pid
    /// for the marker; inside a new PID namespace getpid() would say 1.
    pub fn forked() {
        if wanted().is_none() {
            return;
        }
        if let Some(pid) = std::fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str()?.parse().ok())
        {
            HOST_PID.store(pid, Ordering::Relaxed);
        }
    }

    /// Whether this process may pause (RT_TEST_PAUSE is set).
    pub fn active() -> bool {
        wanted().is_some()
    }

    /// [`forked`] for a process whose /proc is no longer the host's: `host_pid` tells its pid.
    pub fn forked_as(host_pid: impl FnOnce() -> Option<i32>) {
        if wanted().is_none() {
            return;
        }
        if let Some(pid) = host_pid() {
            HOST_PID.store(pid, Ordering::Relaxed);
        }
    }

    /// Stop here forever if `RT_TEST_PAUSE` names this point.
    pub fn pause_point(name: &'static str) {
        let Some(w) = wanted() else { return };
        if w.point != name {
            return;
        }
        let pid = match HOST_PID.load(Ordering::Relaxed) {
            0 => std::process::id() as i32,
            p => p,
        };
        let line = format!("{name} {pid}\n");
        match &w.marker {
            // One write at the start of an empty file: a reader waits for the newline.
            Some(f) => {
                let _ = nix::sys::uio::pwrite(f, line.as_bytes(), 0);
            }
            None => {
                let _ = std::io::stderr().write_all(format!("rt: paused at {line}").as_bytes());
            }
        }
        loop {
            // Only a signal ends it: SIGKILL.
            nix::unistd::pause();
        }
    }
}

/// Without the feature: nothing to read, nothing to keep, nowhere to stop.
#[cfg(not(feature = "test-pause"))]
mod off {
    pub fn fd() -> Option<std::os::fd::RawFd> {
        None
    }

    pub fn forked() {}

    #[inline(always)]
    pub fn forked_as(_host_pid: impl FnOnce() -> Option<i32>) {}

    #[inline(always)]
    pub fn active() -> bool {
        false
    }

    #[inline(always)]
    pub fn pause_point(_name: &'static str) {}
}
