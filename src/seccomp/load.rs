//! The compiled program and its installation with seccomp(2) itself, so that every flag the
//! running kernel knows is available whatever the libseccomp version, and so that loading is one
//! syscall (nothing is allocated or exported between the load and the notify fd's handoff).

use super::profile::spec_name;
use crate::variants::all_variants;
use anyhow::{bail, Context, Result};
use libseccomp::ScmpFilterContext;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag};
use std::io::{Read, Seek};
use std::os::fd::OwnedFd;

/// A BPF program ready for seccomp(SECCOMP_SET_MODE_FILTER) and its flags.
#[derive(Clone)]
pub(super) struct Program {
    filter: Vec<libc::sock_filter>,
    pub(super) flags: libc::c_ulong,
}

fn flag_bit(f: LinuxSeccompFilterFlag) -> libc::c_ulong {
    use LinuxSeccompFilterFlag::*;
    match f {
        SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    }
}

/// The bits a flag is loaded (and probed) with: WAIT_KILLABLE_RECV is accepted by the kernel only
/// together with NEW_LISTENER.
fn probe_bits(f: LinuxSeccompFilterFlag) -> libc::c_ulong {
    let bit = flag_bit(f);
    if bit == libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
        bit | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        bit
    }
}

/// The flags rt understands: [`flag_bit`] maps every one oci-spec knows.
pub(super) fn known_flags() -> Vec<LinuxSeccompFilterFlag> {
    all_variants!(LinuxSeccompFilterFlag: SeccompFilterFlagTsync, SeccompFilterFlagLog,
        SeccompFilterFlagSpecAllow, SeccompFilterFlagWaitKillableRecv)
    .to_vec()
}

/// The known flags the running kernel accepts, probed the way [`flags`] checks a profile's.
pub(super) fn supported_flags() -> Vec<LinuxSeccompFilterFlag> {
    known_flags()
        .into_iter()
        .filter(|&f| kernel_accepts(probe_bits(f)))
        .collect()
}

/// Whether the kernel knows these flags: with a NULL program it fails with EFAULT once the
/// flags are accepted, EINVAL before (the probe libseccomp uses; nothing is installed).
fn kernel_accepts(flags: libc::c_ulong) -> bool {
    matches!(
        crate::sys::seccomp_set_mode_filter(flags, None),
        Err(nix::errno::Errno::EFAULT)
    )
}

/// The seccomp(2) flags for linux.seccomp.flags; `notify`: the filter has SCMP_ACT_NOTIFY rules.
pub(super) fn flags(s: &LinuxSeccomp, notify: bool) -> Result<libc::c_ulong> {
    let mut bits = 0;
    for (i, f) in s.flags().iter().flatten().enumerate() {
        let name = spec_name(f);
        let bit = probe_bits(*f);
        if bit & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 && !notify {
            // Only meaningful (and only accepted by the kernel) with a notify listener;
            // libseccomp drops it the same way.
            crate::logging::debug(&format!(
                "linux.seccomp.flags[{i}]: {name} ignored, the profile uses no SCMP_ACT_NOTIFY"
            ));
            continue;
        }
        if !kernel_accepts(bit) {
            bail!("linux.seccomp.flags[{i}]: {name} is not supported by the running kernel");
        }
        bits |= bit;
    }
    if notify {
        bits |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if bits & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            // TSYNC reports a failing thread in the return value, which NEW_LISTENER needs.
            bits |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
        if !kernel_accepts(bits) {
            bail!("linux.seccomp: SCMP_ACT_NOTIFY needs seccomp user notification (Linux 5.0)");
        }
    }
    Ok(bits)
}

impl Program {
    /// libseccomp's BPF for `ctx`, exported through a memfd.
    pub(super) fn export(ctx: &ScmpFilterContext, flags: libc::c_ulong) -> Result<Program> {
        let fd =
            nix::sys::memfd::memfd_create("rt-seccomp-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .context("memfd_create for the seccomp BPF")?;
        ctx.export_bpf(&fd).context("export the seccomp BPF")?;
        let mut file = std::fs::File::from(fd);
        file.rewind().context("rewind the seccomp BPF")?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .context("read the seccomp BPF")?;
        Program::from_bytes(&bytes, flags).context("libseccomp's exported BPF")
    }

    /// A program from its raw instructions (struct sock_filter, native byte order).
    pub(super) fn from_bytes(bytes: &[u8], flags: libc::c_ulong) -> Result<Program> {
        let size = std::mem::size_of::<libc::sock_filter>();
        if bytes.is_empty()
            || !bytes.len().is_multiple_of(size)
            || bytes.len() / size > u16::MAX as usize
        {
            bail!("seccomp: a BPF program of {} bytes", bytes.len());
        }
        let filter = bytes
            .chunks_exact(size)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Program { filter, flags })
    }

    /// The raw instructions, as [`Program::from_bytes`] reads them.
    pub(super) fn write_bytes(&self, out: &mut Vec<u8>) {
        for i in &self.filter {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.extend_from_slice(&[i.jt, i.jf]);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
    }

    /// Instructions in the program.
    pub(super) fn len(&self) -> usize {
        self.filter.len()
    }

    /// Install the program on the calling thread: one seccomp(2) call. Returns the notify fd
    /// when the program has SCMP_ACT_NOTIFY rules.
    /// Install with `flags` (the program's own, and TSYNC when a loader thread installs it).
    pub(super) fn install_with(&self, flags: libc::c_ulong) -> std::io::Result<Option<OwnedFd>> {
        let prog = libc::sock_fprog {
            len: self.filter.len() as u16,
            filter: self.filter.as_ptr() as *mut libc::sock_filter,
        };
        crate::sys::seccomp_set_mode_filter(flags, Some(&prog)).map_err(std::io::Error::from)
    }
}

/// Names of the bits in `flags`, for errors.
pub(super) fn flag_names(flags: libc::c_ulong) -> String {
    let names = [
        (libc::SECCOMP_FILTER_FLAG_TSYNC, "TSYNC"),
        (libc::SECCOMP_FILTER_FLAG_LOG, "LOG"),
        (libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SPEC_ALLOW"),
        (libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, "NEW_LISTENER"),
        (libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "TSYNC_ESRCH"),
        (
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            "WAIT_KILLABLE_RECV",
        ),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join("|")
    }
}
