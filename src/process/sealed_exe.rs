//! CVE-2019-5736: a process that joins a container where other processes already run (`exec`, or
//! a container sharing another's PID namespace) is visible to them while it is still the runtime;
//! if its final exec is redirected to `/proc/self/exe` (a `#!/proc/self/exe` script, a symlink),
//! they can reopen the runtime's binary through `/proc/<pid>/exe` and overwrite it on the host.
//!
//! Defence: such commands re-execute the runtime from a sealed memfd copy of its binary (as runc
//! and crun do), so `/proc/<pid>/exe` is a copy that cannot be written. It costs one copy of the
//! binary and one exec, so it is paid only where another process can see us.

use crate::errno::SysContext;
use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use std::ffi::CString;
use std::fs::File;
use std::os::unix::ffi::OsStringExt;

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// True when the running binary is already a sealed copy.
fn is_sealed(exe: &File) -> bool {
    fcntl(exe, FcntlArg::F_GET_SEALS).is_ok_and(|s| SealFlag::from_bits_truncate(s).contains(SEALS))
}

/// Re-execute from a sealed copy unless we already run from one. Returns only if we do.
pub fn ensure() -> Result<()> {
    let mut exe = File::open("/proc/self/exe").sys(|| "open /proc/self/exe")?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let memfd = memfd_create("rt", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .sys(|| "memfd_create for a sealed copy of the runtime")?;
    let mut copy = File::from(memfd);
    std::io::copy(&mut exe, &mut copy).context("copy the runtime's binary into a memfd")?;
    fcntl(&copy, FcntlArg::F_ADD_SEALS(SEALS)).sys(|| "seal the runtime's copy")?;
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
    let err = nix::unistd::execveat(&copy, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH)
        .unwrap_err();
    Err(err).sys(|| "re-execute the runtime from its sealed copy")
}
