//! `delete`: remove a stopped container; `--force` kills a created or running one first.
//!
//! runtime.md#delete: deleting a container that is not stopped MUST generate an error and have
//! no effect, a created one included (runc deletes a created container without `--force`; the
//! OCI suite checks the spec's rule, and managers that delete created containers pass `--force`
//! or kill first: podman, containerd's CRI and ctr).

use super::kill::{pidfd_open, signal_init};
use super::state::{Locked, State};
use super::status::{is_alive, Status};
use super::{id, load, Context};
use anyhow::{bail, Result};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

pub fn delete(ctx: &Context, id: &str, force: bool) -> Result<()> {
    id::validate(id)?;
    if force {
        // Whatever a killed rt left is found here too: the claims of creates that died before
        // their container got its id (nothing else knows of them).
        super::claim::sweep(&ctx.root);
    }
    let Some(locked) = super::state::open(&ctx.root, id)? else {
        if force {
            return Ok(());
        }
        bail!(super::Error::not_found(id));
    };
    match locked.load() {
        Ok(Some(_)) => {}
        // Not left by rt (create writes the state before the id appears): only a directory.
        Ok(None) => return locked.remove(),
        Err(e) if force => {
            // Nothing to go by: the directory goes, whatever else the container had stays.
            let e = crate::errno::words(&e);
            crate::logging::warn(&format!("delete {id}: {e}; removing its state anyway"));
            return locked.remove();
        }
        Err(e) => return Err(e),
    }
    let (state, st) = load(&locked, id)?;
    crate::logging::debug(&format!("delete {id}: status {st}, pid {}", state.pid));
    match st {
        Status::Stopped => {}
        Status::Created | Status::Creating | Status::Running | Status::Paused if force => {
            kill_init(&state)?
        }
        _ => bail!(super::Error::wrong_state(
            st,
            format!("cannot delete container {id} that is not stopped: {st}")
        )),
    }
    crate::testpoint::pause_point("delete:after-kill");
    destroy(locked, &state)
}

/// SIGKILL the init and wait until it is dead (not merely signalled).
fn kill_init(state: &State) -> Result<()> {
    let pidfd = pidfd_open(state.pid);
    // A frozen cgroup would keep the killed processes from dying.
    state.cgroup().thaw_now();
    if !signal_init(state.pid, state.init_start_time, libc::SIGKILL)? {
        return Ok(());
    }
    if let Some(fd) = pidfd {
        use nix::poll::{poll, PollFd, PollFlags};
        // Readable once the process has exited.
        let _ = poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], 10_000u16);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_alive(state.pid, state.init_start_time) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Kill whatever is left in the cgroup, remove it and the state directory.
pub(super) fn destroy(locked: Locked, state: &State) -> Result<()> {
    let cgroup = state.cgroup();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Without a PID namespace of its own, the container's other processes outlive its init.
        let left = if state.own_pid_ns {
            Vec::new()
        } else {
            cgroup.pids()
        };
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        cgroup.kill(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(2));
    }
    // The unit goes first: systemd removes the cgroups it made, we remove the rest.
    let unit = cgroup.stop_unit();
    crate::testpoint::pause_point("delete:before-cgroup-remove");
    let cg = cgroup.remove_dirs().and(unit);
    // Its mounts in the host's namespace go with it (before the state: a delete interrupted
    // here finds them again).
    if let Some(id) = state.host_rootfs_mount {
        crate::rootfs::host_ns::unbind(&state.rootfs, id)?;
    }
    crate::testpoint::pause_point("delete:before-state-remove");
    locked.remove()?;
    if let Some(list) = state.hooks.as_ref().and_then(|h| h.poststop().as_deref()) {
        let st = serde_json::to_value(super::public(state, Status::Stopped, String::new()))?;
        // A failed poststop hook is a warning: the container is gone all the same.
        if let Err(e) = crate::hooks::run_all("poststop", list, &st) {
            crate::logging::warn(&crate::errno::words(&e));
        }
    }
    cg
}
