//! `run`: create and start; in the foreground, wait for the container, forward signals to it,
//! delete it and return its exit status (128+N for a signal).

use super::create::{create_parked, CreateOptions};
use super::{delete::destroy, start, Context};
use crate::process::channel::FromInit;
use anyhow::{Context as _, Result};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, Ordering};

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        // Safety: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

const FORWARDED: &[i32] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

pub fn run(ctx: &Context, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32> {
    let (locked, state, spawned) = create_parked(ctx, id, opts, !detach)?;
    drop(locked);
    if let Err(e) = start(ctx, id) {
        let _ = super::delete(ctx, id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    CHILD.store(spawned.pid, Ordering::Relaxed);
    for &sig in FORWARDED {
        // Safety: installing a handler that only calls kill.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
    let proxy = spawned
        .console_master
        .map(|m| std::thread::spawn(move || crate::tty::proxy(m)));
    let code = wait_exit(spawned.pid)?;
    // An exec that failed after `start` reports why on the channel before exiting.
    if let Ok(Some((FromInit::Error(msg), _))) = spawned.channel.recv::<FromInit>() {
        crate::logging::fatal(&format!("run: {msg}"));
    }
    if let Some(p) = proxy {
        let _ = p.join();
    }
    // Someone may have deleted it meanwhile (`delete --force`): then there is nothing left to do.
    if let Some(locked) = super::state::open(&ctx.root, id)? {
        destroy(locked, &state)?;
    }
    Ok(code)
}

fn wait_exit(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("wait for the container process"),
        }
    }
}
