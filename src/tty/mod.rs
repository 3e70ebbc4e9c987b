//! The container's terminal: a pty allocated inside the container (from its own devpts), the slave
//! made the controlling terminal and stdio, the master handed out over a unix socket (SCM_RIGHTS),
//! as runc does for managers' `--console-socket`.

mod proxy;

pub use proxy::proxy;

use crate::errno::SysContext;
use anyhow::Result;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::Box as ConsoleSize;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

/// In the init, after pivot: returns the master; the slave is now stdio and controlling tty.
pub fn setup_console(size: Option<&ConsoleSize>) -> Result<OwnedFd> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .sys(|| "open /dev/ptmx")?;
    grantpt(&master).sys(|| "grantpt")?;
    unlockpt(&master).sys(|| "unlockpt")?;
    let slave_path = ptsname_r(&master).sys(|| "ptsname")?;
    if let Some(s) = size {
        let ws = libc::winsize {
            ws_row: s.height() as u16,
            ws_col: s.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // Safety: TIOCSWINSZ with a valid winsize.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .sys(|| format!("open {slave_path}"))?;
    // /dev/console shows the container's terminal, when /dev is ours to change.
    if std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/dev/console")
        .is_ok()
    {
        let _ = mount(
            Some(slave_path.as_str()),
            "/dev/console",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        );
    }
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

/// Send the master to a manager's console socket, as runc does (the fd with its pts name).
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
