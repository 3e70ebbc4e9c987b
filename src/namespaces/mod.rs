//! Linux namespaces: which ones a config asks to create, which to join by path, and joining.

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// `CLONE_NEWTIME`, which nix does not name.
pub const CLONE_NEWTIME: i32 = 0x80;

#[derive(Debug)]
pub struct Plan {
    /// Namespaces to create with the clone.
    pub new: CloneFlags,
    /// Namespaces to join by path, in the order they must be joined.
    pub join: Vec<(CloneFlags, PathBuf)>,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(CLONE_NEWTIME),
    }
}

/// Every namespace type rt creates and joins ([`flag`] maps each one), for `rt features`.
pub fn known() -> Vec<LinuxNamespaceType> {
    use crate::variants::all_variants;
    all_variants!(LinuxNamespaceType: Cgroup, Ipc, Mount, Network, Pid, Time, User, Uts).to_vec()
}

pub fn name(f: CloneFlags) -> &'static str {
    match f.bits() {
        x if x == CloneFlags::CLONE_NEWPID.bits() => "pid",
        x if x == CloneFlags::CLONE_NEWNET.bits() => "network",
        x if x == CloneFlags::CLONE_NEWNS.bits() => "mount",
        x if x == CloneFlags::CLONE_NEWIPC.bits() => "ipc",
        x if x == CloneFlags::CLONE_NEWUTS.bits() => "uts",
        x if x == CloneFlags::CLONE_NEWUSER.bits() => "user",
        x if x == CloneFlags::CLONE_NEWCGROUP.bits() => "cgroup",
        CLONE_NEWTIME => "time",
        _ => "unknown",
    }
}

/// Whether the container has a namespace of this kind of its own (new, or joined by path).
pub fn has(plan: &Plan, flag: CloneFlags) -> bool {
    plan.new.contains(flag) || plan.join.iter().any(|(f, _)| *f == flag)
}

pub fn plan(spec: &Spec) -> Result<Plan> {
    let mut p = Plan {
        new: CloneFlags::empty(),
        join: Vec::new(),
    };
    let mut seen = CloneFlags::empty();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|v| v.as_slice())
        .unwrap_or(&[]);
    for ns in namespaces {
        let f = flag(ns.typ());
        if seen.intersects(f) {
            bail!("linux.namespaces: {} namespace listed twice", name(f));
        }
        seen |= f;
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                if !path.is_absolute() {
                    bail!(
                        "linux.namespaces: {} namespace path {:?} must be absolute",
                        name(f),
                        path.display().to_string()
                    );
                }
                p.join.push((f, path.clone()));
            }
            _ => p.new |= f,
        }
    }
    // A user namespace is joined first: the others are then joined with its privileges.
    p.join.sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);
    let creates_user = p.new.contains(CloneFlags::CLONE_NEWUSER);
    let joins_user = p.join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER);
    if creates_user && !p.join.is_empty() {
        bail!("linux.namespaces: joining a namespace by path together with a new user namespace is not implemented");
    }
    if joins_user && !(p.new - CloneFlags::CLONE_NEWUSER).is_empty() {
        bail!("linux.namespaces: creating namespaces inside a user namespace joined by path is not implemented");
    }
    Ok(p)
}

/// True if `path` names the namespace of type `f` that this process is in.
pub fn is_own(f: CloneFlags, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let own = match name(f) {
        "network" => "net",
        "mount" => "mnt",
        other => other,
    };
    match (
        std::fs::metadata(path),
        std::fs::metadata(format!("/proc/self/ns/{own}")),
    ) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Every process in the PID namespace of `pid` (its descendants there included), from /proc.
pub fn pid_namespace_members(pid: i32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let key = |p: &str| {
        std::fs::metadata(format!("/proc/{p}/ns/pid"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let Some(want) = key(&pid.to_string()) else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<i32> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: i32 = name.parse().ok()?;
            (key(&name) == Some(want)).then_some(n)
        })
        .collect();
    out.sort_unstable();
    out
}

/// Join the namespace at `path` (a /proc/<pid>/ns/<type> link or a bind mount of one).
pub fn join(f: CloneFlags, path: &Path) -> Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("open {} namespace {}", name(f), path.display()))?;
    nix::sched::setns(file.as_fd(), f)
        .with_context(|| format!("join {} namespace {}", name(f), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","linux":{{"namespaces":{ns}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn splits_new_and_joined() {
        let p = plan(&spec(
            r#"[{"type":"pid"},{"type":"network","path":"/var/run/netns/x"},{"type":"mount"}]"#,
        ))
        .unwrap();
        assert_eq!(p.new, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(p.join.len(), 1);
        assert_eq!(p.join[0].0, CloneFlags::CLONE_NEWNET);
    }

    #[test]
    fn every_known_type_is_planned_under_its_spec_name() {
        for t in known() {
            let spec_name = crate::variants::spec_name(&t);
            let p = plan(&spec(&format!(r#"[{{"type":"{spec_name}"}}]"#))).unwrap();
            assert_eq!(name(p.new), spec_name, "{t:?}");
        }
    }

    #[test]
    fn rejects_duplicates_and_relative_paths() {
        assert!(plan(&spec(r#"[{"type":"pid"},{"type":"pid"}]"#)).is_err());
        assert!(plan(&spec(r#"[{"type":"network","path":"netns/x"}]"#)).is_err());
    }
}
