use crate::container::{self, Context, ExecOptions};
use anyhow::{bail, Context as _, Result};
use oci_spec::runtime::{Capability, Process};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to a process.json describing the process (instead of COMMAND and the flags below)
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive a pidfd of the process
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// Detach from the process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=value)
    #[arg(short = 'e', long = "env", value_name = "KEY=value")]
    pub env: Vec<String>,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective and permitted sets
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Pass N additional file descriptors (from 3) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run the process in a sub-cgroup of the container's ([CONTROLLER:]PATH)
    #[arg(long = "cgroup", value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// runc's exit status for an exec that could not start, so that callers can tell it from the
/// process's own exit status.
const EXEC_FAILED: i32 = 255;

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    match exec(ctx, a) {
        Ok(code) => Ok(code),
        Err(e) => {
            let e = crate::errno::words(&e);
            crate::logging::fatal(&format!("exec failed: {e}"));
            Ok(EXEC_FAILED)
        }
    }
}

fn exec(ctx: &Context, a: Args) -> Result<i32> {
    crate::container::id::validate(&a.id)?;
    let opts = ExecOptions {
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroups: a.cgroup.clone(),
    };
    // The process file is read first, before the container's lock is taken and before
    // signals are kept for the process: a file that never ends (a fifo nobody writes) must not
    // hold the container, nor keep SIGTERM from ending us.
    let from_process_file = a
        .process
        .as_deref()
        .map(|path| from_file(&a, path))
        .transpose()?;
    container::exec(ctx, &a.id, &opts, |base| match from_process_file {
        Some(p) => Ok(p),
        None => from_flags(&a, base),
    })
}

/// A process file: a regular file only (a fifo or a device could block or never end).
fn read_process_file(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("open process file {shown}"))?;
    let meta = f
        .metadata()
        .with_context(|| format!("stat process file {shown}"))?;
    if !meta.is_file() {
        bail!("process file {shown}: not a regular file");
    }
    let mut raw = Vec::new();
    f.read_to_end(&mut raw)
        .with_context(|| format!("read process file {shown}"))?;
    Ok(raw)
}

/// `--process FILE`: the whole process, as managers pass it. The flags that describe the
/// process cannot be combined with it; `--tty` may repeat what the file says.
fn from_file(a: &Args, path: &std::path::Path) -> Result<Process> {
    let given: Vec<&str> = [
        (!a.command.is_empty(), "COMMAND"),
        (a.cwd.is_some(), "--cwd"),
        (!a.env.is_empty(), "--env"),
        (a.user.is_some(), "--user"),
        (!a.additional_gids.is_empty(), "--additional-gids"),
        (!a.caps.is_empty(), "--cap"),
        (a.no_new_privs, "--no-new-privs"),
        (a.apparmor.is_some(), "--apparmor"),
        (a.process_label.is_some(), "--process-label"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if !given.is_empty() {
        bail!("--process cannot be combined with {}", given.join(", "));
    }
    let raw = read_process_file(path)?;
    let mut p: Process = serde_json::from_slice(&raw)
        .map_err(anyhow::Error::from)
        .and_then(crate::container::config::from_value)
        .with_context(|| format!("parse process file {}", path.display()))?;
    if a.tty {
        p.set_terminal(Some(true));
    }
    Ok(p)
}

/// COMMAND and flags over the container's own process, as runc builds it.
fn from_flags(a: &Args, base: Option<&Process>) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec args cannot be empty");
    }
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|old| old.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let parse = |s: &str| {
            s.parse::<u32>()
                .with_context(|| format!("--user {u:?}: {s:?} is not a numeric id"))
        };
        let mut user = p.user().clone();
        user.set_uid(parse(uid)?);
        user.set_gid(gid.map(parse).transpose()?.unwrap_or(0));
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if !a.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let ambient = caps.inheritable().as_ref().is_some_and(|i| !i.is_empty());
        for name in &a.caps {
            // Spelled as in config.json: CAP_SYS_ADMIN (runc also takes SYS_ADMIN).
            let full = if name.starts_with("CAP_") {
                name.clone()
            } else {
                format!("CAP_{name}")
            };
            let c: Capability = serde_json::from_value(serde_json::Value::String(full))
                .map_err(|_| anyhow::anyhow!("--cap {name:?}: unknown capability"))?;
            let add = |set: &Option<std::collections::HashSet<Capability>>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(c);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            if ambient {
                caps.set_ambient(add(caps.ambient()));
            }
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    Ok(p)
}
