//! The cgroup hierarchies mounted on this host, read from /proc/self/mountinfo.

use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// v1: the controllers bound to it (and `name=...`). v2: the root's `cgroup.controllers`,
    /// the controllers no v1 hierarchy has taken.
    pub controllers: Vec<String>,
    pub v2: bool,
}

impl Hierarchy {
    pub fn is_cpuset(&self) -> bool {
        !self.v2 && self.has("cpuset")
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let raw = crate::mountinfo::read().context("read /proc/self/mountinfo")?;
    let mut h = parse(&raw);
    for v2 in h.iter_mut().filter(|h| h.v2) {
        let f = v2.mount.join("cgroup.controllers");
        v2.controllers = std::fs::read_to_string(&f)
            .with_context(|| format!("read {}", f.display()))?
            .split_whitespace()
            .map(str::to_string)
            .collect();
    }
    Ok(h)
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

pub fn parse(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for e in crate::mountinfo::entries(mountinfo) {
        // A bind mount of a sub-cgroup is not a hierarchy root.
        if e.root != "/" {
            continue;
        }
        let mount = PathBuf::from(e.mount_point);
        let h = match e.fstype {
            "cgroup2" => Hierarchy {
                mount,
                controllers: Vec::new(),
                v2: true,
            },
            "cgroup" => {
                let controllers: Vec<String> = e
                    .super_options
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                    .map(str::to_string)
                    .collect();
                if controllers.is_empty() {
                    continue;
                }
                Hierarchy {
                    mount,
                    controllers,
                    v2: false,
                }
            }
            _ => continue,
        };
        // The same hierarchy may be mounted twice; the first mount wins.
        if !out
            .iter()
            .any(|o| o.v2 == h.v2 && (h.v2 || o.controllers == h.controllers))
        {
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
30 25 0:26 / /mnt/mem\\040x rw - cgroup cgroup rw,memory
31 25 0:27 /sub /mnt/pids rw - cgroup cgroup rw,pids
";

    #[test]
    fn finds_v1_named_and_v2_hierarchies_once() {
        let h = parse(HYBRID);
        let mounts: Vec<_> = h.iter().map(|h| h.mount.to_str().unwrap()).collect();
        assert_eq!(
            mounts,
            [
                "/sys/fs/cgroup/unified",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/memory"
            ]
        );
        assert!(h[0].v2);
        assert_eq!(h[2].controllers, ["cpu", "cpuacct"]);
    }
}
