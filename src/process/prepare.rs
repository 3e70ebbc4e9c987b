//! The last steps before exec, shared by a container's init and `rt exec`: rlimits, personality,
//! scheduling, LSM label, the executable's lookup, seccomp, capabilities and the uid switch, cwd,
//! no_new_privs, and every fd closed but stdio and the preserved ones.

use super::{fds, lookpath, rlimits, sched, user};
use crate::{capabilities, seccomp};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Linux, Process};
use std::ffi::CString;
use std::os::fd::RawFd;

pub struct Options<'a> {
    pub process: &'a Process,
    /// The container's `linux` section: seccomp and personality.
    pub linux: Option<&'a Linux>,
    pub preserve_fds: i32,
    /// Descriptors the caller still needs until exec (all close-on-exec).
    pub keep_fds: &'a [RawFd],
    /// The connection to linux.seccomp.listenerPath, made while host paths resolved.
    pub seccomp_listener: Option<seccomp::Listener>,
    /// linux.seccomp's program, compiled by the runtime.
    pub seccomp: Option<&'a seccomp::Compiled>,
    /// Called before the seccomp filter is loaded and the user changes: the init waits there for
    /// the cgroups the runtime moves it into, if any.
    pub before_load: &'a dyn Fn() -> Result<()>,
    /// Where the LSM labels and /proc/self/setgroups are (see procfs).
    pub proc: &'a crate::procfs::Lazy,
}

/// The final step, prepared ahead so that a missing binary is reported before anything runs.
pub struct Exec {
    pub path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    seccomp: Option<seccomp::Filter>,
}

impl Exec {
    pub fn exec(&self) -> std::io::Error {
        if let Some(f) = &self.seccomp {
            if let Err(e) = f.load() {
                return std::io::Error::other(format!("load seccomp filter: {e:#}"));
            }
        }
        let err = nix::unistd::execve(&self.path, &self.argv, &self.envp).unwrap_err();
        std::io::Error::from_raw_os_error(err as i32)
    }
}

pub fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).with_context(|| format!("{what} {s:?} contains a NUL byte"))
}

pub fn prepare(o: Options) -> Result<Exec> {
    let process = o.process;
    rlimits::apply(process.rlimits().as_deref().unwrap_or(&[]))?;
    if let Some(p) = o.linux.and_then(|l| l.personality().as_ref()) {
        sched::set_personality(p)?;
    }
    if let Some(s) = process.scheduler() {
        sched::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        sched::set_io_priority(p)?;
    }
    crate::lsm::apply(
        o.proc,
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;

    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    let args = process.args().as_ref().context("process.args missing")?;
    let path = lookpath::find(&args[0], &env)?;

    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    let filter = match o.linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(seccomp::Filter::new(
            s,
            o.seccomp.cloned(),
            o.seccomp_listener,
        )?),
        None => None,
    };
    (o.before_load)()?;
    // Every descriptor but stdio, the preserved ones and ours is close-on-exec from here: done
    // before the filter, which may not allow close_range or fcntl (the listener connection
    // lives until the filter's handoff).
    let mut keep = o.keep_fds.to_vec();
    keep.extend(filter.as_ref().and_then(seccomp::Filter::keep_fd));
    fds::close_all_but(o.preserve_fds, &keep)?;
    // Without no_new_privs the filter must be loaded while CAP_SYS_ADMIN is still held; a notify
    // fd goes to linux.seccomp.listenerPath right after either load.
    let mut late_filter = None;
    if let Some(f) = filter {
        if no_new_privs {
            late_filter = Some(f);
        } else {
            f.load()?;
        }
    }

    capabilities::drop_bounding(process.capabilities().as_ref())?;
    user::chown_stdio(process.user().uid())?;
    user::switch(o.proc, process.user())?;
    capabilities::apply(process.capabilities().as_ref())?;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user::home_dir(process.user().uid())));
    }

    let cwd = process.cwd();
    nix::unistd::chdir(cwd).with_context(|| {
        format!(
            "chdir to cwd {:?} set in config.json",
            cwd.display().to_string()
        )
    })?;
    // CVE-2024-21626: a cwd reached through a leaked fd would lie outside the container.
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => {}
        _ => bail!(
            "cwd {:?} is outside the container",
            cwd.display().to_string()
        ),
    }
    if no_new_privs {
        // Safety: plain prctl.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("set no_new_privs");
        }
    }

    Ok(Exec {
        path: cstring(&path, "executable")?,
        argv: args
            .iter()
            .map(|a| cstring(a, "process.args"))
            .collect::<Result<_>>()?,
        envp: env
            .iter()
            .map(|e| cstring(e, "process.env"))
            .collect::<Result<_>>()?,
        seccomp: late_filter,
    })
}
