//! `create`: claim the id, make the cgroup and exec fifo, clone the init and wait until it parks.

use super::state::{Locked, State};
use super::status::{proc_stat, Status};
use super::{bundle, id, write_pid_file, Context};
use crate::cgroups::Cgroup;
use crate::errno::SysContext;
use crate::process::{self, Console, InitOptions, Spawned};
use anyhow::{bail, Context as _, Result};
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
    let checked = check_options(&b.spec, opts, foreground)?;
    // With cgroupfs, the cgroup paths are known now and go into that first state (one write
    // less); systemd names them once connected, below.
    let planned = match ctx.systemd_cgroup {
        true => None,
        false => {
            let linux = b.spec.linux().as_ref();
            let path = linux.and_then(|l| l.cgroups_path().as_deref());
            let rel = crate::cgroups::relative_path(path, id)?;
            Some(Cgroup::plan(&rel)?)
        }
    };
    let mut state = first_state(&b, id, planned.as_ref())?;
    let locked = super::state::create(&ctx.root, id, &state)?;
    // From here on, whatever fails takes back what was made (see Undo).
    let mut undo = Undo {
        locked: Some(locked),
        cgroup: None,
        pid: 0,
        host_mount: None,
    };
    let locked = undo.locked.as_ref().expect("armed");
    if opts.notify_socket.is_some() {
        super::notify::setup(&mut b.spec, &locked.dir)?;
    }
    if opts.listen_fds > 0 {
        super::activation::setup(&mut b.spec, opts.listen_fds);
    }
    let linux = b.spec.linux().as_ref();
    let none = Default::default();
    let limits = Limits {
        resources: linux.and_then(|l| l.resources().as_ref()).unwrap_or(&none),
        nodes: crate::cgroups::device_nodes(linux.and_then(|l| l.devices().as_deref())),
    };
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    make_cgroup(
        ctx,
        id,
        cgroups_path,
        &mut state,
        &mut undo,
        planned,
        &limits,
    )?;
    let spawned = start_init(ctx, opts, &b, &mut state, &mut undo, checked, &limits)?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, spawned.pid)?;
    }
    Ok((undo.disarm(), state, spawned))
}

/// What a failed `create` takes back: the init, the cgroups, the rootfs bound in the host's
/// mount namespace, then the state directory. Each is recorded here as soon as it exists;
/// disarmed once the container is created.
struct Undo {
    locked: Option<Locked>,
    cgroup: Option<Cgroup>,
    pid: i32,
    /// The rootfs and the id of its bind mount (rootfs::host_ns).
    host_mount: Option<(PathBuf, u64)>,
}

impl Undo {
    fn disarm(mut self) -> Locked {
        self.locked.take().expect("armed")
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        let Some(locked) = self.locked.take() else {
            return;
        };
        if self.pid > 0 {
            process::kill_and_reap(self.pid);
        }
        if let Some(c) = &self.cgroup {
            let _ = c.remove();
        }
        if let Some((rootfs, id)) = &self.host_mount {
            if let Err(e) = crate::rootfs::host_ns::unbind(rootfs, *id) {
                crate::logging::warn(&crate::errno::words(&e));
            }
        }
        let _ = locked.remove();
    }
}

/// The options checked against the config, before anything is made.
struct Checked {
    console: Console,
    /// Descriptors from 3 the init inherits: LISTEN_FDS's, then `--preserve-fds`.
    inherited_fds: i32,
}

fn check_options(
    spec: &oci_spec::runtime::Spec,
    opts: &CreateOptions,
    foreground: bool,
) -> Result<Checked> {
    if !own_pid_namespace(spec) {
        // Processes already in the PID namespace we enter will see our init before it execs.
        process::sealed_exe::ensure()?;
    }
    let terminal = spec
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
    Ok(Checked {
        console,
        inherited_fds,
    })
}

/// The first state goes down with the id, before anything is made: whatever a killed create
/// leaves behind, `delete` finds it from here (cgroups, and later the init's pid).
pub(super) fn first_state(b: &bundle::Bundle, id: &str, planned: Option<&Cgroup>) -> Result<State> {
    let (creator_pid, creator_start_time) = own_identity()?;
    Ok(State {
        oci_version: b.spec.version().clone(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: crate::timestamp::now_rfc3339_nanos(),
        annotations: b.spec.annotations().clone().unwrap_or_default(),
        hooks: b.spec.hooks().clone(),
        init_start_time: 0,
        own_pid_ns: own_pid_namespace(&b.spec),
        cgroup_paths: planned.map(|c| c.paths().to_vec()).unwrap_or_default(),
        // Those `make` will create, known before they exist (see Cgroup::missing_parents).
        cgroup_created_parents: planned.map(Cgroup::missing_parents).unwrap_or_default(),
        systemd_unit: None,
        creator_pid,
        creator_start_time,
        host_rootfs_mount: None,
    })
}

/// linux.resources, and the device nodes the config creates (allowed on top of its rules).
struct Limits<'a> {
    resources: &'a oci_spec::runtime::LinuxResources,
    nodes: Vec<(oci_spec::runtime::LinuxDeviceType, i64, i64)>,
}

/// The container's cgroups: made now (cgroupfs), or the systemd unit connected (systemd makes its
/// cgroup once the init exists); limited once the init exists (Callbacks::cloned); recorded in
/// the state.
fn make_cgroup(
    ctx: &Context,
    id: &str,
    cgroups_path: Option<&std::path::Path>,
    state: &mut State,
    undo: &mut Undo,
    planned: Option<Cgroup>,
    limits: &Limits,
) -> Result<()> {
    let locked = undo.locked.as_ref().expect("armed");
    if ctx.systemd_cgroup {
        let path = cgroups_path
            .map(|p| p.to_string_lossy())
            .unwrap_or_default();
        let p = undo
            .cgroup
            .insert(Cgroup::systemd(&path, id, limits.resources)?);
        state.systemd_unit = p.unit().map(str::to_string);
        state.cgroup_paths = p.paths().to_vec();
        return locked.save(state);
    }
    // Recorded (in the first state) before they exist, with the parents they need, so that
    // `delete` knows them whenever a create dies; the parents made are recorded after, should
    // they differ (another create made one meanwhile).
    let p = undo
        .cgroup
        .insert(planned.context("cgroup placement planned")?);
    match ctx.rootless {
        true => p.make_delegated(crate::rootless::detect())?,
        false => p.make()?,
    };
    crate::testpoint::pause_point("create:cgroups-made");
    // Rootless: only the cgroups this user could make are the container's.
    state.cgroup_paths = p.paths().to_vec();
    if p.created_parents() != state.cgroup_created_parents || p.skipped() {
        state.cgroup_created_parents = p.created_parents();
        locked.save(state)?;
    }
    // The rest once the init exists (Callbacks::cloned).
    p.apply_before_init(limits.resources, &limits.nodes)
}

/// The init: its files in the state directory, its seccomp program, the rootfs bound in the
/// host's mount namespace when it has none of its own; cloned and set up until it parks.
fn start_init(
    ctx: &Context,
    opts: &CreateOptions,
    b: &bundle::Bundle,
    state: &mut State,
    undo: &mut Undo,
    checked: Checked,
    limits: &Limits,
) -> Result<Spawned> {
    let id = state.id.clone();
    let (Some(locked), Some(p)) = (undo.locked.as_ref(), undo.cgroup.as_ref()) else {
        bail!("create: no state or cgroup to start the init in");
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
        let mount = crate::rootfs::host_ns::bind(&b.rootfs)?;
        undo.host_mount = Some((b.rootfs.clone(), mount));
        state.host_rootfs_mount = Some(mount);
        locked.save(state)?;
    }
    let init = InitOptions {
        id: &id,
        spec: &b.spec,
        rootfs: &b.rootfs,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: checked.inherited_fds,
        fifo: &fifo,
        error_file: &error_file,
        console: checked.console,
        state_lock: locked.lock_fd(),
        cgroups: p.placement()?,
        rootless: ctx.rootless,
        seccomp: seccomp.as_ref(),
        hook_state: serde_json::to_value(super::public(state, Status::Creating, String::new()))?,
    };
    crate::testpoint::pause_point("create:before-clone");
    let spawned = process::spawn(
        &init,
        p,
        &mut Callbacks {
            locked,
            state,
            pid: &mut undo.pid,
            cgroup: p,
            limits,
        },
    )?;
    crate::testpoint::pause_point("create:created");
    drop(fifo);
    drop(error_file);
    crate::logging::debug(&format!(
        "create {id}: init {} parked on the exec fifo",
        spawned.pid
    ));
    Ok(spawned)
}

/// This process's pid and start time, recorded as the creator of the container.
pub(super) fn own_identity() -> Result<(i32, u64)> {
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
pub(super) fn own_pid_namespace(spec: &oci_spec::runtime::Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter().any(|n| {
                n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none()
            })
        })
}

pub(super) fn connect(path: &std::path::Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .sys(|| format!("connect to console socket {}", path.display()))?;
    Ok(s.into())
}

/// The parent side of the init's setup, as the container layer sees it.
struct Callbacks<'a> {
    locked: &'a Locked,
    state: &'a mut State,
    pid: &'a mut i32,
    cgroup: &'a Cgroup,
    limits: &'a Limits<'a>,
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
        if self.cgroup.unit().is_some() {
            self.cgroup.start(child)?;
            // Hierarchies systemd does not manage (v1 freezer, cpuset...) get their directory
            // from us, below the same path; the parents that takes are recorded before they
            // exist, as without systemd.
            let planned = self.cgroup.missing_parents();
            if !planned.is_empty() {
                self.state.cgroup_created_parents = planned;
                self.locked.save(self.state)?;
            }
            self.cgroup.make()?;
            let made = self.cgroup.created_parents();
            if made != self.state.cgroup_created_parents {
                self.state.cgroup_created_parents = made;
                self.locked.save(self.state)?;
            }
            // The init waits for Go until now (see process::serve_init): all of it goes on here.
            return self.cgroup.apply(self.limits.resources, &self.limits.nodes);
        }
        // The limits go on while the init sets itself up: it waits for them (CgroupJoined)
        // before anything they govern (scheduler, memory policy, hooks, its program).
        self.cgroup
            .apply_after_init(self.limits.resources, &self.limits.nodes)
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
