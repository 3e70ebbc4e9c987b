//! NOTIFY_SOCKET passthrough, as runc's notify_socket.go does it. A container created while our
//! caller has a NOTIFY_SOCKET gets a directory of its own, `<root>/<id>/notify`, bind-mounted
//! read-only at /run/notify, and NOTIFY_SOCKET=/run/notify/notify.sock in its environment. `start`
//! (or `run`) binds that socket before the process runs, waits for the READY=1 the process sends
//! there, and passes it on to the caller's socket with the MAINPID the manager should watch.

use super::kill::pidfd_open;
use super::status::is_alive;
use crate::errno::SysContext;
use anyhow::Result;
use oci_spec::runtime::{Mount, Spec};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

/// The socket's directory in the container's state directory.
const DIR: &str = "notify";
const SOCKET: &str = "notify.sock";
/// Where that directory appears in the container.
const CONTAINER_DIR: &str = "/run/notify";
/// runc's read buffer: sd_notify messages are a few short lines in one datagram.
const MAX_MESSAGE: usize = 4096;
/// How often the init is checked for exit when the kernel has no pidfd_open (before 5.3).
const POLL_MS: i32 = 100;

/// Our caller's NOTIFY_SOCKET, if set and not empty (an environment lookup, no system call).
pub fn from_env() -> Option<OsString> {
    std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty())
}

/// At create: make the socket's directory in `state_dir` and give the container, in memory only
/// (config.json stays as the bundle has it), the bind mount of it after the config's own mounts
/// and NOTIFY_SOCKET at the end of its environment.
pub fn setup(spec: &mut Spec, state_dir: &Path) -> Result<()> {
    let dir = std::path::absolute(state_dir.join(DIR))
        .sys(|| format!("resolve {}", state_dir.join(DIR).display()))?;
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&dir)
        .sys(|| format!("create {}", dir.display()))?;
    // Whatever our umask, the container's user must reach the socket (runc leaves this to umask).
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .sys(|| format!("chmod {}", dir.display()))?;
    let mut mount = Mount::default();
    mount
        .set_destination(PathBuf::from(CONTAINER_DIR))
        .set_typ(Some("bind".into()))
        .set_source(Some(dir))
        .set_options(Some(
            ["bind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        ));
    spec.mounts_mut().get_or_insert_with(Vec::new).push(mount);
    if let Some(p) = spec.process_mut() {
        p.env_mut()
            .get_or_insert_with(Vec::new)
            .push(format!("NOTIFY_SOCKET={CONTAINER_DIR}/{SOCKET}"));
    }
    Ok(())
}

/// The container's socket, bound, and our caller's, connected.
pub struct Forwarder {
    container: UnixDatagram,
    host: UnixDatagram,
    host_name: OsString,
}

/// At `start` or `run`, before the container's process runs. The socket is bound here and not at
/// create, as in runc: it lives only as long as the process that bound it.
pub fn bind(state_dir: &Path, host: &OsStr) -> Result<Forwarder> {
    let path = state_dir.join(DIR).join(SOCKET);
    // Left by an earlier `start` that failed; nobody can be listening on it.
    let _ = std::fs::remove_file(&path);
    let container = UnixDatagram::bind(&path).sys(|| {
        let hint = if state_dir.join(DIR).exists() {
            ""
        } else {
            " (the container was created without NOTIFY_SOCKET)"
        };
        format!("bind notify socket {}{hint}", path.display())
    })?;
    // Any user of the container may notify, as runc allows.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
        .sys(|| format!("chmod {}", path.display()))?;
    container
        .set_nonblocking(true)
        .sys(|| format!("set {} non-blocking", path.display()))?;
    Ok(Forwarder {
        container,
        host: connect(host)?,
        host_name: host.to_owned(),
    })
}

/// Connect to the caller's socket now, so that a wrong NOTIFY_SOCKET fails before the container
/// runs. A leading '@' names an abstract socket (sd_notify's rule, which Go's net package and so
/// runc follow).
fn connect(host: &OsStr) -> Result<UnixDatagram> {
    let what = || format!("connect to NOTIFY_SOCKET {}", host.to_string_lossy());
    let sock = UnixDatagram::unbound().sys(what)?;
    match host.as_bytes().strip_prefix(b"@") {
        Some(name) => sock.connect_addr(&SocketAddr::from_abstract_name(name).sys(what)?),
        None => sock.connect(host),
    }
    .sys(what)?;
    Ok(sock)
}

impl Forwarder {
    /// Wait for the container's READY=1 and pass its message on, MAINPID=`main_pid` first. If the
    /// init (`pid` with `start_time`) exits first, nothing is sent and it is not an error: runc
    /// returns then too, and the manager sees the main process gone.
    pub fn forward_ready(&self, pid: i32, start_time: u64, main_pid: i32) -> Result<()> {
        let Some(ready) = self.wait_ready(pid, start_time)? else {
            crate::logging::debug(&format!(
                "container init {pid} exited before it sent READY=1 to NOTIFY_SOCKET"
            ));
            return Ok(());
        };
        self.host
            .send(&message(main_pid, &ready))
            .sys(|| format!("send to NOTIFY_SOCKET {}", self.host_name.to_string_lossy()))?;
        Ok(())
    }

    fn wait_ready(&self, pid: i32, start_time: u64) -> Result<Option<Vec<u8>>> {
        // The pidfd pins the process: with the start time checked, it is our init.
        let pidfd = pidfd_open(pid).filter(|_| is_alive(pid, start_time));
        loop {
            // Exit first, then the queue: whatever the init sent before it died is queued by then.
            let exited = match &pidfd {
                Some(fd) => readable(fd, 0)?,
                None => !is_alive(pid, start_time),
            };
            if let Some(m) = self.next_ready()? {
                return Ok(Some(m));
            }
            if exited {
                return Ok(None);
            }
            self.sleep(pidfd.as_ref())?;
        }
    }

    /// The first queued message with a READY=1 line; those before it are dropped, as runc does.
    fn next_ready(&self) -> Result<Option<Vec<u8>>> {
        let mut buf = [0u8; MAX_MESSAGE];
        loop {
            match self.container.recv(&mut buf) {
                Ok(n) if is_ready(&buf[..n]) => return Ok(Some(buf[..n].to_vec())),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).sys(|| "receive on the container's notify socket"),
            }
        }
    }

    /// Until a message comes or the init exits (without a pidfd: at most POLL_MS).
    fn sleep(&self, pidfd: Option<&OwnedFd>) -> Result<()> {
        let mut fds = vec![pollin(self.container.as_fd())];
        fds.extend(pidfd.map(|f| pollin(f.as_fd())));
        let timeout = if pidfd.is_some() { -1 } else { POLL_MS };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e).sys(|| "poll the container's notify socket"),
        }
    }
}

fn pollin(fd: std::os::fd::BorrowedFd) -> nix::poll::PollFd {
    nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)
}

/// poll(2) with a timeout in milliseconds (-1: none).
fn poll(fds: &mut [nix::poll::PollFd], timeout_ms: i32) -> nix::Result<i32> {
    use nix::poll::PollTimeout;
    nix::poll::poll(
        fds,
        PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE),
    )
}

/// Whether `fd` is readable within `timeout_ms` (a pidfd is once its process has exited).
fn readable(fd: &impl AsFd, timeout_ms: i32) -> Result<bool> {
    let mut p = [pollin(fd.as_fd())];
    loop {
        match poll(&mut p, timeout_ms) {
            Ok(r) => return Ok(r > 0),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).sys(|| "poll the container init's pidfd"),
        }
    }
}

fn lines(msg: &[u8]) -> impl Iterator<Item = &[u8]> {
    msg.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

fn is_ready(msg: &[u8]) -> bool {
    lines(msg).any(|l| l == b"READY=1")
}

/// What the manager gets: MAINPID first, so that it knows whom to watch when it reads READY=1 in
/// the same datagram, then the container's lines but its own MAINPID (a pid of its namespace).
fn message(main_pid: i32, from_container: &[u8]) -> Vec<u8> {
    let mut out = format!("MAINPID={main_pid}\n").into_bytes();
    for l in lines(from_container).filter(|l| !l.starts_with(b"MAINPID=")) {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_a_line_of_its_own() {
        assert!(is_ready(b"READY=1"));
        assert!(is_ready(b"STATUS=up\nREADY=1\n"));
        assert!(!is_ready(b"STATUS=READY=1"));
        assert!(!is_ready(b"READY=0\nSTATUS=x"));
    }

    #[test]
    fn message_puts_mainpid_first_and_drops_the_containers() {
        assert_eq!(
            message(42, b"STATUS=up\nMAINPID=1\nREADY=1"),
            b"MAINPID=42\nSTATUS=up\nREADY=1\n"
        );
        assert_eq!(message(7, b"READY=1\n"), b"MAINPID=7\nREADY=1\n");
    }

    #[test]
    fn setup_adds_the_mount_and_env_after_the_configs() {
        let dir = std::env::temp_dir().join(format!("rt-notify-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut spec = Spec::default();
        let before = spec.mounts().as_ref().map_or(0, Vec::len);
        setup(&mut spec, &dir).unwrap();
        let mounts = spec.mounts().as_ref().unwrap();
        assert_eq!(mounts.len(), before + 1);
        let m = mounts.last().unwrap();
        assert_eq!(m.destination(), Path::new("/run/notify"));
        assert_eq!(m.source().as_deref(), Some(dir.join("notify").as_path()));
        let env = spec.process().as_ref().unwrap().env().as_ref().unwrap();
        assert_eq!(env.last().unwrap(), "NOTIFY_SOCKET=/run/notify/notify.sock");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
