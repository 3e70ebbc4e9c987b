//! Paths inside the rootfs, resolved by the kernel as if the rootfs were `/` (openat2 with
//! RESOLVE_IN_ROOT): a symlink planted in the image can never lead a mount or a device node out of
//! the container. Mounts are then made on `/proc/self/fd/N` of the resolved descriptor.

use crate::errno::SysContext;
use anyhow::Result;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

/// An O_PATH descriptor of something inside the rootfs, usable as a mount target.
pub struct Target {
    pub fd: OwnedFd,
}

impl Target {
    pub fn proc_path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }
}

fn how(flags: OFlag, mode: u32) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(Mode::from_bits_truncate(mode))
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

fn rel(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .sys(|| format!("open rootfs {:?}", path.display().to_string()))?;
        Ok(Root {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Resolve an existing path.
    pub fn resolve(&self, p: &Path) -> nix::Result<Target> {
        let r = rel(p);
        let target = if r.as_os_str().is_empty() {
            Path::new(".")
        } else {
            r.as_path()
        };
        nix::fcntl::openat2(&self.fd, target, how(OFlag::O_PATH, 0)).map(|fd| Target { fd })
    }

    /// Resolve a directory, creating what is missing (mode 0755). Every step is resolved from
    /// the root again, so RESOLVE_IN_ROOT governs each component, symlinks included.
    pub fn mkdir_all(&self, p: &Path) -> Result<Target> {
        let r = rel(p);
        let mut cur = self.resolve(Path::new("/")).sys(|| "open rootfs")?;
        let mut so_far = PathBuf::from("/");
        for c in r.components() {
            so_far.push(c);
            let shown = || so_far.display().to_string();
            cur = match self.resolve(&so_far) {
                Ok(t) => t,
                Err(nix::errno::Errno::ENOENT) => {
                    match nix::sys::stat::mkdirat(
                        &cur.fd,
                        c.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                        Err(e) => return Err(e).sys(|| format!("mkdir {:?} in rootfs", shown())),
                    }
                    self.resolve(&so_far)
                        .sys(|| format!("open {:?} in rootfs", shown()))?
                }
                Err(e) => return Err(e).sys(|| format!("open {:?} in rootfs", shown())),
            };
        }
        Ok(cur)
    }

    /// Resolve a file, creating it empty (and its parents) when missing.
    pub fn create_file(&self, p: &Path, mode: u32) -> Result<Target> {
        if let Ok(t) = self.resolve(p) {
            return Ok(t);
        }
        if let Some(parent) = p.parent() {
            self.mkdir_all(parent)?;
        }
        let r = rel(p);
        let fd = nix::fcntl::openat2(
            &self.fd,
            r.as_path(),
            how(OFlag::O_CREAT | OFlag::O_WRONLY, mode),
        )
        .sys(|| format!("create {:?} in rootfs", p.display().to_string()))?;
        drop(fd);
        self.resolve(p)
            .sys(|| format!("open {:?} in rootfs", p.display().to_string()))
    }

    /// Where a resolved target is, as the container will see it.
    pub fn inside(&self, t: &Target) -> Result<PathBuf> {
        let host =
            std::fs::read_link(t.proc_path()).sys(|| "readlink of a resolved rootfs path")?;
        let rel = host.strip_prefix(&self.path).unwrap_or(&host);
        Ok(Path::new("/").join(rel))
    }
}
