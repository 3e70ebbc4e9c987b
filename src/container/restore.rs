//! `restore`: a new container (any id; the bundle's config) whose processes CRIU brings back from
//! a checkpoint. As runc: the cgroups are made and CRIU put into them before it restores (its
//! tasks are born there, `--cgroup-root` says so for the dumped paths), prestart and
//! createRuntime hooks run at CRIU's `setup-namespaces`, the state gets the restored init at
//! `post-restore`, a terminal's new pty master goes to `--console-socket` (CRIU's orphan pts
//! master). In the foreground (no `--detach`) rt waits for the container as `run` does and
//! returns its exit status. A failed restore leaves nothing: no state, cgroup or process.

use super::create::{connect, first_state};
use super::foreground::{become_subreaper, catch_signals, forward_signals, wait_exit};
use super::state::{Locked, State};
use super::status::{proc_stat, Status};
use super::{bundle, id, write_pid_file, Context};
use crate::criu::{self, Common};
use crate::errno::SysContext;
use anyhow::{bail, Context as _, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct RestoreOptions {
    pub criu: PathBuf,
    pub bundle: PathBuf,
    pub images: PathBuf,
    pub work: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub no_subreaper: bool,
    pub common: Common,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// Restore; the value is the exit status (0 detached, the container's in the foreground).
pub fn restore(ctx: &Context, id: &str, o: &RestoreOptions) -> Result<i32> {
    id::validate(id)?;
    if ctx.systemd_cgroup {
        bail!("--systemd-cgroup: restore supports the cgroupfs driver only");
    }
    if ctx.rootless {
        bail!("restore needs root: CRIU restores a container as root only");
    }
    let b = bundle::load(&o.bundle)?;
    let terminal = check_paths(o, &b.spec)?;
    let inherit = criu::inherited_stdio(&o.images)?;
    let console = match &o.console_socket {
        Some(p) if terminal => Some(connect(p)?),
        _ => None,
    };
    if !o.detach {
        catch_signals();
        if !o.no_subreaper {
            become_subreaper()?;
        }
    }
    let linux = b.spec.linux().as_ref();
    let rel = crate::cgroups::relative_path(linux.and_then(|l| l.cgroups_path().as_deref()), id)?;
    let cgroup = empty_cgroup(&rel)?;
    let mut state = first_state(&b, id, Some(&cgroup))?;
    let locked = super::state::create(&ctx.root, id, &state)?;
    let criu_root = locked.dir.join("criu-root");
    let mut hooks = Hooks {
        locked: &locked,
        state: &mut state,
        cgroup: &cgroup,
        console,
    };
    let result = (|| -> Result<()> {
        cgroup.make()?;
        let made = cgroup.created_parents();
        if made != hooks.state.cgroup_created_parents {
            hooks.state.cgroup_created_parents = made;
            hooks.locked.save(hooks.state)?;
        }
        let nodes = crate::cgroups::device_nodes(linux.and_then(|l| l.devices().as_deref()));
        let none = Default::default();
        let resources = linux.and_then(|l| l.resources().as_ref()).unwrap_or(&none);
        cgroup.apply(resources, &nodes)?;
        std::fs::write(locked.config_path(), &b.raw)
            .sys(|| format!("write {}", locked.config_path().display()))?;
        let mounts = b.spec.mounts().as_deref().unwrap_or_default();
        let root = crate::rootfs::restore::prepare(&b.rootfs, mounts, &criu_root)?;
        let (external_ns, join_ns) = namespaces(&b.spec)?;
        let ns_fds: Vec<(String, i32)> = external_ns
            .iter()
            .map(|(k, f)| (k.clone(), f.as_raw_fd()))
            .collect();
        let mut common = o.common.clone();
        common.config_file = super::checkpoint::criu_config_file(&hooks.state.annotations)?;
        crate::logging::debug(&format!(
            "restore {id}: bundle {}, images {}, cgroups {:?}",
            b.dir.display(),
            o.images.display(),
            cgroup.paths()
        ));
        criu::restore(
            &criu::Restore {
                criu: &o.criu,
                root: &root,
                images: &o.images,
                work: o.work.as_deref(),
                common: &common,
                ext_mounts: external_mounts(&b.spec, &b.dir),
                inherit: inherit.clone(),
                external_ns: ns_fds,
                join_ns,
                lsm_profile: o.lsm_profile.clone(),
                lsm_mount_context: o.lsm_mount_context.clone(),
            },
            &mut hooks,
        )?;
        if hooks.state.pid <= 0 || hooks.state.status != Status::Running {
            bail!("criu restored without reporting the restored process (no post-restore)");
        }
        if let Some(path) = &o.pid_file {
            write_pid_file(path, hooks.state.pid)?;
        }
        Ok(())
    })();
    let unmounted = unmount_criu_root(&criu_root);
    let state = hooks.state.clone();
    if let Err(e) = result {
        undo(locked, &state, &cgroup, unmounted);
        return Err(e);
    }
    drop(locked);
    if o.detach {
        return Ok(0);
    }
    wait_in_foreground(ctx, id, &state)
}

/// As `run` in the foreground: wait for the container, forwarding signals to it, then delete it
/// and return its exit status.
fn wait_in_foreground(ctx: &Context, id: &str, state: &State) -> Result<i32> {
    forward_signals(state.pid);
    let code = wait_exit(state.pid)?;
    if let Some(locked) = super::state::open(&ctx.root, id)? {
        super::delete::destroy(locked, state)?;
    }
    Ok(code)
}

/// The container's cgroup, planned. A failed restore kills what is in its cgroup: it must hold
/// nothing of another's (the container checkpointed with --leave-running, under the same
/// cgroupsPath).
fn empty_cgroup(rel: &Path) -> Result<crate::cgroups::Cgroup> {
    let cgroup = crate::cgroups::Cgroup::plan(rel)?;
    if let Some(pid) = cgroup.pids().first() {
        bail!(
            "linux.cgroupsPath {:?}: the cgroup already has processes (pid {pid}): is the \
             checkpointed container still running?",
            rel.display()
        );
    }
    Ok(cgroup)
}

/// Unmount the rootfs bound for CRIU (only our mount namespace has it) and remove its mount
/// point. False if it is still mounted: the state directory must then stay, as removing it
/// would go down into the container's rootfs.
fn unmount_criu_root(criu_root: &Path) -> bool {
    match nix::mount::umount2(criu_root, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {
            let _ = std::fs::remove_dir(criu_root);
            true
        }
        Err(e) => {
            crate::logging::warn(&format!("umount {}: {e}", criu_root.display()));
            false
        }
    }
}

/// Whether the container has a terminal, once the console socket, work path and image path
/// are found fit for it.
fn check_paths(o: &RestoreOptions, spec: &Spec) -> Result<bool> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    // Whatever the mode, a terminal comes back only through a console socket (CRIU makes the new
    // pty; we do not proxy it).
    crate::tty::check_console_socket(true, terminal, o.console_socket.is_some())?;
    if let Some(w) = &o.work {
        std::fs::create_dir_all(w).sys(|| format!("work path: mkdir {}", w.display()))?;
    }
    let md = std::fs::metadata(&o.images).sys(|| format!("image path {}", o.images.display()))?;
    if !md.is_dir() {
        bail!("image path {}: not a directory", o.images.display());
    }
    Ok(terminal)
}

/// A failed restore: its processes (if CRIU got that far), cgroups and state go.
fn undo(locked: Locked, state: &State, cgroup: &crate::cgroups::Cgroup, unmounted: bool) {
    if state.pid > 0 {
        crate::process::kill_and_reap(state.pid);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cgroup.pids().is_empty() && Instant::now() < deadline {
        cgroup.kill(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(5));
    }
    let cgroup =
        crate::cgroups::Cgroup::existing(cgroup.paths(), &state.cgroup_created_parents, None);
    if let Err(e) = cgroup.remove() {
        crate::logging::warn(&format!("{e:#}"));
    }
    if !unmounted {
        crate::logging::warn(&format!(
            "restore: {} is left behind: the rootfs is still mounted in it",
            locked.dir.display()
        ));
        return;
    }
    if let Err(e) = locked.remove() {
        crate::logging::warn(&format!("{e:#}"));
    }
}

/// Bind mounts from the host by destination (the keys the checkpoint wrote), the null device for
/// masked files, device nodes: runc's external mounts of a restore.
fn external_mounts(spec: &Spec, bundle: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if let (true, Some(src)) = (crate::rootfs::restore::is_bind(m), m.source()) {
            let src = bundle.join(src);
            v.push((
                super::checkpoint::clean(m.destination()),
                src.to_string_lossy().into_owned(),
            ));
        }
    }
    let linux = spec.linux().as_ref();
    let masks = linux.and_then(|l| l.masked_paths().as_ref());
    for p in super::checkpoint::device_paths(spec) {
        // The null device stands for the masked files as well.
        if p != "/dev/null" || masks.is_some_and(|m| !m.is_empty()) {
            v.push((p.clone(), p));
        }
    }
    v
}

/// Namespaces the config joins by path: network and PID ones are handed to CRIU as the external
/// namespaces the checkpoint named (an open descriptor, by runc's key); the others CRIU joins.
#[allow(clippy::type_complexity)]
fn namespaces(spec: &Spec) -> Result<(Vec<(String, OwnedFd)>, Vec<(String, String)>)> {
    let mut external = Vec::new();
    let mut join = Vec::new();
    for ns in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default()
    {
        let Some(path) = ns.path() else { continue };
        if let Some((_, key)) = super::checkpoint::external_key(ns.typ()) {
            let f = std::fs::File::open(path).sys(|| {
                format!(
                    "open namespace {} (it must exist to restore into)",
                    path.display()
                )
            })?;
            external.push((key.to_string(), f.into()));
            continue;
        }
        let name = match ns.typ() {
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Time => "time",
            t => bail!("namespace {t:?} with a path: CRIU cannot join it on restore"),
        };
        join.push((name.to_string(), path.to_string_lossy().into_owned()));
    }
    Ok((external, join))
}

/// What rt does at CRIU's hook points.
struct Hooks<'a> {
    locked: &'a Locked,
    state: &'a mut State,
    cgroup: &'a crate::cgroups::Cgroup,
    console: Option<OwnedFd>,
}

impl criu::swrk::Hooks for Hooks<'_> {
    fn spawned(
        &mut self,
        criu: i32,
        req: &mut rust_criu::rust_criu_protobuf::rpc::Criu_req,
    ) -> Result<()> {
        self.cgroup.add(criu, &Default::default(), None)?;
        criu::restore::cgroup_roots(criu, req)
    }

    fn notify(&mut self, script: &str, pid: i32, fd: Option<OwnedFd>) -> Result<()> {
        match script {
            "setup-namespaces" => {
                let Some(h) = &self.state.hooks else {
                    return Ok(());
                };
                let mut s = self.state.clone();
                s.pid = pid;
                let st = serde_json::to_value(super::public(&s, Status::Creating, String::new()))?;
                crate::hooks::run_all("prestart", h.prestart().as_deref().unwrap_or(&[]), &st)?;
                crate::hooks::run_all(
                    "createRuntime",
                    h.create_runtime().as_deref().unwrap_or(&[]),
                    &st,
                )?;
            }
            "post-restore" => {
                self.state.pid = pid;
                self.state.init_start_time = proc_stat(pid)
                    .map(|(_, start)| start)
                    .context("read the start time of the restored init")?;
                self.state.status = Status::Running;
                self.state.created = crate::timestamp::now_rfc3339_nanos();
                self.locked.save(self.state)?;
            }
            "orphan-pts-master" => {
                let master = fd.context("criu sent no pty master")?;
                let sock = self.console.as_ref().context(
                    "criu restored a terminal, and there is no --console-socket to send it to",
                )?;
                crate::tty::send_master(sock, &master)?;
            }
            _ => {}
        }
        Ok(())
    }
}
