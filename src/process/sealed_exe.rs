//! CVE-2019-5736: a process of the runtime's inside a container (the parked init of `create`,
//! a copy of rt until it execs the user's program; `exec`'s process before its exec) is visible
//! to the container's processes. Non-dumpable (see process::init) keeps out those without
//! CAP_SYS_PTRACE in the host's user namespace; one that has it (a container without a user
//! namespace of its own, or `exec --cap CAP_SYS_PTRACE`) could still open /proc/<pid>/exe, hold
//! it, and write the runtime's binary on the host once that process has exec'd.
//!
//! Defence: such commands run from a binary that cannot be written, re-executing first thing:
//! - nothing to do when it already sits on a read-only mount (or is a sealed memfd);
//! - else onto a detached, read-only bind mount of itself (open_tree + mount_setattr; nothing
//!   visible in any mount table): moved there in place, without an exec (exe_remap: needs
//!   CAP_SYS_ADMIN), or else by executing it, done before anything is parsed;
//! - else (no new mount API, or no privilege for it) from a sealed memfd copy, as runc and crun
//!   do, which also costs a copy of the binary.

use crate::errno::SysContext;
use crate::mountapi;
use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// True when nobody can write the running binary through /proc/<pid>/exe: it is sealed or on
/// a read-only mount, or we cannot write it ourselves (a rootless user's /usr/bin/rt), and so
/// neither can a container's process, which has at most our privileges over it.
fn is_protected(exe: &File) -> bool {
    use nix::errno::Errno;
    let access = nix::unistd::faccessat(
        nix::fcntl::AT_FDCWD,
        "/proc/self/exe",
        nix::unistd::AccessFlags::W_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    );
    // Anything but a clear "no" counts as writable.
    let writable = !matches!(access, Err(Errno::EACCES | Errno::EPERM | Errno::EROFS));
    !writable || sealed_or_read_only(exe)
}

fn sealed_or_read_only(exe: &File) -> bool {
    let sealed = fcntl(exe, FcntlArg::F_GET_SEALS)
        .is_ok_and(|s| SealFlag::from_bits_truncate(s).contains(SEALS));
    let read_only = nix::sys::statvfs::fstatvfs(exe)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    sealed || read_only
}

/// Re-execute from a binary that cannot be written, unless we already run from one. Returns
/// only if we do.
pub fn ensure() -> Result<()> {
    let exe = File::open("/proc/self/exe").sys(|| "open /proc/self/exe")?;
    if is_protected(&exe) {
        return Ok(());
    }
    let image = match read_only_mount() {
        Ok(fd) => {
            drop(exe);
            match remap_onto(&fd) {
                Ok(()) => return Ok(()),
                Err(e) => crate::logging::debug(&format!(
                    "moving onto the read-only image in place failed ({}); executing it",
                    crate::errno::words(&e)
                )),
            }
            fd
        }
        Err(e) => {
            crate::logging::debug(&format!(
                "read-only bind of the runtime failed ({}); using a sealed copy",
                crate::errno::words(&e)
            ));
            sealed_copy(exe)?
        }
    };
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<_, _>>()
        .context("argument with a NUL byte")?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv)
        })
        .collect::<Result<_, _>>()
        .context("environment variable with a NUL byte")?;
    let err = nix::unistd::execveat(
        image.as_fd(),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(err).sys(|| "re-execute the runtime from a read-only image")
}

/// Make the image (a mount of our binary alone) our /proc/self/exe in place: no exec.
pub(super) fn remap_onto(tree: &OwnedFd) -> Result<()> {
    super::exe_remap::onto(&mountapi::reopen(tree)?)
}

/// A detached read-only bind mount of our own binary.
pub(super) fn read_only_mount() -> Result<OwnedFd> {
    mountapi::read_only_clone("/proc/self/exe")
}

fn sealed_copy(mut exe: File) -> Result<OwnedFd> {
    let memfd = memfd_create("rt", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .sys(|| "memfd_create for a sealed copy of the runtime")?;
    let mut copy = File::from(memfd);
    std::io::copy(&mut exe, &mut copy).context("copy the runtime's binary into a memfd")?;
    fcntl(&copy, FcntlArg::F_ADD_SEALS(SEALS)).sys(|| "seal the runtime's copy")?;
    Ok(copy.into())
}
