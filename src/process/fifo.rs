//! The exec fifo: `create` parks the init reading it, `start` releases it by writing one byte.
//!
//! The init holds the fifo open read-write, so its read blocks (never EOF) until `start` writes;
//! `start` opens write-only and non-blocking, which fails with ENXIO when no init is left reading.

use anyhow::{Context, Result};
use nix::sys::stat::Mode;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn create(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    Ok(f.into())
}

/// In the init: block until `start` writes. False if the fifo was closed instead.
pub fn wait(fd: &OwnedFd) -> bool {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fd, &mut b) {
            Ok(1) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return false,
        }
    }
}

/// In `start`: release the parked init, and return once it has exec'd the user's process (or
/// died): its read-write descriptor is close-on-exec, so the fifo then has no reader left, which
/// poll reports to a writer as POLLERR. `Ok(false)` when nobody was waiting on the fifo.
pub fn release(path: &Path) -> Result<bool> {
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    f.write_all(&[0])
        .with_context(|| format!("write {}", path.display()))?;
    let mut p = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&f),
        events: 0,
        revents: 0,
    };
    loop {
        // Safety: poll on one valid descriptor.
        let r = unsafe { libc::poll(&mut p, 1, -1) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    Ok(true)
}
