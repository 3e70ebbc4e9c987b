//! The exec fifo: `create` parks the init reading it, `start` releases it by writing one byte.
//!
//! The init holds the fifo open read-write, so its read blocks (never EOF) until `start` writes;
//! `start` opens write-only and non-blocking, which fails with ENXIO when no init is left reading.

use anyhow::{Context, Result};
use nix::sys::stat::Mode;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

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

/// In `start`: release the parked init. `None` when nobody was waiting on the fifo.
pub fn release(path: &Path) -> Result<Option<Released>> {
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    f.write_all(&[0])
        .with_context(|| format!("write {}", path.display()))?;
    Ok(Some(Released(f)))
}

/// The writing end of a released init's fifo, to learn when the init is done with it.
pub struct Released(std::fs::File);

impl Released {
    /// Wait until the init has exec'd the user's process (or died): its read-write descriptor is
    /// close-on-exec, so the fifo then has no reader left, which poll reports to a writer as
    /// POLLERR. False if `limit` passed first.
    pub fn wait(&self, limit: Option<Duration>) -> bool {
        let deadline = limit.map(|l| Instant::now() + l);
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut p = [PollFd::new(self.0.as_fd(), PollFlags::empty())];
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
            };
            match poll(
                &mut p,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE),
            ) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(nix::errno::Errno::EINTR) => {}
                // Nothing better to do than to stop waiting.
                Err(_) => return true,
            }
        }
    }
}
