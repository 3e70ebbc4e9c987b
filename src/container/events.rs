//! `events`: the container's cgroup statistics in runc's JSON shape, once (`--stats`) or every
//! interval until the container stops, with an "oom" event whenever the OOM killer struck.

use super::status::Status;
use super::{load, open_existing, Context};
use crate::cgroups::stats;
use anyhow::{bail, Result};
use std::time::{Duration, Instant};

/// What `events` hands to its printer.
pub enum Event<'a> {
    Stats(&'a stats::Stats),
    Oom,
}

impl Event<'_> {
    /// The event as runc prints it: one line of JSON (without the newline).
    pub fn to_json_line(&self, id: &str) -> Result<String> {
        let (r#type, data) = match self {
            Event::Stats(s) => ("stats", Some(*s)),
            Event::Oom => ("oom", None),
        };
        Ok(serde_json::to_string(&stats::Event { r#type, id, data })?)
    }
}

/// Collect once, or every `interval` (with `None`: once) until the container stops.
pub fn events(
    ctx: &Context,
    id: &str,
    interval: Option<Duration>,
    emit: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<()> {
    let cgroup = {
        let locked = open_existing(ctx, id)?;
        let (state, st) = load(&locked, id)?;
        if st == Status::Stopped {
            bail!(super::Error::wrong_state(
                st,
                format!("container with id {id} is not running")
            ));
        }
        let cgroup = state.cgroup();
        cgroup.placement()?;
        cgroup
    };
    let Some(interval) = interval else {
        return emit(Event::Stats(&cgroup.stats()?));
    };
    let tick = interval.min(Duration::from_millis(200));
    let mut ooms = cgroup.oom_kills().unwrap_or(0);
    let mut next = Instant::now();
    loop {
        if !running(ctx, id) {
            return Ok(());
        }
        let now_ooms = cgroup.oom_kills().unwrap_or(ooms);
        if now_ooms > ooms {
            emit(Event::Oom)?;
        }
        ooms = now_ooms;
        if Instant::now() >= next {
            // The cgroup may vanish between the check and the read: then the container is gone.
            match cgroup.stats() {
                Ok(s) => emit(Event::Stats(&s))?,
                Err(_) if !running(ctx, id) => return Ok(()),
                Err(e) => return Err(e),
            }
            next += interval;
        }
        std::thread::sleep(tick);
    }
}

fn running(ctx: &Context, id: &str) -> bool {
    let Ok(locked) = open_existing(ctx, id) else {
        return false;
    };
    matches!(load(&locked, id), Ok((_, st)) if st != Status::Stopped)
}
