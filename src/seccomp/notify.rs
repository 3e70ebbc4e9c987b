//! SCMP_ACT_NOTIFY: the connection to linux.seccomp.listenerPath and the handoff of the notify fd
//! with the container process state (config-linux.md "The Container Process State").
//!
//! listenerPath is a host path, so the connection is made before the process enters the
//! container's root ([`connect_listener`], in the init before pivot_root); the fd is sent right
//! after the filter is loaded, with nothing but that sendmsg(2) in between.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// A connection to the listener and the message it gets.
pub struct Conn {
    sock: UnixStream,
    message: Vec<u8>,
}

/// The pid of the calling process as the runtime sees it: /proc/self of the host's procfs, still
/// mounted at /proc before pivot_root (getpid() answers in the container's PID namespace).
fn runtime_pid() -> i64 {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| nix::unistd::getpid().as_raw() as i64)
}

/// Connect to linux.seccomp.listenerPath when the profile uses SCMP_ACT_NOTIFY; the connection
/// is handed to [`super::Filter::compile`] for the filter's load. `state` is the container's state (runtime.md); its `pid`
/// is set to this process's. A no-op for profiles without NOTIFY (the spec: listenerPath is then
/// ignored). Must run while host paths still resolve.
pub fn connect_listener(s: Option<&LinuxSeccomp>, state: &Value) -> Result<Option<Conn>> {
    let Some(s) = s else { return Ok(None) };
    if !super::profile::uses_notify(s) {
        return Ok(None);
    }
    let Some(path) = s.listener_path() else {
        bail!("linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
    };
    let sock = connect(path)
        .with_context(|| format!("linux.seccomp.listenerPath: connect to {}", path.display()))?;
    let pid = runtime_pid();
    let mut state = state.clone();
    state["pid"] = pid.into();
    let mut msg = json!({
        "ociVersion": state.get("ociVersion").cloned().unwrap_or_else(|| "1.2.0".into()),
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = s.listener_metadata() {
        msg["metadata"] = m.as_str().into();
    }
    let message = serde_json::to_vec(&msg).context("serialize the container process state")?;
    Ok(Some(Conn { sock, message }))
}

/// How long the agent may keep the runtime waiting, to accept the connection (its backlog
/// full) or to read the state: a stuck agent fails `create` instead of hanging it.
const AGENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A connection whose connect and writes give up after AGENT_TIMEOUT (SO_SNDTIMEO bounds both
/// on a unix stream socket).
fn connect(path: &std::path::Path) -> std::io::Result<UnixStream> {
    use nix::sys::socket::{socket, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let timeout = nix::sys::time::TimeVal::new(AGENT_TIMEOUT.as_secs() as _, 0);
    nix::sys::socket::setsockopt(&fd, sockopt::SendTimeout, &timeout)?;
    let addr = UnixAddr::new(path)?;
    nix::sys::socket::connect(fd.as_raw_fd(), &addr)?;
    Ok(UnixStream::from(fd))
}

impl Conn {
    pub fn raw_fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }

    /// Send the state with `fd` in SCM_RIGHTS on the first sendmsg(2), the rest of a short write
    /// without; then the connection is closed (dropped), as the spec requires.
    pub(super) fn send(self, fd: OwnedFd) -> std::io::Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let fds = [fd.as_raw_fd()];
        let mut sent = 0;
        let mut first = true;
        while sent < self.message.len() {
            let rest = [std::io::IoSlice::new(&self.message[sent..])];
            let rights = [ControlMessage::ScmRights(&fds)];
            let cmsgs: &[ControlMessage] = if first { &rights } else { &[] };
            match sendmsg::<()>(
                self.sock.as_raw_fd(),
                &rest,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(n) => sent += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            first = false;
        }
        drop(fd);
        Ok(())
    }
}
