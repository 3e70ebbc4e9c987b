//! Checkpoint and restore through CRIU, the way runc talks to it: `criu swrk` and its protobuf
//! RPC (message types from the rust-criu crate; the conversation is ours, `swrk`). Knows
//! processes, directories and CRIU, not containers: the container layer says what to dump and
//! what to do at CRIU's hook points.
//!
//! CRIU must match the kernel: Debian's CRIU 3.17 restores nothing on Linux >= 6.x kernels with
//! the vDSO `vvar_vclock` area ("Unexpected rt vDSO area bounds"), which CRIU 4.1 learned.

pub mod dump;
pub mod options;
pub mod restore;
pub mod swrk;

pub use dump::{dump, Dump};
pub use options::Common;
pub use restore::{restore, Restore};

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The file (in the image directory) that lists what the init's stdio was at the dump, so that a
/// restore can hand CRIU its own in their place (runc's name and format: a JSON array of the
/// `/proc/<pid>/fd/N` links of descriptors 0, 1, 2).
pub const DESCRIPTORS: &str = "descriptors.json";

/// The CRIU binary: `--criu` as given (a path, or a name looked up in PATH), else `criu` in PATH.
pub fn binary(given: Option<&str>) -> Result<PathBuf> {
    let name = given.unwrap_or("criu");
    if name.contains('/') {
        let p = PathBuf::from(name);
        if !p.is_file() {
            bail!("criu binary {name}: no such file or directory");
        }
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    // As Go's LookPath (runc): a relative entry ("", ".") would run a `criu` from the current
    // directory, often the bundle's or the images', as root.
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name}: executable file not found in $PATH (checkpoint/restore needs CRIU)")
        })
}

/// Record the stdio of `pid` in `images`/descriptors.json.
pub fn write_descriptors(images: &Path, pid: i32) -> Result<()> {
    let links: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let p = images.join(DESCRIPTORS);
    std::fs::write(&p, serde_json::to_vec(&links)?)
        .map_err(|e| anyhow::anyhow!("write {}: {}", p.display(), crate::errno::describe_io(&e)))
}

/// The dumped stdio that our own stands in for: the pipes (a terminal comes back through
/// CRIU's orphan pts master; files and /dev/null are restored by CRIU as they were).
pub fn inherited_stdio(images: &Path) -> Result<Vec<(String, i32)>> {
    let p = images.join(DESCRIPTORS);
    let raw = std::fs::read(&p)
        .map_err(|e| anyhow::anyhow!("read {}: {}", p.display(), crate::errno::describe_io(&e)))?;
    let links: Vec<String> =
        serde_json::from_slice(&raw).with_context(|| format!("parse {}", p.display()))?;
    Ok(links
        .into_iter()
        .zip(0..)
        .filter(|(l, _)| l.starts_with("pipe:"))
        .collect())
}
