//! Pause points for the crash-safety tests, off by default.
//!
//! With `RT_TEST_PAUSE=<point>` in the environment, rt stops at the named point of a command,
//! says so, and waits there forever, so that a test can SIGKILL it at exactly that phase:
//!
//! - `create:before-clone`: state and cgroups made, no init yet;
//! - `create:init-setup`: in the container's init, once told to go on (the init pauses, not rt);
//! - `create:parked`: the init is ready to park, the container is not recorded as created yet;
//! - `create:created`: recorded as created, the init parked, `create` not returned yet;
//! - `start:before-release`, `start:after-release`: around the write to the exec fifo;
//! - `delete:after-kill`, `delete:before-cgroup-remove`, `delete:before-state-remove`.
//!
//! `run` passes those of `create` and `start`, and of `delete` in its cleanup. The marker is a line
//! `<point> <host pid>` written to the file named by `RT_TEST_PAUSE_FILE` (else to stderr).
//!
//! Without the variable a pause point is a load of an already initialised `OnceLock`: the
//! environment is read once per process, at the first point reached.

use std::ffi::OsString;
use std::io::Write;
use std::sync::OnceLock;

/// `RT_TEST_PAUSE` and `RT_TEST_PAUSE_FILE`, read once: a container's init scrubs the
/// environment it inherited (see process::title) and must still find them.
static WANTED: OnceLock<(Option<OsString>, Option<OsString>)> = OnceLock::new();

/// Stop here forever if `RT_TEST_PAUSE` names this point.
pub fn pause_point(name: &'static str) {
    let (wanted, file) = WANTED.get_or_init(|| {
        (
            std::env::var_os("RT_TEST_PAUSE"),
            std::env::var_os("RT_TEST_PAUSE_FILE"),
        )
    });
    if wanted.as_deref() != Some(name.as_ref()) {
        return;
    }
    // Our pid as the host sees it: in a new PID namespace getpid() would say 1, but /proc is
    // still the host's until the init mounts its own.
    let pid = std::fs::read_link("/proc/self")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| std::process::id().to_string());
    let line = format!("{name} {pid}\n");
    match file.clone() {
        Some(path) => {
            // Written whole then renamed, so that a reader never sees half a line.
            let tmp = {
                let mut t = path.clone();
                t.push(".tmp");
                t
            };
            let _ = std::fs::write(&tmp, &line).and_then(|_| std::fs::rename(&tmp, &path));
        }
        None => {
            let _ = std::io::stderr().write_all(format!("rt: paused at {line}").as_bytes());
        }
    }
    loop {
        // Safety: pause only waits for a signal; SIGKILL is what ends it.
        unsafe { libc::pause() };
    }
}
