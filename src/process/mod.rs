//! How a process gets into a container: the clone, the parent's side of the setup (id maps, cgroup),
//! the channel to the init, and the init sequence itself (`init`).

pub mod channel;
mod clone;
mod exe_remap;
pub mod exec;
pub mod fds;
pub mod fifo;
mod idmap;
mod init;
mod lookpath;
pub mod mempolicy;
mod pdeath;
mod prepare;
mod rlimits;
mod sched;
pub mod sealed_exe;
mod title;
mod user;

use crate::cgroups::{Cgroup, Placement, SelfJoin};
use crate::namespaces::{self, CLONE_NEWTIME};
use anyhow::{bail, Context, Result};
use channel::{Channel, FromInit, ToInit};
use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

/// Everything the init needs; the child reads it from its copy of the parent's memory.
pub struct InitOptions<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Descriptors from 3 that the process inherits: LISTEN_FDS's, then `--preserve-fds`.
    pub preserve_fds: i32,
    /// The exec fifo, opened read-write so that the init can block reading it.
    pub fifo: &'a OwnedFd,
    /// A file in the state dir for the init's last words once `create` has returned: a failed
    /// startContainer hook or exec, which `start` must report.
    pub error_file: &'a OwnedFd,
    /// Where to send the pty master when `process.terminal` is set.
    pub console: Console,
    /// The state hooks get on stdin, without pid and status (the init fills them in).
    pub hook_state: serde_json::Value,
    /// The descriptor holding the `flock` of the container's state directory. The init closes its
    /// copy first thing: a flock lasts while any descriptor of it is open, so an init that
    /// outlived a killed `create` would otherwise lock every later command out.
    pub state_lock: RawFd,
    /// The container's cgroups, for `cgroup` mounts (read by the parent: inside a cgroup
    /// namespace, mountinfo no longer shows the host's hierarchy roots).
    pub cgroups: &'a Placement,
    /// Rootless mode: the id maps may need newuidmap/newgidmap.
    pub rootless: bool,
    /// linux.seccomp's program, compiled (or taken from the cache) by the runtime.
    pub seccomp: Option<&'a crate::seccomp::Compiled>,
}

pub enum Console {
    None,
    /// `--console-socket`: a connected unix socket.
    Socket(OwnedFd),
    /// Foreground `run`: the master comes back over the init channel.
    Parent,
}

pub struct Spawned {
    pub pid: i32,
    pub channel: Channel,
    pub console_master: Option<OwnedFd>,
}

/// Clone the init into its namespaces and wait until it is parked on the exec fifo.
/// The container layer's part of the parent side of the setup.
pub trait Parent {
    /// Right after the clone, to record the pid before anything else can fail.
    fn cloned(&mut self, pid: i32) -> Result<()>;
    /// The init's mounts are made, pivot_root is next: the prestart and createRuntime hooks.
    fn runtime_hooks(&mut self) -> Result<()>;
    /// The init is ready to park: record the container as created. Until this returns, the init
    /// dies with us (PR_SET_PDEATHSIG), so a killed `create` leaves no init nobody knows of.
    fn parked(&mut self) -> Result<()>;
}

/// `parent.cloned` runs in the parent right after the clone (to record the pid before anything else
/// can fail). On error the init is killed and reaped.
pub fn spawn(opts: &InitOptions, cgroup: &Cgroup, parent: &mut dyn Parent) -> Result<Spawned> {
    let plan = namespaces::plan(opts.spec)?;
    check_sysctls(opts.spec, &plan)?;
    let mount_userns = idmap::mount_userns(opts.spec)?;
    let (parent_end, child_end) = channel::pair()?;
    let (restore, clone_flags) = enter_for_children(opts.spec, &plan)?;
    // On cgroup v2 the init is born inside its cgroup: it never runs unconfined.
    let cgroup_dir = cgroup.open_v2_dir();
    let self_join = cgroup.self_join();
    // The init is born not dumpable (and stays so until it execs the user's program): the
    // container's processes, or a neighbour sharing its PID namespace, may not open its /proc
    // files (exe, fd, environ, mem) nor ptrace it, not even for an instant after the clone.
    init::set_dumpable(false);
    let forked = clone::clone_into(
        clone_flags.bits() as u64,
        cgroup_dir.as_ref().map(|(_, f)| f),
    );
    if let Ok((clone::Forked::Child, _)) = forked {
        drop(parent_end);
        drop(restore);
        init::run(opts, &plan, child_end, &mount_userns, self_join)
    }
    restore.back()?;
    let (clone::Forked::Parent(pid), in_v2_cgroup) = forked? else {
        unreachable!("the child never returns from init::run")
    };
    drop(child_end);

    let joining = Joining {
        cgroup,
        self_join,
        born_in: cgroup_dir
            .as_ref()
            .filter(|_| in_v2_cgroup)
            .map(|(d, _)| d.as_path()),
    };
    match serve_init(opts, &plan, pid, &parent_end, joining, parent) {
        Ok(console_master) => Ok(Spawned {
            pid,
            channel: parent_end,
            console_master,
        }),
        Err(e) => {
            kill_and_reap(pid);
            // The init may have failed first, and then refused what we sent or wrote: its
            // error is the one to report.
            Err(init_error(&parent_end).unwrap_or(e))
        }
    }
}

/// linux.sysctl: only for namespaces the container has of its own.
fn check_sysctls(spec: &Spec, plan: &namespaces::Plan) -> Result<()> {
    let Some(sysctls) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    // A namespace joined by path counts only if it is not the runtime's (the host's) own.
    let has = |ns: &str| {
        plan.new.iter().any(|f| namespaces::name(f) == ns)
            || plan
                .join
                .iter()
                .any(|(f, p)| namespaces::name(*f) == ns && !namespaces::is_own(*f, p))
    };
    crate::rootfs::sysctl::validate(sysctls, has)
}

/// PID and time namespaces given by path apply only to children: join them for the clone and
/// return to our own afterwards (the [`clone::ReturnTo`]). Also the flags the clone makes.
fn enter_for_children(
    spec: &Spec,
    plan: &namespaces::Plan,
) -> Result<(clone::ReturnTo, CloneFlags)> {
    let time = CloneFlags::from_bits_retain(CLONE_NEWTIME);
    let mut restore = clone::ReturnTo::default();
    for (f, path) in &plan.join {
        if *f == CloneFlags::CLONE_NEWPID || *f == time {
            restore.keep(*f)?;
            namespaces::join(*f, path)?;
        }
    }
    // Cgroup namespaces are made by the init once it is in its cgroup.
    let mut clone_flags = plan.new - CloneFlags::CLONE_NEWCGROUP;
    // Time offsets must be written before any process enters the namespace: unshare it for our
    // children, write them, and let the clone enter it.
    if let Some(offsets) = time_offsets(spec) {
        if !plan.new.contains(time) {
            bail!("linux.timeOffsets: needs a new time namespace in linux.namespaces");
        }
        restore.keep(time)?;
        nix::sched::unshare(time).context("create time namespace")?;
        crate::procfs::ProcFs::host()?
            .write("self/timens_offsets", offsets.as_bytes())
            .context("write linux.timeOffsets")?;
        clone_flags -= time;
    }
    Ok((restore, clone_flags))
}

/// A new process on its way into its cgroups: those it joins by itself (`self_join`), the v2
/// one it was born in (`born_in`), and the rest, which the runtime writes.
struct Joining<'a> {
    cgroup: &'a Cgroup,
    self_join: SelfJoin,
    born_in: Option<&'a Path>,
}

impl Joining<'_> {
    /// The runtime's part; the `tasks` files the process joined through are closed.
    fn finish(self, pid: i32) -> Result<()> {
        self.cgroup.add(pid, &self.self_join, self.born_in)
    }
}

/// The parent's side of the init's setup, from the clone until the init parks.
fn serve_init(
    opts: &InitOptions,
    plan: &namespaces::Plan,
    pid: i32,
    chan: &Channel,
    joining: Joining,
    parent: &mut dyn Parent,
) -> Result<Option<OwnedFd>> {
    let maps_ids = plan.new.contains(CloneFlags::CLONE_NEWUSER);
    // Nothing for the init to wait for: its setup overlaps our record of it (should that fail,
    // it is killed; until it is recorded it dies with us). Not with systemd, which moves it into
    // its unit only now (until then it would set up, and be charged, in the caller's cgroups).
    let early = !maps_ids && joining.cgroup.unit().is_none();
    if early {
        chan.send(&ToInit::Go, None)?;
    }
    parent.cloned(pid)?;
    if maps_ids {
        if opts.rootless {
            chan.expect_from_child(
                FromInit::MapIds,
                "container init exited before its id maps were written",
            )?;
        }
        idmap::write(pid, opts.spec, opts.rootless)?;
    }
    if !early {
        chan.send(&ToInit::Go, None)?;
    }
    // The init joins its v1 cgroups itself (SelfJoin); the rest, if any, are ours to write.
    // On v1 that takes an RCU grace period (milliseconds): the init sets itself up
    // meanwhile, and waits for CgroupJoined before hooks and before it loads seccomp and
    // becomes the container's user.
    joining.finish(pid)?;
    // Sent to an init that already failed, this fails: wait_ready then reports its error.
    let _ = chan.send(&ToInit::CgroupJoined, None);
    let console_master = wait_ready(chan, Some(&mut || parent.runtime_hooks()), "container init")?;
    parent.parked()?;
    // The init clears its death signal only now, and says so before we may exit.
    chan.send(&ToInit::Recorded, None)?;
    chan.expect_from_child(
        FromInit::Parked,
        "container init exited before parking on the exec fifo",
    )?;
    Ok(console_master)
}

/// The error a dead init left on the channel, if any.
fn init_error(chan: &Channel) -> Option<anyhow::Error> {
    while let Ok(Some((msg, _))) = chan.recv::<FromInit>() {
        if let FromInit::Error(m) = msg {
            return Some(anyhow::anyhow!("{m}"));
        }
    }
    None
}

/// Serve the child's setup until it reports Ready: keep the pty master it may send, run the
/// runtime-side hooks when it asks (`hooks`; a child without hooks must not ask), and turn its
/// error or its silent death into ours.
fn wait_ready(
    chan: &Channel,
    mut hooks: Option<&mut dyn FnMut() -> Result<()>>,
    who: &str,
) -> Result<Option<OwnedFd>> {
    let mut console_master = None;
    loop {
        match chan.recv::<FromInit>()? {
            Some((FromInit::Ready, _)) => return Ok(console_master),
            Some((FromInit::ConsoleMaster, fd)) => console_master = fd,
            Some((FromInit::RuntimeHooks, _)) => match hooks.as_mut() {
                Some(run) => {
                    run()?;
                    chan.send(&ToInit::HooksDone, None)?;
                }
                None => bail!("{who}: asked for runtime hooks"),
            },
            Some((FromInit::Error(msg), _)) => bail!("{msg}"),
            Some((FromInit::Parked, _)) => bail!("{who}: parked before it was ready"),
            Some((m @ (FromInit::Forked(..) | FromInit::MapIds), _)) => {
                bail!("{who}: unexpected {m:?}")
            }
            None => bail!("{who} exited during setup without reporting an error"),
        }
    }
}

/// linux.timeOffsets rendered for /proc/<pid>/timens_offsets, if any.
fn time_offsets(spec: &Spec) -> Option<String> {
    let offsets = spec.linux().as_ref()?.time_offsets().as_ref()?;
    if offsets.is_empty() {
        return None;
    }
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by_key(|(k, _)| k.as_str());
    Some(
        clocks
            .iter()
            .map(|(clock, o)| {
                format!(
                    "{clock} {} {}\n",
                    o.secs().unwrap_or(0),
                    o.nanosecs().unwrap_or(0)
                )
            })
            .collect(),
    )
}

/// The parent's side of a child's setup: a failed one leaves no child behind.
pub(super) fn reap_on_error<T>(pid: i32, result: Result<T>) -> Result<T> {
    if result.is_err() {
        kill_and_reap(pid);
    }
    result
}

pub fn kill_and_reap(pid: i32) {
    let p = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(p, None);
}
