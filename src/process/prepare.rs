//! The last steps before exec, shared by a container's init and `rt exec`: rlimits, personality,
//! scheduling, LSM label, the executable's lookup, every fd closed but stdio and the preserved
//! ones, capabilities and the uid switch, cwd, no_new_privs; and seccomp, loaded last.

use super::{fds, lookpath, pdeath, rlimits, sched, user};
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
    /// Called before the scheduler, memory policy, seccomp filter and user are set: the init waits
    /// there for the cgroups the runtime moves it into, and their limits.
    pub in_cgroups: &'a dyn Fn() -> Result<()>,
    /// Where the LSM labels and /proc/self/setgroups are (see procfs).
    pub proc: &'a crate::procfs::Lazy,
}

/// The final step, prepared ahead so that a missing binary is reported before anything runs.
pub struct Exec {
    pub path: CString,
    /// Owners of what the pointers below point to.
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    /// NULL-terminated arrays of pointers into `argv` and `envp`, built ahead: nothing may be
    /// allocated (which can mean brk or mmap) once the filter is on.
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
    /// The filter, loaded right before execve (see the seccomp module).
    seccomp: std::cell::Cell<seccomp::Pending>,
}

fn pointers(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|s| s.as_ptr())
        .chain([std::ptr::null()])
        .collect()
}

impl Exec {
    /// Load the filter, then execve: the only syscall of rt's under the user's filter.
    pub fn exec(&self) -> std::io::Error {
        if let Err(e) = self.seccomp.replace(seccomp::Pending::None).load() {
            let e = crate::errno::words(&e);
            return std::io::Error::other(format!("load seccomp filter: {e}"));
        }
        // SAFETY: NULL-terminated arrays of pointers to C strings that `self` owns, made before
        // the filter was loaded (no allocation between the load and the exec).
        unsafe {
            libc::execve(
                self.path.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.envp_ptrs.as_ptr(),
            )
        };
        std::io::Error::last_os_error()
    }
}

pub fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).with_context(|| format!("{what} {s:?} contains a NUL byte"))
}

/// Everything rt does in the process before it execs, none of it under the user's seccomp
/// filter, which comes last.
pub fn prepare(o: Options) -> Result<Exec> {
    let process = o.process;
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    let filter = match o.linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(seccomp::Filter::new(
            s,
            o.seccomp.cloned(),
            o.seccomp_listener,
        )?),
        None => None,
    };
    // Before the credentials change (a thread that keeps CAP_SYS_ADMIN, when one is needed).
    let pending = seccomp::Pending::new(filter, no_new_privs)?;
    // In every cgroup, with its limits: the scheduler and memory policy below depend on them
    // (cpu.rt_runtime_us, cpuset.mems).
    (o.in_cgroups)()?;
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
    if let Some(p) = o.linux.and_then(|l| l.memory_policy().as_ref()) {
        super::mempolicy::apply(p)?;
    }
    crate::lsm::apply(
        o.proc,
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;

    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    let args = process.args().as_ref().context("process.args missing")?;
    let path = lookpath::find(&args[0], &env)?;

    // Every descriptor but stdio, the preserved ones and ours is close-on-exec from here.
    fds::close_all_but(o.preserve_fds, o.keep_fds)?;

    capabilities::drop_bounding(process.capabilities().as_ref())?;
    user::chown_stdio(process.user().uid())?;
    // Changes of credentials: the death signal is set again after each (see pdeath).
    pdeath::keep(|| user::switch(o.proc, process.user()))?;
    crate::testpoint::pause_point("prepare:user-switched");
    pdeath::keep(|| capabilities::apply(process.capabilities().as_ref()))?;
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
        nix::sys::prctl::set_no_new_privs()
            .map_err(std::io::Error::from)
            .context("set no_new_privs")?;
    }
    // A seccomp agent expects its fd during `create` (runc's agents wait for it before
    // `start`): a profile with NOTIFY rules is loaded now, the others right before execve.
    let pending = if pending.notifies() {
        pending.load()?;
        seccomp::Pending::None
    } else {
        pending
    };

    let argv: Vec<CString> = args
        .iter()
        .map(|a| cstring(a, "process.args"))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|e| cstring(e, "process.env"))
        .collect::<Result<_>>()?;
    Ok(Exec {
        path: cstring(&path, "executable")?,
        argv_ptrs: pointers(&argv),
        envp_ptrs: pointers(&envp),
        _argv: argv,
        _envp: envp,
        seccomp: std::cell::Cell::new(pending),
    })
}
