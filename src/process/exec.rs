//! `rt exec`'s process, made in two steps as runc's nsexec does: a first child, outside the
//! container's PID namespace (so none of its processes sees it), joins the init's PID, time and
//! mount namespaces (through a pidfd) and its root, then forks the process as the runtime's child,
//! born in the PID namespace (and its v2 cgroup) with the container's root already: it is never
//! seen there with the host's root or the caller's cwd (/proc/<pid>/root, cwd). The process joins
//! the remaining namespaces and its cgroups, then goes through the same final steps as the init
//! (`prepare`) and execs.

use super::channel::{self, Channel, FromInit, ToInit};
use super::prepare::{self, Exec};
use super::{clone, reap_on_error, Console, Spawned};
use crate::cgroups::{Cgroup, SelfJoin};
use crate::errno::SysContext;
use crate::namespaces::CLONE_NEWTIME;
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, Process};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

pub struct ExecOptions<'a> {
    /// A pidfd of the container's init: pins it while we join its namespaces.
    pub init_pidfd: &'a OwnedFd,
    pub init_pid: i32,
    /// The namespaces the container has (created or joined): the exec joins the init's.
    pub namespaces: CloneFlags,
    pub process: &'a Process,
    pub linux: Option<&'a Linux>,
    /// Cgroup directories to join (the process writes v1 `tasks` itself, see SelfJoin; the
    /// runtime writes `cgroup.procs` in the others).
    pub cgroups: &'a Cgroup,
    pub console: Console,
    pub preserve_fds: i32,
    /// linux.seccomp's program, compiled (or taken from the cache) by the runtime.
    pub seccomp: Option<&'a crate::seccomp::Compiled>,
    /// The container's OCI state, for a seccomp notify listener.
    pub state: serde_json::Value,
}

fn setns(fd: &OwnedFd, flags: CloneFlags, what: &str) -> Result<()> {
    nix::sched::setns(fd.as_fd(), flags).sys(|| format!("join the container's {what}"))
}

/// Start the process; returns once it is ready to exec (its exec error, if any, follows on the
/// channel; the channel closes when the exec succeeds).
pub fn spawn(o: &ExecOptions) -> Result<Spawned> {
    let root = match nix::fcntl::open(
        format!("/proc/{}/root", o.init_pid).as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(fd) => fd,
        // Rootless, into a created container: its init is not dumpable until it execs.
        Err(nix::errno::Errno::EACCES) if !nix::unistd::geteuid().is_root() => bail!(
            "cannot exec in a container whose process has not started yet (start it first): \
             its init (pid {}) keeps its /proc files to the host's root until then",
            o.init_pid
        ),
        Err(e) => {
            return Err(e)
                .sys(|| format!("open the root of the container's init (pid {})", o.init_pid))
        }
    };
    let (parent_end, child_end) = channel::pair()?;
    // The process moves itself into the v1 cgroups (no RCU grace period, see SelfJoin).
    let self_join = o.cgroups.self_join();
    // On cgroup v2 the process is born in its cgroup, unless it must first run on the
    // execCPUAffinity.initial CPUs outside it (the first child never is: it would count against
    // pids.max).
    // Nor in a user namespace: the kernel checks CLONE_INTO_CGROUP with its credentials.
    let v2 = match affinity(o.process, true) {
        Some(_) => None,
        None if o.namespaces.contains(CloneFlags::CLONE_NEWUSER) => None,
        None => o.cgroups.open_v2_dir(),
    };
    // Born not dumpable: the container's processes may not reach our /proc files (exe, fd,
    // mem) nor ptrace us before we exec, not even for an instant after the clone.
    super::init::set_dumpable(false);
    crate::testpoint::pause_point("exec:before-clone");
    let first = match clone::clone(0, None)? {
        clone::Forked::Child => {
            drop(parent_end);
            child(o, &root, child_end, v2.as_ref().map(|(_, f)| f), self_join)
        }
        clone::Forked::Parent(pid) => pid,
    };
    drop(child_end);
    // The first child is reaped by now, whatever the answer.
    let (pid, in_v2_cgroup) = forked_pid(&parent_end, first)?;
    let result = (|| -> Result<Spawned> {
        crate::testpoint::pause_point("exec:cloned");
        // process.execCPUAffinity.initial: before the move into the container's cgroup.
        if let Some(initial) = affinity(o.process, true) {
            super::sched::set_affinity(pid, initial, "process.execCPUAffinity.initial")?;
        }
        super::Joining {
            cgroup: o.cgroups,
            self_join,
            born_in: v2
                .as_ref()
                .filter(|_| in_v2_cgroup)
                .map(|(d, _)| d.as_path()),
        }
        .finish(pid)?;
        parent_end.send(&ToInit::Go, None)?;
        let console_master = super::wait_ready(&parent_end, None, "the exec'd process")?;
        Ok(Spawned {
            pid,
            channel: parent_end,
            console_master,
        })
    })();
    reap_on_error(pid, result)
}

/// process.execCPUAffinity's `initial` or `final` list, when set and not empty.
fn affinity(p: &Process, initial: bool) -> Option<&str> {
    let a = p.exec_cpu_affinity().as_ref()?;
    let list = if initial {
        a.initial()
    } else {
        a.cpu_affinity_final()
    };
    list.as_deref().filter(|l| !l.trim().is_empty())
}

/// The pid of the process the first child forked (and the first child reaped), and whether it was
/// born in its v2 cgroup.
fn forked_pid(chan: &Channel, first: i32) -> Result<(i32, bool)> {
    let msg = chan.recv::<FromInit>();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(first), None);
    match msg? {
        Some((FromInit::Forked(pid, born_in), _)) => Ok((pid, born_in)),
        Some((FromInit::Error(m), _)) => bail!("{m}"),
        Some((m, _)) => bail!("exec channel: unexpected {m:?}"),
        None => bail!("the exec'd process exited while joining the container's namespaces"),
    }
}

/// The first child: the runtime's side of the setup, then [`join_and_fork`]; in the process it
/// forks, [`setup`] and the exec.
fn child(
    o: &ExecOptions,
    root: &OwnedFd,
    chan: Channel,
    v2: Option<&std::fs::File>,
    cgroups: SelfJoin,
) -> ! {
    // Die with the runtime while the setup goes on (see pdeath); and until the exec, keep the
    // container's processes out of our /proc files (memory, fds, exe).
    let guard = || {
        super::pdeath::set();
        super::init::set_dumpable(false);
    };
    guard();
    // A foreground `exec` forwards signals through a handler that the clone copied: until it
    // execs, this process must die of them as any process would.
    crate::signal::forward::reset_in_child();
    // Nothing of the caller's goes into the container with it: its log (a host file; errors
    // go over the channel), command line and environment, and no descriptor it does not use.
    crate::logging::detach();
    super::title::scrub();
    let mut keep = needed_fds(o, root, &chan, &cgroups);
    keep.extend(v2.map(|f| f.as_raw_fd()));
    let fail = |e: anyhow::Error| -> ! {
        let _ = chan.send(&FromInit::error(&crate::errno::words(&e)), None);
        crate::sys::exit_now(1)
    };
    if let Err(e) = super::fds::close_others(o.preserve_fds, &keep) {
        fail(e)
    }
    let joined = match join_and_fork(o, root, &chan, v2) {
        Ok(Some(j)) => j,
        Ok(None) => crate::sys::exit_now(0),
        Err(e) => fail(e),
    };
    // The forked process, the runtime's child (CLONE_PARENT): its own death signal.
    guard();
    match setup(o, root, &chan, joined, cgroups) {
        Ok(exec) => {
            crate::signal::reset_all();
            let err = exec.exec();
            let msg = format!("exec {:?}: {}", exec.path, crate::errno::describe_io(&err));
            let _ = chan.send(&FromInit::error(&msg), None);
            crate::sys::exit_now(127)
        }
        Err(e) => fail(e),
    }
}

/// The first step: join the PID, time and mount namespaces and the container's root, then fork
/// the process, born in the PID namespace (and in `v2`, its cgroup), as a sibling (the runtime's
/// child). `Some` in the process, with the namespaces it has left to join; `None` in the first
/// child once it has sent the pid.
fn join_and_fork(
    o: &ExecOptions,
    root: &OwnedFd,
    chan: &Channel,
    v2: Option<&std::fs::File>,
) -> Result<Option<Joined>> {
    // listenerPath is a host path: connect before entering the container's mount namespace.
    // No procfs handle is taken here: one of the host's PID namespace, inherited by the process,
    // would show the host's processes (and their roots) to whoever reaches its descriptors.
    let listener =
        crate::seccomp::connect_listener(o.linux.and_then(|l| l.seccomp().as_ref()), &o.state)?;
    // Test builds with a pause point asked for only: the process's host pid for the marker.
    let host_proc = crate::testpoint::active()
        .then(|| crate::procfs::ProcFs::private().ok())
        .flatten();
    let userns = o.namespaces.contains(CloneFlags::CLONE_NEWUSER);
    let early = o.namespaces
        & (CloneFlags::CLONE_NEWPID
            | CloneFlags::from_bits_retain(CLONE_NEWTIME)
            | CloneFlags::CLONE_NEWNS);
    let joined_early = early.is_empty()
        || match nix::sched::setns(o.init_pidfd.as_fd(), early) {
            Ok(()) => true,
            // A rootless runtime may join them only from inside the container's user namespace.
            Err(nix::errno::Errno::EPERM) if userns => false,
            Err(e) => return Err(e).sys(|| "join the container's pid and mount namespaces"),
        };
    let (rest, cgroup) = if joined_early {
        // The process joins the user namespace itself, which cannot be done from a chroot.
        if !userns {
            enter_root(root)?;
        }
        (o.namespaces - early, v2)
    } else {
        // Entering a user namespace changes our credentials.
        super::pdeath::keep(|| setns(o.init_pidfd, o.namespaces, "namespaces"))?;
        enter_root(root)?;
        (CloneFlags::empty(), None)
    };
    match clone::clone_into(libc::CLONE_PARENT as u64, cgroup)? {
        (clone::Forked::Child, _) => {
            if let Some(hp) = host_proc {
                crate::testpoint::forked_as(|| {
                    let stat = hp.read_to_string("self/stat").ok()?;
                    stat.split(' ').next()?.parse().ok()
                });
            }
            // Born in it: the cgroup directory is no business of ours any more.
            if let Some(f) = v2 {
                crate::sys::close_number(f.as_raw_fd());
            }
            // A procfs of the container's PID namespace, which we were born in (see procfs).
            let proc = crate::procfs::ProcFs::private()?;
            Ok(Some(Joined {
                listener,
                proc,
                rest,
            }))
        }
        (clone::Forked::Parent(pid), born_in) => {
            chan.send(&FromInit::Forked(pid, born_in), None)?;
            Ok(None)
        }
    }
}

/// The init's root, which is not the mount namespace's root under --no-pivot.
fn enter_root(root: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(root.as_fd()).sys(|| "fchdir to the container's root")?;
    nix::unistd::chroot(".").sys(|| "chroot to the container's root")?;
    nix::unistd::chdir("/").sys(|| "chdir /")
}

/// What the first step hands the process it forks.
struct Joined {
    listener: Option<crate::seccomp::Listener>,
    proc: crate::procfs::ProcFs,
    /// The namespaces the process joins itself (those that apply to the caller only).
    rest: CloneFlags,
}

/// What the process uses of the runtime's descriptors: the channel, the container's root and
/// init, the cgroup files it joins by itself, a console socket.
fn needed_fds(o: &ExecOptions, root: &OwnedFd, chan: &Channel, cgroups: &SelfJoin) -> Vec<RawFd> {
    let mut keep = vec![chan.raw_fd(), root.as_raw_fd(), o.init_pidfd.as_raw_fd()];
    keep.extend(cgroups.fds());
    keep.extend(crate::testpoint::fd());
    if let Console::Socket(s) = &o.console {
        keep.push(s.as_raw_fd());
    }
    keep
}

fn setup(
    o: &ExecOptions,
    root: &OwnedFd,
    chan: &Channel,
    joined: Joined,
    cgroups: SelfJoin,
) -> Result<Exec> {
    chan.expect(ToInit::Go, "exec", "runtime exited during setup")?;
    // After Go: the runtime has set execCPUAffinity.initial, which comes before the move.
    cgroups.join()?;
    crate::testpoint::pause_point("exec:child-setup");
    let Joined {
        listener: seccomp_listener,
        proc,
        rest,
    } = joined;
    if !rest.is_empty() {
        // Entering a user namespace changes our credentials.
        super::pdeath::keep(|| setns(o.init_pidfd, rest, "namespaces"))?;
    }
    if let Some(fin) = affinity(o.process, false) {
        super::sched::set_affinity(0, fin, "process.execCPUAffinity.final")?;
    }
    enter_root(root)?;
    nix::unistd::setsid().sys(|| "setsid")?;
    if let Some(adj) = o.process.oom_score_adj() {
        proc.write("self/oom_score_adj", adj.to_string().as_bytes())
            .with_context(|| format!("set process.oomScoreAdj {adj}"))?;
    }
    if o.process.terminal().unwrap_or(false) {
        let master = crate::tty::setup_console(o.process.console_size().as_ref(), false)?;
        match &o.console {
            Console::Socket(sock) => crate::tty::send_master(sock, &master)?,
            Console::Parent => chan.send(&FromInit::ConsoleMaster, Some(master.as_raw_fd()))?,
            Console::None => bail!("process.terminal is set but no console socket was given"),
        }
    }
    let exec = prepare::prepare(prepare::Options {
        process: o.process,
        linux: o.linux,
        preserve_fds: o.preserve_fds,
        keep_fds: &[chan.raw_fd()],
        seccomp_listener,
        seccomp: o.seccomp,
        in_cgroups: &|| Ok(()),
        proc: &crate::procfs::Lazy::ready(proc),
    })?;
    // From here on the process outlives a detached `exec`, which may exit as soon as it reads
    // Ready: clear the death signal first.
    super::pdeath::clear();
    chan.send(&FromInit::Ready, None)?;
    Ok(exec)
}
