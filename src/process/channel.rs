//! The parent<->init channel: a SOCK_SEQPACKET socketpair carrying one JSON message per packet,
//! with an optional file descriptor attached (SCM_RIGHTS).

use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    recv, recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What the init tells its parent.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub enum FromInit {
    /// Set up, ready to park on the exec fifo (the death signal still set).
    Ready,
    /// The death signal is cleared: parking on the exec fifo, waiting for `start`.
    Parked,
    /// The pty master is attached (foreground `run` with a terminal).
    ConsoleMaster,
    /// Mounts are ready: run the prestart and createRuntime hooks, then answer `HooksDone`.
    RuntimeHooks,
    /// `exec` in two steps: the first child joined the namespaces and forked the process into
    /// the PID namespace, as the runtime's child; its pid, and whether it was born in its v2
    /// cgroup.
    Forked(i32, bool),
    /// A rootless init is dumpable for the moment: its id maps may be written (newuidmap wants
    /// the init's /proc files to be the caller's).
    MapIds,
    Error(String),
}

/// What the parent tells the init.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub enum ToInit {
    /// Id maps written: go on with the setup, up to what needs the cgroup.
    Go,
    /// The init is in its cgroups: it may run hooks, load seccomp and become the process user.
    CgroupJoined,
    HooksDone,
    /// The container is recorded as created: outlive the runtime from now on.
    Recorded,
}

const MAX_MSG: usize = 64 * 1024;

/// The longest error text that goes on the channel: JSON may escape each byte into six, and the
/// whole must fit one message, or a failure that quotes a huge config value (100,000 gids) would
/// reach the runtime as a silent death.
const MAX_ERROR: usize = 8 * 1024;

impl FromInit {
    /// An error to report, cut to what the channel carries.
    pub fn error(msg: &str) -> FromInit {
        FromInit::Error(clip(msg, MAX_ERROR))
    }
}

/// `msg` cut to at most `max` bytes (on a character boundary), saying how much was left out.
pub fn clip(msg: &str, max: usize) -> String {
    if msg.len() <= max {
        return msg.to_string();
    }
    let mut end = max;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} more bytes)", &msg[..end], msg.len() - end)
}

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the init channel")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send<T: Serialize>(&self, msg: &T, fd: Option<RawFd>) -> Result<()> {
        let data = serde_json::to_vec(msg)?;
        let iov = [IoSlice::new(&data)];
        let fds;
        let cmsgs: &[ControlMessage] = match fd {
            Some(f) => {
                fds = [f];
                &[ControlMessage::ScmRights(&fds)]
            }
            None => &[],
        };
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .context("send on the init channel")?;
        Ok(())
    }

    /// The next message, without a descriptor, read with read(2) rather than recvmsg: what the
    /// init waits for once a seccomp filter may be loaded, with the syscall runc uses there.
    pub fn recv_plain<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        // Only the runtime's short words come this way.
        let mut buf = [0u8; 1024];
        let len = loop {
            match nix::unistd::read(&self.fd, &mut buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("read the init channel"),
            }
        };
        if len == 0 {
            return Ok(None);
        }
        if len == buf.len() {
            bail!("init channel: message too large");
        }
        let msg = serde_json::from_slice(&buf[..len]).context("init channel: bad message")?;
        Ok(Some(msg))
    }

    /// In the child: wait for the runtime's `want`. `name` names the channel in the error for
    /// another message ("init", "exec"); `gone` is the error when the runtime closed it.
    pub fn expect(&self, want: ToInit, name: &str, gone: &str) -> Result<()> {
        match self.recv::<ToInit>()? {
            Some((m, _)) if m == want => Ok(()),
            Some((m, _)) => bail!("{name} channel: unexpected {m:?}"),
            None => bail!("{gone}"),
        }
    }

    /// In the runtime: wait for the child's `want`; the error it sends instead is ours, and
    /// `gone` is the error when it exits without one.
    pub fn expect_from_child(&self, want: FromInit, gone: &str) -> Result<()> {
        match self.recv::<FromInit>()? {
            Some((m, _)) if m == want => Ok(()),
            Some((FromInit::Error(msg), _)) => bail!("{msg}"),
            Some((m, _)) => bail!("init channel: unexpected {m:?}"),
            None => bail!("{gone}"),
        }
    }

    /// The next message, or `None` when the other side closed the channel.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<Option<(T, Option<OwnedFd>)>> {
        // A buffer of the next message's size (MSG_TRUNC tells it), not of the largest one: a
        // zeroed 64 KiB per message cost 16 page faults in each process.
        let size = loop {
            match recv(
                self.fd.as_raw_fd(),
                &mut [],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("receive on the init channel"),
            }
        };
        if size >= MAX_MSG {
            bail!("init channel: message too large");
        }
        let mut buf = vec![0u8; size + 1];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fd = None;
                    for c in m.cmsgs().context("read control message")? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for f in fds {
                                // SAFETY: the kernel just installed this descriptor for us.
                                let owned = unsafe { OwnedFd::from_raw_fd(f) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (m.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("receive on the init channel"),
            }
        };
        if len == 0 {
            return Ok(None);
        }
        if len >= MAX_MSG {
            bail!("init channel: message too large");
        }
        let msg = serde_json::from_slice(&buf[..len]).context("init channel: bad message")?;
        Ok(Some((msg, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fd_and_eof() {
        let (a, b) = pair().unwrap();
        let devnull = std::fs::File::open("/dev/null").unwrap();
        a.send(&FromInit::error("boom"), Some(devnull.as_raw_fd()))
            .unwrap();
        let (msg, fd) = b.recv::<FromInit>().unwrap().unwrap();
        assert!(matches!(msg, FromInit::Error(ref s) if s == "boom"));
        assert!(fd.is_some());
        a.send(&ToInit::Recorded, None).unwrap();
        assert!(matches!(
            b.recv_plain::<ToInit>().unwrap(),
            Some(ToInit::Recorded)
        ));
        drop(a);
        assert!(b.recv::<FromInit>().unwrap().is_none());
        assert!(b.recv_plain::<ToInit>().unwrap().is_none());
    }

    #[test]
    fn a_huge_error_still_arrives() {
        let (a, b) = pair().unwrap();
        // Control characters: six bytes each once JSON-escaped.
        let msg = "\u{1}".repeat(1 << 20);
        a.send(&FromInit::error(&msg), None).unwrap();
        let (got, _) = b.recv::<FromInit>().unwrap().unwrap();
        let FromInit::Error(text) = got else {
            panic!("{got:?}")
        };
        assert!(text.ends_with(&format!("... ({} more bytes)", (1 << 20) - MAX_ERROR)));
        assert_eq!(clip("héllo", 2), "h... (5 more bytes)");
        assert_eq!(clip("short", 5), "short");
    }
}
