//! A procfs the image cannot redirect (CVE-2025-52881): every write rt makes through /proc
//! (sysctls, `oom_score_adj`, uid/gid maps, LSM attributes) goes through a [`ProcFs`] handle.
//!
//! Inside the container, the path `/proc/...` is whatever the mount table says: a racing
//! neighbour that shares a volume can get a bind mount of some other file over `/proc/sys/x` or
//! `/proc/self/attr/exec`, and a write meant for one file lands in another (a host sysctl, say).
//! A handle is the root of a procfs instance nobody else can mount on: a private instance
//! (`fsopen("proc")`, detached), else a detached copy of the procfs at `/proc` without its
//! submounts, else (no privilege for either) `/proc` itself verified as a procfs root. Files are
//! opened beneath it with `openat2` refusing symlinks and mount crossings, so an overmount or a
//! symlink planted anywhere on the way is an error, never a redirection.

use crate::errno::SysContext;
use crate::mountapi;
use anyhow::{bail, Result};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// The inode number of every procfs root.
const PROC_ROOT_INO: u64 = 1;

pub struct ProcFs {
    root: OwnedFd,
}

impl ProcFs {
    /// A private procfs of the caller's PID namespace with its processes only (`subset=pid`:
    /// no /proc/sys, nothing of the host's), for a process about to work inside a container,
    /// whose processes could reach what it holds. Falls back to [`ProcFs::host`]'s ways where
    /// the caller may not mount.
    pub fn private() -> Result<ProcFs> {
        Self::fresh(&["subset=pid".to_string()])
    }

    /// A private procfs with /proc/sys, for the sysctls: made, used and closed at once.
    pub fn for_sysctls() -> Result<ProcFs> {
        Self::fresh(&[])
    }

    fn fresh(options: &[String]) -> Result<ProcFs> {
        match mountapi::new_fs("proc", None, options, 0) {
            Ok(fd) => Self::verified(fd, "a private procfs"),
            Err(e) => {
                crate::logging::debug(&format!("private procfs: {e}; using /proc"));
                Self::host()
            }
        }
    }

    /// The procfs at `/proc`: a detached copy of its mount (no submounts can hide anything in
    /// it), or, without the privilege to copy a mount, `/proc` itself checked to be a procfs root.
    pub fn host() -> Result<ProcFs> {
        match mountapi::clone_tree("/proc", false) {
            Ok(fd) => Self::verified(fd, "a copy of the /proc mount"),
            Err(_) => {
                let fd = nix::fcntl::open(
                    "/proc",
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .sys(|| "open /proc")?;
                Self::verified(fd, "/proc")
            }
        }
    }

    fn verified(fd: OwnedFd, what: &str) -> Result<ProcFs> {
        let fs = nix::sys::statfs::fstatfs(&fd).sys(|| format!("statfs {what}"))?;
        let st = nix::sys::stat::fstat(&fd).sys(|| format!("stat {what}"))?;
        if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO
        {
            bail!("{what} is not the root of a procfs");
        }
        Ok(ProcFs { root: fd })
    }

    /// `rel` (e.g. `sys/kernel/shmmax`, `self/oom_score_adj`) opened beneath the handle. A
    /// leading `self/` or `thread-self/` is this process (thread) as the handle's PID namespace
    /// numbers it; nothing else on the way may be a symlink or another mount.
    pub fn open(&self, rel: &str, flags: OFlag) -> Result<File> {
        let path = self.resolve_self(rel)?;
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .mode(Mode::empty())
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_XDEV
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
        let fd = nix::fcntl::openat2(&self.root, path.as_path(), how)
            .sys(|| format!("open /proc/{rel}"))?;
        Ok(File::from(fd))
    }

    /// Write `data` to `rel` in one write(2), as procfs files want it.
    pub fn write(&self, rel: &str, data: &[u8]) -> Result<()> {
        let mut f = self.open(rel, OFlag::O_WRONLY)?;
        f.write_all(data).sys(|| format!("write /proc/{rel}"))
    }

    pub fn read_to_string(&self, rel: &str) -> Result<String> {
        let mut f = self.open(rel, OFlag::O_RDONLY)?;
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).sys(|| format!("read /proc/{rel}"))?;
        Ok(s)
    }

    /// Whether `rel` exists beneath the handle (symlinks and other mounts count as missing).
    pub fn exists(&self, rel: &str) -> bool {
        self.open(rel, OFlag::O_PATH).is_ok()
    }

    /// `self` and `thread-self` are symlinks whose target the procfs computes for its own PID
    /// namespace: read them from the handle, then walk without following anything.
    fn resolve_self(&self, rel: &str) -> Result<PathBuf> {
        let (first, rest) = rel.split_once('/').unwrap_or((rel, ""));
        if first != "self" && first != "thread-self" {
            return Ok(PathBuf::from(rel));
        }
        let target =
            nix::fcntl::readlinkat(&self.root, first).sys(|| format!("readlink /proc/{first}"))?;
        let target = PathBuf::from(target);
        if target.is_absolute()
            || target
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            bail!("/proc/{first} points to {target:?}, not a process of this procfs");
        }
        Ok(if rest.is_empty() {
            target
        } else {
            target.join(rest)
        })
    }
}

/// A [`ProcFs::private`] made on first use: most containers need none (no sysctl, no
/// oomScoreAdj, no LSM label), and the init then pays nothing for it.
#[derive(Default)]
pub struct Lazy {
    cell: std::cell::OnceCell<ProcFs>,
}

impl Lazy {
    /// A handle made already (where it must be made before the caller moves on).
    pub fn ready(p: ProcFs) -> Lazy {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(p);
        Lazy { cell }
    }

    pub fn get(&self) -> Result<&ProcFs> {
        if let Some(p) = self.cell.get() {
            return Ok(p);
        }
        let p = ProcFs::private()?;
        Ok(self.cell.get_or_init(|| p))
    }
}

impl AsFd for ProcFs {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.root.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn every_way_of_getting_a_handle_reads_our_own_status() {
        let own = std::process::id().to_string();
        let mut handles = vec![ProcFs::host().unwrap()];
        if as_root() {
            handles.push(ProcFs::private().unwrap());
            handles.push(ProcFs::for_sysctls().unwrap());
        }
        for h in &handles {
            let status = h.read_to_string("self/status").unwrap();
            assert!(
                status.lines().any(|l| l == format!("Tgid:\t{own}")),
                "{status}"
            );
            assert!(h.exists("thread-self/attr"));
        }
        assert!(handles[0].exists("sys/kernel/ostype"));
        if as_root() {
            // The handle a process holds in a container has no /proc/sys to write through.
            assert!(!handles[1].exists("sys/kernel/ostype"));
            assert!(!handles[1].exists("sys"));
            assert!(handles[2].exists("sys/kernel/ostype"));
        }
    }

    #[test]
    fn symlinks_and_escapes_are_refused() {
        let h = ProcFs::host().unwrap();
        // /proc/mounts is a symlink to self/mounts: refused, never followed.
        assert!(h.open("mounts", OFlag::O_RDONLY).is_err());
        // Magic links (exe, cwd, fd/N) are refused too.
        assert!(h.open("self/exe", OFlag::O_RDONLY).is_err());
        assert!(h.open("self/cwd/etc", OFlag::O_RDONLY).is_err());
        assert!(h.open("../etc/passwd", OFlag::O_RDONLY).is_err());
        assert!(h.open("/etc/passwd", OFlag::O_RDONLY).is_err());
    }

    /// The attack the handle exists for: something mounted over a procfs file. Through the
    /// path the write lands in the overmount; through the handle it is refused (or reaches the
    /// real file), never redirected.
    #[test]
    fn an_overmount_is_not_followed() {
        if !as_root() {
            return;
        }
        // A private mount namespace of our own thread, so the host's /proc is never touched.
        let t = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .unwrap();
            let dir = std::env::temp_dir().join(format!("rt-procfs-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let decoy = dir.join("decoy");
            std::fs::write(&decoy, "decoy\n").unwrap();
            // Over /proc/sys/kernel/ostype, as a racing neighbour would leave it.
            nix::mount::mount(
                Some(&decoy),
                "/proc/sys/kernel/ostype",
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .unwrap();
            let via_path = std::fs::read_to_string("/proc/sys/kernel/ostype").unwrap();
            // /proc itself (a handle on the mount at /proc) sees the overmount as another
            // mount and refuses it; a private procfs or a copy has no overmount at all.
            let plain = ProcFs {
                root: nix::fcntl::open(
                    "/proc",
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .unwrap(),
            };
            let plain_read = plain.read_to_string("sys/kernel/ostype");
            let copy = ProcFs::host().unwrap().read_to_string("sys/kernel/ostype");
            let private = ProcFs::for_sysctls()
                .unwrap()
                .read_to_string("sys/kernel/ostype");
            let _ = std::fs::remove_dir_all(&dir);
            (
                via_path,
                plain_read.is_err(),
                copy.unwrap(),
                private.unwrap(),
            )
        });
        let (via_path, plain_refused, copy, private) = t.join().unwrap();
        assert_eq!(via_path, "decoy\n");
        assert!(plain_refused);
        assert_eq!(copy, "Linux\n");
        assert_eq!(private, "Linux\n");
    }
}
