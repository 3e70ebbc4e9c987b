//! linux.seccomp: the profile compiled with libseccomp by the runtime before the clone (so a bad
//! profile fails `create`; a profile compiled before comes from the cache), installed with
//! seccomp(2) by the process, and, for SCMP_ACT_NOTIFY, the notify fd handed to
//! linux.seccomp.listenerPath right after the load.
//!
//! - `profile`: actions, errnos, architectures, rules and argument conditions → libseccomp.
//! - `load`: flags, the exported BPF and its installation.
//! - `cache`: compiled programs kept under the state root.
//! - `notify`: the listener connection and the container process state.
//! - `loader`: a thread that loads the filter for the process (see below).
//!
//! The filter is the user's: nothing rt itself does may depend on what it allows. So the process
//! does all of its setup first (credentials, capabilities, cwd, descriptors) and the filter comes
//! last, right before `execve`. Without process.noNewPrivileges, loading needs CAP_SYS_ADMIN,
//! which the process has dropped by then: a thread spawned while it still had it (capabilities
//! and ids are per thread) loads the filter with SECCOMP_FILTER_FLAG_TSYNC, which installs it
//! on the process's thread too. A profile with SCMP_ACT_NOTIFY is loaded before the init parks
//! instead, so that the agent gets its fd during `create`, as with runc (its agents wait for it
//! before `start`).

mod cache;
mod load;
mod loader;
mod notify;
mod profile;

pub use loader::Pending;
pub use notify::{connect_listener, Conn as Listener};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxSeccomp;
use std::cell::Cell;
use std::os::fd::AsFd;
use std::path::Path;

/// What `rt features` reports, each list from the table that the profile code uses (spec names).
pub mod known {
    use super::{load, profile};
    use crate::variants::spec_name;

    fn names<T: serde::Serialize + std::fmt::Debug>(v: Vec<T>) -> Vec<String> {
        v.iter().map(spec_name).collect()
    }

    pub fn actions() -> Vec<String> {
        names(profile::known_actions())
    }

    pub fn operators() -> Vec<String> {
        names(profile::known_operators())
    }

    /// Those the libseccomp rt runs with knows.
    pub fn archs() -> Vec<String> {
        names(profile::known_archs())
    }

    pub fn flags() -> Vec<String> {
        names(load::known_flags())
    }

    /// Probed on the running kernel, as runc does.
    pub fn supported_flags() -> Vec<String> {
        names(load::supported_flags())
    }
}

/// A profile's BPF program, compiled by the runtime before the clone (or taken from the cache of
/// compiled filters) and handed to the process, which only loads it.
#[derive(Clone)]
pub struct Compiled(load::Program);

impl Compiled {
    /// The program of `spec`'s linux.seccomp, if any, with the cache under the state `root`.
    pub fn for_spec(spec: &oci_spec::runtime::Spec, root: &Path) -> Result<Option<Compiled>> {
        let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
        profile.map(|s| Compiled::new(s, Some(root))).transpose()
    }

    /// `root`: the state root, which holds the cache of compiled filters; None compiles.
    pub fn new(s: &LinuxSeccomp, root: Option<&Path>) -> Result<Compiled> {
        if s.listener_metadata().is_some() && s.listener_path().is_none() {
            bail!("linux.seccomp.listenerMetadata: set without listenerPath");
        }
        let flags = load::flags(s, profile::uses_notify(s));
        let cache = match (&flags, root) {
            (Ok(f), Some(root)) => cache::Key::new(s, *f).zip(cache::open_dir(root)),
            _ => None,
        };
        let cached = match (&cache, &flags) {
            (Some((key, dir)), Ok(f)) => cache::load(dir.as_fd(), key, *f),
            _ => None,
        };
        if let Some(p) = cached {
            crate::logging::debug("seccomp: the compiled filter came from the cache");
            return Ok(Compiled(p));
        }
        let ctx = profile::build(s)?;
        let p = load::Program::export(&ctx, flags?)?;
        if let Some((key, dir)) = &cache {
            cache::store(dir.as_fd(), key, &p);
        }
        Ok(Compiled(p))
    }
}

pub struct Filter {
    program: load::Program,
    /// The listener connection for a filter with NOTIFY rules, until the handoff.
    conn: Cell<Option<notify::Conn>>,
}

impl Filter {
    /// The filter for profile `s`: its program as `compiled` by the runtime (compiled here when
    /// None); `listener`: what [`connect_listener`] returned for this profile.
    pub fn new(
        s: &LinuxSeccomp,
        compiled: Option<Compiled>,
        listener: Option<Listener>,
    ) -> Result<Filter> {
        let program = match compiled {
            Some(c) => c.0,
            None => Compiled::new(s, None)?.0,
        };
        let notify = profile::uses_notify(s);
        let conn = if notify {
            if s.listener_path().is_none() {
                bail!("linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
            }
            Some(listener.context(
                "linux.seccomp.listenerPath: not connected before entering the container \
                 (SCMP_ACT_NOTIFY is not supported for this process)",
            )?)
        } else {
            None
        };
        Ok(Filter {
            program,
            conn: Cell::new(conn),
        })
    }

    /// The listener connection's fd, which must survive the closing of inherited fds until the
    /// filter is loaded.
    pub fn keep_fd(&self) -> Option<i32> {
        let c = self.conn.take();
        let fd = c.as_ref().map(notify::Conn::raw_fd);
        self.conn.set(c);
        fd
    }

    /// Whether the profile has SCMP_ACT_NOTIFY rules (and so a listener to send the fd to).
    pub fn notifies(&self) -> bool {
        self.keep_fd().is_some()
    }

    /// Install the filter on this thread and, for NOTIFY, send its fd to the listener.
    pub fn load(&self) -> Result<()> {
        self.load_with(0)
    }

    /// `load` with extra seccomp(2) flags (TSYNC, for the loader thread).
    fn load_with(&self, extra: libc::c_ulong) -> Result<()> {
        let mut flags = self.program.flags | extra;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0
            && flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
        {
            // TSYNC reports a failing thread in the return value, which NEW_LISTENER needs.
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
        let fd = self.program.install_with(flags).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EACCES) {
                " (needs CAP_SYS_ADMIN or no_new_privs)"
            } else {
                ""
            };
            anyhow::anyhow!(
                "load the seccomp filter (flags {}): {}{hint}",
                load::flag_names(flags),
                crate::errno::describe_io(&e)
            )
        })?;
        if let Some(fd) = fd {
            let conn = self
                .conn
                .take()
                .context("seccomp notify fd but no listener connection")?;
            conn.send(fd)
                .context("linux.seccomp.listenerPath: send the seccomp notify fd")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(j: &str) -> LinuxSeccomp {
        serde_json::from_str(j).unwrap()
    }

    fn err(j: &str) -> String {
        format!(
            "{:#}",
            Filter::new(&parse(j), None, None).err().expect("an error")
        )
    }

    #[test]
    fn compiles_a_profile_with_conditions_and_unknown_names() {
        Filter::new(&parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls":[{"names":["mkdir","no_such_syscall_rt"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":0,"value":4,"op":"SCMP_CMP_EQ"}]},
                            {"names":["umask"],"action":"SCMP_ACT_KILL_PROCESS","args":[{"index":0,"value":255,"valueTwo":63,"op":"SCMP_CMP_MASKED_EQ"}]},
                            {"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["getppid"],"action":"SCMP_ACT_TRACE","errnoRet":3},
                            {"names":["sync"],"action":"SCMP_ACT_LOG"},
                            {"names":["syncfs"],"action":"SCMP_ACT_TRAP"},
                            {"names":["acct"],"action":"SCMP_ACT_KILL"}]}"#,
        ), None, None)
        .unwrap();
    }

    #[test]
    fn errno_on_an_action_without_one_is_an_error() {
        let e = err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_KILL","errnoRet":1}]}"#,
        );
        assert!(
            e.contains("linux.seccomp.syscalls[0]") && e.contains("SCMP_ACT_KILL"),
            "{e}"
        );
        let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}"#);
        assert!(e.contains("linux.seccomp.defaultAction"), "{e}");
    }

    #[test]
    fn bad_argument_index_names_the_field() {
        let e = err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"},{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(
            e.contains("linux.seccomp.syscalls[1]: args[0].index"),
            "{e}"
        );
    }

    #[test]
    fn notify_needs_a_listener() {
        let e = err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(e.contains("listenerPath: required"), "{e}");
        let e = err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/nonexistent","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(e.contains("not connected"), "{e}");
        let e = err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["sendmsg"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(e.contains("sendmsg"), "{e}");
        let e = err(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}"#);
        assert!(e.contains("default action"), "{e}");
    }
}
