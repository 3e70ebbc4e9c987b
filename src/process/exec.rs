//! `rt exec`'s process: a child of the runtime that joins the init's namespaces (through a pidfd,
//! so that the kernel orders user and other namespaces itself), its root and cgroups, then goes
//! through the same final steps as the init (`prepare`) and execs.
//!
//! PID and time namespaces only apply to children: the runtime joins them for the clone and
//! returns to its own, so the child is born inside them.

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

    let time = CloneFlags::from_bits_retain(CLONE_NEWTIME);
    let for_children = o.namespaces & (CloneFlags::CLONE_NEWPID | time);
    let mut restore = clone::ReturnTo::default();
    for f in [CloneFlags::CLONE_NEWPID, time] {
        if for_children.contains(f) {
            restore.keep(f)?;
        }
    }
    // Joining a PID namespace needs CAP_SYS_ADMIN in our own user namespace too: a rootless
    // runtime has it only in the container's, which it must not enter itself (the container's
    // root could then ptrace it). Its child enters them all and forks the process instead.
    let mut two_step = false;
    if !for_children.is_empty() {
        match nix::sched::setns(o.init_pidfd.as_fd(), for_children) {
            Ok(()) => {}
            Err(nix::errno::Errno::EPERM) if o.namespaces.contains(CloneFlags::CLONE_NEWUSER) => {
                two_step = true;
                restore.clear();
            }
            Err(e) => return Err(e).sys(|| "join the container's pid and time namespaces"),
        }
    }
    // On cgroup v2 the process is born in its cgroup, unless it must first run on the
    // execCPUAffinity.initial CPUs outside it.
    // Not in two steps either: the intermediate process would count against pids.max.
    let v2 = match affinity(o.process, true) {
        Some(_) => None,
        None if two_step => None,
        None => o.cgroups.open_v2_dir(),
    };
    // Born not dumpable: the container's processes may not reach our /proc files (exe, fd,
    // mem) nor ptrace us before we exec, not even for an instant after the clone.
    super::init::set_dumpable(false);
    crate::testpoint::pause_point("exec:before-clone");
    let forked = clone::clone_into(0, v2.as_ref().map(|(_, f)| f));
    if let Ok((clone::Forked::Child, _)) = forked {
        drop(parent_end);
        drop(restore);
        child(o, &root, child_end, two_step, self_join)
    }
    restore.back()?;
    let (clone::Forked::Parent(mut pid), in_v2_cgroup) = forked? else {
        unreachable!("the child never returns")
    };
    drop(child_end);
    if two_step {
        pid = reap_on_error(pid, forked_pid(&parent_end, pid))?;
    }
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

/// The pid of the process the first child of a two-step exec forked (and the first child reaped).
fn forked_pid(chan: &Channel, first: i32) -> Result<i32> {
    let msg = chan.recv::<FromInit>();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(first), None);
    match msg? {
        Some((FromInit::Forked(pid), _)) => Ok(pid),
        Some((FromInit::Error(m), _)) => bail!("{m}"),
        Some((m, _)) => bail!("exec channel: unexpected {m:?}"),
        None => bail!("the exec'd process exited while joining the container's namespaces"),
    }
}

fn child(o: &ExecOptions, root: &OwnedFd, chan: Channel, two_step: bool, cgroups: SelfJoin) -> ! {
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
    if let Err(e) = super::fds::close_others(o.preserve_fds, &needed_fds(o, root, &chan, &cgroups))
    {
        let _ = chan.send(&FromInit::error(&crate::errno::words(&e)), None);
        crate::sys::exit_now(1)
    }
    let mut joined = None;
    if two_step {
        match join_and_fork(o, &chan) {
            Ok(Some(j)) => {
                // The forked process, the runtime's child (CLONE_PARENT): its own death signal.
                guard();
                joined = Some(j);
            }
            Ok(None) => crate::sys::exit_now(0),
            Err(e) => {
                let _ = chan.send(&FromInit::error(&crate::errno::words(&e)), None);
                crate::sys::exit_now(1)
            }
        }
    }
    match setup(o, root, &chan, joined, cgroups) {
        Ok(exec) => {
            crate::signal::reset_all();
            let err = exec.exec();
            let msg = format!("exec {:?}: {}", exec.path, crate::errno::describe_io(&err));
            let _ = chan.send(&FromInit::error(&msg), None);
            crate::sys::exit_now(127)
        }
        Err(e) => {
            let _ = chan.send(&FromInit::error(&crate::errno::words(&e)), None);
            crate::sys::exit_now(1)
        }
    }
}

/// The first step of a two-step exec: join every namespace, then fork the process, born in the
/// PID namespace, as a sibling (the runtime's child). `Some` in the process, `None` in the first
/// child once it has sent the pid.
fn join_and_fork(o: &ExecOptions, chan: &Channel) -> Result<Option<Joined>> {
    // listenerPath is a host path: connect before entering the container's mount namespace,
    // and take the procfs handle from here too (see procfs).
    let listener =
        crate::seccomp::connect_listener(o.linux.and_then(|l| l.seccomp().as_ref()), &o.state)?;
    let proc = crate::procfs::ProcFs::private()?;
    // Entering a user namespace changes our credentials.
    super::pdeath::keep(|| setns(o.init_pidfd, o.namespaces, "namespaces"))?;
    match clone::clone(libc::CLONE_PARENT as u64, None)? {
        clone::Forked::Child => Ok(Some(Joined { listener, proc })),
        clone::Forked::Parent(pid) => {
            chan.send(&FromInit::Forked(pid), None)?;
            Ok(None)
        }
    }
}

/// What the first step of a two-step exec hands the process it forks.
struct Joined {
    listener: Option<crate::seccomp::Listener>,
    proc: crate::procfs::ProcFs,
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
    joined: Option<Joined>,
    cgroups: SelfJoin,
) -> Result<Exec> {
    chan.expect(ToInit::Go, "exec", "runtime exited during setup")?;
    // After Go: the runtime has set execCPUAffinity.initial, which comes before the move.
    cgroups.join()?;
    crate::testpoint::pause_point("exec:child-setup");
    let (seccomp_listener, proc) = match joined {
        Some(j) => (j.listener, j.proc),
        // listenerPath is a host path: connect before entering the container's mount namespace,
        // and take the procfs handle from here too (see procfs): a private procfs of the
        // container's PID namespace, which we were born in.
        None => {
            let l = crate::seccomp::connect_listener(
                o.linux.and_then(|l| l.seccomp().as_ref()),
                &o.state,
            )?;
            let proc = crate::procfs::ProcFs::private()?;
            let rest = o.namespaces
                - CloneFlags::CLONE_NEWPID
                - CloneFlags::from_bits_retain(CLONE_NEWTIME);
            if !rest.is_empty() {
                // Entering a user namespace changes our credentials.
                super::pdeath::keep(|| setns(o.init_pidfd, rest, "namespaces"))?;
            }
            (l, proc)
        }
    };
    if let Some(fin) = affinity(o.process, false) {
        super::sched::set_affinity(0, fin, "process.execCPUAffinity.final")?;
    }
    // The init's root, which is not the mount namespace's root under --no-pivot.
    nix::unistd::fchdir(root.as_fd()).sys(|| "fchdir to the container's root")?;
    nix::unistd::chroot(".").sys(|| "chroot to the container's root")?;
    nix::unistd::chdir("/").sys(|| "chdir /")?;
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
