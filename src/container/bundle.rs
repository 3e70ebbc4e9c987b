//! Loading a bundle: `config.json` (a regular file of sane size, checked by container::config) and
//! its root filesystem.

use super::config;
use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A config.json larger than this is refused rather than read into memory.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// config.json as read, kept with the container's state for `exec`.
    pub raw: Vec<u8>,
}

pub fn load(dir: &Path) -> Result<Bundle> {
    let dir =
        std::fs::canonicalize(dir).sys(|| format!("bundle {:?}", dir.display().to_string()))?;
    let path = dir.join("config.json");
    let raw = read_config(&path)?;
    let mut spec = parse(&raw).with_context(|| format!("parse {}", path.display()))?;
    if let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().as_ref())
    {
        crate::process::mempolicy::validate(p)?;
    }
    config::bind_sources_in(&mut spec, &dir);
    let root = spec
        .root()
        .as_ref()
        .context("root: required field missing")?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let meta = std::fs::metadata(&rootfs)
        .sys(|| format!("rootfs {:?} (root.path)", rootfs.display().to_string()))?;
    if !meta.is_dir() {
        bail!(
            "rootfs {:?} (root.path): not a directory",
            rootfs.display().to_string()
        );
    }
    let rootfs = std::fs::canonicalize(&rootfs)
        .sys(|| format!("rootfs {:?}", rootfs.display().to_string()))?;
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        raw,
    })
}

fn read_config(path: &Path) -> Result<Vec<u8>> {
    // O_PATH first: opening a FIFO would block and opening a device can act on it (a watchdog, a
    // tape), so only a regular file is opened for reading, through the very inode checked.
    let pinned = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .sys(|| format!("open {}", path.display()))?;
    let meta = pinned
        .metadata()
        .sys(|| format!("stat {}", path.display()))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "something else"
        };
        bail!("{}: is {kind}, not a regular file", path.display());
    }
    let too_big = |len: u64| {
        anyhow::anyhow!(
            "{}: {len} bytes is larger than the {MAX_CONFIG_BYTES} byte limit",
            path.display()
        )
    };
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_big(meta.len()));
    }
    let proc_path = format!("/proc/self/fd/{}", pinned.as_raw_fd());
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&proc_path)
        .sys(|| format!("open {}", path.display()))?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut buf)
        .sys(|| format!("read {}", path.display()))?;
    // It may have grown since it was measured.
    if buf.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big(buf.len() as u64));
    }
    Ok(buf)
}

/// Parse config.json and check it (container::config), then what depends on the host.
pub fn parse(raw: &[u8]) -> Result<Spec> {
    let spec = config::parse(raw)?;
    if let Some(p) = spec.process() {
        host_checks(p)?;
    }
    Ok(spec)
}

/// The checks a process gets before it runs, from config.json or `exec`.
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<()> {
    config::validate_process(process)?;
    host_checks(process)
}

/// What a process asks of the host: the security modules it names must be there.
fn host_checks(process: &oci_spec::runtime::Process) -> Result<()> {
    crate::lsm::check(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )
}
