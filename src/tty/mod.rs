//! The container's terminal: a pty allocated inside the container (from its own devpts), the slave
//! made the controlling terminal and stdio, the master handed out over a unix socket (SCM_RIGHTS),
//! as runc does for managers' `--console-socket`, or kept by a foreground `run`/`exec` (`proxy`).

mod proxy;

pub use proxy::{HostConsole, Proxy};

use crate::errno::SysContext;
use anyhow::{bail, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::Box as ConsoleSize;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

/// runc's checkTerminal: `--console-socket` is for a process that gets a terminal and that we do
/// not wait for (`create`, `run -d`, `exec -d`), and such a process cannot do without one.
pub fn check_console_socket(detach: bool, terminal: bool, socket: bool) -> Result<()> {
    if detach && terminal && !socket {
        bail!("cannot allocate tty if rt will detach without setting console socket");
    }
    if (!detach || !terminal) && socket {
        bail!("cannot use console socket if rt will not detach or allocate tty");
    }
    Ok(())
}

/// In the container, after pivot: returns the master; the slave is now stdio and controlling tty.
/// `dev_console` (the init, not `exec`) also bind-mounts the slave on /dev/console.
pub fn setup_console(size: Option<&ConsoleSize>, dev_console: bool) -> Result<OwnedFd> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .sys(|| "open /dev/ptmx")?;
    grantpt(&master).sys(|| "grantpt")?;
    unlockpt(&master).sys(|| "unlockpt")?;
    let slave_path = ptsname_r(&master).sys(|| "ptsname")?;
    // As runc: a size with a zero in it leaves the kernel's 0x0.
    if let Some(s) = size.filter(|s| s.height() != 0 && s.width() != 0) {
        let ws = libc::winsize {
            ws_row: s.height() as u16,
            ws_col: s.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // Safety: TIOCSWINSZ with a valid winsize.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
            return Err(std::io::Error::last_os_error()).sys(|| "set process.consoleSize");
        }
    }
    if dev_console {
        mount_console(&slave_path)?;
    }
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .sys(|| format!("open {slave_path}"))?;
    // Safety: TIOCSCTTY on the slave of a session leader.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .sys(|| "make the pty the controlling terminal");
    }
    for fd in 0..3 {
        // Safety: dup2 onto stdio numbers.
        if unsafe { libc::dup2(slave.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error()).sys(|| "dup2 the pty onto stdio");
        }
    }
    drop(slave);
    // Safety: posix_openpt returned a fresh descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) })
}

/// runc's mountConsole: /dev/console (made, mode 0666, if missing) shows the container's terminal.
fn mount_console(slave: &str) -> Result<()> {
    // create_new: an existing node is never opened (it could be a real console device).
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open("/dev/console")
    {
        Ok(f) => f
            .set_permissions(std::fs::Permissions::from_mode(0o666))
            .sys(|| "chmod /dev/console")?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).sys(|| "create /dev/console"),
    }
    mount(
        Some(slave),
        "/dev/console",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .sys(|| format!("bind mount {slave} on /dev/console"))
}

/// Send the master to a manager's console socket, as runc does (the fd with its name, /dev/ptmx).
pub fn send_master(sock: &OwnedFd, master: &OwnedFd) -> Result<()> {
    let name = b"/dev/ptmx";
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .sys(|| "send the pty master to the console socket")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_console_socket;

    #[test]
    fn console_socket_rules_are_runcs() {
        // (detach, terminal, socket) -> ok
        for (d, t, s, ok) in [
            (true, true, true, true),
            (true, true, false, false),
            (true, false, true, false),
            (true, false, false, true),
            (false, true, true, false),
            (false, true, false, true),
            (false, false, true, false),
            (false, false, false, true),
        ] {
            assert_eq!(check_console_socket(d, t, s).is_ok(), ok, "{d} {t} {s}");
        }
    }
}
