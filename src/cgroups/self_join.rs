//! A new process joining its v1 cgroups by itself.
//!
//! Moving a process through `cgroup.procs` write-locks the kernel's global threadgroup rwsem,
//! and the first write-lock after a quiet spell waits for an RCU grace period: 5 to 20 ms on
//! this kind of host, the largest part of `rt run`. A thread that writes "0" to a v1 `tasks`
//! file moves only itself and takes no such lock. A process with a single thread (ours, just
//! cloned) is then wholly in the cgroup.
//!
//! The runtime opens the files before the clone: the kernel checks the credentials they were
//! opened with, so the process may write them from its new user namespace.

use crate::errno::SysContext;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::Placement;

/// The `tasks` files of the v1 hierarchies the process joins by itself.
#[derive(Default)]
pub struct SelfJoin {
    files: Vec<(PathBuf, OwnedFd)>,
}

impl SelfJoin {
    /// Open `tasks` in every v1 directory of `placement`. A directory whose file cannot be
    /// opened (not made yet, as with systemd; not writable, as when rootless) is left to the
    /// runtime's `cgroup.procs` write ([`super::add_process`]).
    pub fn open(placement: &Placement) -> SelfJoin {
        let v1 = placement.hierarchies.iter().zip(&placement.paths);
        SelfJoin::open_dirs(v1.filter(|(h, _)| !h.v2).map(|(_, dir)| dir.as_path()))
    }

    /// Open `tasks` in each of `dirs` that has one (v2 cgroups have none).
    pub fn open_dirs<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> SelfJoin {
        let mut files = Vec::new();
        for dir in dirs {
            let path = dir.join("tasks");
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(f) => files.push((dir.to_path_buf(), f.into())),
                Err(e) => crate::logging::debug(&format!(
                    "open {}: {}; the runtime moves the process instead",
                    path.display(),
                    crate::errno::describe_io(&e)
                )),
            }
        }
        SelfJoin { files }
    }

    /// The open `tasks` files, which the new process must keep until it joins.
    pub fn fds(&self) -> impl Iterator<Item = std::os::fd::RawFd> + '_ {
        self.files
            .iter()
            .map(|(_, f)| std::os::fd::AsRawFd::as_raw_fd(f))
    }

    /// Whether the process joins `dir` by itself.
    pub fn covers(&self, dir: &Path) -> bool {
        self.files.iter().any(|(d, _)| d == dir)
    }

    /// In the new process, while it has a single thread: move it into every cgroup.
    pub fn join(self) -> anyhow::Result<()> {
        for (dir, fd) in self.files {
            nix::unistd::write(fd.as_fd(), b"0")
                .sys(|| format!("join cgroup {}: write \"0\" to tasks", dir.display()))?;
        }
        Ok(())
    }
}
