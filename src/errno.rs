//! System errors worded as runc words them ("operation not permitted"), which managers match on.

use std::fmt::Display;

pub fn describe(e: nix::errno::Errno) -> String {
    let d = e.desc();
    let mut c = d.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => d.to_string(),
    }
}

pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => describe(nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// `.sys(|| "what failed, on which path")` on a system call's result.
pub trait SysContext<T> {
    fn sys<C: Display, F: FnOnce() -> C>(self, ctx: F) -> anyhow::Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys<C: Display, F: FnOnce() -> C>(self, ctx: F) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{}: {}", ctx(), describe(e)))
    }
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn sys<C: Display, F: FnOnce() -> C>(self, ctx: F) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{}: {}", ctx(), describe_io(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_like_go() {
        assert_eq!(
            describe(nix::errno::Errno::EPERM),
            "operation not permitted"
        );
        let r: std::io::Result<()> = Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(
            r.sys(|| "open \"/x\"").unwrap_err().to_string(),
            "open \"/x\": no such file or directory"
        );
    }
}
