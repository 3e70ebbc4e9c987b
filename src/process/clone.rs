//! One `clone3` with the namespace flags (`clone` on kernels without it). The child continues as
//! a copy of this single-threaded process, like fork: no re-exec of the runtime.

use crate::errno::SysContext;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, AsRawFd};

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

pub enum Forked {
    Parent(i32),
    Child,
}

/// Clone with `flags` (namespace flags); `cgroup_fd` places the child directly into a v2 cgroup.
pub fn clone(flags: u64, cgroup_fd: Option<i32>) -> Result<Forked> {
    // With CLONE_PARENT the child takes our own exit signal; clone3 refuses to be told one.
    let exit_signal = match flags & libc::CLONE_PARENT as u64 {
        0 => libc::SIGCHLD as u64,
        _ => 0,
    };
    let mut args = CloneArgs {
        flags,
        exit_signal,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork; the caller is
    // single-threaded, so the child may go on running Rust code.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let ret = if ret == -1 && Errno::last() == Errno::ENOSYS && cgroup_fd.is_none() {
        // SAFETY: as above; x86_64 argument order: flags, stack, parent_tid, child_tid, tls.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags | libc::SIGCHLD as u64,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        }
    } else {
        ret
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error()).context("clone the container process"),
        0 => {
            crate::testpoint::forked();
            Ok(Forked::Child)
        }
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// [`clone`] into the v2 cgroup directory `cgroup` (CLONE_INTO_CGROUP: the child is born in it)
/// when given; kernels before 5.7 lack it, and the child is then cloned outside it, for the
/// runtime to move. Also whether the child was born in `cgroup`.
pub fn clone_into(flags: u64, cgroup: Option<&std::fs::File>) -> Result<(Forked, bool)> {
    if let Some(dir) = cgroup {
        if let Ok(forked) = clone(flags, Some(dir.as_raw_fd())) {
            return Ok((forked, true));
        }
    }
    Ok((clone(flags, None)?, false))
}

/// The runtime's own PID and time namespaces for its children, kept while it joins or makes
/// others for the clone (they apply only to children), to return to afterwards.
#[derive(Default)]
pub struct ReturnTo {
    own: Vec<(CloneFlags, std::fs::File)>,
}

impl ReturnTo {
    /// Keep the runtime's current namespace of kind `flag` for children (CLONE_NEWPID or
    /// CLONE_NEWTIME).
    pub fn keep(&mut self, flag: CloneFlags) -> Result<()> {
        let own = match flag.bits() {
            crate::namespaces::CLONE_NEWTIME => "/proc/self/ns/time_for_children",
            _ => "/proc/self/ns/pid_for_children",
        };
        let file = std::fs::File::open(own).sys(|| format!("open {own}"))?;
        self.own.push((flag, file));
        Ok(())
    }

    /// Back to the namespaces kept, after the clone.
    pub fn back(&self) -> Result<()> {
        for (f, file) in &self.own {
            nix::sched::setns(file.as_fd(), *f).context("return to the runtime's namespace")?;
        }
        Ok(())
    }
}
