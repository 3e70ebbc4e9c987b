//! The system calls rt makes that neither std nor nix wraps (or wraps too narrowly: nix's
//! `Signal` has no real-time signals), each behind a safe function with the reason it is sound.
//! Everything else goes through nix.
//!
//! Unsafe code left elsewhere is the kind no safe wrapper can hold, each with its `SAFETY:`
//! comment (clippy's `undocumented_unsafe_blocks` is on): clone3 and fork (`process::clone`,
//! tests), execve with its prepared pointer arrays (`process::prepare`), signal dispositions and
//! handlers for any signal number (`signal`, `signal::forward`, `tty::proxy`), bpf(2) with the
//! pointers its attributes carry (`cgroups::v2::bpf`), the argument and environment blocks
//! rewritten in place (`process::title`), the runtime's own mappings moved onto its read-only
//! image (`process::exe_remap`), descriptors that SCM_RIGHTS brings
//! (`process::channel`) or that are borrowed by number (stdio).
//!
//! A call that only reads the memory it is given (C strings, structs without pointers) is safe
//! whatever the arguments: a descriptor number that is not open is EBADF, never undefined
//! behaviour.

use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// End this process at once: no atexit handlers, no destructors, no flush of the parent's
/// buffers (what a cloned child that must not run the runtime's exit path does).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process; nothing of it runs afterwards.
    unsafe { libc::_exit(code) }
}

/// A descriptor the kernel just returned (`r >= 0`), or the errno of the failed call.
fn owned(r: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = Errno::result(r)?;
    // SAFETY: a successful call returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// kill(2) with any signal number, real-time ones included.
pub fn kill(pid: i32, sig: i32) -> nix::Result<()> {
    // SAFETY: kill takes plain integers.
    Errno::result(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// A pidfd of `pid`: it pins the process (a later signal through it never reaches another that
/// got the same pid).
pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain integers; returns a new descriptor or -1.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// Signal the process `pidfd` refers to (no siginfo).
pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> nix::Result<()> {
    // SAFETY: a descriptor, a signal number and a NULL siginfo, which the kernel accepts.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// close_range(2) from `first` to `last`: with CLOSE_RANGE_CLOEXEC it only marks them.
///
/// Closing (flags 0) is for a process about to exec or park, after it let go of every object
/// that owns one of those descriptors (see process::fds).
pub fn close_range(first: u32, last: u32, flags: u32) -> nix::Result<()> {
    // SAFETY: plain integers; the kernel closes or marks descriptors, no memory is touched.
    Errno::result(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) }).map(drop)
}

/// Close the descriptor number `fd`, which no object of this process owns (a copy the clone
/// made of the runtime's, a descriptor found open in /proc/self/fd, the logger's once detached).
pub fn close_number(fd: RawFd) {
    // SAFETY: close(2) of a number; the caller owns no object that uses it.
    unsafe { libc::close(fd) };
}

/// fstat(2) of the descriptor number `fd` (EBADF when it is closed).
pub fn fstat_number(fd: RawFd) -> nix::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes the whole struct on success; it is read only then.
    Errno::result(unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: initialised by the successful fstat above.
    Ok(unsafe { st.assume_init() })
}

/// Make descriptor number `to` a copy of `from` (dup3 without O_CLOEXEC), closing what `to` was.
pub fn dup_onto(from: BorrowedFd, to: RawFd) -> nix::Result<()> {
    // SAFETY: dup3 only replaces descriptor number `to`; the caller owns no object using it.
    Errno::result(unsafe { libc::dup3(from.as_raw_fd(), to, 0) }).map(drop)
}

/// Whether the descriptor number `fd` is open.
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of a descriptor number (EBADF when closed).
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Set or clear FD_CLOEXEC on the descriptor number `fd` (the only flag F_SETFD knows).
pub fn set_cloexec(fd: RawFd, on: bool) {
    let flag = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD sets the flags of a descriptor number, nothing else.
    unsafe { libc::fcntl(fd, libc::F_SETFD, flag) };
}

/// The raw setgroups(2) of this thread only. glibc's wrapper (and nix's) changes every thread
/// of the process through a signal handshake, which a process with one thread does not need
/// and a freshly cloned child must not rely on.
pub fn setgroups_thread(gids: &[libc::gid_t]) -> nix::Result<()> {
    // SAFETY: the kernel reads `gids.len()` ids from a live slice.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) };
    Errno::result(r).map(drop)
}

/// The raw setresgid(2) of this thread only (see [`setgroups_thread`]).
pub fn setresgid_thread(gid: libc::gid_t) -> nix::Result<()> {
    // SAFETY: plain integers.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// The raw setresuid(2) of this thread only (see [`setgroups_thread`]).
pub fn setresuid_thread(uid: libc::uid_t) -> nix::Result<()> {
    // SAFETY: plain integers.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// setdomainname(2) (nix has sethostname only).
pub fn setdomainname(name: &str) -> nix::Result<()> {
    // SAFETY: the kernel reads `name.len()` bytes of a live string.
    Errno::result(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING): a new session keyring named `name`.
pub fn join_session_keyring(name: &CStr) -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: the kernel reads a C string.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(r).map(drop)
}

/// ioprio_set(2) of this process.
pub fn ioprio_set_self(value: i32) -> nix::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    // SAFETY: plain integers.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    Errno::result(r).map(drop)
}

/// struct sched_attr (sched_setattr(2)).
#[repr(C)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(2) of this process.
pub fn sched_setattr_self(attr: &SchedAttr) -> nix::Result<()> {
    // SAFETY: the kernel reads a sched_attr of the size it states from a live struct.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    Errno::result(r).map(drop)
}

/// set_mempolicy(2) with the nodes of `nodemask` (none: NULL).
pub fn set_mempolicy(mode: libc::c_int, nodemask: &[libc::c_ulong]) -> nix::Result<()> {
    // maxnode counts bits, and the kernel uses one fewer than it is given.
    let maxnode = (nodemask.len() * libc::c_ulong::BITS as usize + 1) as libc::c_ulong;
    let ptr = match nodemask.is_empty() {
        true => std::ptr::null(),
        false => nodemask.as_ptr(),
    };
    // SAFETY: the kernel reads `maxnode - 1` bits of a live slice (or nothing from NULL).
    Errno::result(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) }).map(drop)
}

/// seccomp(SECCOMP_SET_MODE_FILTER): load `prog`, or with `None` only check the flags (EFAULT
/// once the kernel accepts them). A new listener's descriptor with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER.
pub fn seccomp_set_mode_filter(
    flags: libc::c_ulong,
    prog: Option<&libc::sock_fprog>,
) -> nix::Result<Option<OwnedFd>> {
    let ptr = prog.map_or(std::ptr::null(), |p| p as *const libc::sock_fprog);
    // SAFETY: the kernel only reads the program (or faults cleanly on NULL: EFAULT).
    let r = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, ptr) };
    let r = Errno::result(r)?;
    if r > 0 && flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        return owned(r).map(Some);
    }
    Ok(None)
}

/// The mount id (STATX_MNT_ID) of what `fd` refers to.
pub fn mount_id(fd: BorrowedFd) -> nix::Result<u64> {
    // SAFETY: statx is plain data; all zeros is a valid value of it.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel fills a live statx; the path is an empty C string.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut st,
        )
    };
    Errno::result(r)?;
    Ok(st.stx_mnt_id)
}

/// Fill `buf` from the kernel's random source; how many bytes it got.
pub fn getrandom(buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into a live buffer.
    let r = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    Errno::result(r).map(|n| n as usize)
}

/// A terminal's window size (TIOCGWINSZ).
pub fn window_size(fd: RawFd) -> nix::Result<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into a live struct.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) })?;
    Ok(ws)
}

/// Set a terminal's window size (TIOCSWINSZ).
pub fn set_window_size(fd: RawFd, ws: &libc::winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ reads one winsize from a live struct.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws as *const libc::winsize) })
        .map(drop)
}

/// Make the terminal `fd` the controlling terminal of this session's leader (TIOCSCTTY).
pub fn set_controlling_terminal(fd: BorrowedFd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// The slave of the pty master `master`, opened by the master itself (TIOCGPTPEER, no path).
pub fn open_pty_peer(master: BorrowedFd, flags: libc::c_int) -> nix::Result<OwnedFd> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTPEER as _, flags) };
    owned(fd.into())
}

/// struct mount_attr (mount_setattr(2)).
#[repr(C)]
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// mount_setattr(2).
pub fn mount_setattr(dirfd: RawFd, path: &CStr, flags: u32, attr: &MountAttr) -> nix::Result<()> {
    // SAFETY: the kernel reads a C string and a mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

/// open_tree(2): a descriptor of (or a detached copy of) the mount tree at `path`.
pub fn open_tree(dirfd: RawFd, path: &CStr, flags: u32) -> nix::Result<OwnedFd> {
    // SAFETY: the kernel reads a C string; returns a new descriptor or -1.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) })
}

/// move_mount(2).
pub fn move_mount(
    from: RawFd,
    from_path: &CStr,
    to: RawFd,
    to_path: &CStr,
    flags: u32,
) -> nix::Result<()> {
    // SAFETY: the kernel reads two C strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            from_path.as_ptr(),
            to,
            to_path.as_ptr(),
            flags,
        )
    };
    Errno::result(r).map(drop)
}

/// fsopen(2): a filesystem context for `fstype`.
pub fn fsopen(fstype: &CStr, flags: u32) -> nix::Result<OwnedFd> {
    // SAFETY: the kernel reads a C string; returns a new descriptor or -1.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), flags) })
}

/// fsconfig(2) on the context `fs`: a key, a value, or neither, as the command takes.
pub fn fsconfig(
    fs: BorrowedFd,
    cmd: u32,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> nix::Result<()> {
    let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: the kernel reads C strings (or nothing from NULL, where the command takes none).
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            cmd,
            ptr(key),
            ptr(value),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// fsmount(2): the detached mount of a created context.
pub fn fsmount(fs: BorrowedFd, flags: u32, attr: u64) -> nix::Result<OwnedFd> {
    // SAFETY: plain integers; returns a new descriptor or -1.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), flags, attr) })
}

/// setrlimit(2) with any resource number libc names.
pub fn setrlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> nix::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: the kernel reads a live rlimit.
    Errno::result(unsafe { libc::setrlimit(resource, &lim) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_pins_and_signals_its_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let fd = pidfd_open(child.id() as i32).unwrap();
        pidfd_send_signal(std::os::fd::AsFd::as_fd(&fd), libc::SIGKILL).unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert_eq!(pidfd_open(-1).unwrap_err(), Errno::EINVAL);
    }

    #[test]
    fn descriptor_flags_by_number() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        assert!(is_open(fd));
        set_cloexec(fd, false);
        let flags = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_eq!(flags & libc::FD_CLOEXEC, 0);
        set_cloexec(fd, true);
        let flags = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }

    #[test]
    fn random_bytes_and_a_mount_id() {
        let mut buf = [0u8; 16];
        assert_eq!(getrandom(&mut buf).unwrap(), 16);
        let root = std::fs::File::open("/").unwrap();
        assert!(mount_id(std::os::fd::AsFd::as_fd(&root)).unwrap() > 0);
    }
}
