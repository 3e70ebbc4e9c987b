//! A foreground `run`/`exec` with a terminal, as runc's tty.go does it: the host console (the first
//! of stderr, stdout, stdin that is a terminal, else /dev/tty) in raw mode with output processing
//! kept, its window size copied to the container's pty at start and on every SIGWINCH, stdin
//! copied to the pty master and the master to stdout until the process is gone.

use crate::errno::SysContext;
use anyhow::Result;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, OutputFlags, SetArg, Termios};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Once the process is gone, output still on its way is read until the pty stays quiet this long
/// (a process it left behind may hold the slave open forever, so no end of file is awaited).
const DRAIN_IDLE: Duration = Duration::from_millis(100);
const DRAIN_MAX: Duration = Duration::from_secs(1);

/// The terminal on our side, and its settings to restore.
pub struct HostConsole {
    fd: OwnedFd,
    saved: Termios,
}

impl HostConsole {
    /// runc's initHostConsole: stdio may be redirected, so any of them, or the controlling
    /// terminal; a foreground terminal process without any is an error.
    pub fn open() -> Result<HostConsole> {
        for fd in [2, 1, 0] {
            // SAFETY: stdio numbers, only borrowed to be duplicated (a closed one fails).
            let b = unsafe { BorrowedFd::borrow_raw(fd) };
            if let Ok(saved) = tcgetattr(b) {
                let fd = b.try_clone_to_owned().sys(|| "dup the host terminal")?;
                return Ok(HostConsole { fd, saved });
            }
        }
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .open("/dev/tty")
            .sys(|| "open /dev/tty")?
            .into();
        let saved = tcgetattr(&fd).sys(|| "unable to get console")?;
        Ok(HostConsole { fd, saved })
    }
}

/// The write end of the SIGWINCH self-pipe, for the handler.
static WINCH: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_winch(_: libc::c_int) {
    let fd = WINCH.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; the pipe lives as long as the handler is
        // installed; a full pipe already holds a wake-up.
        unsafe { libc::write(fd, b"w".as_ptr().cast(), 1) };
    }
}

/// Copying between the host console and a container's pty master, from `start` until dropped.
pub struct Proxy {
    stop: Option<OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
    host: HostConsole,
}

impl Proxy {
    /// Our terminal raw and its size on the pty, then copying in a thread. `run` starts it before
    /// the process runs, so that the process starts with our size.
    pub fn start(master: OwnedFd, host: HostConsole) -> Result<Proxy> {
        let (stop_r, stop_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).sys(|| "pipe")?;
        let (winch_r, winch_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).sys(|| "pipe for SIGWINCH")?;
        // Non-blocking writes: input the container does not read must not stop its output.
        fcntl(&master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).sys(|| "pty master O_NONBLOCK")?;
        // runc's ClearONLCR: the host terminal turns "\n" into "\r\n" (OPOST stays on below), the
        // container's pty must not do it as well.
        if let Ok(mut t) = tcgetattr(&master) {
            t.output_flags.remove(OutputFlags::ONLCR);
            tcsetattr(&master, SetArg::TCSANOW, &t).sys(|| "clear ONLCR on the pty")?;
        }
        // Last of what can fail: from here on the host terminal is restored on drop.
        let mut raw = host.saved.clone();
        cfmakeraw(&mut raw);
        raw.output_flags.insert(OutputFlags::OPOST);
        tcsetattr(&host.fd, SetArg::TCSANOW, &raw).sys(|| "set the host terminal raw")?;
        copy_size(host.fd.as_raw_fd(), master.as_raw_fd());

        // The handler's pipe is never closed: a handler running on another thread may still
        // write to it, and there is one proxy per rt process.
        WINCH.store(winch_w.into_raw_fd(), Ordering::Relaxed);
        // SAFETY: the handler only writes to a pipe. SIGWINCH is ours now, never forwarded:
        // resizing the pty makes the kernel signal the container's foreground process group.
        unsafe { libc::signal(libc::SIGWINCH, on_winch as *const () as libc::sighandler_t) };
        let host_fd = host.fd.as_raw_fd();
        let thread = std::thread::spawn(move || pump(master, host_fd, winch_r, stop_r));
        Ok(Proxy {
            stop: Some(stop_w),
            thread: Some(thread),
            host,
        })
    }
}

impl Drop for Proxy {
    /// The process is gone: drain its last output, then give the host terminal back.
    fn drop(&mut self) {
        drop(self.stop.take()); // POLLHUP on the thread's end
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: back to the default disposition (ignore) for SIGWINCH.
        unsafe { libc::signal(libc::SIGWINCH, libc::SIG_DFL) };
        let _ = tcsetattr(&self.host.fd, SetArg::TCSANOW, &self.host.saved);
    }
}

fn pump(master: OwnedFd, host: RawFd, winch: OwnedFd, stop: OwnedFd) {
    // SAFETY: stdin stays open for the life of rt.
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let mut pending: Vec<u8> = Vec::new(); // input the pty did not take yet
    let mut stdin_open = true;
    let mut stopped: Option<Instant> = None;
    let mut buf = [0u8; 8192];
    loop {
        let mut want = PollFlags::POLLIN;
        if !pending.is_empty() {
            want |= PollFlags::POLLOUT;
        }
        let mut fds = vec![
            PollFd::new(master.as_fd(), want),
            PollFd::new(winch.as_fd(), PollFlags::POLLIN),
        ];
        if stopped.is_none() {
            fds.push(PollFd::new(stop.as_fd(), PollFlags::POLLIN));
            if stdin_open && pending.is_empty() {
                fds.push(PollFd::new(stdin, PollFlags::POLLIN));
            }
        }
        let timeout = match stopped {
            Some(t) if t.elapsed() >= DRAIN_MAX => break,
            Some(_) => PollTimeout::try_from(DRAIN_IDLE).unwrap_or(PollTimeout::ZERO),
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(0) => break, // quiet for DRAIN_IDLE after the end
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready = |i: usize| -> PollFlags {
            fds.get(i)
                .and_then(|f| f.revents())
                .unwrap_or(PollFlags::empty())
        };
        let (m, w, s, i) = (ready(0), ready(1), ready(2), ready(3));
        drop(fds);
        if !w.is_empty() {
            while nix::unistd::read(&winch, &mut buf).is_ok_and(|n| n > 0) {}
            copy_size(host, master.as_raw_fd());
        }
        if !s.is_empty() {
            stopped = Some(Instant::now());
        }
        if m.contains(PollFlags::POLLOUT) {
            match nix::unistd::write(&master, &pending) {
                Ok(n) => drop(pending.drain(..n)),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => pending.clear(),
            }
        }
        if m.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // A gone host terminal must not stop the container's output: it is dropped.
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => break, // EIO: every slave descriptor is closed
            }
        }
        if !i.is_empty() {
            match nix::unistd::read(stdin, &mut buf) {
                Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                _ => stdin_open = false,
            }
        }
    }
}

fn copy_size(from: RawFd, to: RawFd) {
    // Errors are ignored as runc does: the host terminal may be going away.
    if let Ok(ws) = crate::sys::window_size(from) {
        let _ = crate::sys::set_window_size(to, &ws);
    }
}
