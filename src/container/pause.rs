//! `pause` and `resume`: freeze and thaw every process of the container through its cgroup.

use super::error::wrong;
use super::status::Status;
use super::{load, open_existing, Context};
use anyhow::{bail, Result};

pub fn pause(ctx: &Context, id: &str) -> Result<()> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    match st {
        // runc freezes a created container too: its init is parked, not gone.
        Status::Running | Status::Created => {}
        Status::Paused => bail!("container {id} is already paused"),
        _ => bail!(wrong(st, "container not running")),
    }
    state.cgroup().freeze()
}

pub fn resume(ctx: &Context, id: &str) -> Result<()> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    if st != Status::Paused {
        bail!(wrong(st, "container not paused"));
    }
    state.cgroup().thaw()
}

/// The host PIDs of every process in the container.
pub fn pids(ctx: &Context, id: &str) -> Result<Vec<i32>> {
    let locked = open_existing(ctx, id)?;
    let (state, _) = load(&locked, id)?;
    members(&state)
}

/// The container's processes: those in its cgroup or, with none (a rootless container whose
/// cgroups are not delegated), those in the PID namespace of its own.
pub(super) fn members(state: &super::state::State) -> Result<Vec<i32>> {
    if !state.cgroup_paths.is_empty() {
        return Ok(state.cgroup().pids());
    }
    if !state.own_pid_ns {
        anyhow::bail!(
            "container {} has no cgroup to find its processes in (rootless, with no cgroup delegated) and no PID namespace of its own",
            state.id
        );
    }
    if !super::status::is_alive(state.pid, state.init_start_time) {
        return Ok(Vec::new());
    }
    Ok(crate::namespaces::pid_namespace_members(state.pid))
}
