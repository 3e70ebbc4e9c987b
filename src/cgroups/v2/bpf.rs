//! bpf(2) for the cgroup v2 device controller: load the program built by devices.rs, attach it to
//! a cgroup directory, and detach the filters it replaces.
//!
//! Needs CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF (kernel 4.15+), and CAP_SYS_ADMIN or
//! CAP_BPF + CAP_NET_ADMIN in the initial user namespace: without them the calls fail with EPERM,
//! as they do in a user namespace. Since 5.11 programs are charged to the memory cgroup, not to
//! RLIMIT_MEMLOCK, so the limit is left alone (older kernels may need it raised).

use super::devices::{self, Insn};
use crate::errno::{describe, SysContext};
use anyhow::{anyhow, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxDeviceCgroup;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The name the program shows in `bpftool prog`.
const PROG_NAME: &[u8] = b"rt_devices";
/// No helper is called, so the license needs not be GPL-compatible; runc says "Apache" too.
const LICENSE: &std::ffi::CStr = c"Apache";

#[repr(C)]
#[derive(Clone, Copy)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `union bpf_attr`, zeroed and larger than any kernel's (which must ignore a zero tail): the
/// kernel writes some results past the fields we set (BPF_PROG_QUERY's `revision` since 6.6).
#[repr(C)]
union Attr {
    load: ProgLoad,
    attach: ProgAttach,
    query: ProgQuery,
    get_fd: GetFdById,
    size: [u64; 32],
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> nix::Result<libc::c_long> {
    // SAFETY: attr is a valid, writable bpf_attr of the size passed; pointers inside it are the
    // callers' and outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr,
            std::mem::size_of::<Attr>(),
        )
    };
    Errno::result(r)
}

fn zeroed() -> Attr {
    Attr { size: [0; 32] }
}

fn fd_from(r: libc::c_long) -> OwnedFd {
    // SAFETY: a successful bpf() returning a descriptor gives us its only owner.
    unsafe { OwnedFd::from_raw_fd(r as i32) }
}

/// Replace the device filter of the cgroup v2 directory `dir` with one built from `rules` (OCI
/// semantics, evaluated like runc: later rules override earlier ones; default deny unless a rule
/// of type `a` allows all; see devices.rs). The new filter is attached before the old ones are
/// detached, so the cgroup is never unfiltered; a failure leaves both (the stricter union).
/// While both are attached a request must pass both, so a device that both allow is never
/// refused to the processes already in the cgroup (containers sharing it, or this one on
/// `update`): unlike v1 there is no deny-all step to avoid.
pub fn apply_device_filter(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let insns = devices::program(rules)?;
    let d = dir.display();
    // Creates sharing the cgroup take turns: unserialized, both could query before either
    // attached, and both filters would stay (their intersection) instead of the last one's.
    let _lock = crate::cgroups::devices::lock(dir)?;
    let dirfd = open(
        dir,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| format!("open cgroup {d}"))?;
    let old = query(dirfd.as_fd()).sys(|| format!("bpf(BPF_PROG_QUERY) device filters of {d}"))?;
    let prog =
        load(&insns).map_err(|e| anyhow!("bpf(BPF_PROG_LOAD) device filter for {d}: {e}"))?;

    let mut a = zeroed();
    a.attach = ProgAttach {
        target_fd: dirfd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut a).sys(|| format!("bpf(BPF_PROG_ATTACH) device filter to {d}"))?;

    for id in old {
        let mut a = zeroed();
        a.get_fd = GetFdById {
            prog_id: id,
            next_id: 0,
            open_flags: 0,
        };
        let old_prog = match bpf(BPF_PROG_GET_FD_BY_ID, &mut a) {
            Ok(fd) => fd_from(fd),
            // Detached and freed meanwhile.
            Err(Errno::ENOENT) => continue,
            // An LSM hides it from us (runc skips these too): it can only restrict further.
            Err(Errno::EPERM | Errno::EACCES) => continue,
            Err(e) => {
                return Err(e)
                    .sys(|| format!("bpf(BPF_PROG_GET_FD_BY_ID) old device filter {id} of {d}"))
            }
        };
        let mut a = zeroed();
        a.attach = ProgAttach {
            target_fd: dirfd.as_raw_fd() as u32,
            attach_bpf_fd: old_prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: 0,
        };
        match bpf(BPF_PROG_DETACH, &mut a) {
            Ok(_) | Err(Errno::ENOENT) => {}
            Err(e) => {
                return Err(e).sys(|| format!("bpf(BPF_PROG_DETACH) old device filter {id} of {d}"))
            }
        }
    }
    Ok(())
}

/// The ids of the device filters attached to the cgroup directory `dir` itself (not inherited).
#[cfg(test)]
pub fn attached_device_filters(dir: &Path) -> Result<Vec<u32>> {
    let d = dir.display();
    let dirfd = open(
        dir,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(|| format!("open cgroup {d}"))?;
    query(dirfd.as_fd()).sys(|| format!("bpf(BPF_PROG_QUERY) device filters of {d}"))
}

fn query(dirfd: BorrowedFd) -> nix::Result<Vec<u32>> {
    // 64 is the kernel's limit per cgroup and attach type; ENOSPC says how many there are.
    let mut cap = 64u32;
    loop {
        let mut ids = vec![0u32; cap as usize];
        let mut a = zeroed();
        a.query = ProgQuery {
            target_fd: dirfd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: cap,
        };
        let r = bpf(BPF_PROG_QUERY, &mut a);
        // SAFETY: the kernel filled in the query member.
        let n = unsafe { a.query.prog_cnt };
        match r {
            Ok(_) => {
                ids.truncate(n as usize);
                return Ok(ids);
            }
            Err(Errno::ENOSPC) if n > cap => cap = n,
            Err(e) => return Err(e),
        }
    }
}

/// Load `insns`; on failure the error carries the verifier's log.
fn load(insns: &[Insn]) -> std::result::Result<OwnedFd, String> {
    let mut name = [0u8; 16];
    name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    let attr = |log: &mut [u8]| {
        let mut a = zeroed();
        a.load = ProgLoad {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: LICENSE.as_ptr() as u64,
            log_level: !log.is_empty() as u32,
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            kern_version: 0,
            prog_flags: 0,
            prog_name: name,
        };
        a
    };
    match bpf(BPF_PROG_LOAD, &mut attr(&mut [])) {
        Ok(fd) => return Ok(fd_from(fd)),
        Err(Errno::EPERM) => return Err(describe(Errno::EPERM)),
        Err(_) => {}
    }
    // Again with the verifier's log, to say why.
    let mut log = vec![0u8; 64 * 1024];
    match bpf(BPF_PROG_LOAD, &mut attr(&mut log)) {
        Ok(fd) => Ok(fd_from(fd)),
        Err(e) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let log = String::from_utf8_lossy(&log[..end]);
            let log = log.trim();
            if log.is_empty() {
                Err(describe(e))
            } else {
                Err(format!("{} (verifier: {log})", describe(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::path::PathBuf;

    /// The test's cgroup and its child; both go whatever the test's outcome.
    struct Cgroup {
        dir: PathBuf,
        child: Option<libc::pid_t>,
    }

    impl Drop for Cgroup {
        fn drop(&mut self) {
            if let Some(pid) = self.child.take() {
                // SAFETY: pid is our unreaped child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
            for _ in 0..100 {
                match std::fs::remove_dir(&self.dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(10))
                    }
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        eprintln!("rmdir {}: {e}", self.dir.display());
                        break;
                    }
                    _ => break,
                }
            }
        }
    }

    impl Cgroup {
        /// Fork a child that joins the cgroup, opens `allowed` read-write and fails to open
        /// `denied` with EPERM; its exit status says which step went wrong (0: none).
        fn probe(&mut self, allowed: &CStr, denied: &CStr) -> i32 {
            let procs = std::ffi::CString::new(
                self.dir
                    .join("cgroup.procs")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
            .unwrap();
            // SAFETY: the child makes only async-signal-safe calls, on data prepared before.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
            if pid == 0 {
                // SAFETY: in the forked child, which only makes raw calls and _exits.
                unsafe { child(&procs, allowed, denied) }
            }
            self.child = Some(pid);
            let mut status = 0;
            // SAFETY: pid is our child.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
            self.child = None;
            assert!(libc::WIFEXITED(status), "child status {status:#x}");
            libc::WEXITSTATUS(status)
        }
    }

    unsafe fn child(procs: &CStr, allowed: &CStr, denied: &CStr) -> ! {
        let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
            libc::_exit(10);
        }
        libc::close(fd);
        let fd = libc::open(allowed.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            libc::_exit(100 + errno().min(100));
        }
        libc::close(fd);
        let fd = libc::open(denied.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::_exit(12);
        }
        libc::_exit(if errno() == libc::EPERM { 0 } else { 13 })
    }

    fn only(typ: &str, major: i64, minor: i64) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(&format!(
            r#"[{{"allow":false,"access":"rwm"}},{{"allow":true,"type":"{typ}","major":{major},"minor":{minor},"access":"rwm"}}]"#
        ))
        .unwrap()
    }

    #[test]
    fn the_verifier_accepts_every_shape() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        for json in [
            "[]",
            r#"[{"allow":true,"access":"rwm"}]"#,
            r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},{"allow":true,"type":"b","access":"m"},{"allow":true,"type":"c","major":136,"access":"rwm"}]"#,
            r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"},{"allow":false,"type":"b","minor":2,"access":"rwm"}]"#,
        ] {
            let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
            if let Err(e) = load(&devices::program(&rules).unwrap()) {
                panic!("{json}: {e}");
            }
        }
    }

    #[test]
    fn filters_a_real_cgroup() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Some(v2) = crate::cgroups::hierarchies()
            .unwrap()
            .into_iter()
            .find(|h| h.v2)
        else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let dir = v2.mount.join(format!("rt-bpftest-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let mut cg = Cgroup { dir, child: None };

        apply_device_filter(&cg.dir, &only("c", 1, 3)).unwrap();
        let first = attached_device_filters(&cg.dir).unwrap();
        assert_eq!(first.len(), 1, "{first:?}");
        assert_eq!(cg.probe(c"/dev/null", c"/dev/zero"), 0);

        // update: the new filter replaces the old one.
        apply_device_filter(&cg.dir, &only("c", 1, 5)).unwrap();
        let second = attached_device_filters(&cg.dir).unwrap();
        assert_eq!(second.len(), 1, "{second:?}");
        assert_ne!(first, second);
        assert_eq!(cg.probe(c"/dev/zero", c"/dev/null"), 0);

        // Allow-all with a deny exception: any overlap with its access denies.
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":5,"access":"r"}]"#,
        )
        .unwrap();
        apply_device_filter(&cg.dir, &rules).unwrap();
        assert_eq!(attached_device_filters(&cg.dir).unwrap().len(), 1);
        assert_eq!(cg.probe(c"/dev/null", c"/dev/zero"), 0);

        // Errors name the call, the path and the errno.
        let e = apply_device_filter(Path::new("/proc"), &only("c", 1, 3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bpf(BPF_PROG_QUERY) device filters of /proc: bad file descriptor"
        );
        let e = apply_device_filter(&cg.dir.join("nope"), &only("c", 1, 3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "open cgroup {}: no such file or directory",
                cg.dir.join("nope").display()
            )
        );
    }
}
