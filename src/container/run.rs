//! `run`: create and start; in the foreground, wait for the container (reaping its orphans),
//! forward signals to it, delete it and return its exit status (128+N for a signal).

use super::create::{create_parked, CreateOptions};
use super::foreground::{become_subreaper, catch_signals, forward_signals, wait_exit};
use super::{delete::destroy, start, Context};
use crate::tty::{HostConsole, Proxy};
use anyhow::Result;

/// `subreaper`: a foreground run reaps the orphans of the container (and of its hooks).
pub fn run(
    ctx: &Context,
    id: &str,
    opts: &CreateOptions,
    detach: bool,
    subreaper: bool,
) -> Result<i32> {
    if !detach {
        // A SIGTERM while the container is set up must reach it, not end rt and orphan it.
        catch_signals();
        if subreaper {
            become_subreaper()?;
        }
    }
    let (locked, state, spawned) = create_parked(ctx, id, opts, !detach)?;
    // Our terminal is set up before the process runs, so that it starts with our window size.
    let proxy = spawned
        .console_master
        .map(|m| HostConsole::open().and_then(|h| Proxy::start(m, h)))
        .transpose();
    let started = proxy.and_then(|p| {
        start::release_locked(locked, state.clone(), opts.notify_socket.as_deref())
            .map(|(_, n)| (p, n))
    });
    let (proxy, notify) = match started {
        Ok(r) => r,
        Err(e) => {
            let _ = super::delete(ctx, id, true);
            return Err(e);
        }
    };
    if detach {
        // As `start`: back once the container is ready, the init its main pid.
        if let Some(n) = notify {
            n.forward_ready(state.pid, state.init_start_time, state.pid)?;
        }
        return Ok(0);
    }
    forward_signals(spawned.pid);
    if let Some(n) = notify {
        // As runc: we stay in the foreground until the container exits, so the main pid the manager
        // watches is ours; failing to notify it does not stop the container.
        let own = std::process::id() as i32;
        if let Err(e) = n.forward_ready(spawned.pid, state.init_start_time, own) {
            crate::logging::warn(&crate::errno::words(&e));
        }
    }
    let code = wait_exit(spawned.pid)?;
    drop(proxy);
    // Someone may have deleted it meanwhile (`delete --force`): then there is nothing left to do.
    if let Some(locked) = super::state::open(&ctx.root, id)? {
        destroy(locked, &state)?;
    }
    Ok(code)
}
