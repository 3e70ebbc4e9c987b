//! Pause and resume: the v1 freezer controller where the host has one, else the v2 core
//! `cgroup.freeze`. Both report the frozen state only once every task has stopped, so the
//! write is followed by a bounded wait for it.

use super::{read, write, Placement};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// True if the container's freezer says it is frozen: the v1 freezer where there is one (as
/// [`freeze`] chooses), else v2's cgroup.freeze. `list` asks this of every container, so the
/// directory most likely to be the freezer's is tried first, and the search stops there.
pub fn is_frozen(paths: &[PathBuf]) -> bool {
    let mut dirs: Vec<&PathBuf> = paths.iter().collect();
    dirs.sort_by_key(|d| !d.components().any(|c| c.as_os_str() == "freezer"));
    let read = |file: &str| {
        dirs.iter()
            .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
    };
    match read("freezer.state") {
        Some(state) => state.trim() == "FROZEN",
        None => read("cgroup.freeze").is_some_and(|s| s.trim() == "1"),
    }
}

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

fn freezer(p: &Placement) -> Result<Freezer<'_>> {
    if let Some((dir, false)) = p.dir_for("freezer") {
        return Ok(Freezer::V1(dir));
    }
    match p.v2_dir() {
        Some(dir) => Ok(Freezer::V2(dir)),
        None => bail!("no freezer cgroup (v1 freezer controller or cgroup v2) for this container"),
    }
}

pub fn freeze(p: &Placement) -> Result<()> {
    match freezer(p)? {
        Freezer::V1(dir) => {
            let deadline = Instant::now() + TIMEOUT;
            loop {
                // A task in an uninterruptible sleep keeps the cgroup FREEZING; writing again
                // retries the tasks that were not frozen yet.
                write(dir, "freezer.state", "FROZEN")?;
                if read(dir, "freezer.state")? == "FROZEN" {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    let _ = write(dir, "freezer.state", "THAWED");
                    bail!(
                        "freeze {}: tasks did not stop within {TIMEOUT:?}",
                        dir.display()
                    );
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Freezer::V2(dir) => {
            write(dir, "cgroup.freeze", "1")?;
            if let Err(e) = wait_v2(dir, true) {
                let _ = write(dir, "cgroup.freeze", "0");
                return Err(e);
            }
            Ok(())
        }
    }
}

pub fn thaw(p: &Placement) -> Result<()> {
    match freezer(p)? {
        Freezer::V1(dir) => write(dir, "freezer.state", "THAWED"),
        Freezer::V2(dir) => {
            write(dir, "cgroup.freeze", "0")?;
            wait_v2(dir, false)
        }
    }
}

/// Wait until `cgroup.events` reports the wanted `frozen` value.
fn wait_v2(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if read(dir, "cgroup.events")?.lines().any(|l| l == want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} {}: cgroup.events did not report {want:?} within {TIMEOUT:?}",
                if frozen { "freeze" } else { "thaw" },
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
