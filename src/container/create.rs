//! `create`: claim the id, make the cgroup and exec fifo, clone the init and wait until it parks.

use super::state::{Locked, State};
use super::status::{proc_stat, Status};
use super::{bundle, id, write_pid_file, Context};
use crate::cgroups::{Cgroup, DeviceNodes};
use crate::errno::SysContext;
use crate::process::{self, Console, InitOptions, Spawned};
use anyhow::{bail, Context as _, Result};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

#[derive(Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Descriptors from 3 passed by socket activation (LISTEN_FDS), kept before the preserved ones.
    pub listen_fds: i32,
    /// The caller's NOTIFY_SOCKET: the container gets a notify socket of its own.
    pub notify_socket: Option<OsString>,
}

pub fn create(ctx: &Context, id: &str, opts: &CreateOptions) -> Result<()> {
    create_parked(ctx, id, opts, false).map(|_| ())
}

/// Create and leave the init parked. `foreground` (from `run`) keeps a terminal on our side.
pub(super) fn create_parked(
    ctx: &Context,
    id: &str,
    opts: &CreateOptions,
    foreground: bool,
) -> Result<(Locked, State, Spawned)> {
    id::validate(id)?;
    let mut b = bundle::load(&opts.bundle)?;
    if !own_pid_namespace(&b.spec) {
        // Processes already in the PID namespace we enter will see our init before it execs.
        process::sealed_exe::ensure()?;
    }
    let terminal = b
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    crate::tty::check_console_socket(!foreground, terminal, opts.console_socket.is_some())?;
    let console = match (&opts.console_socket, terminal) {
        (Some(path), true) => Console::Socket(connect(path)?),
        (None, true) => Console::Parent,
        _ => Console::None,
    };
    if opts.preserve_fds < 0 {
        bail!("--preserve-fds {}: must not be negative", opts.preserve_fds);
    }
    let Some(inherited_fds) = opts.listen_fds.checked_add(opts.preserve_fds) else {
        bail!(
            "LISTEN_FDS={} and --preserve-fds {}: too many descriptors",
            opts.listen_fds,
            opts.preserve_fds
        );
    };
    // The first state goes down with the id, before anything is made: whatever a killed
    // create leaves behind, `delete` finds it from here (cgroups, and later the init's pid).
    let (creator_pid, creator_start_time) = own_identity()?;
    // With cgroupfs, the cgroup paths are known now and go into that first state (one write
    // less); systemd names them once connected, below.
    let mut planned = match ctx.systemd_cgroup {
        true => None,
        false => {
            let linux = b.spec.linux().as_ref();
            let path = linux.and_then(|l| l.cgroups_path().as_deref());
            let rel = crate::cgroups::relative_path(path, id)?;
            Some(Cgroup::plan(&rel)?)
        }
    };
    let mut state = State {
        oci_version: b.spec.version().clone(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: crate::timestamp::now_rfc3339_nanos(),
        annotations: b.spec.annotations().clone().unwrap_or_else(HashMap::new),
        hooks: b.spec.hooks().clone(),
        init_start_time: 0,
        own_pid_ns: own_pid_namespace(&b.spec),
        cgroup_paths: planned
            .as_ref()
            .map(|c| c.paths().to_vec())
            .unwrap_or_default(),
        // Those `make` will create, known before they exist (see Cgroup::missing_parents).
        cgroup_created_parents: planned
            .as_ref()
            .map(Cgroup::missing_parents)
            .unwrap_or_default(),
        systemd_unit: None,
        creator_pid,
        creator_start_time,
        host_rootfs_mount: None,
    };
    let locked = super::state::create(&ctx.root, id, &state)?;
    let mut cgroup: Option<Cgroup> = None;
    let mut pid = 0;
    let result = (|| -> Result<Spawned> {
        if opts.notify_socket.is_some() {
            super::notify::setup(&mut b.spec, &locked.dir)?;
        }
        if opts.listen_fds > 0 {
            super::activation::setup(&mut b.spec, opts.listen_fds);
        }
        let linux = b.spec.linux().as_ref();
        let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
        let nodes = crate::cgroups::device_nodes(linux.and_then(|l| l.devices().as_deref()));
        let none = Default::default();
        let resources = linux.and_then(|l| l.resources().as_ref()).unwrap_or(&none);
        let p: &Cgroup = if ctx.systemd_cgroup {
            // systemd makes the unit's cgroup once the init exists (Callbacks::cloned).
            let path = cgroups_path
                .map(|p| p.to_string_lossy())
                .unwrap_or_default();
            let p = cgroup.insert(Cgroup::systemd(&path, id, resources)?);
            state.systemd_unit = p.unit().map(str::to_string);
            state.cgroup_paths = p.paths().to_vec();
            locked.save(&state)?;
            p
        } else {
            // Recorded (in the first state) before they exist, with the parents they need, so
            // that `delete` knows them whenever a create dies; the parents made are recorded
            // after, should they differ (another create made one meanwhile).
            let p = cgroup.insert(planned.take().context("cgroup placement planned")?);
            match ctx.rootless {
                true => p.make_delegated(crate::rootless::detect())?,
                false => p.make()?,
            };
            crate::testpoint::pause_point("create:cgroups-made");
            // Rootless: only the cgroups this user could make are the container's.
            state.cgroup_paths = p.paths().to_vec();
            if p.created_parents() != state.cgroup_created_parents || p.skipped() {
                state.cgroup_created_parents = p.created_parents();
                locked.save(&state)?;
            }
            p.apply(resources, &nodes)?;
            p
        };
        crate::logging::debug(&format!(
            "create {id}: bundle {}, rootfs {}, cgroups {:?}",
            b.dir.display(),
            b.rootfs.display(),
            p.paths()
        ));
        std::fs::write(locked.config_path(), &b.raw)
            .sys(|| format!("write {}", locked.config_path().display()))?;
        let fifo = process::fifo::create(&locked.fifo_path())?;
        let error_file: OwnedFd = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(locked.init_error_path())
            .sys(|| format!("create {}", locked.init_error_path().display()))?
            .into();
        let seccomp = crate::seccomp::Compiled::for_spec(&b.spec, &ctx.root)?;
        if !in_own_mount_namespace(&b.spec)? {
            // Recorded as soon as it exists: whatever happens next, `delete` removes it.
            state.host_rootfs_mount = Some(crate::rootfs::host_ns::bind(&b.rootfs)?);
            locked.save(&state)?;
        }
        let init = InitOptions {
            id,
            spec: &b.spec,
            rootfs: &b.rootfs,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: inherited_fds,
            fifo: &fifo,
            error_file: &error_file,
            console,
            state_lock: locked.lock_fd(),
            cgroups: p.placement()?,
            rootless: ctx.rootless,
            seccomp: seccomp.as_ref(),
            hook_state: serde_json::to_value(super::public(
                &state,
                Status::Creating,
                String::new(),
            ))?,
        };
        crate::testpoint::pause_point("create:before-clone");
        let spawned = process::spawn(
            &init,
            p,
            &mut Callbacks {
                locked: &locked,
                state: &mut state,
                pid: &mut pid,
                systemd: p.unit().map(|_| Systemd {
                    cgroup: p,
                    resources,
                    nodes: &nodes,
                }),
            },
        )?;
        crate::testpoint::pause_point("create:created");
        drop(fifo);
        drop(error_file);
        crate::logging::debug(&format!(
            "create {id}: init {} parked on the exec fifo",
            spawned.pid
        ));
        if let Some(path) = &opts.pid_file {
            write_pid_file(path, spawned.pid)?;
        }
        Ok(spawned)
    })();
    match result {
        Ok(spawned) => Ok((locked, state, spawned)),
        Err(e) => {
            if pid > 0 {
                process::kill_and_reap(pid);
            }
            if let Some(c) = &cgroup {
                let _ = c.remove();
            }
            if let Some(id) = state.host_rootfs_mount {
                if let Err(e) = crate::rootfs::host_ns::unbind(&state.rootfs, id) {
                    crate::logging::warn(&format!("{e:#}"));
                }
            }
            let _ = locked.remove();
            Err(e)
        }
    }
}

/// This process's pid and start time, recorded as the creator of the container.
fn own_identity() -> Result<(i32, u64)> {
    let me = std::process::id() as i32;
    let (_, start) = proc_stat(me).with_context(|| format!("read /proc/{me}/stat"))?;
    Ok((me, start))
}

/// Whether the container gets a mount namespace (new or joined); without one it inherits ours.
fn in_own_mount_namespace(spec: &oci_spec::runtime::Spec) -> Result<bool> {
    let plan = crate::namespaces::plan(spec)?;
    Ok(crate::namespaces::has(
        &plan,
        nix::sched::CloneFlags::CLONE_NEWNS,
    ))
}

/// Whether the config asks for a new PID namespace (rather than joining one or sharing ours).
fn own_pid_namespace(spec: &oci_spec::runtime::Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter().any(|n| {
                n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none()
            })
        })
}

fn connect(path: &std::path::Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .sys(|| format!("connect to console socket {}", path.display()))?;
    Ok(s.into())
}

/// The parent side of the init's setup, as the container layer sees it.
struct Callbacks<'a> {
    locked: &'a Locked,
    state: &'a mut State,
    pid: &'a mut i32,
    systemd: Option<Systemd<'a>>,
}

/// What the systemd driver needs once the init exists.
struct Systemd<'a> {
    cgroup: &'a Cgroup,
    resources: &'a oci_spec::runtime::LinuxResources,
    nodes: &'a DeviceNodes,
}

impl process::Parent for Callbacks<'_> {
    fn cloned(&mut self, child: i32) -> Result<()> {
        *self.pid = child;
        self.state.pid = child;
        self.state.init_start_time = proc_stat(child)
            .map(|(_, start)| start)
            .context("read the start time of the container init")?;
        // Recorded before the setup goes on, so that a killed `create` can be cleaned up.
        self.locked.save(self.state)?;
        if let Some(s) = self.systemd.as_mut() {
            s.cgroup.start(child)?;
            // Hierarchies systemd does not manage (v1 freezer, cpuset...) get their directory
            // from us, below the same path; the parents that takes are recorded before they
            // exist, as without systemd.
            let planned = s.cgroup.missing_parents();
            if !planned.is_empty() {
                self.state.cgroup_created_parents = planned;
                self.locked.save(self.state)?;
            }
            s.cgroup.make()?;
            let made = s.cgroup.created_parents();
            if made != self.state.cgroup_created_parents {
                self.state.cgroup_created_parents = made;
                self.locked.save(self.state)?;
            }
            s.cgroup.apply(s.resources, s.nodes)?;
        }
        Ok(())
    }

    fn parked(&mut self) -> Result<()> {
        crate::testpoint::pause_point("create:parked");
        // The init still dies with us until it hears this is saved (process::spawn): either the
        // container is recorded as created, or no init is left.
        self.state.status = Status::Created;
        self.locked.save(self.state)
    }

    fn runtime_hooks(&mut self) -> Result<()> {
        let Some(h) = &self.state.hooks else {
            return Ok(());
        };
        // runtime.md: "creating" is lifecycle step 2 (making the environment) and "created"
        // what follows it; these hooks are steps 3 and 4. The OCI suite (hooks_stdin) and crun
        // say "created" too (runc: "creating").
        let st = serde_json::to_value(super::public(self.state, Status::Created, String::new()))?;
        crate::hooks::run_all("prestart", h.prestart().as_deref().unwrap_or(&[]), &st)?;
        crate::hooks::run_all(
            "createRuntime",
            h.create_runtime().as_deref().unwrap_or(&[]),
            &st,
        )
    }
}
