//! The status machine, computed live from the kernel rather than trusted from the state file.

use super::state::State;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        })
    }
}

/// Process state letter and start time from `/proc/<pid>/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields resume after the last ')'.
    let rest = &raw[raw.rfind(')')? + 2..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // starttime is field 22 of the line, i.e. the 20th after the state (field 3).
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// True if `pid` is still the process that had `start_time`, and not a zombie.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((state, start)) => start == start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

pub fn live_status(state: &State, dir: &Path) -> Status {
    if !is_alive(state.pid, state.init_start_time) {
        // Before the clone there is no init yet: the create itself tells whether it goes on.
        if state.status == Status::Creating && is_alive(state.creator_pid, state.creator_start_time)
        {
            return Status::Creating;
        }
        return Status::Stopped;
    }
    if state.status == Status::Creating {
        return Status::Creating;
    }
    // Paused first, as runc: a frozen parked init cannot be started (`start` would wait for its
    // exec forever, holding the container's lock).
    if crate::cgroups::is_frozen(&state.cgroup_paths) {
        return Status::Paused;
    }
    if parked(&dir.join(super::state::EXEC_FIFO)) {
        return Status::Created;
    }
    Status::Running
}

/// Whether an init still waits on the exec fifo: it holds the fifo open until it execs, so a
/// writer can open it. A fifo without a reader is what a `start` killed after releasing the init
/// (before removing the fifo) leaves behind: that container runs.
fn parked(fifo: &Path) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(fifo)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_start_time_matters() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
        assert!(!is_alive(0, start));
    }
}
