//! The container lifecycle: create, start, state, kill, delete, run, list, over the state store.

pub mod activation;
pub mod bundle;
mod checkpoint;
mod claim;
pub mod config;
mod create;
mod delete;
pub mod error;
pub mod events;
mod exec;
pub mod features;
pub(crate) mod foreground;
pub mod id;
mod kill;
mod list;
pub mod notify;
mod pause;
mod restore;
mod run;
mod start;
pub mod state;
pub mod status;
mod update;

pub use checkpoint::{checkpoint, CheckpointOptions};
pub use create::{create, CreateOptions};
pub use delete::delete;
pub use events::events;
pub use exec::{exec, ExecOptions};
pub use kill::kill;
pub use list::list;
pub use pause::{pause, pids, resume};
pub use restore::{restore, RestoreOptions};
pub use run::run;
pub use start::start;
pub use update::update;

use anyhow::{bail, Result};
pub use error::Error;
use serde::Serialize;
use state::{Locked, State};
use status::Status;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Global settings every operation needs.
pub struct Context {
    pub root: PathBuf,
    /// `--systemd-cgroup`: new containers get their cgroup from systemd.
    pub systemd_cgroup: bool,
    /// Rootless mode (`--rootless`): no privileges on the host, so id maps go through
    /// newuidmap/newgidmap and cgroups are used only where delegated.
    pub rootless: bool,
}

/// Lock an existing container, or fail with runc's "does not exist" wording.
fn open_existing(ctx: &Context, id: &str) -> Result<Locked> {
    id::validate(id)?;
    match state::open(&ctx.root, id)? {
        Some(l) => Ok(l),
        None => bail!(Error::not_found(id)),
    }
}

/// Load the state of a locked container, with its live status.
fn load(locked: &Locked, id: &str) -> Result<(State, Status)> {
    match locked.load()? {
        Some(s) => {
            let st = status::live_status(&s, &locked.dir);
            Ok((s, st))
        }
        None => bail!(Error::NotFound {
            id: id.to_string(),
            why: Some("no state: a create did not finish"),
        }),
    }
}

/// The OCI state as `rt state` prints it (runc's fields: rootfs, created, owner).
#[derive(Serialize)]
pub struct PublicState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

pub fn public(s: &State, st: Status, owner: String) -> PublicState {
    PublicState {
        oci_version: s.oci_version.clone(),
        id: s.id.clone(),
        pid: if st == Status::Stopped { 0 } else { s.pid },
        status: st,
        bundle: s.bundle.clone(),
        rootfs: s.rootfs.clone(),
        created: s.created.clone(),
        owner,
        annotations: s.annotations.clone(),
    }
}

pub fn state(ctx: &Context, id: &str) -> Result<PublicState> {
    let locked = open_existing(ctx, id)?;
    let (s, st) = load(&locked, id)?;
    Ok(public(&s, st, String::new()))
}

/// Write a pid file atomically, relative to the caller's working directory.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    use crate::errno::SysContext;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().sys(|| "getcwd")?.join(path)
    };
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = abs.with_file_name(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string()).sys(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, &abs).sys(|| format!("rename pid file to {}", abs.display()))
}
