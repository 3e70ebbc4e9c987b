//! One writer of a cgroup's device rules at a time. Containers sharing a cgroupsPath are created
//! concurrently; each reads the rules in force, then changes them (v1: the transition from
//! devices.list; v2: attach its program, detach the ones it saw). Unserialized, two creates on
//! a new v1 cgroup both see it allow-all and both reset it to deny-all, the second one while
//! the first one's container may already be running; on v2 each would keep its own program.

use crate::errno::SysContext;
use anyhow::Result;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// An exclusive flock(2) on the cgroup directory itself, released when dropped (or when the
/// process dies). Only rt takes it; cgroupfs, like any file system, supports flock.
pub fn lock(dir: &Path) -> Result<Flock<File>> {
    let f = File::open(dir).sys(|| format!("open cgroup {}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .sys(|| format!("flock cgroup {}", dir.display()))
}
