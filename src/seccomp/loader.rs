//! When and by which thread the filter is loaded (see the module's documentation).

use super::Filter;
use anyhow::{anyhow, Context, Result};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// A filter waiting to be loaded.
pub enum Pending {
    None,
    /// With no_new_privs: the process's own thread loads it.
    Here(Filter),
    /// Without: a thread that kept CAP_SYS_ADMIN loads it for the whole process.
    Thread(Loader),
}

pub struct Loader {
    notify: bool,
    go: mpsc::Sender<()>,
    done: std::thread::JoinHandle<()>,
    outcome: Arc<Outcome>,
}

/// What the loader thread reports. Once the filter is on, any syscall may be denied (the
/// thread's own exit and a join's futex too, and glibc retries an exit forever): the thread
/// says it is done through memory alone and spins until the exec ends it; the process's
/// thread waits for that word the same way.
#[derive(Default)]
struct Outcome {
    state: AtomicU8,
    error: Mutex<Option<String>>,
}

const PENDING: u8 = 0;
const LOADED: u8 = 1;
const FAILED: u8 = 2;

impl Pending {
    /// Decide how `filter` will be loaded; call while the process still holds CAP_SYS_ADMIN
    /// (before its credentials change) and before rlimits apply.
    pub fn new(filter: Option<Filter>, no_new_privs: bool) -> Result<Pending> {
        let Some(f) = filter else {
            return Ok(Pending::None);
        };
        if no_new_privs {
            return Ok(Pending::Here(f));
        }
        let notify = f.notifies();
        let (go, wait) = mpsc::channel::<()>();
        let outcome = Arc::new(Outcome::default());
        let report = outcome.clone();
        // Handed over through a slot, so that it comes back if no thread can be made.
        let slot = Arc::new(Mutex::new(Some(f)));
        let filter = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("seccomp".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                // Told to go, or the process gave up (the sender dropped): never load then.
                if wait.recv().is_err() {
                    return;
                }
                let Some(f) = filter.lock().ok().and_then(|mut f| f.take()) else {
                    report.state.store(FAILED, Ordering::Release);
                    return;
                };
                match f.load_with(libc::SECCOMP_FILTER_FLAG_TSYNC) {
                    // A NOTIFY profile was loaded during create and its fd handed over with
                    // syscalls already: this thread may end as threads do.
                    Ok(()) if notify => report.state.store(LOADED, Ordering::Release),
                    Ok(()) => {
                        report.state.store(LOADED, Ordering::Release);
                        // The filter's memory is never freed (free may call brk).
                        std::mem::forget(f);
                        loop {
                            std::hint::spin_loop();
                        }
                    }
                    Err(e) => {
                        // No filter was installed: syscalls are still ours.
                        *report.error.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(crate::errno::words(&e));
                        report.state.store(FAILED, Ordering::Release);
                    }
                }
            });
        let done = match spawned {
            Ok(d) => d,
            // No room for a thread (the cgroup's pids.max is reached): load the filter now,
            // while CAP_SYS_ADMIN is held, and run the rest of the setup under it, as runc.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                crate::logging::debug(&format!(
                    "seccomp: no loader thread ({}): the filter is loaded before the setup",
                    crate::errno::describe_io(&e)
                ));
                let f = slot.lock().ok().and_then(|mut f| f.take());
                f.context("the seccomp filter")?.load()?;
                return Ok(Pending::None);
            }
            Err(e) => return Err(e).context("start the thread that loads the seccomp filter"),
        };
        Ok(Pending::Thread(Loader {
            notify,
            go,
            done,
            outcome,
        }))
    }

    /// Whether the profile has SCMP_ACT_NOTIFY rules.
    pub fn notifies(&self) -> bool {
        match self {
            Pending::None => false,
            Pending::Here(f) => f.notifies(),
            Pending::Thread(l) => l.notify,
        }
    }

    /// Load the filter now (on this thread, or on the loader's for the whole process).
    pub fn load(self) -> Result<()> {
        match self {
            Pending::None => Ok(()),
            Pending::Here(f) => {
                f.load()?;
                // Its memory is not freed: free() may shrink the heap (brk) under the filter.
                std::mem::forget(f);
                Ok(())
            }
            Pending::Thread(l) => {
                l.go.send(())
                    .map_err(|_| anyhow!("the seccomp loader thread is gone"))?;
                let state = loop {
                    let finished = l.done.is_finished();
                    std::sync::atomic::fence(Ordering::Acquire);
                    match l.outcome.state.load(Ordering::Acquire) {
                        // Read after `finished`: a thread that reported and then ended is
                        // not taken for one that died.
                        PENDING if finished => break FAILED,
                        PENDING => std::hint::spin_loop(),
                        s => break s,
                    }
                };
                if state == LOADED {
                    if l.notify {
                        // It ends by itself; the join keeps no thread behind the parked init.
                        let _ = l.done.join();
                    } else {
                        // No destructor (channel, join handle) may make a syscall now.
                        std::mem::forget(l);
                    }
                    return Ok(());
                }
                let msg = l.outcome.error.lock().ok().and_then(|mut e| e.take());
                Err(anyhow!(
                    msg.unwrap_or_else(|| "the seccomp loader thread died".into())
                ))
            }
        }
    }
}
