//! Cgroup placement: the container's cgroup directory in every mounted hierarchy (v1 controllers,
//! named v1 hierarchies and the v2 unified hierarchy, so pure v1, hybrid and pure v2 hosts all
//! work), the init joined to it, and its removal.
//!
//! `cgroupsPath` is always taken from the hierarchy's root, never from the caller's own cgroup: a
//! runtime started from inside some service's cgroup must not nest containers under it.

mod convert;
mod devices;
mod freezer;
mod handle;
mod hierarchy;
mod resources;
mod self_join;
pub mod stats;
pub mod systemd;
mod v1;
pub mod v2;

pub use handle::Cgroup;
use resources::apply as apply_resources;
pub use resources::device_nodes;
use resources::{after_init as apply_after_init, before_init as apply_before_init};
pub use self_join::SelfJoin;

use anyhow::{bail, Context, Result};
use std::path::{Component, Path, PathBuf};

pub use hierarchy::{hierarchies, Hierarchy};

/// The cgroup directories of one container.
#[derive(Debug, Default, Clone)]
pub struct Placement {
    pub paths: Vec<PathBuf>,
    /// The hierarchy of each entry of `paths`.
    pub hierarchies: Vec<Hierarchy>,
    /// Parents made for this container, deepest first; removed with it when empty.
    pub created_parents: Vec<PathBuf>,
    /// Rootless: hierarchies left out because this user may not write there (not delegated),
    /// with the directory the container would have had.
    pub skipped: Vec<(Hierarchy, PathBuf)>,
    /// Made by a rootless `create` ([`make_delegated`]) without privileges on the host (not
    /// merely `--rootless true` as root): no device rules, which need them.
    pub rootless: bool,
}

impl Placement {
    /// The placement of an existing container, from the directories its state recorded.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Placement> {
        let all = hierarchies()?;
        let mut p = Placement::default();
        for dir in paths {
            let h = all
                .iter()
                .filter(|h| dir.starts_with(&h.mount))
                .max_by_key(|h| h.mount.as_os_str().len());
            if let Some(h) = h {
                p.paths.push(dir.clone());
                p.hierarchies.push(h.clone());
            }
        }
        Ok(p)
    }

    /// The directory that holds `controller`, and whether it is cgroup v2.
    pub fn dir_for(&self, controller: &str) -> Option<(&Path, bool)> {
        self.hierarchies
            .iter()
            .zip(&self.paths)
            .find(|(h, _)| h.has(controller))
            .map(|(h, d)| (d.as_path(), h.v2))
    }

    /// The container's cgroup v2 directory, if the host mounts cgroup v2.
    pub fn v2_dir(&self) -> Option<&Path> {
        self.hierarchies
            .iter()
            .zip(&self.paths)
            .find(|(h, _)| h.v2)
            .map(|(_, d)| d.as_path())
    }

    /// A host with only the unified hierarchy (named v1 hierarchies aside).
    pub fn is_pure_v2(&self) -> bool {
        self.hierarchies
            .iter()
            .all(|h| h.v2 || h.controllers.iter().all(|c| c.starts_with("name=")))
            && self.v2_dir().is_some()
    }
}

/// Write `value` to `dir/file`; the error names both and the errno.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    std::fs::write(dir.join(file), value).map_err(|e| write_error(dir, file, value, &e))
}

pub(crate) fn write_error(
    dir: &Path,
    file: &str,
    value: &str,
    e: &std::io::Error,
) -> anyhow::Error {
    anyhow::anyhow!(
        "write {value:?} to {}: {}",
        dir.join(file).display(),
        crate::errno::describe_io(e)
    )
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p)
        .map(|s| s.trim_end().to_string())
        .map_err(|e| anyhow::anyhow!("read {}: {}", p.display(), crate::errno::describe_io(&e)))
}

/// The relative path under each hierarchy's root: `cgroupsPath`, or `rt/<id>` when unset.
pub fn relative_path(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf> {
    let p = match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new("rt").join(id),
    };
    let mut rel = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => rel.push(n),
            _ => bail!(
                "cgroupsPath {:?}: must not contain \"..\"",
                p.display().to_string()
            ),
        }
    }
    if rel.as_os_str().is_empty() {
        bail!(
            "cgroupsPath {:?}: names the root cgroup",
            p.display().to_string()
        );
    }
    if p.to_str().is_some_and(|s| s.contains(':')) {
        bail!(
            "cgroupsPath {:?}: looks like a systemd path (slice:prefix:name); use --systemd-cgroup",
            p.display().to_string()
        );
    }
    Ok(rel)
}

/// The container's cgroup directory in every hierarchy, not made yet.
fn plan(rel: &Path) -> Result<Placement> {
    let mut placement = Placement::default();
    for h in hierarchies()? {
        placement.paths.push(h.mount.join(rel));
        placement.hierarchies.push(h);
    }
    Ok(placement)
}

/// Make every directory of a planned placement that does not exist yet; the parents made for
/// it are returned, deepest first. On error, what was made is removed again.
fn make(placement: &Placement) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    let result = (|| -> Result<()> {
        for (h, dir) in placement.hierarchies.iter().zip(&placement.paths) {
            let rel = dir.strip_prefix(&h.mount).unwrap_or(dir);
            make_dirs(h, rel, &mut created)?;
        }
        Ok(())
    })();
    // The leaf is removed by its own rule; only parents are kept in the created list.
    let (leaves, mut parents): (Vec<PathBuf>, Vec<PathBuf>) = created
        .into_iter()
        .partition(|d| placement.paths.contains(d));
    parents.reverse();
    if let Err(e) = result {
        for d in leaves.iter().chain(&parents) {
            let _ = std::fs::remove_dir(d);
        }
        return Err(e);
    }
    Ok(parents)
}

/// The parents of the placement's directories that do not exist yet, in the order [`make`]
/// returns those it made (deepest first). Recorded before they are made, so that a `create`
/// killed meanwhile leaves them to `delete` (which removes them only when empty).
fn missing_parents(placement: &Placement) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for (h, dir) in placement.hierarchies.iter().zip(&placement.paths) {
        let mut missing = Vec::new();
        let mut up = dir.parent();
        while let Some(d) = up.filter(|d| d.starts_with(&h.mount) && *d != h.mount) {
            if d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            up = d.parent();
        }
        all.extend(missing.into_iter().rev());
    }
    all.reverse();
    all
}

fn make_dirs(h: &Hierarchy, rel: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let mut dir = h.mount.clone();
    for c in rel.components() {
        let parent = dir.clone();
        dir.push(c);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                created.push(dir.clone());
                if h.is_cpuset() {
                    inherit_cpuset(&parent, &dir)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("create cgroup {}", dir.display())),
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with empty cpus and mems and refuses tasks until they are set.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let cur = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if !cur.trim().is_empty() {
            continue;
        }
        let val = std::fs::read_to_string(parent.join(file))
            .with_context(|| format!("read {}", parent.join(file).display()))?;
        std::fs::write(dir.join(file), val.trim())
            .with_context(|| format!("write {}", dir.join(file).display()))?;
    }
    Ok(())
}

/// Rootless [`make`]: a hierarchy where this user may not make the container's cgroup, or may not
/// move processes into it (not delegated), is left out of the placement, not an error. A config
/// that asks for a limit there fails later, naming the field (`apply_resources`). `unprivileged`:
/// rt has no privileges on the host (not merely `--rootless true` as root), see
/// [`Placement::rootless`].
fn make_delegated(placement: &mut Placement, unprivileged: bool) -> Result<Vec<PathBuf>> {
    let mut parents = Vec::new();
    let mut kept = Placement::default();
    let all = std::mem::take(&mut placement.paths)
        .into_iter()
        .zip(std::mem::take(&mut placement.hierarchies));
    for (dir, h) in all {
        let one = Placement {
            paths: vec![dir.clone()],
            hierarchies: vec![h.clone()],
            ..Default::default()
        };
        let made = make(&one).and_then(|p| {
            let procs = dir.join("cgroup.procs");
            nix::unistd::access(&procs, nix::unistd::AccessFlags::W_OK)
                .map_err(std::io::Error::from)
                .with_context(|| format!("write access to {}", procs.display()))?;
            Ok(p)
        });
        match made {
            Ok(p) => {
                parents.extend(p);
                kept.paths.push(dir);
                kept.hierarchies.push(h);
            }
            Err(e) if denied(&e) => {
                crate::logging::debug(&format!(
                    "rootless: cgroup {} left out: {}",
                    dir.display(),
                    crate::errno::words(&e)
                ));
                kept.skipped.push((h, dir));
            }
            Err(e) => {
                placement.paths = kept.paths;
                placement.hierarchies = kept.hierarchies;
                let _ = remove(&placement.paths, &placement.created_parents);
                return Err(e);
            }
        }
    }
    placement.paths = kept.paths;
    placement.hierarchies = kept.hierarchies;
    placement.skipped = kept.skipped;
    placement.rootless = unprivileged;
    Ok(parents)
}

/// A cgroup error that means "not delegated to this user".
fn denied(e: &anyhow::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        crate::errno::errno_of(e),
        Some(Errno::EACCES | Errno::EPERM | Errno::EROFS)
    )
}

/// Every process in the container's cgroup (from the first hierarchy that lists any).
fn pids(paths: &[PathBuf]) -> Vec<i32> {
    for dir in paths {
        if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            let v: Vec<i32> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !v.is_empty() {
                return v;
            }
        }
    }
    Vec::new()
}

/// Remove the container's cgroups, then the parents made for it that are now empty.
fn remove(paths: &[PathBuf], created_parents: &[PathBuf]) -> Result<()> {
    let mut first_err = None;
    for dir in paths {
        if let Err(e) = rmdir_retry(dir) {
            first_err.get_or_insert(e);
        }
    }
    for dir in created_parents {
        // Shared with other containers, or already gone: both are fine.
        let _ = std::fs::remove_dir(dir);
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// rmdir a cgroup; tasks that just died may hold it busy for a moment.
fn rmdir_retry(dir: &Path) -> Result<()> {
    for attempt in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 99 => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e).with_context(|| format!("remove cgroup {}", dir.display())),
        }
    }
    unreachable!()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parents_make_would_create_are_known_before() {
        // Two "hierarchies" in a temporary directory; `make` of plain directories works there.
        let root = std::env::temp_dir().join(format!("rt-cg-parents-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let h = |n: &str| {
            let mount = root.join(n);
            std::fs::create_dir_all(mount.join("shared")).unwrap();
            Hierarchy {
                mount,
                controllers: vec![format!("name={n}")],
                v2: false,
            }
        };
        let (a, b) = (h("a"), h("b"));
        let placement = Placement {
            paths: vec![a.mount.join("shared/x/y/leaf"), b.mount.join("leaf")],
            hierarchies: vec![a, b],
            ..Default::default()
        };
        let planned = missing_parents(&placement);
        assert_eq!(
            planned,
            [root.join("a/shared/x/y"), root.join("a/shared/x")],
            "deepest first, none for a leaf right under its hierarchy's root"
        );
        assert_eq!(make(&placement).unwrap(), planned);
        assert!(missing_parents(&placement).is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn relative_path_is_rooted_at_the_hierarchy() {
        assert_eq!(
            relative_path(Some(Path::new("/rt-test/a")), "x").unwrap(),
            PathBuf::from("rt-test/a")
        );
        assert_eq!(
            relative_path(Some(Path::new("rel/b")), "x").unwrap(),
            PathBuf::from("rel/b")
        );
        assert_eq!(relative_path(None, "x").unwrap(), PathBuf::from("rt/x"));
        assert!(relative_path(Some(Path::new("/a/../b")), "x").is_err());
        assert!(relative_path(Some(Path::new("/")), "x").is_err());
        assert!(relative_path(Some(Path::new("system.slice:rt:x")), "x").is_err());
    }
}
