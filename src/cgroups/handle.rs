//! One handle on a container's cgroups, the seam the container and process layers use: make
//! them, apply limits, put processes in, freeze, signal, list, read statistics, remove. Behind
//! it, each controller goes to the hierarchy that has it (v1, v2 or both on a hybrid host), and
//! the cgroup is either rt's own (cgroupfs) or a systemd unit's (`--systemd-cgroup`: systemd
//! makes and removes the unit's cgroup, rt the directories in the hierarchies systemd does not
//! manage).
//!
//! Which hierarchy each directory is in is read from mountinfo only when an operation needs it
//! (`delete`, `kill` and `ps` do not).

use super::{freezer, stats, systemd, Placement, SelfJoin};
use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDeviceType, LinuxResources};
use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};

/// The device nodes a config creates, allowed on top of its device rules (see
/// [`super::device_nodes`]).
pub type DeviceNodes = [(LinuxDeviceType, i64, i64)];

/// A container's cgroups.
pub struct Cgroup {
    /// The container's directory in each hierarchy it has one in.
    paths: Vec<PathBuf>,
    /// Parents made for this container, deepest first; removed with it when empty.
    created_parents: RefCell<Vec<PathBuf>>,
    manager: Manager,
    /// The hierarchy of each directory, read once when first needed.
    placement: OnceCell<Placement>,
}

enum Manager {
    /// rt makes and removes every directory.
    Fs,
    /// A systemd transient unit: connected (`driver`) while `create` starts it.
    Systemd {
        unit: String,
        driver: RefCell<Option<Box<systemd::Driver>>>,
    },
}

impl Cgroup {
    /// cgroupfs: the container's cgroup at `rel` (from [`super::relative_path`]) under every
    /// hierarchy's root, not made yet.
    pub fn plan(rel: &Path) -> Result<Cgroup> {
        Ok(Cgroup::planned(super::plan(rel)?, Manager::Fs))
    }

    /// systemd: connect (without systemd there is nothing to create, and the error says so) and
    /// plan the unit's cgroup, made by systemd once the process exists ([`Cgroup::start`]).
    pub fn systemd(cgroups_path: &str, id: &str, r: &LinuxResources) -> Result<Cgroup> {
        let (driver, rel) = systemd::Driver::connect(cgroups_path, id, r)?;
        let manager = Manager::Systemd {
            unit: driver.unit().to_string(),
            driver: RefCell::new(Some(Box::new(driver))),
        };
        Ok(Cgroup::planned(super::plan(&rel)?, manager))
    }

    fn planned(placement: Placement, manager: Manager) -> Cgroup {
        Cgroup {
            paths: placement.paths.clone(),
            created_parents: RefCell::default(),
            manager,
            placement: OnceCell::from(placement),
        }
    }

    /// The cgroups of an existing container, as its state recorded them.
    pub fn existing(paths: &[PathBuf], created_parents: &[PathBuf], unit: Option<&str>) -> Cgroup {
        Cgroup {
            paths: paths.to_vec(),
            created_parents: RefCell::new(created_parents.to_vec()),
            manager: match unit {
                Some(u) => Manager::Systemd {
                    unit: u.to_string(),
                    driver: RefCell::new(None),
                },
                None => Manager::Fs,
            },
            placement: OnceCell::new(),
        }
    }

    /// The container's directories, one per hierarchy.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The parents made for it, deepest first.
    pub fn created_parents(&self) -> Vec<PathBuf> {
        self.created_parents.borrow().clone()
    }

    /// The systemd unit, with `--systemd-cgroup`.
    pub fn unit(&self) -> Option<&str> {
        match &self.manager {
            Manager::Systemd { unit, .. } => Some(unit),
            Manager::Fs => None,
        }
    }

    /// Rootless: hierarchies left out because they are not delegated to this user.
    pub fn skipped(&self) -> bool {
        self.placement.get().is_some_and(|p| !p.skipped.is_empty())
    }

    /// Each directory with its hierarchy.
    pub fn placement(&self) -> Result<&Placement> {
        if let Some(p) = self.placement.get() {
            return Ok(p);
        }
        let p = Placement::from_paths(&self.paths)?;
        Ok(self.placement.get_or_init(|| p))
    }

    /// The parents [`Cgroup::make`] would create, deepest first: recorded before they exist, so
    /// that a `create` killed meanwhile leaves them to `delete` (which removes them only when
    /// empty). None for an existing container's.
    pub fn missing_parents(&self) -> Vec<PathBuf> {
        self.placement
            .get()
            .map(super::missing_parents)
            .unwrap_or_default()
    }

    /// Make every directory that does not exist yet. On error, what was made is removed again.
    pub fn make(&self) -> Result<()> {
        let parents = super::make(self.placement()?)?;
        *self.created_parents.borrow_mut() = parents;
        Ok(())
    }

    /// Rootless [`Cgroup::make`]: a hierarchy this user may not use (not delegated) is left out
    /// of the container's cgroups (see [`super::make_delegated`]; `unprivileged`: rt has no
    /// privileges on the host, not merely `--rootless true` as root).
    pub fn make_delegated(&mut self, unprivileged: bool) -> Result<()> {
        self.placement()?;
        let p = self.placement.get_mut().expect("placement read above");
        let parents = super::make_delegated(p, unprivileged)?;
        self.paths = p.paths.clone();
        *self.created_parents.borrow_mut() = parents;
        Ok(())
    }

    /// systemd: start the unit with `pid` in it (systemd makes its cgroup), checking it landed
    /// where the unit's path says. cgroupfs: nothing (the directories are made before).
    pub fn start(&self, pid: i32) -> Result<()> {
        if let Manager::Systemd { driver, .. } = &self.manager {
            if let Some(d) = driver.borrow_mut().as_mut() {
                d.start(pid, self.placement()?)?;
            }
        }
        Ok(())
    }

    /// Apply a new container's limits. `nodes`: the device nodes its config creates.
    pub fn apply(&self, r: &LinuxResources, nodes: &DeviceNodes) -> Result<()> {
        super::apply_resources(self.placement()?, r, nodes, false)
    }

    /// [`Cgroup::apply`] in two steps around putting the init in: what must come first (the v2
    /// controllers, enabled while the cgroup is empty; the v1 device rules, written one by one),
    /// ...
    pub fn apply_before_init(&self, r: &LinuxResources, nodes: &DeviceNodes) -> Result<()> {
        super::apply_before_init(self.placement()?, r, nodes)
    }

    /// ... and the rest, which may go on once the init is in.
    pub fn apply_after_init(&self, r: &LinuxResources, nodes: &DeviceNodes) -> Result<()> {
        super::apply_after_init(self.placement()?, r, nodes)
    }

    /// Change a running container's limits: the unit's properties (`merged`, with systemd), then
    /// the files (`apply`: `merged` with only the device rules the update gives).
    pub fn update(
        &self,
        merged: &LinuxResources,
        apply: &LinuxResources,
        nodes: &DeviceNodes,
    ) -> Result<()> {
        if let Some(unit) = self.unit() {
            systemd::update(unit, merged)?;
        }
        super::apply_resources(self.placement()?, apply, nodes, true)
    }

    /// The container's v2 directory, opened for CLONE_INTO_CGROUP (the process is then born in
    /// it), if it has one. For an existing container (`exec`) it is told by each directory's
    /// filesystem (a statfs each), not by reading mountinfo, which runs to hundreds of kilobytes
    /// on a node with many containers.
    pub fn open_v2_dir(&self) -> Option<(PathBuf, std::fs::File)> {
        use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
        let dir = match self.placement.get() {
            Some(p) => p.v2_dir()?,
            None => self.paths.iter().find(|d| {
                statfs(d.as_path()).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
            })?,
        };
        // Through a detached read-only bind of the directory where we may make one: the process
        // born in it holds the descriptor a moment, and a process that reaches its
        // /proc/<pid>/fd must find no way up (`..` stays at the root of such a mount) nor write.
        let bound = dir
            .to_str()
            .context("not UTF-8")
            .and_then(crate::mountapi::read_only_clone)
            .and_then(|tree| crate::mountapi::reopen(&tree));
        let file = match bound {
            Ok(f) => f,
            // Not ours to mount (a rootless caller): the directory itself.
            Err(_) => std::fs::File::open(dir)
                .inspect_err(|e| {
                    let e = crate::errno::describe_io(e);
                    crate::logging::debug(&format!("open {}: {e}", dir.display()))
                })
                .ok()?,
        };
        Some((dir.to_path_buf(), file))
    }

    /// The v1 `tasks` files a new process writes to join its cgroups by itself (see
    /// [`SelfJoin`]), opened before the clone.
    pub fn self_join(&self) -> SelfJoin {
        match self.placement.get() {
            Some(p) => SelfJoin::open(p),
            // Without the hierarchies at hand, every directory is tried (v2 ones have no
            // `tasks`): no mountinfo read for it.
            None => SelfJoin::open_dirs(self.paths.iter().map(PathBuf::as_path)),
        }
    }

    /// Put `pid` into each of the container's cgroups but those it joins by itself (`joined`)
    /// and the v2 one it was born in (`born_in`, from [`Cgroup::open_v2_dir`]).
    pub fn add(&self, pid: i32, joined: &SelfJoin, born_in: Option<&Path>) -> Result<()> {
        for dir in &self.paths {
            if joined.covers(dir) || born_in == Some(dir.as_path()) {
                continue;
            }
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .sys(|| format!("add pid {pid} to {}", procs.display()))?;
        }
        Ok(())
    }

    /// `exec --cgroup [CONTROLLER:]PATH`: the same cgroups, with the sub-cgroups `subs` names in
    /// place of the container's own in the hierarchies they name (all without a controller).
    pub fn sub_cgroups(&self, subs: &[String]) -> Result<Cgroup> {
        let mut dirs = self.paths.clone();
        if !subs.is_empty() {
            let hierarchies = super::hierarchies()?;
            for s in subs {
                sub_cgroup(&mut dirs, &self.paths, &hierarchies, s)?;
            }
        }
        Ok(Cgroup::existing(&dirs, &[], None))
    }

    /// Every process in the container's cgroup (from the first hierarchy that lists any).
    pub fn pids(&self) -> Vec<i32> {
        super::pids(&self.paths)
    }

    /// Signal every process in the cgroup. SIGKILL goes through v2's cgroup.kill where the
    /// kernel has it (no race with forks), and thaws a frozen cgroup so the processes can die.
    pub fn kill(&self, sig: i32) {
        if sig == libc::SIGKILL {
            let killed = self.paths.iter().any(|d| {
                d.join("cgroup.kill").exists() && std::fs::write(d.join("cgroup.kill"), "1").is_ok()
            });
            if killed {
                return;
            }
        }
        for pid in self.pids() {
            // Processes in our cgroup.
            let _ = crate::sys::kill(pid, sig);
        }
        if sig == libc::SIGKILL {
            self.thaw_now();
        }
    }

    /// Thaw at once, without waiting and whatever the freezer (before a SIGKILL: a frozen
    /// cgroup would keep the killed processes from dying).
    pub fn thaw_now(&self) {
        for d in &self.paths {
            let _ = std::fs::write(d.join("freezer.state"), "THAWED");
            let _ = std::fs::write(d.join("cgroup.freeze"), "0");
        }
    }

    /// Freeze every process (the v1 freezer where the host has one, else v2's cgroup.freeze),
    /// waiting until they are.
    pub fn freeze(&self) -> Result<()> {
        freezer::freeze(self.placement()?)
    }

    pub fn thaw(&self) -> Result<()> {
        freezer::thaw(self.placement()?)
    }

    pub fn is_frozen(&self) -> bool {
        freezer::is_frozen(&self.paths)
    }

    /// Every controller's statistics (runc's events JSON).
    pub fn stats(&self) -> Result<stats::Stats> {
        let placement = self.placement()?;
        stats::collect(&|c| dir_for(placement, c))
    }

    /// How many processes the OOM killer has killed in the container's memory cgroup.
    pub fn oom_kills(&self) -> Option<u64> {
        let placement = self.placement().ok()?;
        stats::oom_kills(&|c| dir_for(placement, c))
    }

    /// Remove the container's cgroups: [`Cgroup::stop_unit`], then [`Cgroup::remove_dirs`]. The
    /// first error, once everything was tried.
    pub fn remove(&self) -> Result<()> {
        let unit = self.stop_unit();
        self.remove_dirs().and(unit)
    }

    /// systemd: stop the unit, which removes the cgroups systemd made.
    pub fn stop_unit(&self) -> Result<()> {
        match &self.manager {
            Manager::Systemd { unit, driver } => match driver.borrow_mut().as_mut() {
                Some(d) => d.stop(),
                None => systemd::stop(unit),
            },
            Manager::Fs => Ok(()),
        }
    }

    /// Remove the container's directories, then the parents made for it that are now empty.
    pub fn remove_dirs(&self) -> Result<()> {
        super::remove(&self.paths, &self.created_parents.borrow())
    }
}

/// The directory that holds `ctrl` for the statistics, and whether it is v2.
fn dir_for(placement: &Placement, ctrl: &str) -> Option<(PathBuf, bool)> {
    let found = placement.dir_for(ctrl).or_else(|| {
        // v2 has one controller where v1 had two names for it.
        let v2_name = match ctrl {
            "blkio" => "io",
            "cpuacct" => "cpu",
            _ => return None,
        };
        placement.dir_for(v2_name).filter(|(_, v2)| *v2)
    });
    found.map(|(d, v2)| (d.to_path_buf(), v2))
}

/// Replace, in `dirs`, the container's directory (`paths`) by the sub-cgroup `s` names
/// (`[CONTROLLER:]PATH`) in each hierarchy it applies to.
fn sub_cgroup(
    dirs: &mut [PathBuf],
    paths: &[PathBuf],
    hierarchies: &[super::Hierarchy],
    s: &str,
) -> Result<()> {
    let (ctrl, sub) = match s.split_once(':') {
        Some((c, p)) => (Some(c), p),
        None => (None, s),
    };
    let rel = Path::new(sub.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        bail!("--cgroup {s:?}: the sub-cgroup must be a relative path without \"..\"");
    }
    let mut matched = false;
    for (dir, base) in dirs.iter_mut().zip(paths) {
        let controllers = hierarchies
            .iter()
            .find(|h| base.starts_with(&h.mount))
            .map(|h| h.controllers.as_slice())
            .unwrap_or(&[]);
        let hit = match ctrl {
            None => true,
            Some(c) => controllers.iter().any(|n| c.split(',').any(|w| w == n)),
        };
        if hit {
            let sub_dir = base.join(rel);
            if !sub_dir.is_dir() {
                bail!("--cgroup {s:?}: {} does not exist", sub_dir.display());
            }
            *dir = sub_dir;
            matched = true;
        }
    }
    if !matched {
        bail!(
            "--cgroup {s:?}: the container has no cgroup for controller {:?}",
            ctrl.unwrap_or("")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Hierarchy;
    use std::fs;

    /// Hierarchies as plain directories under a temporary root: (mount name, controllers, v2).
    fn tree(name: &str, hs: &[(&str, &[&str], bool)]) -> (PathBuf, Cgroup) {
        let root = std::env::temp_dir().join(format!("rt-cg-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let mut p = Placement::default();
        for (mount, controllers, v2) in hs {
            let mount = root.join(mount);
            fs::create_dir_all(&mount).unwrap();
            if *v2 {
                fs::write(mount.join("cgroup.subtree_control"), "").unwrap();
            }
            p.paths.push(mount.join("box/c1"));
            p.hierarchies.push(Hierarchy {
                mount,
                controllers: controllers.iter().map(|c| c.to_string()).collect(),
                v2: *v2,
            });
        }
        // Device rules need the kernel (v1's devices.list read back, v2's BPF program): they are
        // left out here as for a rootless container, and tested by integration/cgroups.rs.
        p.rootless = true;
        (root, Cgroup::planned(p, Manager::Fs))
    }

    fn read(p: PathBuf) -> String {
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn make_then_remove_takes_away_what_it_made_and_nothing_else() {
        let (root, cg) = tree(
            "make",
            &[("memory", &["memory"], false), ("unified", &[], true)],
        );
        let planned = cg.missing_parents();
        assert_eq!(planned, [root.join("unified/box"), root.join("memory/box")]);
        cg.make().unwrap();
        assert_eq!(cg.created_parents(), planned);
        assert!(cg.paths().iter().all(|d| d.is_dir()));
        // As a later command sees it: from the state.
        let again = Cgroup::existing(cg.paths(), &cg.created_parents(), None);
        again.remove().unwrap();
        assert!(!root.join("memory/box").exists() && !root.join("unified/box").exists());
        assert!(root.join("memory").is_dir() && root.join("unified").is_dir());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn hybrid_each_limit_goes_to_the_hierarchy_of_its_controller() {
        let (root, cg) = tree(
            "hybrid",
            &[
                ("memory", &["memory"], false),
                ("freezer", &["freezer"], false),
                ("unified", &["pids"], true),
            ],
        );
        cg.make().unwrap();
        fs::write(root.join("unified/box/cgroup.subtree_control"), "").unwrap();
        let r = resources(r#"{"memory":{"limit":1048576},"pids":{"limit":10}}"#);
        cg.apply(&r, &[]).unwrap();
        assert_eq!(
            read(root.join("memory/box/c1/memory.limit_in_bytes")),
            "1048576"
        );
        assert_eq!(read(root.join("unified/box/c1/pids.max")), "10");
        assert!(!root.join("unified/box/c1/memory.max").exists());
        // v2 controllers are enabled down the path: only those the config uses on a hybrid host.
        assert_eq!(read(root.join("unified/cgroup.subtree_control")), "+pids");
        assert_eq!(
            read(root.join("unified/box/cgroup.subtree_control")),
            "+pids"
        );

        // A process joins the v1 cgroups whose `tasks` it could open by itself, is born in the
        // v2 one: the rest is written for it.
        fs::write(root.join("freezer/box/c1/tasks"), "").unwrap();
        let joined = cg.self_join();
        assert!(joined.covers(&root.join("freezer/box/c1")));
        let gone = i32::MAX; // above any pid_max: nothing gets a signal.
        cg.add(gone, &joined, Some(&root.join("unified/box/c1")))
            .unwrap();
        assert_eq!(
            read(root.join("memory/box/c1/cgroup.procs")),
            gone.to_string()
        );
        assert!(!root.join("freezer/box/c1/cgroup.procs").exists());
        assert!(!root.join("unified/box/c1/cgroup.procs").exists());
        assert_eq!(cg.pids(), [gone]);

        // The v1 freezer where there is one.
        cg.freeze().unwrap();
        assert_eq!(read(root.join("freezer/box/c1/freezer.state")), "FROZEN");
        assert!(!root.join("unified/box/c1/cgroup.freeze").exists());
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen());

        // SIGKILL through cgroup.kill where the kernel has it.
        fs::write(root.join("unified/box/c1/cgroup.kill"), "").unwrap();
        cg.kill(libc::SIGKILL);
        assert_eq!(read(root.join("unified/box/c1/cgroup.kill")), "1");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn pure_v2_writes_the_unified_files() {
        let (root, cg) = tree("v2", &[("unified", &["memory", "pids"], true)]);
        cg.make().unwrap();
        fs::write(root.join("unified/box/cgroup.subtree_control"), "").unwrap();
        let r = resources(r#"{"memory":{"limit":1048576},"pids":{"limit":10}}"#);
        cg.apply(&r, &[]).unwrap();
        let leaf = root.join("unified/box/c1");
        assert_eq!(read(leaf.join("memory.max")), "1048576");
        assert_eq!(read(leaf.join("pids.max")), "10");
        // Pure v2: every controller of the root is enabled for the container.
        assert_eq!(
            read(root.join("unified/cgroup.subtree_control")),
            "+memory +pids"
        );
        // The core freezer, done once cgroup.events says so.
        fs::write(leaf.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        cg.freeze().unwrap();
        assert_eq!(read(leaf.join("cgroup.freeze")), "1");
        assert!(cg.is_frozen());
        fs::write(leaf.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        cg.thaw().unwrap();
        assert_eq!(read(leaf.join("cgroup.freeze")), "0");
        // The stats of each controller from its own files.
        fs::write(leaf.join("pids.current"), "3\n").unwrap();
        fs::write(leaf.join("memory.events"), "oom 1\noom_kill 2\n").unwrap();
        assert_eq!(cg.oom_kills(), Some(2));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn exec_sub_cgroups_replace_the_containers_own() {
        let (root, cg) = tree(
            "sub",
            &[("memory", &["memory"], false), ("unified", &[], true)],
        );
        cg.make().unwrap();
        fs::create_dir(root.join("memory/box/c1/sub")).unwrap();
        let same = cg.sub_cgroups(&[]).unwrap();
        assert_eq!(same.paths(), cg.paths());
        let hs = &cg.placement().unwrap().hierarchies;
        let mut dirs = cg.paths().to_vec();
        sub_cgroup(&mut dirs, cg.paths(), hs, "memory:/sub").unwrap();
        assert_eq!(
            dirs,
            [root.join("memory/box/c1/sub"), root.join("unified/box/c1")]
        );
        assert!(sub_cgroup(&mut dirs, cg.paths(), hs, "memory:../x").is_err());
        assert!(sub_cgroup(&mut dirs, cg.paths(), hs, "pids:sub").is_err());
        assert!(sub_cgroup(&mut dirs, cg.paths(), hs, "missing").is_err());
        fs::remove_dir_all(&root).unwrap();
    }
}
