//! `start`: release the init parked on the exec fifo; with the caller's NOTIFY_SOCKET, return
//! once the container is ready.

use super::error::wrong;
use super::notify::{self, Forwarder};
use super::state::State;
use super::status::Status;
use super::{load, open_existing, Context};
use anyhow::{bail, Result};
use std::ffi::OsStr;
use std::time::Duration;

/// `notify_socket`: the caller's NOTIFY_SOCKET, to pass the container's READY=1 on to.
pub fn start(ctx: &Context, id: &str, notify_socket: Option<&OsStr>) -> Result<()> {
    let (state, notify) = release(ctx, id, notify_socket)?;
    // Waited for without the container's lock, as the init's exec: `state`, `kill` and `delete`
    // must not wait for it.
    if let Some(n) = notify {
        n.forward_ready(state.pid, state.init_start_time, state.pid)?;
        crate::logging::debug(&format!("start {id}: the container is ready"));
    }
    Ok(())
}

/// Release the init, under the container's lock (with the notify socket bound, if asked); then,
/// without the lock, wait until it has run the startContainer hooks and exec'd, and run the
/// poststart hooks.
pub(super) fn release(
    ctx: &Context,
    id: &str,
    notify_socket: Option<&OsStr>,
) -> Result<(State, Option<Forwarder>)> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    match st {
        Status::Created => {}
        Status::Stopped => bail!(wrong(st, "cannot start a container that has stopped")),
        Status::Running => bail!(wrong(st, "cannot start an already running container")),
        Status::Paused => bail!(wrong(st, "cannot start a container in the paused state")),
        Status::Creating => bail!(wrong(
            st,
            "cannot start a container that is still being created"
        )),
    }
    release_locked(locked, state, notify_socket)
}

/// [`release`] of a container known to be created, under its lock (`run` holds it from the
/// create on: nothing to read again, and no `start` of another caller can come between).
pub(super) fn release_locked(
    locked: super::state::Locked,
    mut state: State,
    notify_socket: Option<&OsStr>,
) -> Result<(State, Option<Forwarder>)> {
    let id = state.id.clone();
    // Bound before the process runs, so that none of its messages is lost.
    let notify = match notify_socket {
        Some(host) => Some(notify::bind(&locked.dir, host)?),
        None => None,
    };
    // Open before the release: the init's last words are read from here even if the container
    // is deleted while we wait.
    let err_path = locked.init_error_path();
    let init_error = std::fs::File::open(&err_path).ok();
    let fifo = locked.fifo_path();
    crate::testpoint::pause_point("start:before-release");
    let Some(released) = crate::process::fifo::release(&fifo)? else {
        bail!(wrong(
            Status::Stopped,
            "cannot start a container that has stopped"
        ));
    };
    // Released: the container runs from now on, whatever becomes of us. Without its fifo it
    // shows as running (status::live_status), and a second `start` is refused.
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_file(&err_path);
    // Not saved: the status on disk says only whether the create finished; running or not is
    // read from the fifo and the init (status::live_status). One write less per start.
    state.status = Status::Running;
    crate::testpoint::pause_point("start:after-release");
    // The startContainer hooks run in the init now, and may take as long as their timeouts
    // allow (or forever without one): `state`, `kill` and `delete --force` must not wait for them.
    drop(locked);
    let limit = start_container_limit(&state);
    if !released.wait(limit) {
        let _ = super::kill::signal_init(state.pid, state.init_start_time, libc::SIGKILL);
        bail!(
            "the container's init did not run its process within {}s (its startContainer hooks' \
             timeouts, and {}s more): container stopped",
            limit.unwrap_or_default().as_secs(),
            HOOKS_GRACE.as_secs()
        );
    }
    // The init has exec'd or died; if it died of a startContainer hook or a failed exec, it
    // left its error, and the lifecycle goes on as for a stopped container.
    let mut msg = String::new();
    if let Some(mut f) = init_error {
        let _ = std::io::Read::read_to_string(&mut f, &mut msg);
    }
    if !msg.is_empty() {
        let _ = super::kill::signal_init(state.pid, state.init_start_time, libc::SIGKILL);
        bail!("{msg}");
    }
    crate::logging::debug(&format!("start {id}: released init {}", state.pid));
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

/// Beyond the startContainer hooks' timeouts, for the init to notice one and report it, or to
/// exec.
const HOOKS_GRACE: Duration = Duration::from_secs(5);

/// How long the init may take to exec once released: its startContainer hooks' timeouts and
/// [`HOOKS_GRACE`]; no bound when a hook has no timeout (the spec lets it run as long as it
/// needs) or when there is no hook (the exec itself is all that is left).
fn start_container_limit(state: &State) -> Option<Duration> {
    let hooks = state.hooks.as_ref()?.start_container().as_deref()?;
    if hooks.is_empty() {
        return None;
    }
    let mut total = HOOKS_GRACE;
    for h in hooks {
        total += Duration::from_secs(u64::try_from(h.timeout()?).ok()?);
    }
    Some(total)
}
