//! `exec`: run another process in a running (or created) container: it joins the init's
//! namespaces, root and cgroups and gets the process's own credentials, capabilities, seccomp
//! profile and label, as the init did.

use super::error::wrong;
use super::foreground::{forward_signals, wait_exit};
use super::status::{proc_stat, Status};
use super::{load, open_existing, write_pid_file, Context};
use crate::errno::SysContext;
use crate::process::channel::FromInit;
use crate::process::exec::ExecOptions as ProcessOptions;
use crate::process::Console;
use anyhow::{bail, Context as _, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct ExecOptions {
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    /// `--cgroup [CONTROLLER:]PATH`: sub-cgroups (of the container's) to run the process in.
    pub sub_cgroups: Vec<String>,
}

/// Run a process in container `id`. `build` makes it from the container's own process (config.json
/// as saved at create), as the caller's flags or process file say.
pub fn exec(
    ctx: &Context,
    id: &str,
    o: &ExecOptions,
    build: impl FnOnce(Option<&Process>) -> Result<Process>,
) -> Result<i32> {
    if !o.detach {
        // As `run`: a signal while the process is set up is kept for it, not the end of rt.
        super::foreground::catch_signals();
    }
    let locked = open_existing(ctx, id)?;
    let (state, status) = load(&locked, id)?;
    match status {
        Status::Stopped => bail!(wrong(status, "cannot exec in a stopped container")),
        Status::Paused if !o.ignore_paused => bail!(wrong(
            status,
            "cannot exec in a paused container (use --ignore-paused to override)"
        )),
        Status::Creating => bail!(wrong(
            status,
            "cannot exec in a container that is still being created"
        )),
        _ => {}
    }
    let config = locked.config_path();
    let raw = std::fs::read(&config).sys(|| format!("read {}", config.display()))?;
    let spec: Spec =
        super::bundle::parse(&raw).with_context(|| format!("parse {}", config.display()))?;
    let process = build(spec.process().as_ref())?;
    super::bundle::validate_process(&process)?;
    // The pidfd pins the init: with the start time checked, it is our init and stays so.
    let pidfd = super::kill::pidfd_open(state.pid);
    let Some(pidfd) =
        pidfd.filter(|_| proc_stat(state.pid).map(|(_, s)| s) == Some(state.init_start_time))
    else {
        bail!(wrong(Status::Stopped, "cannot exec in a stopped container"));
    };
    drop(locked);

    let terminal = process.terminal().unwrap_or(false);
    crate::tty::check_console_socket(o.detach, terminal, o.console_socket.is_some())?;
    // Our terminal is looked for before the process exists: without one it is not started.
    let mut host_console = None;
    let console = match (&o.console_socket, terminal) {
        (Some(path), true) => Console::Socket(connect(path, "console")?),
        (None, true) => {
            host_console = Some(crate::tty::HostConsole::open()?);
            Console::Parent
        }
        _ => Console::None,
    };
    let pidfd_socket = match &o.pidfd_socket {
        Some(path) => Some(connect(path, "pidfd")?),
        None => None,
    };
    if o.preserve_fds < 0 {
        bail!("--preserve-fds {}: must not be negative", o.preserve_fds);
    }
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .fold(CloneFlags::empty(), |acc, n| {
            acc | crate::namespaces::flag(n.typ())
        });
    let cgroups = state.cgroup().sub_cgroups(&o.sub_cgroups)?;
    crate::logging::debug(&format!(
        "exec {id}: {:?} in namespaces {namespaces:?}, cgroups {:?}",
        process.args(),
        cgroups.paths()
    ));
    let seccomp = crate::seccomp::Compiled::for_spec(&spec, &ctx.root)?;
    let spawned = crate::process::exec::spawn(&ProcessOptions {
        init_pidfd: &pidfd,
        init_pid: state.pid,
        namespaces,
        process: &process,
        linux: spec.linux().as_ref(),
        cgroups: &cgroups,
        console,
        preserve_fds: o.preserve_fds,
        seccomp: seccomp.as_ref(),
        state: serde_json::to_value(super::public(&state, status, String::new()))?,
    })?;
    let pid = spawned.pid;
    // The channel closes when the exec succeeds; an exec error arrives on it instead.
    if let Some((FromInit::Error(msg), _)) = spawned.channel.recv::<FromInit>()? {
        let _ = wait_exit(pid);
        bail!("{msg}");
    }
    if let Some(path) = &o.pid_file {
        write_pid_file(path, pid)?;
    }
    if let Some(sock) = &pidfd_socket {
        send_pidfd(sock, pid)?;
    }
    if o.detach {
        return Ok(0);
    }
    let proxy = match (spawned.console_master, host_console) {
        (Some(m), Some(h)) => Some(crate::tty::Proxy::start(m, h)?),
        _ => None,
    };
    forward_signals(pid);
    let code = wait_exit(pid)?;
    drop(proxy);
    Ok(code)
}

fn connect(path: &Path, what: &str) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .sys(|| format!("connect to {what} socket {}", path.display()))?;
    Ok(s.into())
}

/// `--pidfd-socket`: a pidfd of the new process, sent as runc sends it (SCM_RIGHTS).
fn send_pidfd(sock: &OwnedFd, pid: i32) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let Some(fd) = super::kill::pidfd_open(pid) else {
        bail!("pidfd_open {pid}: the process is gone");
    };
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[std::io::IoSlice::new(b"pidfd")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .sys(|| "send the pidfd to the pidfd socket")?;
    Ok(())
}
