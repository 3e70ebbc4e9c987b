//! The state store: `<root>/<id>/state.json`, written atomically (temp file, rename) and
//! guarded by an exclusive `flock` on the container's directory, so that commands on one container
//! are serialised while commands on different containers never wait for each other.

use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
/// Where `state.json` is written before it is renamed into place.
pub const STATE_TMP: &str = ".state.json.tmp";
pub const EXEC_FIFO: &str = "exec.fifo";
/// Where the init writes why it failed after `create` returned (read by `start`).
pub const INIT_ERROR: &str = "init.err";
/// config.json as it was at create, for `exec` (its namespaces, process defaults, seccomp). A
/// file of its own, so that the commands that only need the state never parse it.
pub const CONFIG_FILE: &str = "config.json";

/// A container's status, as the state file records it and `state` reports it (the live one is
/// computed by status::live_status).
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        })
    }
}

/// What is kept on disk. The OCI fields come first; the rest is rt's own bookkeeping.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// The hooks of config.json as it was at create: later edits must not change the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Start time of the init (field 22 of /proc/<pid>/stat), so a reused PID is never mistaken
    /// for our init.
    #[serde(rename = "initStartTime")]
    pub init_start_time: u64,
    /// True when the container has its own PID namespace: killing its init then kills every
    /// process in it, and `delete` must not kill by cgroup membership (a cgroup may be shared).
    #[serde(default, rename = "ownPidNamespace")]
    pub own_pid_ns: bool,
    /// Cgroup directories of the container, one per hierarchy.
    #[serde(default, rename = "cgroupPaths")]
    pub cgroup_paths: Vec<PathBuf>,
    /// Parent cgroup directories that `create` made and `delete` removes when empty, deepest first.
    #[serde(default, rename = "cgroupCreatedParents")]
    pub cgroup_created_parents: Vec<PathBuf>,
    /// The transient unit of the systemd cgroup driver, stopped on delete.
    #[serde(
        default,
        rename = "systemdUnit",
        skip_serializing_if = "Option::is_none"
    )]
    pub systemd_unit: Option<String>,
    /// The `create` (or `run`) process and its start time while the status is `creating`: once
    /// it is gone, a container still `creating` is the leftover of a killed create.
    #[serde(default, rename = "creatorPid")]
    pub creator_pid: i32,
    #[serde(default, rename = "creatorStartTime")]
    pub creator_start_time: u64,
    /// Without a mount namespace of its own: the id of the mount that binds the rootfs onto
    /// itself in the host's mount namespace, which `delete` detaches (rootfs::host_ns).
    #[serde(
        default,
        rename = "hostRootfsMount",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_rootfs_mount: Option<u64>,
}

/// The container's directory, locked for as long as this value lives.
pub struct Locked {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .sys(|| format!("lock {}", dir.display()))
}

/// Make the state root (mode 0700) if needed.
pub fn ensure_root(root: &Path) -> Result<()> {
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("create state root {}", root.display())),
    }
}

/// Claim a new container id with its first state. The directory is made and locked under a
/// temporary name (see `claim`, named after the creator `state` records), gets `state.json`, and
/// only then appears under the id (an atomic rename that never replaces): no other command can
/// see the id without a state, or lock it before us.
pub fn create(root: &Path, id: &str, state: &State) -> Result<Locked> {
    ensure_root(root)?;
    // What creates killed before their rename left.
    super::claim::sweep(root);
    let dir = container_dir(root, id);
    let tmp = super::claim::path(root, state.creator_pid, state.creator_start_time);
    std::fs::DirBuilder::new()
        .mode(0o711)
        .create(&tmp)
        .sys(|| format!("create {}", tmp.display()))?;
    let lock = match lock_dir(&tmp) {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let locked = Locked {
        dir: tmp,
        _lock: lock,
    };
    crate::testpoint::pause_point("create:claim");
    if let Err(e) = locked.save(state) {
        let _ = std::fs::remove_dir_all(&locked.dir);
        return Err(e);
    }
    match rename_noreplace(&locked.dir, &dir) {
        Ok(()) => Ok(Locked { dir, ..locked }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&locked.dir);
            match e.raw_os_error() {
                Some(libc::EEXIST) | Some(libc::ENOTEMPTY) => {
                    bail!(super::Error::Exists { id: id.to_string() })
                }
                _ => Err(e).sys(|| format!("rename {} to {}", locked.dir.display(), dir.display())),
            }
        }
    }
}

fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    let e = match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(e) => std::io::Error::from(e),
    };
    if e.raw_os_error() != Some(libc::EINVAL) {
        return Err(e);
    }
    // A file system without RENAME_NOREPLACE: claim the id with mkdir, then replace that empty
    // directory (rename may replace an empty directory, atomically).
    std::fs::create_dir(to)?;
    std::fs::rename(from, to)
}

impl State {
    /// The container's cgroups, as recorded.
    pub fn cgroup(&self) -> crate::cgroups::Cgroup {
        crate::cgroups::Cgroup::existing(
            &self.cgroup_paths,
            &self.cgroup_created_parents,
            self.systemd_unit.as_deref(),
        )
    }
}

impl Locked {
    /// Lock `dir` if nobody holds it; `None` if someone does, or it is gone.
    pub fn try_lock(dir: PathBuf) -> Option<Locked> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&dir)
            .ok()?;
        let lock = Flock::lock(f, FlockArg::LockExclusiveNonblock).ok()?;
        Some(Locked { dir, _lock: lock })
    }
}

/// Lock an existing container's directory. `None` when no such container exists (or it was
/// deleted while we waited for the lock).
pub fn open(root: &Path, id: &str) -> Result<Option<Locked>> {
    let dir = container_dir(root, id);
    let lock = match lock_dir(&dir) {
        Ok(l) => l,
        Err(e) => {
            if crate::errno::errno_of(&e) == Some(nix::errno::Errno::ENOENT) {
                return Ok(None);
            }
            return Err(e).with_context(|| format!("open {}", dir.display()));
        }
    };
    // A directory removed by a `delete` that held the lock before us has no links left.
    let meta = lock.metadata()?;
    if std::os::unix::fs::MetadataExt::nlink(&meta) == 0 {
        return Ok(None);
    }
    Ok(Some(Locked { dir, _lock: lock }))
}

impl Locked {
    /// The descriptor that holds the lock.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&*self._lock)
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn init_error_path(&self) -> PathBuf {
        self.dir.join(INIT_ERROR)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    /// The stored state; `None` if a `create` died before writing it.
    pub fn load(&self) -> Result<Option<State>> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(raw) => Ok(Some(
                serde_json::from_slice(&raw)
                    .with_context(|| format!("parse {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }

    pub fn save(&self, state: &State) -> Result<()> {
        let tmp = self.dir.join(STATE_TMP);
        let data = serde_json::to_vec(state)?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            // No fsync: the rename is what makes the update atomic for other rt commands, and
            // the state root is a tmpfs (/run) that does not outlive a crash anyway.
            f.write_all(&data)?;
            std::fs::rename(&tmp, self.state_path())
        };
        write().with_context(|| format!("write {}", self.state_path().display()))
    }

    /// Remove the directory and everything in it; the lock is released when `self` drops.
    pub fn remove(self) -> Result<()> {
        // Only the directory we locked: not one a `create` renamed over it meanwhile (on a file
        // system without RENAME_NOREPLACE, see `create`).
        use std::os::unix::fs::MetadataExt;
        let ours = self._lock.metadata().ok().map(|m| (m.dev(), m.ino()));
        let there = std::fs::metadata(&self.dir)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if ours.is_none() || ours != there {
            return Ok(());
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("remove {}", self.dir.display())),
        }
    }
}

/// Ids of every container directory under the root, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read {}", root.display())),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        // Not a container: a `create`'s directory before it gets its id (see `claim`).
        .filter(|n| super::id::validate(n).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str) -> State {
        let me = std::process::id();
        let (_, start) = crate::pidinfo::proc_stat(me as i32).unwrap();
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.3.0", "id": id, "status": "creating", "pid": 0,
            "bundle": "/b", "rootfs": "/b/rootfs", "created": "now", "initStartTime": 0,
            "creatorPid": me, "creatorStartTime": start
        }))
        .unwrap()
    }

    #[test]
    fn an_id_appears_with_its_state_and_only_once() {
        let root = std::env::temp_dir().join(format!("rt-state-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let first = create(&root, "c1", &state("c1")).unwrap();
        assert_eq!(first.dir, root.join("c1"));
        assert_eq!(first.load().unwrap().unwrap().id, "c1");
        let e = create(&root, "c1", &state("c1")).err().unwrap();
        assert_eq!(e.to_string(), "container with id exists: c1");
        // Neither claim leaves its temporary directory, and none would be listed.
        std::fs::create_dir(root.join(".rt-new:1:1")).unwrap();
        std::fs::create_dir(root.join(".dot-id")).unwrap();
        assert_eq!(list_ids(&root).unwrap(), [".dot-id", "c1"]);
        let s = state("c1");
        assert!(!super::super::claim::path(&root, s.creator_pid, s.creator_start_time).exists());
        first.remove().unwrap();
        assert!(open(&root, "c1").unwrap().is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
