//! Errors in runc's words. Every message rt prints reads `<what>: <path or field>: <errno>`, the
//! errno as runc (Go's syscall package) words it: "no such file or directory", never Rust's
//! "No such file or directory (os error 2)" nor nix's "ENOENT: ..." or its kernel-header texts
//! ("Too many symbolic links encountered"). Managers and tests match on these words.
//!
//! System call failures keep their errno as a typed source ([`SysError`]) that callers can ask
//! for ([`errno_of`]); [`words`] renders any error chain this way.

use nix::errno::Errno;
use std::fmt::Display;

/// The errno as runc prints it. Go's texts are the C library's `strerror`, first letter in lower
/// case; nix's own table (the kernel headers' comments) differs for many ("Try again", "Bad file
/// number"), so the C library's is read.
pub fn describe(e: Errno) -> String {
    let n = e as i32;
    let text = std::io::Error::from_raw_os_error(n).to_string();
    let suffix = format!(" (os error {n})");
    let text = text.strip_suffix(&suffix).unwrap_or(&text);
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => text.to_string(),
    }
}

pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => describe(Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// A failed system call: what was being done (the call, the path or field) and its errno.
#[derive(Debug)]
pub struct SysError {
    pub what: String,
    pub errno: Errno,
}

impl Display for SysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, describe(self.errno))
    }
}

impl std::error::Error for SysError {}

/// `.sys(|| "what failed, on which path")` on a system call's result.
pub trait SysContext<T> {
    fn sys<C: Display, F: FnOnce() -> C>(self, ctx: F) -> anyhow::Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys<C: Display, F: FnOnce() -> C>(self, ctx: F) -> anyhow::Result<T> {
        self.map_err(|errno| {
            anyhow::Error::new(SysError {
                what: ctx().to_string(),
                errno,
            })
        })
    }
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn sys<C: Display, F: FnOnce() -> C>(self, ctx: F) -> anyhow::Result<T> {
        self.map_err(|e| match e.raw_os_error() {
            Some(n) => anyhow::Error::new(SysError {
                what: ctx().to_string(),
                errno: Errno::from_raw(n),
            }),
            None => anyhow::anyhow!("{}: {e}", ctx()),
        })
    }
}

/// The errno behind an error, wherever it is in the chain: a [`SysError`], an `io::Error` or a
/// nix `Errno` (with or without context around it).
pub fn errno_of(e: &anyhow::Error) -> Option<Errno> {
    e.chain().find_map(errno_in)
}

fn errno_in(cause: &(dyn std::error::Error + 'static)) -> Option<Errno> {
    if let Some(s) = cause.downcast_ref::<SysError>() {
        return Some(s.errno);
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return io.raw_os_error().map(Errno::from_raw);
    }
    cause.downcast_ref::<Errno>().copied()
}

/// The whole chain of `e`, `outer: inner: ...` as `{:#}` prints it, each system error in runc's
/// words. What rt prints, logs and sends from a container's init goes through this.
pub fn words(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for (i, cause) in e.chain().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        let own = cause.downcast_ref::<SysError>().is_none();
        match errno_in(cause).filter(|_| own) {
            Some(errno) => out.push_str(&describe(errno)),
            None => out.push_str(&cause.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    /// Go's texts (syscall.Errno.Error) for the errors rt meets, which runc prints.
    const RUNC: &[(Errno, &str)] = &[
        (Errno::EPERM, "operation not permitted"),
        (Errno::ENOENT, "no such file or directory"),
        (Errno::ESRCH, "no such process"),
        (Errno::EINTR, "interrupted system call"),
        (Errno::EIO, "input/output error"),
        (Errno::ENXIO, "no such device or address"),
        (Errno::E2BIG, "argument list too long"),
        (Errno::ENOEXEC, "exec format error"),
        (Errno::EBADF, "bad file descriptor"),
        (Errno::EAGAIN, "resource temporarily unavailable"),
        (Errno::ENOMEM, "cannot allocate memory"),
        (Errno::EACCES, "permission denied"),
        (Errno::EFAULT, "bad address"),
        (Errno::EBUSY, "device or resource busy"),
        (Errno::EEXIST, "file exists"),
        (Errno::EXDEV, "invalid cross-device link"),
        (Errno::ENODEV, "no such device"),
        (Errno::ENOTDIR, "not a directory"),
        (Errno::EISDIR, "is a directory"),
        (Errno::EINVAL, "invalid argument"),
        (Errno::EMFILE, "too many open files"),
        (Errno::ENOTTY, "inappropriate ioctl for device"),
        (Errno::ETXTBSY, "text file busy"),
        (Errno::ENOSPC, "no space left on device"),
        (Errno::EROFS, "read-only file system"),
        (Errno::EPIPE, "broken pipe"),
        (Errno::ENAMETOOLONG, "file name too long"),
        (Errno::ENOSYS, "function not implemented"),
        (Errno::ENOTEMPTY, "directory not empty"),
        (Errno::ELOOP, "too many levels of symbolic links"),
        (Errno::EOPNOTSUPP, "operation not supported"),
        (Errno::ECONNREFUSED, "connection refused"),
        (Errno::ETIMEDOUT, "connection timed out"),
    ];

    #[test]
    fn errnos_in_runcs_words() {
        for (errno, text) in RUNC {
            assert_eq!(describe(*errno), *text, "{errno:?}");
            let io = std::io::Error::from_raw_os_error(*errno as i32);
            assert_eq!(describe_io(&io), *text, "{errno:?}");
        }
    }

    #[test]
    fn sys_keeps_the_errno_and_words_it() {
        let r: std::io::Result<()> = Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        let e = r.sys(|| "open \"/x\"").unwrap_err();
        assert_eq!(e.to_string(), "open \"/x\": no such file or directory");
        assert_eq!(errno_of(&e), Some(Errno::ENOENT));
        let e = Err::<(), _>(Errno::ELOOP).sys(|| "open /a").unwrap_err();
        let e = e.context("mount /b");
        assert_eq!(
            words(&e),
            "mount /b: open /a: too many levels of symbolic links"
        );
        assert_eq!(errno_of(&e), Some(Errno::ELOOP));
    }

    #[test]
    fn any_chain_is_worded_as_runc() {
        // An io::Error or an Errno under plain context, as `{:#}` would print them.
        let e = Err::<(), _>(std::io::Error::from_raw_os_error(libc::EACCES))
            .context("read /proc/self/stat")
            .unwrap_err();
        assert_eq!(words(&e), "read /proc/self/stat: permission denied");
        let e = Err::<(), _>(Errno::EPERM)
            .context("create cgroup namespace")
            .unwrap_err();
        assert_eq!(
            words(&e),
            "create cgroup namespace: operation not permitted"
        );
        assert_eq!(errno_of(&e), Some(Errno::EPERM));
        // Without an errno: the text as it is.
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(words(&e), "outer: inner");
        assert_eq!(errno_of(&e), None);
        let e = Err::<(), _>(std::io::Error::other("custom"))
            .context("write")
            .unwrap_err();
        assert_eq!(words(&e), "write: custom");
    }
}
