//! A D-Bus connection over a unix socket: SASL EXTERNAL authentication (the kernel vouches for
//! our uid through SO_PEERCRED), then messages. Every read and write has a deadline, so a peer
//! that stops answering costs a bounded wait, never a hung rt.

use super::message::{frame_len, Kind, Message, FIXED_HEADER};
use crate::errno::SysContext;
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{send, MsgFlags};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Signals received while waiting for a reply are kept for a later wait; a busy systemd sends
/// many, so only the latest are kept.
const MAX_QUEUED_SIGNALS: usize = 1024;
const MAX_AUTH_LINE: usize = 512;

pub struct Conn {
    sock: UnixStream,
    path: PathBuf,
    serial: u32,
    signals: VecDeque<Message>,
}

impl Conn {
    /// Connect to `path` and authenticate as our effective uid.
    pub fn connect(path: &Path, deadline: Instant) -> Result<Conn> {
        let sock = UnixStream::connect(path).sys(|| path.display())?;
        let mut conn = Conn::from_stream(sock, path);
        conn.authenticate(deadline)
            .with_context(|| format!("{}: authentication", path.display()))?;
        Ok(conn)
    }

    /// A connection that is past authentication (the test peer's side).
    pub fn from_stream(sock: UnixStream, path: &Path) -> Conn {
        Conn {
            sock,
            path: path.to_path_buf(),
            serial: 0,
            signals: VecDeque::new(),
        }
    }

    fn authenticate(&mut self, deadline: Instant) -> Result<()> {
        let uid = nix::unistd::geteuid().as_raw();
        // EXTERNAL's initial response is the uid in decimal, hex-encoded ("0" -> "30").
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The leading NUL byte is the protocol's credentials byte.
        self.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes(), deadline)?;
        let line = self.read_line(deadline)?;
        if line != "OK" && !line.starts_with("OK ") {
            bail!("refused as uid {uid}: {line:?}");
        }
        self.write_all(b"BEGIN\r\n", deadline)
    }

    /// One "\r\n"-terminated line of the authentication exchange, without its terminator.
    pub fn read_line(&mut self, deadline: Instant) -> Result<String> {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            if line.len() >= MAX_AUTH_LINE {
                bail!("authentication line longer than {MAX_AUTH_LINE} bytes");
            }
            // Byte by byte: whatever follows the line belongs to the message stream.
            let mut b = [0u8];
            self.read_exact(&mut b, deadline)?;
            line.push(b[0]);
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| anyhow!("authentication line is not text"))
    }

    /// Send a message with the next serial; returns the serial.
    pub fn send(&mut self, mut msg: Message, deadline: Instant) -> Result<u32> {
        self.serial = self.serial.wrapping_add(1).max(1);
        msg.serial = self.serial;
        let bytes = msg.encode()?;
        self.write_all(&bytes, deadline)?;
        Ok(msg.serial)
    }

    pub fn recv(&mut self, deadline: Instant) -> Result<Message> {
        let mut head = [0u8; FIXED_HEADER];
        self.read_exact(&mut head, deadline)?;
        let len = frame_len(&head)
            .with_context(|| format!("malformed message from {}", self.path.display()))?;
        let mut buf = vec![0u8; len];
        buf[..FIXED_HEADER].copy_from_slice(&head);
        self.read_exact(&mut buf[FIXED_HEADER..], deadline)?;
        Message::decode(&buf)
            .with_context(|| format!("malformed message from {}", self.path.display()))
    }

    /// Send a method call and wait for its reply; an error reply is returned as a `DbusError`.
    /// Signals that arrive meanwhile are queued for `next_signal`; anything else is dropped.
    pub fn call(&mut self, msg: Message, deadline: Instant) -> Result<Message> {
        let serial = self.send(msg, deadline)?;
        loop {
            let m = self.recv(deadline)?;
            match m.kind {
                Kind::MethodReturn if m.reply_serial == Some(serial) => return Ok(m),
                Kind::Error if m.reply_serial == Some(serial) => return Err(m.to_error().into()),
                Kind::Signal => {
                    if self.signals.len() == MAX_QUEUED_SIGNALS {
                        self.signals.pop_front();
                    }
                    self.signals.push_back(m);
                }
                _ => {}
            }
        }
    }

    /// The next signal: a queued one first, else the next to arrive.
    pub fn next_signal(&mut self, deadline: Instant) -> Result<Message> {
        if let Some(m) = self.signals.pop_front() {
            return Ok(m);
        }
        loop {
            let m = self.recv(deadline)?;
            if m.kind == Kind::Signal {
                return Ok(m);
            }
        }
    }

    pub fn write_all(&mut self, mut buf: &[u8], deadline: Instant) -> Result<()> {
        while !buf.is_empty() {
            self.sock
                .set_write_timeout(Some(self.left(deadline)?))
                .sys(|| format!("set a write timeout on {}", self.path.display()))?;
            // MSG_NOSIGNAL: a peer that hung up is an error here, not a SIGPIPE.
            match send(self.sock.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL) {
                Ok(n) => buf = &buf[n..],
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).sys(|| format!("write to {}", self.path.display())),
            }
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Result<()> {
        let mut got = 0;
        while got < buf.len() {
            self.sock
                .set_read_timeout(Some(self.left(deadline)?))
                .sys(|| format!("set a read timeout on {}", self.path.display()))?;
            match self.sock.read(&mut buf[got..]) {
                Ok(0) => bail!("{}: connection closed by the peer", self.path.display()),
                Ok(n) => got += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e).sys(|| format!("read from {}", self.path.display())),
            }
        }
        Ok(())
    }

    /// Time left before `deadline`, or the timeout error once it has passed.
    fn left(&self, deadline: Instant) -> Result<std::time::Duration> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{}: timed out", self.path.display());
        }
        Ok(left)
    }
}
