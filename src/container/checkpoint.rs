//! `checkpoint`: dump a running container with CRIU. Without `--leave-running` (or `--pre-dump`)
//! CRIU ends the container's processes and the container is destroyed, as runc does: its state,
//! cgroups and poststop hooks go as with `delete`, so that the same id is free for the restore.

use super::status::Status;
use super::{load, open_existing, Context};
use crate::criu::{self, Common};
use crate::errno::SysContext;
use anyhow::{bail, Context as _, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

pub struct CheckpointOptions {
    pub criu: PathBuf,
    pub images: PathBuf,
    pub work: Option<PathBuf>,
    /// `--parent-path`, relative to the image directory.
    pub parent: Option<String>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub common: Common,
}

pub fn checkpoint(ctx: &Context, id: &str, o: &CheckpointOptions) -> Result<()> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    match st {
        Status::Running | Status::Paused => {}
        _ => bail!("container cannot be checkpointed in {st} state"),
    }
    let config = locked.config_path();
    let raw = std::fs::read(&config).sys(|| format!("read {}", config.display()))?;
    let spec: Spec =
        super::bundle::parse(&raw).with_context(|| format!("parse {}", config.display()))?;
    make_dir(&o.images, "image path")?;
    if let Some(w) = &o.work {
        make_dir(w, "work path")?;
    }
    if let Some(p) = &o.parent {
        check_parent(&o.images, p)?;
    }
    let mut common = o.common.clone();
    common.config_file = criu_config_file(&state.annotations)?;
    let pre_dump = o.pre_dump;
    let ext_mounts = match pre_dump {
        true => Vec::new(),
        false => external_mounts(&spec, state.pid),
    };
    if !pre_dump {
        criu::write_descriptors(&o.images, state.pid)?;
    }
    let placement = crate::cgroups::Placement::from_paths(&state.cgroup_paths)?;
    let freeze_cgroup = placement
        .dir_for("freezer")
        .map(|(d, _)| d.to_path_buf())
        .or_else(|| placement.v2_dir().map(Path::to_path_buf));
    crate::logging::debug(&format!(
        "checkpoint {id}: pid {}, images {}, external mounts {ext_mounts:?}",
        state.pid,
        o.images.display()
    ));
    criu::dump(&criu::Dump {
        criu: &o.criu,
        pid: state.pid,
        root: &state.rootfs,
        images: &o.images,
        work: o.work.as_deref(),
        parent: o.parent.as_deref(),
        pre_dump,
        leave_running: o.leave_running,
        common: &common,
        ext_mounts,
        external: external_namespaces(&spec)?,
        freeze_cgroup,
    })?;
    if !(o.leave_running || pre_dump) {
        super::delete::destroy(locked, &state)?;
    }
    Ok(())
}

fn make_dir(p: &Path, what: &str) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .sys(|| format!("{what}: mkdir {}", p.display()))
}

/// runc's rule: `--parent-path` is relative to the image directory and names a directory there.
pub fn check_parent(images: &Path, parent: &str) -> Result<()> {
    if Path::new(parent).is_absolute() {
        bail!("--parent-path {parent}: must be relative (to the image path)");
    }
    let real = images.join(parent);
    let md =
        std::fs::metadata(&real).sys(|| format!("invalid --parent-path: {}", real.display()))?;
    if !md.is_dir() {
        bail!("invalid --parent-path: {}: not a directory", real.display());
    }
    Ok(())
}

/// The CRIU configuration file to pass, as runc: the `org.criu.config` annotation's (none when
/// empty), else /etc/criu/runc.conf. CRIU runs as root and a configuration can name scripts
/// and libraries for it to run, while annotations may come from a pod's user: an existing file
/// must be a regular file (not a symlink) owned by root and writable by root only.
pub fn criu_config_file(
    annotations: &std::collections::HashMap<String, String>,
) -> Result<Option<String>> {
    let f = match annotations.get("org.criu.config") {
        Some(f) if f.is_empty() => return Ok(None),
        Some(f) => f.clone(),
        None => "/etc/criu/runc.conf".to_string(),
    };
    if let Ok(md) = std::fs::symlink_metadata(&f) {
        use std::os::unix::fs::MetadataExt;
        if !md.file_type().is_file() || md.uid() != 0 || md.mode() & 0o022 != 0 {
            bail!("CRIU configuration {f:?} (org.criu.config): not a regular file owned and writable by root only");
        }
    }
    Ok(Some(f))
}

/// The mounts CRIU must be told about, as runc tells it: bind mounts from the host (by their
/// destination), masked files (the null device bound over them) and device nodes.
fn external_mounts(spec: &Spec, pid: i32) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if crate::rootfs::restore::is_bind(m) {
            let d = clean(m.destination());
            v.push((d.clone(), d));
        }
    }
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default()
    {
        // Directories are masked with a tmpfs of their own (a real mount CRIU dumps).
        match std::fs::metadata(format!("/proc/{pid}/root{p}")) {
            Ok(md) if !md.is_dir() => v.push((p.clone(), "/dev/null".to_string())),
            _ => {}
        }
    }
    for p in device_paths(spec) {
        v.push((p.clone(), p));
    }
    v
}

/// The config's device nodes and those every container gets (runc lists both to CRIU).
pub(super) fn device_paths(spec: &Spec) -> Vec<String> {
    let mut v: Vec<String> = DEFAULT_DEVICES.iter().map(|d| d.to_string()).collect();
    let linux = spec.linux().as_ref();
    for d in linux
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default()
    {
        let p = clean(d.path());
        if !v.contains(&p) {
            v.push(p);
        }
    }
    v
}

/// The nodes rt makes in every container's /dev (rootfs/devices.rs).
const DEFAULT_DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// A destination as CRIU sees it: absolute, without `.`, `..` or a trailing slash.
pub(super) fn clean(p: &Path) -> String {
    crate::rootfs::lexical_clean(p)
        .to_string_lossy()
        .into_owned()
}

/// Network and PID namespaces joined by path: dumped as external (`net[<inode>]:extRootNetNS`),
/// to be given back by the restore (runc's keys).
fn external_namespaces(spec: &Spec) -> Result<Vec<String>> {
    let mut v = Vec::new();
    for ns in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default()
    {
        let (Some(path), Some((kind, key))) = (ns.path(), external_key(ns.typ())) else {
            continue;
        };
        let md = std::fs::metadata(path).sys(|| format!("stat namespace {}", path.display()))?;
        v.push(format!("{kind}[{}]:{key}", md.ino()));
    }
    Ok(v)
}

/// CRIU's name of a namespace kind that can be external, and runc's key for it.
pub fn external_key(t: LinuxNamespaceType) -> Option<(&'static str, &'static str)> {
    match t {
        LinuxNamespaceType::Network => Some(("net", "extRootNetNS")),
        LinuxNamespaceType::Pid => Some(("pid", "extRootPidNS")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_cleaned() {
        assert_eq!(clean(Path::new("/a/./b/../c/")), "/a/c");
        assert_eq!(clean(Path::new("etc/hosts")), "/etc/hosts");
    }

    #[test]
    fn parent_path_is_relative_and_a_directory() {
        let dir = std::env::temp_dir().join(format!("rt-ckpt-parent-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pre")).unwrap();
        std::fs::write(dir.join("file"), "").unwrap();
        assert!(check_parent(&dir, "pre").is_ok());
        assert!(check_parent(&dir, "../x").is_err());
        assert!(check_parent(&dir, "/abs")
            .unwrap_err()
            .to_string()
            .contains("relative"));
        assert!(check_parent(&dir, "file")
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn criu_config_file_follows_the_annotation() {
        let mut a = std::collections::HashMap::new();
        let f = |a: &std::collections::HashMap<String, String>| criu_config_file(a).unwrap();
        if !std::path::Path::new("/etc/criu/runc.conf").exists() {
            assert_eq!(f(&a).as_deref(), Some("/etc/criu/runc.conf"));
        }
        a.insert("org.criu.config".to_string(), String::new());
        assert_eq!(f(&a), None);
        a.insert("org.criu.config".to_string(), "/x.conf".to_string());
        assert_eq!(f(&a).as_deref(), Some("/x.conf"));
    }

    #[test]
    fn a_criu_config_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("rt-criu-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("c.conf");
        std::fs::write(&conf, "tcp-established\n").unwrap();
        let mut a = std::collections::HashMap::new();
        a.insert("org.criu.config".to_string(), conf.display().to_string());
        let as_root = nix::unistd::geteuid().is_root();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(criu_config_file(&a).is_ok(), as_root, "root-owned 0644");
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(criu_config_file(&a).is_err(), "world-writable");
        let link = dir.join("l.conf");
        std::os::unix::fs::symlink(&conf, &link).unwrap();
        a.insert("org.criu.config".to_string(), link.display().to_string());
        assert!(criu_config_file(&a).is_err(), "symlink");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
