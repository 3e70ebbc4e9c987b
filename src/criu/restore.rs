//! A restore (CRIU `RESTORE`) of a dumped tree into a new container: CRIU rebuilds the mount
//! tree on `root` (a mount point), creates the namespaces and the tasks, and tells us through
//! its hook points (`setup-namespaces`, `post-restore`, `orphan-pts-master`, see swrk::Hooks).

use super::dump::Base;
use super::options::{ext_mount, Common};
use super::swrk::{self, Hooks};
use anyhow::Result;
use rust_criu::rust_criu_protobuf::rpc::{
    Cgroup_root, Criu_req, Criu_req_type, Inherit_fd, Join_namespace,
};
use std::os::fd::RawFd;
use std::path::Path;

pub struct Restore<'a> {
    pub criu: &'a Path,
    /// The container's root directory, bind-mounted onto itself (CRIU wants a mount point
    /// whose parent is not over-mounted).
    pub root: &'a Path,
    pub images: &'a Path,
    pub work: Option<&'a Path>,
    pub common: &'a Common,
    /// Mounts from the host, by their path in the container: what to bind there now.
    pub ext_mounts: Vec<(String, String)>,
    /// Descriptors of CRIU's own (its stdio: ours) that stand for a dumped one, by its key.
    pub inherit: Vec<(String, RawFd)>,
    /// Descriptors to hand CRIU (from 4 on) for the external namespaces, by their key.
    pub external_ns: Vec<(String, RawFd)>,
    /// Namespaces to join rather than make: (kind as CRIU names it, path).
    pub join_ns: Vec<(String, String)>,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

pub fn restore(r: &Restore, hooks: &mut dyn Hooks) -> Result<()> {
    // The directories stay open (bound) until CRIU has the request.
    let Base {
        opts: mut o,
        log,
        _dirs,
    } = Base::new(r.common, r.images, r.work, "restore.log")?;
    o.set_root(r.root.to_string_lossy().into_owned());
    // The restored init becomes our child (CLONE_PARENT), not CRIU's.
    o.set_rst_sibling(true);
    // Device nodes may have other numbers on this host (a different /dev).
    o.set_evasive_devices(true);
    o.ext_mnt = r.ext_mounts.iter().map(|(k, v)| ext_mount(k, v)).collect();
    let mut extra = Vec::new();
    for (key, fd) in &r.inherit {
        o.inherit_fd.push(inherit(key, *fd));
    }
    for (key, fd) in &r.external_ns {
        o.inherit_fd.push(inherit(key, 4 + extra.len() as RawFd));
        extra.push(*fd);
    }
    for (ns, path) in &r.join_ns {
        let mut j = Join_namespace::new();
        j.set_ns(ns.clone());
        j.set_ns_file(path.clone());
        o.join_ns.push(j);
    }
    if let Some(p) = &r.lsm_profile {
        o.set_lsm_profile(p.clone());
    }
    if let Some(c) = &r.lsm_mount_context {
        o.set_lsm_mount_context(c.clone());
    }
    let mut req = Criu_req::new();
    req.set_type(Criu_req_type::RESTORE);
    req.opts = Some(o).into();
    swrk::run(r.criu, req, &extra, &log, hooks)?;
    Ok(())
}

fn inherit(key: &str, fd: RawFd) -> Inherit_fd {
    let mut i = Inherit_fd::new();
    i.set_key(key.to_string());
    i.set_fd(fd);
    i
}

/// Tell CRIU to put the restored tasks where `pid` (CRIU, already moved into the container's
/// cgroups) is: the dumped cgroup paths are replaced by these (`--cgroup-root`).
pub fn cgroup_roots(pid: i32, req: &mut Criu_req) -> Result<()> {
    use anyhow::Context;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    let o = req.opts.mut_or_insert_default();
    for (ctrl, path) in parse_proc_cgroup(&text) {
        let mut c = Cgroup_root::new();
        if let Some(ctrl) = ctrl {
            c.set_ctrl(ctrl);
        }
        c.set_path(path);
        o.cg_root.push(c);
    }
    Ok(())
}

/// `/proc/<pid>/cgroup` as (controller, path): one entry per v1 controller (`name=` ones
/// included), and the unified hierarchy with no controller (CRIU's global root).
fn parse_proc_cgroup(text: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            out.push((None, path.to_string()));
        } else {
            out.extend(
                ctrls
                    .split(',')
                    .map(|c| (Some(c.to_string()), path.to_string())),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_lines_become_roots() {
        let v = parse_proc_cgroup("0::/rt-test/c1\n");
        assert_eq!(v, vec![(None, "/rt-test/c1".to_string())]);
        let v = parse_proc_cgroup("4:cpu,cpuacct:/a\n1:name=systemd:/b\n0::/c\n");
        assert_eq!(
            v,
            vec![
                (Some("cpu".into()), "/a".into()),
                (Some("cpuacct".into()), "/a".into()),
                (Some("name=systemd".into()), "/b".into()),
                (None, "/c".into()),
            ]
        );
    }
}
