//! A checkpoint (CRIU `DUMP`) or a pre-dump (`PRE_DUMP`: memory only, the tasks go on) of a
//! process tree.

use super::options::{ext_mount, Common};
use super::swrk;
use crate::errno::SysContext;
use anyhow::Result;
use rust_criu::rust_criu_protobuf::rpc::{Criu_opts, Criu_req, Criu_req_type};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct Dump<'a> {
    pub criu: &'a Path,
    /// The tree's root task (the container's init).
    pub pid: i32,
    /// The container's root directory, as the host sees it.
    pub root: &'a Path,
    pub images: &'a Path,
    /// Where CRIU writes its log (and its other work files); the image directory when unset.
    pub work: Option<&'a Path>,
    /// A previous (pre-)dump to write only the changed memory against, relative to `images`.
    pub parent: Option<&'a str>,
    pub pre_dump: bool,
    pub leave_running: bool,
    pub common: &'a Common,
    /// Mounts CRIU cannot dump as they are (binds from the host), by their path in the
    /// container, with the key the restore names again.
    pub ext_mounts: Vec<(String, String)>,
    /// `--external` entries (namespaces joined from elsewhere: `net[<inode>]:<key>`).
    pub external: Vec<String>,
    /// A cgroup to freeze the tasks with (rather than stopping them one by one with ptrace).
    pub freeze_cgroup: Option<PathBuf>,
}

/// Open a directory for CRIU, which reopens it through `/proc/<our pid>/fd/N`.
pub(super) fn open_dir(p: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .sys(|| format!("open {}", p.display()))
}

/// The log CRIU writes for `file` (`dump.log`, `restore.log`): in the work directory if any.
pub fn log_path(images: &Path, work: Option<&Path>, file: &str) -> PathBuf {
    work.unwrap_or(images).join(file)
}

/// What every request carries: the shared options, the image and work directories (open while
/// the request lives: CRIU gets them as descriptors) and its log's name; `log` is its path.
pub(super) struct Base {
    pub opts: Criu_opts,
    pub log: PathBuf,
    pub _dirs: (OwnedFd, Option<OwnedFd>),
}

impl Base {
    pub(super) fn new(
        common: &Common,
        images: &Path,
        work: Option<&Path>,
        log: &str,
    ) -> Result<Base> {
        let images_fd = open_dir(images)?;
        let work_fd = work.map(open_dir).transpose()?;
        let mut o = Criu_opts::new();
        common.apply(&mut o);
        o.set_images_dir_fd(images_fd.as_raw_fd());
        if let Some(w) = &work_fd {
            o.set_work_dir_fd(w.as_raw_fd());
        }
        o.set_log_file(log.into());
        Ok(Base {
            opts: o,
            log: log_path(images, work, log),
            _dirs: (images_fd, work_fd),
        })
    }
}

pub fn dump(d: &Dump) -> Result<()> {
    // The directories stay open (bound) until CRIU has the request.
    let Base {
        opts: mut o,
        log,
        _dirs,
    } = Base::new(d.common, d.images, d.work, "dump.log")?;
    o.set_pid(d.pid);
    o.set_root(d.root.to_string_lossy().into_owned());
    o.set_leave_running(d.leave_running);
    if let Some(p) = d.parent {
        o.set_parent_img(p.to_string());
        o.set_track_mem(true);
    }
    if let Some(c) = &d.freeze_cgroup {
        o.set_freeze_cgroup(c.to_string_lossy().into_owned());
    }
    o.external = d.external.clone();
    if !d.pre_dump {
        o.ext_mnt = d.ext_mounts.iter().map(|(k, v)| ext_mount(k, v)).collect();
    }
    let mut req = Criu_req::new();
    req.set_type(match d.pre_dump {
        true => Criu_req_type::PRE_DUMP,
        false => Criu_req_type::DUMP,
    });
    req.opts = Some(o).into();
    swrk::run(d.criu, req, &[], &log, &mut swrk::NoHooks)?;
    Ok(())
}
