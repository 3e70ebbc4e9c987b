//! The init sequence, run in the cloned child. Order matters (spec and CVE history): namespaces,
//! rootfs and pivot, hostname and sysctls, rlimits, user and capabilities, cwd, no_new_privs,
//! seccomp, fds closed, then park on the exec fifo and exec.

use super::channel::{Channel, FromInit, ToInit};
use super::prepare::{self, cstring, Exec};
use super::{user, Console, InitOptions};
use crate::namespaces::Plan;
use crate::{rootfs, tty};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Never returns: execs the user's process or exits.
pub fn run(
    opts: &InitOptions,
    plan: &Plan,
    chan: Channel,
    mount_userns: &[Option<OwnedFd>],
    cgroups: crate::cgroups::SelfJoin,
) -> ! {
    // A panic must end this process, never unwind into the runtime's frames it was cloned from.
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_init(opts, plan, chan, mount_userns, cgroups)
    }))
    .unwrap_or(1);
    crate::sys::exit_now(code)
}

fn run_init(
    opts: &InitOptions,
    plan: &Plan,
    chan: Channel,
    mount_userns: &[Option<OwnedFd>],
    cgroups: crate::cgroups::SelfJoin,
) -> i32 {
    // Die with the parent while the setup is going on. Had it died before this, the channel
    // is closed already and the first recv ends the setup.
    super::pdeath::set();
    // First: while we have a single thread (see SelfJoin), and before anything the cgroups
    // should account for.
    if let Err(e) = cgroups.join() {
        last_words(opts, &chan, &crate::errno::words(&e));
        return 1;
    }
    // Our copy of the runtime's lock: nothing in this process uses it.
    crate::sys::close_number(opts.state_lock);
    // Nothing of the runtime's caller may reach the container: descriptors the init does not
    // need (the cgroup directory it was cloned into, a manager's sockets...), the caller's
    // command line and environment.
    if let Err(e) =
        super::fds::close_others(opts.preserve_fds, &needed_fds(opts, &chan, mount_userns))
    {
        last_words(opts, &chan, &crate::errno::words(&e));
        return 1;
    }
    super::title::scrub();
    // The runtime made us non-dumpable before the clone. A rootless runtime writes our id maps
    // through newuidmap, which wants our /proc files to be the caller's: until then only.
    if opts.rootless && plan.new.contains(CloneFlags::CLONE_NEWUSER) {
        set_dumpable(true);
        if chan.send(&FromInit::MapIds, None).is_err() {
            return 1;
        }
    }
    // `run` forwards signals through a handler that the clone copied: the init (the rt code
    // up to exec) must die of them as any process would.
    crate::signal::forward::reset_in_child();
    match setup(opts, plan, &chan, mount_userns) {
        Ok(exec) => {
            let err = exec.exec();
            let msg = format!("exec {:?}: {}", exec.path, crate::errno::describe_io(&err));
            last_words(opts, &chan, &msg);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("rt: {msg}\n").as_bytes(),
            );
            127
        }
        Err(e) => {
            last_words(opts, &chan, &crate::errno::words(&e));
            1
        }
    }
}

/// What the init uses of what it was cloned with.
fn needed_fds(opts: &InitOptions, chan: &Channel, mount_userns: &[Option<OwnedFd>]) -> Vec<RawFd> {
    let mut keep = vec![
        chan.raw_fd(),
        opts.fifo.as_raw_fd(),
        opts.error_file.as_raw_fd(),
    ];
    if let Console::Socket(s) = &opts.console {
        keep.push(s.as_raw_fd());
    }
    keep.extend(mount_userns.iter().flatten().map(|f| f.as_raw_fd()));
    // Until it parks (logging::detach).
    keep.extend(crate::logging::file_fd());
    keep.extend(crate::testpoint::fd());
    keep
}

/// Report a failure to `create` (over the channel) and to a later `start` (in the error file).
fn last_words(opts: &InitOptions, chan: &Channel, msg: &str) {
    let words = FromInit::error(msg);
    let _ = chan.send(&words, None);
    if let FromInit::Error(m) = &words {
        let _ = nix::unistd::write(opts.error_file, m.as_bytes());
    }
}

fn setup(
    opts: &InitOptions,
    plan: &Plan,
    chan: &Channel,
    mount_userns: &[Option<OwnedFd>],
) -> Result<Exec> {
    let spec = opts.spec;
    let process = spec.process().as_ref().context("process missing")?;
    chan.expect(ToInit::Go, "init", "runtime exited during setup")?;
    // The id maps are written: not dumpable again until exec (see run_init).
    set_dumpable(false);
    crate::testpoint::pause_point("create:init-setup");
    let cgroup = CgroupJoined {
        chan,
        joined: std::cell::Cell::new(false),
    };
    enter_namespaces(plan, &cgroup)?;
    // Every write through /proc from here on goes through a procfs of our own (see procfs),
    // made when first needed.
    let proc = crate::procfs::Lazy::default();
    if let Some(adj) = process.oom_score_adj() {
        proc.get()?
            .write("self/oom_score_adj", adj.to_string().as_bytes())
            .with_context(|| format!("set process.oomScoreAdj {adj}"))?;
    }
    let seccomp_listener = make_rootfs(opts, plan, chan, mount_userns, &cgroup)?;
    set_names(spec, plan)?;
    if !opts.no_new_keyring {
        join_session_keyring(opts.id)?;
    }
    let exec = prepare::prepare(prepare::Options {
        process,
        linux: spec.linux().as_ref(),
        preserve_fds: opts.preserve_fds,
        keep_fds: &[
            chan.raw_fd(),
            std::os::fd::AsRawFd::as_raw_fd(opts.fifo),
            std::os::fd::AsRawFd::as_raw_fd(opts.error_file),
        ],
        seccomp_listener,
        seccomp: opts.seccomp,
        in_cgroups: &|| cgroup.wait(),
        proc: &proc,
    })?;
    drop(proc);
    park(opts, chan)?;
    if let Some(list) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_deref())
    {
        crate::hooks::run_all_with_env(
            "startContainer",
            list,
            &hook_state(opts, "created"),
            process.env().as_deref().unwrap_or(&[]),
        )?;
    }
    crate::signal::reset_all();
    Ok(exec)
}

/// The parent puts us in the cgroups we could not join ourselves meanwhile (on v1 that takes an
/// RCU grace period) and applies their limits. Only hooks and the last steps (scheduler, memory
/// policy, seccomp load, user switch, Ready) wait for it, so that mounts and the seccomp
/// compilation overlap it.
struct CgroupJoined<'a> {
    chan: &'a Channel,
    joined: std::cell::Cell<bool>,
}

impl CgroupJoined<'_> {
    /// Wait until we are in every cgroup (at once when we are already).
    fn wait(&self) -> Result<()> {
        if self.joined.get() {
            return Ok(());
        }
        self.chan
            .expect(ToInit::CgroupJoined, "init", "runtime exited during setup")?;
        self.joined.set(true);
        Ok(())
    }
}

/// The container's namespaces: those joined by path (the runtime joined the PID and time ones
/// for the clone), a cgroup namespace rooted at the container's cgroup, a session of its own.
fn enter_namespaces(plan: &Plan, cgroup: &CgroupJoined) -> Result<()> {
    if plan.new.contains(CloneFlags::CLONE_NEWUSER) {
        super::pdeath::keep(user::become_namespace_root);
    }
    for (f, path) in &plan.join {
        if *f == CloneFlags::CLONE_NEWPID || f.bits() == crate::namespaces::CLONE_NEWTIME {
            continue; // joined by the parent for us
        }
        crate::namespaces::join(*f, path)?;
    }
    if plan.new.contains(CloneFlags::CLONE_NEWCGROUP) {
        // The namespace's root is the cgroup we are in when we make it.
        cgroup.wait()?;
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("create cgroup namespace")?;
    }
    // Session leader, so that a terminal can become our controlling one.
    nix::unistd::setsid().context("setsid")?;
    Ok(())
}

/// The state the hooks run in the container get: the runtime's, with our pid and `status`.
fn hook_state(opts: &InitOptions, status: &str) -> serde_json::Value {
    let mut s = opts.hook_state.clone();
    s["status"] = status.into();
    s["pid"] = nix::unistd::getpid().as_raw().into();
    s
}

/// The root filesystem, with the createRuntime (runtime side) and createContainer hooks before
/// the pivot and the console after it. Also the seccomp notify listener, connected first.
fn make_rootfs(
    opts: &InitOptions,
    plan: &Plan,
    chan: &Channel,
    mount_userns: &[Option<OwnedFd>],
    cgroup: &CgroupJoined,
) -> Result<Option<crate::seccomp::Listener>> {
    let spec = opts.spec;
    let process = spec.process().as_ref().context("process missing")?;
    let in_userns = plan.new.contains(CloneFlags::CLONE_NEWUSER)
        || plan
            .join
            .iter()
            .any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER);
    let hooks = spec.hooks().as_ref();
    let mut before_pivot = || -> Result<()> {
        let Some(h) = hooks else { return Ok(()) };
        // Hook processes are children of ours: they start in the container's cgroup.
        cgroup.wait()?;
        let runtime_side = [h.prestart(), h.create_runtime()]
            .iter()
            .any(|l| l.as_ref().is_some_and(|v| !v.is_empty()));
        if runtime_side {
            chan.send(&FromInit::RuntimeHooks, None)?;
            chan.expect(
                ToInit::HooksDone,
                "init",
                "runtime exited while running hooks",
            )?;
        }
        let list = h.create_container().as_deref().unwrap_or(&[]);
        // Lifecycle step 5, after the environment is made: "created" (see Callbacks::runtime_hooks).
        crate::hooks::run_all_with_env(
            "createContainer",
            list,
            &hook_state(opts, "created"),
            process.env().as_deref().unwrap_or(&[]),
        )
    };
    // As runc: once pivoted, before the root (and so maybe /dev) turns read-only, since the
    // slave is bind-mounted on /dev/console.
    let mut console = || -> Result<()> {
        if !process.terminal().unwrap_or(false) {
            return Ok(());
        }
        let master = tty::setup_console(process.console_size().as_ref(), true)?;
        match &opts.console {
            Console::Socket(sock) => tty::send_master(sock, &master),
            Console::Parent => chan.send(
                &FromInit::ConsoleMaster,
                Some(std::os::fd::AsRawFd::as_raw_fd(&master)),
            ),
            Console::None => bail!("process.terminal is set but no console socket was given"),
        }
    };
    // listenerPath is a host path: connect while it still resolves.
    let seccomp_listener = crate::seccomp::connect_listener(
        spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        &hook_state(opts, "creating"),
    )?;
    rootfs::setup(
        spec,
        opts.rootfs,
        &rootfs::Options {
            no_pivot: opts.no_pivot,
            host_ns: !crate::namespaces::has(plan, CloneFlags::CLONE_NEWNS),
            in_userns,
            cgroups: opts.cgroups.clone(),
            own_cgroupns: crate::namespaces::has(plan, CloneFlags::CLONE_NEWCGROUP),
            mount_label: spec
                .linux()
                .as_ref()
                .and_then(|l| l.mount_label().clone())
                .filter(|l| !l.is_empty() && crate::lsm::selinux_enabled()),
            mount_userns: mount_userns
                .iter()
                .map(|f| f.as_ref().map(std::os::fd::AsRawFd::as_raw_fd))
                .collect(),
        },
        &mut before_pivot,
        &mut console,
    )?;
    if crate::namespaces::has(plan, CloneFlags::CLONE_NEWNS) {
        reopen_dev_null();
    }
    Ok(seccomp_listener)
}

/// process.hostname and domainname, which need a UTS namespace of the container's.
fn set_names(spec: &oci_spec::runtime::Spec, plan: &Plan) -> Result<()> {
    let has_uts = plan.new.contains(CloneFlags::CLONE_NEWUTS)
        || plan
            .join
            .iter()
            .any(|(f, _)| *f == CloneFlags::CLONE_NEWUTS);
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        if !has_uts {
            bail!("hostname {h:?}: setting a hostname requires a private UTS namespace");
        }
        nix::unistd::sethostname(h).with_context(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        if !has_uts {
            bail!("domainname {d:?}: setting a domainname requires a private UTS namespace");
        }
        set_domainname(d)?;
    }
    Ok(())
}

/// Ready: wait until `create` has recorded the container, then outlive it, parked on the exec
/// fifo until `start` opens it.
fn park(opts: &InitOptions, chan: &Channel) -> Result<()> {
    // Still dying with `create` (see pdeath) until it has recorded the container.
    chan.send(&FromInit::Ready, None)?;
    match chan.recv_plain::<ToInit>()? {
        Some(ToInit::Recorded) => {}
        Some(m) => bail!("init channel: unexpected {m:?}"),
        None => bail!("runtime exited before recording the container"),
    }
    // From here on the init outlives `create`, which exits once it reads Parked. The container
    // is recorded, so a lost Parked is harmless: `delete` finds us.
    super::pdeath::clear();
    // Waiting in the container: the log file (a host file) is closed; later failures go to
    // the error file, which `start` reports.
    crate::logging::detach();
    let _ = chan.send(&FromInit::Parked, None);
    if !super::fifo::wait(opts.fifo) {
        crate::sys::exit_now(1)
    }
    Ok(())
}

/// As runc: stdio that is the host's null device becomes the container's own `/dev/null`, so
/// that every descriptor of the process lies on a mount of its namespace (CRIU cannot dump a
/// descriptor whose mount it cannot see: "Can't lookup mount=N for fd=0 path=/dev/null").
/// Best effort: without a null device in the container the descriptors stay as they are.
fn reopen_dev_null() {
    let is_null = |st: &nix::sys::stat::FileStat| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
    };
    // Most managers pass pipes: then nothing is opened at all.
    let nulls: Vec<i32> = (0..3)
        .filter(|&fd| crate::sys::fstat_number(fd).is_ok_and(|st| is_null(&st)))
        .collect();
    if nulls.is_empty() {
        return;
    }
    let Ok(null) = nix::fcntl::open(
        "/dev/null",
        // O_NOCTTY: were it a terminal after all, the init (a session leader without one) must
        // not take it as its controlling terminal; O_NONBLOCK: no device open may block us.
        nix::fcntl::OFlag::O_RDWR
            | nix::fcntl::OFlag::O_CLOEXEC
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_NOCTTY
            | nix::fcntl::OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    ) else {
        return;
    };
    if !nix::sys::stat::fstat(&null).is_ok_and(|st| is_null(&st)) {
        return;
    }
    for fd in nulls {
        let _ = crate::sys::dup_onto(std::os::fd::AsFd::as_fd(&null), fd);
    }
}

/// PR_SET_DUMPABLE: a process that is not dumpable has /proc files only the host's root can
/// open (exe, fd, environ, mem, root), and cannot be ptraced by the container's processes.
pub(super) fn set_dumpable(on: bool) {
    let _ = nix::sys::prctl::set_dumpable(on);
}

fn set_domainname(d: &str) -> Result<()> {
    crate::sys::setdomainname(d)
        .map_err(std::io::Error::from)
        .with_context(|| format!("setdomainname {d:?}"))
}

fn join_session_keyring(id: &str) -> Result<()> {
    let name = cstring(&format!("_ses.{id}"), "keyring name")?;
    match crate::sys::join_session_keyring(&name) {
        // Kernels without keys, or seccomp'd hosts: runc carries on the same way.
        Ok(()) | Err(nix::errno::Errno::ENOSYS | nix::errno::Errno::EACCES) => Ok(()),
        Err(e) => Err(std::io::Error::from(e)).context("join a new session keyring"),
    }
}
