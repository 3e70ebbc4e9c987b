//! Loading a bundle: `config.json` (a regular file, valid JSON, a supported ociVersion) and its
//! root filesystem.

use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::io::Read;
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
    let spec = parse(&raw).with_context(|| format!("parse {}", path.display()))?;
    let root = spec
        .root()
        .as_ref()
        .context("config.json: root: required field missing")?;
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
    // O_NONBLOCK so that a FIFO planted as config.json cannot hang us; refuse anything not regular.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .sys(|| format!("open {}", path.display()))?;
    let meta = f.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        bail!("{}: is {kind}, not a regular file", path.display());
    }
    if meta.len() > MAX_CONFIG_BYTES {
        bail!(
            "{}: {} bytes is larger than the {} byte limit",
            path.display(),
            meta.len(),
            MAX_CONFIG_BYTES
        );
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    (&mut f)
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut buf)
        .sys(|| format!("read {}", path.display()))?;
    Ok(buf)
}

/// Parse and check what the runtime relies on before doing anything.
pub fn parse(raw: &[u8]) -> Result<Spec> {
    let value: serde_json::Value = serde_json::from_slice(raw)?;
    let version = value
        .get("ociVersion")
        .context("ociVersion: required field missing")?
        .as_str()
        .context("ociVersion: must be a string")?;
    check_version(version)?;
    check_unimplemented(&value)?;
    let spec: Spec = serde_json::from_value(value)?;
    validate(&spec)?;
    Ok(spec)
}

fn check_version(v: &str) -> Result<()> {
    let major = v.split('.').next().unwrap_or("");
    if major != "1" {
        bail!("ociVersion {v:?}: unsupported major version (rt supports 1.x)");
    }
    Ok(())
}

/// Fields of the spec that rt does not act on yet. Accepting them silently would run a container
/// without what it asked for, so each is refused by name.
const UNIMPLEMENTED: &[&str] = &[
    "/linux/intelRdt",
    "/linux/memoryPolicy",
    "/linux/netDevices",
];

/// Whether rt acts on a field of config.json (a JSON pointer such as "/linux/intelRdt") rather
/// than refusing it: `rt features` reports intelRdt and netDevices from this.
pub fn implemented(field: &str) -> bool {
    !UNIMPLEMENTED.contains(&field)
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

fn check_unimplemented(v: &serde_json::Value) -> Result<()> {
    for ptr in UNIMPLEMENTED {
        if v.pointer(ptr).is_some_and(|f| !is_empty(f)) {
            let field = ptr.trim_start_matches('/').replace('/', ".");
            bail!("{field}: not implemented by rt yet");
        }
    }
    Ok(())
}

fn validate(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .context("process: required to create a container")?;
    validate_process(process)?;
    for m in spec.mounts().iter().flatten() {
        if !m.destination().is_absolute() {
            bail!(
                "mounts: destination {:?} must be an absolute path",
                m.destination().display().to_string()
            );
        }
    }
    if let Some(h) = spec.hooks() {
        for (kind, get) in crate::hooks::KINDS {
            crate::hooks::validate(kind, get(h).as_deref().unwrap_or(&[]))?;
        }
    }
    if let Some(linux) = spec.linux() {
        if let Some(p) = linux.cgroups_path() {
            if p.components().any(|c| c == std::path::Component::ParentDir) {
                bail!(
                    "linux.cgroupsPath {:?}: must not contain \"..\"",
                    p.display().to_string()
                );
            }
        }
    }
    Ok(())
}

/// The checks a process gets before it runs, from config.json or `exec`.
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<()> {
    match process.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => bail!("process.args: must name an executable"),
    }
    crate::lsm::check(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;
    if !process.cwd().is_absolute() {
        bail!(
            "process.cwd {:?}: must be an absolute path",
            process.cwd().display().to_string()
        );
    }
    if let Some(env) = process.env() {
        if let Some(bad) = env.iter().find(|e| !e.contains('=')) {
            bail!("process.env: {bad:?} is not of the form KEY=value");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"process":{{"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}}}}{extra}}}"#
        )
    }

    #[test]
    fn accepts_a_minimal_config() {
        parse(minimal("").as_bytes()).unwrap();
    }

    #[test]
    fn rejects_bad_configs_naming_the_field() {
        let cases = [
            ("{", "EOF"),
            (r#"{"root":{"path":"r"}}"#, "ociVersion"),
            (r#"{"ociVersion":2}"#, "ociVersion"),
            (r#"{"ociVersion":"2.0.0"}"#, "major"),
            (
                &minimal(r#","mounts":[{"destination":"rel"}]"#),
                "destination",
            ),
            (
                &minimal(r#","linux":{"cgroupsPath":"/a/../../b"}"#),
                "cgroupsPath",
            ),
            (
                &minimal("").replace(r#""cwd":"/""#, r#""cwd":"x""#),
                "process.cwd",
            ),
            (&minimal("").replace(r#"["sh"]"#, "[]"), "process.args"),
            (
                &minimal(r#","hooks":{"prestart":[{"path":"x"}]}"#),
                "hooks.prestart[0].path",
            ),
            (
                &minimal(r#","linux":{"intelRdt":{"closID":"x"}}"#),
                "linux.intelRdt: not implemented",
            ),
            (
                &minimal(r#","linux":{"netDevices":{"eth0":{"name":"x"}}}"#),
                "linux.netDevices: not implemented",
            ),
            (
                &minimal(r#","linux":{"memoryPolicy":{"mode":"MPOL_BIND","nodes":"0"}}"#),
                "linux.memoryPolicy: not implemented",
            ),
        ];
        for (raw, want) in cases {
            let err = format!("{:#}", parse(raw.as_bytes()).unwrap_err());
            assert!(err.contains(want), "{raw}: {err}");
        }
    }
}
