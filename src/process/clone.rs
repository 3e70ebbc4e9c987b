//! One `clone3` with the namespace flags (`clone` on kernels without it). The child continues as
//! a copy of this single-threaded process, like fork: no re-exec of the runtime.

use anyhow::{Context, Result};
use nix::errno::Errno;

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
    // Safety: clone3 without CLONE_VM and without a stack behaves like fork; the caller is
    // single-threaded, so the child may go on running Rust code.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let ret = if ret == -1 && Errno::last() == Errno::ENOSYS && cgroup_fd.is_none() {
        // Safety: as above; x86_64 argument order: flags, stack, parent_tid, child_tid, tls.
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
