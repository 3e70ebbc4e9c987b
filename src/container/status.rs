//! The status machine, computed live from the kernel rather than trusted from the state file.

use super::state::State;
pub use super::state::Status;
pub use crate::pidinfo::{is_alive, proc_stat};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

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
    if state.cgroup().is_frozen() {
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
