//! One conversation with CRIU: `criu swrk 3`, the CRIU service on a SOCK_SEQPACKET socketpair
//! whose other end we keep. We send one `criu_req`; CRIU answers with `NOTIFY` messages (each a
//! hook point: we act, then reply `notify_success`) until the final response of the request's
//! type. A NOTIFY may carry a descriptor (SCM_RIGHTS: the pty master of `orphan-pts-master`).
//!
//! CRIU opens `images_dir_fd`/`work_dir_fd` through `/proc/<our pid>/fd/N`, so those stay ours;
//! `inherit_fd` numbers are CRIU's own descriptors: its stdio (ours) and the `extra` descriptors,
//! which it gets from 4 on (3 is the socket).

use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use protobuf::Message;
use rust_criu::rust_criu_protobuf::rpc::{Criu_req, Criu_req_type, Criu_resp};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// What the caller does at CRIU's hook points.
pub trait Hooks {
    /// CRIU runs (pid `criu`) and has not seen the request yet: a restore puts it into the
    /// container's cgroups here (the restored tasks are made by it) and may add to the request.
    fn spawned(&mut self, _criu: i32, _req: &mut Criu_req) -> Result<()> {
        Ok(())
    }
    /// A NOTIFY: the script name (`setup-namespaces`, `post-restore`, `orphan-pts-master`, ...),
    /// the pid it concerns (0 when none) and the descriptor it came with.
    fn notify(&mut self, script: &str, pid: i32, fd: Option<OwnedFd>) -> Result<()>;
}

/// Hooks that do nothing (a dump has no business at CRIU's hook points but the defaults).
pub struct NoHooks;

impl Hooks for NoHooks {
    fn notify(&mut self, _: &str, _: i32, _: Option<OwnedFd>) -> Result<()> {
        Ok(())
    }
}

/// The largest message CRIU sends (a response with its notify; runc reads 40 KiB).
const MAX_MSG: usize = 10 * 4096;

/// Send `req` to a new `criu swrk` and see it through; `log` is the log file CRIU writes (named in
/// every error). Returns the final response, successful.
pub fn run(
    criu: &Path,
    mut req: Criu_req,
    extra: &[RawFd],
    log: &Path,
    hooks: &mut dyn Hooks,
) -> Result<Criu_resp> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .sys(|| "socketpair for criu swrk")?;
    // Every descriptor the child places is first copied above the range it fills (3..4+n), so
    // that placing one never overwrites another.
    let high = |fd: RawFd| -> Result<OwnedFd> {
        let n = nix::fcntl::fcntl(
            // Safety: fd is open for the duration of this call (the caller's or ours).
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(64 + extra.len() as RawFd),
        )
        .sys(|| format!("dup descriptor {fd} for criu"))?;
        // Safety: F_DUPFD returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(n) })
    };
    let server = high(theirs.as_raw_fd())?;
    drop(theirs);
    let moved: Vec<OwnedFd> = extra.iter().map(|&fd| high(fd)).collect::<Result<_>>()?;
    let places: Vec<(RawFd, RawFd)> = std::iter::once(server.as_raw_fd())
        .chain(moved.iter().map(|f| f.as_raw_fd()))
        .zip(3..)
        .collect();
    let mut cmd = Command::new(criu);
    cmd.args(["swrk", "3"]);
    // Safety: only dup2 (async-signal-safe) between fork and exec; dup2 leaves the copy without
    // FD_CLOEXEC, so exactly these reach CRIU.
    unsafe {
        cmd.pre_exec(move || {
            for &(from, to) in &places {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().sys(|| format!("run {} swrk", criu.display()))?;
    drop(server);
    drop(moved);
    let result = converse(&ours, &mut req, child.id() as i32, log, hooks);
    // Closing our end ends the service (a PRE_DUMP leaves it waiting for the next request).
    drop(ours);
    let status = child.wait().sys(|| "wait for criu")?;
    let resp = result?;
    let pre_dump = req.type_() == Criu_req_type::PRE_DUMP;
    if !status.success() && !pre_dump {
        bail!("criu failed: {status}: log file: {}", log.display());
    }
    Ok(resp)
}

fn converse(
    sock: &OwnedFd,
    req: &mut Criu_req,
    criu_pid: i32,
    log: &Path,
    hooks: &mut dyn Hooks,
) -> Result<Criu_resp> {
    hooks.spawned(criu_pid, req)?;
    send(sock, req)?;
    let want = req.type_();
    loop {
        let (resp, fd) = receive(sock, log)?;
        if !resp.success() {
            bail!(
                "criu failed: type {:?} errno {}: log file: {}{}",
                resp.type_(),
                resp.cr_errno(),
                log.display(),
                first_error(log)
            );
        }
        match resp.type_() {
            Criu_req_type::NOTIFY => {
                let n = resp.notify.get_or_default();
                let script = n.script().to_string();
                crate::logging::debug(&format!("criu notify {script} (pid {})", n.pid()));
                let outcome = hooks
                    .notify(&script, n.pid(), fd)
                    .with_context(|| format!("criu notify {script}"));
                let mut ack = Criu_req::new();
                ack.set_type(Criu_req_type::NOTIFY);
                ack.set_notify_success(outcome.is_ok());
                // CRIU undoes its work when told the hook failed; our error says why.
                let sent = send(sock, &ack);
                outcome?;
                sent?;
            }
            t if t == want => return Ok(resp),
            t => bail!(
                "criu answered {t:?} to a {want:?} request: log file: {}",
                log.display()
            ),
        }
    }
}

fn send(sock: &OwnedFd, msg: &Criu_req) -> Result<()> {
    let bytes = msg.write_to_bytes().context("encode the criu request")?;
    nix::sys::socket::send(sock.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
        .sys(|| "send the request to criu")?;
    Ok(())
}

fn receive(sock: &OwnedFd, log: &Path) -> Result<(Criu_resp, Option<OwnedFd>)> {
    let mut buf = vec![0u8; MAX_MSG];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let (n, fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .sys(|| "receive from criu")?;
        let mut fds = Vec::new();
        for c in msg.cmsgs().sys(|| "receive from criu")? {
            if let ControlMessageOwned::ScmRights(v) = c {
                // Safety: the kernel installed these descriptors for us with the message.
                fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        (msg.bytes, fds)
    };
    if n == 0 {
        bail!(
            "criu ended without an answer: log file: {}{}",
            log.display(),
            first_error(log)
        );
    }
    if n == buf.len() {
        bail!("criu sent a message larger than {MAX_MSG} bytes");
    }
    let resp = Criu_resp::parse_from_bytes(&buf[..n]).context("decode criu's answer")?;
    Ok((resp, fds.into_iter().next()))
}

/// `: <CRIU's first Error line>` from its log, when there is one to read: what a user needs
/// first, without opening the file.
fn first_error(log: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return String::new();
    };
    text.lines()
        .find_map(|l| {
            l.split_once("Error (")
                .map(|(_, rest)| format!("Error ({rest}"))
        })
        .map(|e| format!(": {}", e.trim()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_line_of_a_log() {
        let dir = std::env::temp_dir().join(format!("rt-criu-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("dump.log");
        std::fs::write(
            &log,
            "(00.1) Warn  (x.c:1): meh\n(01.796460) Error (criu/files-ext.c:94): Can't dump file 2\n(02.0) Error (cr-dump.c:2053): Dumping FAILED.\n",
        )
        .unwrap();
        assert_eq!(
            first_error(&log),
            ": Error (criu/files-ext.c:94): Can't dump file 2"
        );
        assert_eq!(first_error(&dir.join("none.log")), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
