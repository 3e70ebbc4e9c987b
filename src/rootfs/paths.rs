//! Paths inside the rootfs, resolved by the kernel as if the rootfs were `/` (openat2 with
//! RESOLVE_IN_ROOT): a symlink planted in the image can never lead a mount or a device node out of
//! the container. Mounts are then made on `/proc/self/fd/N` of the resolved descriptor.

use crate::errno::SysContext;
use anyhow::{bail, Result};
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

/// `p` relative to the root, lexically cleaned as the kernel walks it from `/` ("/.." is "/").
fn rel(p: &Path) -> PathBuf {
    let clean = lexical_clean(p);
    clean.strip_prefix("/").unwrap_or(&clean).to_path_buf()
}

/// Symlinks followed by `mkdir_all` before giving up, as the kernel's MAXSYMLINKS.
const MAX_LINKS: u32 = 40;

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .sys(|| format!("open rootfs {:?}", path.display().to_string()))?;
        // The path the kernel reports for descriptors inside it (symlinks resolved), for `inside`.
        let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap_or_else(|_| path.to_path_buf());
        Ok(Root { path, fd })
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
    /// the root again, so RESOLVE_IN_ROOT governs each component, symlinks included. A dangling
    /// symlink in the image is followed inside the root and what it names is created there (as
    /// runc's securejoin does), so `/dev -> /somewhere` gets `/somewhere` made in the rootfs.
    pub fn mkdir_all(&self, p: &Path) -> Result<Target> {
        let shown_all = p.display().to_string();
        // Components still to walk, last first.
        let mut todo: Vec<std::ffi::OsString> = rel(p)
            .components()
            .rev()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        let mut cur = self.resolve(Path::new("/")).sys(|| "open rootfs")?;
        let mut so_far = PathBuf::from("/");
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                // Where we really are (symlinks followed), then one up, never above the root.
                so_far = self.inside(&cur)?;
                so_far.pop();
                cur = self
                    .resolve(&so_far)
                    .sys(|| format!("open {:?} in rootfs", so_far.display().to_string()))?;
                continue;
            }
            if c == "." || c.is_empty() {
                continue;
            }
            let next = so_far.join(&c);
            let shown = || next.display().to_string();
            cur = match self.resolve(&next) {
                Ok(t) => t,
                Err(nix::errno::Errno::ENOENT) => {
                    match nix::sys::stat::mkdirat(
                        &cur.fd,
                        c.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) => {}
                        Err(nix::errno::Errno::EEXIST) => {
                            // There, yet not resolvable: a dangling symlink (or a racing mkdir).
                            match nix::fcntl::readlinkat(&cur.fd, c.as_os_str()) {
                                Ok(target) => {
                                    links += 1;
                                    if links > MAX_LINKS {
                                        return Err(nix::errno::Errno::ELOOP)
                                            .sys(|| format!("mkdir {shown_all:?} in rootfs"));
                                    }
                                    let target = PathBuf::from(target);
                                    if target.is_absolute() {
                                        so_far = PathBuf::from("/");
                                        cur = self.resolve(&so_far).sys(|| "open rootfs")?;
                                    }
                                    for t in target.components().rev() {
                                        match t {
                                            Component::Normal(n) => todo.push(n.to_os_string()),
                                            Component::ParentDir => todo.push("..".into()),
                                            _ => {}
                                        }
                                    }
                                    continue;
                                }
                                Err(nix::errno::Errno::EINVAL) => {} // a racing mkdir: resolve
                                Err(e) => {
                                    return Err(e)
                                        .sys(|| format!("readlink {:?} in rootfs", shown()))
                                }
                            }
                        }
                        Err(e) => return Err(e).sys(|| format!("mkdir {:?} in rootfs", shown())),
                    }
                    self.resolve(&next)
                        .sys(|| format!("open {:?} in rootfs", shown()))?
                }
                Err(e) => return Err(e).sys(|| format!("open {:?} in rootfs", shown())),
            };
            so_far = next;
        }
        Ok(cur)
    }

    /// A directory at exactly `p`, made where missing: no component may be a symlink or
    /// anything but a directory. procfs and sysfs go on such a directory only (as runc
    /// insists): through a symlink they could land where the masks and read-only paths, which
    /// are found by path, never reach.
    pub fn plain_dir(&self, p: &Path, what: &str) -> Result<Target> {
        let shown = p.display().to_string();
        let mut cur = self.resolve(Path::new("/")).sys(|| "open rootfs")?;
        let mut so_far = PathBuf::from("/");
        for c in rel(p).components() {
            let name = c.as_os_str();
            so_far.push(name);
            let open = |dir: &Target| {
                nix::fcntl::openat2(
                    &dir.fd,
                    name,
                    OpenHow::new()
                        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS),
                )
            };
            let fd = match open(&cur) {
                Err(nix::errno::Errno::ENOENT) => {
                    match nix::sys::stat::mkdirat(&cur.fd, name, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                        Err(e) => {
                            return Err(e).sys(|| {
                                format!("mkdir {:?} in rootfs", so_far.display().to_string())
                            })
                        }
                    }
                    open(&cur)
                }
                r => r,
            };
            cur = match fd {
                Ok(fd) => Target { fd },
                Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => bail!(
                    "{what} must be mounted on an ordinary directory: {:?} is a symlink or not a directory (mount on {shown:?})",
                    so_far.display().to_string()
                ),
                Err(e) => return Err(e).sys(|| format!("open {:?} in rootfs", so_far.display().to_string())),
            };
        }
        Ok(cur)
    }

    /// `p` itself even when it is a symlink (`dest-nofollow`): its parent resolved inside the
    /// root, made where missing; `p` made (a directory, or an empty file) when missing.
    pub fn entry_nofollow(&self, p: &Path, dir: bool) -> Result<Target> {
        let shown = p.display().to_string();
        let r = rel(p);
        let (Some(parent), Some(name)) = (r.parent(), r.file_name()) else {
            bail!("dest-nofollow: {shown:?} has no last component");
        };
        let parent = self.mkdir_all(&Path::new("/").join(parent))?;
        let open = || {
            nix::fcntl::openat2(
                &parent.fd,
                name,
                OpenHow::new()
                    .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
                    .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS),
            )
        };
        match open() {
            Ok(fd) => return Ok(Target { fd }),
            Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e).sys(|| format!("open {shown:?} in rootfs")),
        }
        let made = if dir {
            nix::sys::stat::mkdirat(&parent.fd, name, Mode::from_bits_truncate(0o755))
        } else {
            nix::fcntl::openat(
                &parent.fd,
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        };
        match made {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).sys(|| format!("create {shown:?} in rootfs")),
        }
        Ok(Target {
            fd: open().sys(|| format!("open {shown:?} in rootfs"))?,
        })
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

/// `p` made absolute and lexically clean, as the kernel walks it inside a root: no `.`, no
/// trailing slash, and `..` taken off the path so far ("/.." is "/").
pub fn lexical_clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}
