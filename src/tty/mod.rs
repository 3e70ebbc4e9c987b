//! The container's terminal: a pty allocated inside the container (from its own devpts), the slave
//! made the controlling terminal and stdio, the master handed out over a unix socket (SCM_RIGHTS),
//! as runc does for managers' `--console-socket`, or kept by a foreground `run`/`exec` (`proxy`).

mod proxy;

pub use proxy::{HostConsole, Proxy};

use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::Box as ConsoleSize;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

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
///
/// CVE-2025-52565: /dev may be a volume another container writes to, so no path is trusted
/// twice: the master is checked to be a pty multiplexer, the slave is opened from the master
/// (TIOCGPTPEER, not by its /dev/pts name) and checked to be a pty, and /dev/console gets a bind
/// of that very descriptor.
pub fn setup_console(size: Option<&ConsoleSize>, dev_console: bool) -> Result<OwnedFd> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .sys(|| "open /dev/ptmx")?;
    let st = nix::sys::stat::fstat(&master).sys(|| "stat /dev/ptmx")?;
    if !is_char(&st, |major, minor| major == 5 && minor == 2) {
        bail!("/dev/ptmx in the container is not the pty multiplexer (char 5:2)");
    }
    grantpt(&master).sys(|| "grantpt")?;
    unlockpt(&master).sys(|| "unlockpt")?;
    // As runc: a size with a zero in it leaves the kernel's 0x0.
    if let Some(s) = size.filter(|s| s.height() != 0 && s.width() != 0) {
        let ws = libc::winsize {
            ws_row: s.height() as u16,
            ws_col: s.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        crate::sys::set_window_size(master.as_raw_fd(), &ws).sys(|| "set process.consoleSize")?;
    }
    let slave = open_peer(&master)?;
    if dev_console {
        mount_console(&slave)?;
    }
    // The slave of a session leader.
    crate::sys::set_controlling_terminal(slave.as_fd())
        .sys(|| "make the pty the controlling terminal")?;
    for dup2 in [
        nix::unistd::dup2_stdin::<&OwnedFd>,
        nix::unistd::dup2_stdout,
        nix::unistd::dup2_stderr,
    ] {
        dup2(&slave).sys(|| "dup2 the pty onto stdio")?;
    }
    drop(slave);
    Ok(master.into())
}

fn is_char(st: &libc::stat, dev: impl Fn(u64, u64) -> bool) -> bool {
    (st.st_mode & libc::S_IFMT) == libc::S_IFCHR
        && dev(
            nix::sys::stat::major(st.st_rdev),
            nix::sys::stat::minor(st.st_rdev),
        )
}

/// The slave of `master`, opened through the master itself.
fn open_peer(master: &nix::pty::PtyMaster) -> Result<OwnedFd> {
    let slave = crate::sys::open_pty_peer(
        master.as_fd(),
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
    )
    .sys(|| "open the pty slave (TIOCGPTPEER)")?;
    let st = nix::sys::stat::fstat(&slave).sys(|| "stat the pty slave")?;
    // UNIX98 pty slaves: majors 136 to 143.
    if !is_char(&st, |major, _| (136..=143).contains(&major)) {
        bail!("the pty slave is not a pty");
    }
    Ok(slave)
}

/// runc's mountConsole: /dev/console (made, mode 0666, if missing) shows the container's
/// terminal. It is resolved inside the root without following symlinks and must be a file or a
/// character device: whatever else a neighbour may have put there makes the create fail.
fn mount_console(slave: &OwnedFd) -> Result<()> {
    use nix::fcntl::{OpenHow, ResolveFlag};
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .sys(|| "open the container's root")?;
    let resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS;
    let existing = nix::fcntl::openat2(
        &root,
        "dev/console",
        OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(resolve),
    );
    let target = match existing {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => {
            let fd = nix::fcntl::openat2(
                &root,
                "dev/console",
                OpenHow::new()
                    .flags(
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOCTTY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                    )
                    .mode(nix::sys::stat::Mode::from_bits_truncate(0o666))
                    .resolve(resolve),
            )
            .sys(|| "create /dev/console")?;
            nix::sys::stat::fchmod(&fd, nix::sys::stat::Mode::from_bits_truncate(0o666))
                .sys(|| "chmod /dev/console")?;
            fd
        }
        Err(e) => return Err(e).sys(|| "open /dev/console"),
    };
    let st = nix::sys::stat::fstat(&target).sys(|| "stat /dev/console")?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        bail!("/dev/console in the container is neither a file nor a device: refusing to mount the terminal over it");
    }
    let tree = crate::mountapi::clone_fd(slave.as_raw_fd(), false)
        .context("bind mount the pty on /dev/console")?;
    crate::mountapi::attach(&tree, target.as_raw_fd()).context("bind mount the pty on /dev/console")
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
