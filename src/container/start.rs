//! `start`: release the init parked on the exec fifo; with the caller's NOTIFY_SOCKET, return
//! once the container is ready.

use super::notify::{self, Forwarder};
use super::state::State;
use super::status::Status;
use super::{load, open_existing, Context};
use anyhow::{bail, Result};
use std::ffi::OsStr;

/// `notify_socket`: the caller's NOTIFY_SOCKET, to pass the container's READY=1 on to.
pub fn start(ctx: &Context, id: &str, notify_socket: Option<&OsStr>) -> Result<()> {
    let (state, notify) = release(ctx, id, notify_socket)?;
    // Waited for without the container's lock: `state`, `kill` and `delete` must not wait for it.
    if let Some(n) = notify {
        n.forward_ready(state.pid, state.init_start_time, state.pid)?;
        crate::logging::debug(&format!("start {id}: the container is ready"));
    }
    Ok(())
}

/// Everything `start` does under the container's lock: bind the notify socket if asked, release
/// the init, run the poststart hooks.
pub(super) fn release(
    ctx: &Context,
    id: &str,
    notify_socket: Option<&OsStr>,
) -> Result<(State, Option<Forwarder>)> {
    let locked = open_existing(ctx, id)?;
    let (mut state, st) = load(&locked, id)?;
    match st {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Running => bail!("cannot start an already running container"),
        Status::Paused => bail!("cannot start a container in the paused state"),
        Status::Creating => bail!("cannot start a container that is still being created"),
    }
    // Bound before the process runs, so that none of its messages is lost.
    let notify = match notify_socket {
        Some(host) => Some(notify::bind(&locked.dir, host)?),
        None => None,
    };
    let fifo = locked.fifo_path();
    crate::testpoint::pause_point("start:before-release");
    if !crate::process::fifo::release(&fifo)? {
        bail!("cannot start a container that has stopped");
    }
    // Killed here, we leave a fifo nobody reads: status::live_status counts that as running.
    crate::testpoint::pause_point("start:after-release");
    let _ = std::fs::remove_file(&fifo);
    // The init has exec'd or died; if it died of a startContainer hook or a failed exec, it
    // left its error here, and the lifecycle goes on as for a stopped container.
    let err_path = locked.init_error_path();
    let init_error = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    if !init_error.is_empty() {
        let _ = super::kill::signal_init(state.pid, state.init_start_time, libc::SIGKILL);
        bail!("{init_error}");
    }
    crate::logging::debug(&format!("start {id}: released init {}", state.pid));
    state.status = Status::Running;
    locked.save(&state)?;
    if let Some(list) = state.hooks.as_ref().and_then(|h| h.poststart().as_deref()) {
        let st = serde_json::to_value(super::public(&state, Status::Running, String::new()))?;
        // The spec (1.1+) and runc: a failed poststart hook stops the container.
        if let Err(e) = crate::hooks::run_all("poststart", list, &st) {
            let _ = super::kill::signal_init(state.pid, state.init_start_time, libc::SIGKILL);
            return Err(e.context("container stopped"));
        }
    }
    Ok((state, notify))
}
