//! The command line, mirroring runc's: global flags, then one file per command.

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::container::Context;
use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use crate::container::config::SPEC_VERSION;

#[derive(Parser, Debug)]
#[command(
    name = "rt",
    about = "rt: a daemonless, runc-compatible OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for storage of container state (this should be located in tmpfs)
    /// [default: /run/rt; $XDG_RUNTIME_DIR/rt when rootless]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write log messages to this file instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<String>,
    /// Log format: text or json
    #[arg(long = "log-format", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd (cgroupsPath as slice:prefix:name)
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, value_name = "true|false|auto", default_value = "auto", value_parser = ["true", "false", "auto"])]
    pub rootless: String,
    /// Path to the criu binary (checkpoint/restore) [default: criu in PATH]
    #[arg(long, value_name = "PATH")]
    pub criu: Option<String>,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
// Only the invoked subcommand's arguments are built (the whole tree cost ~40 page faults per
// command); so the one-line abouts are here, not on the Args structs.
#[command(defer = true)]
pub enum Command {
    /// Create a container
    Create(create::Args),
    /// Start a created container
    Start(start::Args),
    /// Output the state of a container
    State(state::Args),
    /// Send a signal to a container's init (default SIGTERM)
    Kill(kill::Args),
    /// Delete a container
    Delete(delete::Args),
    /// Execute a new process inside a container
    Exec(Box<exec::Args>),
    /// Create and start a container; in the foreground, wait for it and return its status
    Run(run::Args),
    /// List containers
    List(list::Args),
    /// Create a new specification file (config.json)
    Spec(spec::Args),
    /// Pause (freeze) all processes of a container
    Pause(pause::Args),
    /// Resume a paused container
    Resume(pause::Args),
    /// Display the processes running inside a container
    Ps(ps::Args),
    /// Update container resource constraints
    Update(Box<update::Args>),
    /// Display container events such as OOM notifications and resource usage statistics
    Events(events::Args),
    /// Show the enabled features (JSON, see the runtime spec's features.md)
    Features(features::Args),
    /// Checkpoint a running container (CRIU)
    Checkpoint(checkpoint::Args),
    /// Restore a container from a previous checkpoint (CRIU)
    Restore(restore::Args),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Create(_) => "create",
            Command::Start(_) => "start",
            Command::State(_) => "state",
            Command::Kill(_) => "kill",
            Command::Delete(_) => "delete",
            Command::Exec(_) => "exec",
            Command::Run(_) => "run",
            Command::List(_) => "list",
            Command::Spec(_) => "spec",
            Command::Pause(_) => "pause",
            Command::Resume(_) => "resume",
            Command::Ps(_) => "ps",
            Command::Update(_) => "update",
            Command::Events(_) => "events",
            Command::Features(_) => "features",
            Command::Checkpoint(_) => "checkpoint",
            Command::Restore(_) => "restore",
        }
    }
}

impl Cli {
    /// Whether this command puts a process of rt's into a container: the parked init of
    /// `create` and `run` (a copy of rt until it execs), `exec`'s process. It then runs from an
    /// image nobody can write (process::sealed_exe).
    pub fn enters_container(&self) -> bool {
        matches!(
            &self.command,
            Some(Command::Exec(_) | Command::Create(_) | Command::Run(_))
        )
    }
}

pub fn version_text() -> String {
    format!(
        "rt version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("RT_COMMIT").unwrap_or("unknown"),
        SPEC_VERSION
    )
}

/// Write a command's output to stdout. A stdout that cannot take it (a reader gone: EPIPE) makes
/// the command fail with that error, exit status 1: never a panic, never death by SIGPIPE (rt
/// ignores it), and the caller learns that the output was lost.
pub fn emit(bytes: &[u8]) -> Result<()> {
    use crate::errno::SysContext;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .sys(|| "write to stdout")
}

/// Run the parsed command; the value is the process exit status.
impl Cli {
    /// How many descriptors from 3 the command may pass on to a container's process
    /// (socket activation's, then --preserve-fds).
    pub fn passed_fds(&self) -> i32 {
        let listen = crate::container::activation::listen_fds;
        match &self.command {
            Some(Command::Create(a)) => a.preserve_fds.saturating_add(listen()),
            Some(Command::Run(r)) => r.create.preserve_fds.saturating_add(listen()),
            Some(Command::Exec(e)) => e.preserve_fds,
            _ => 0,
        }
    }
}

pub fn dispatch(cli: Cli) -> (Option<&'static str>, Result<i32>) {
    let Some(cmd) = cli.command else {
        if cli.version {
            return (None, emit(version_text().as_bytes()).map(|_| 0));
        }
        return (
            None,
            Err(anyhow::anyhow!("no command given; see 'rt --help'")),
        );
    };
    let name = cmd.name();
    let result = (|| {
        let rootless = match cli.rootless.as_str() {
            "true" => true,
            "false" => false,
            _ => crate::rootless::detect(),
        };
        if rootless && cli.systemd_cgroup && matches!(cmd, Command::Create(_) | Command::Run(_)) {
            bail!("--systemd-cgroup: rootless containers need the user's systemd instance, which rt does not support (use cgroupfs)");
        }
        let ctx = Context {
            root: cli
                .root
                .clone()
                .unwrap_or_else(|| crate::rootless::default_root(rootless)),
            systemd_cgroup: cli.systemd_cgroup,
            rootless,
        };
        match cmd {
            Command::Create(a) => create::run(&ctx, a),
            Command::Start(a) => start::run(&ctx, a),
            Command::State(a) => state::run(&ctx, a),
            Command::Kill(a) => kill::run(&ctx, a),
            Command::Delete(a) => delete::run(&ctx, a),
            Command::Exec(a) => exec::run(&ctx, *a),
            Command::Run(a) => run::run(&ctx, a),
            Command::List(a) => list::run(&ctx, a),
            Command::Spec(a) => spec::run(a),
            Command::Pause(a) => pause::pause(&ctx, a),
            Command::Resume(a) => pause::resume(&ctx, a),
            Command::Ps(a) => ps::run(&ctx, a),
            Command::Update(a) => update::run(&ctx, *a),
            Command::Events(a) => events::run(&ctx, a),
            Command::Features(a) => features::run(a),
            Command::Checkpoint(a) => checkpoint::run(&ctx, cli.criu.as_deref(), a),
            Command::Restore(a) => restore::run(&ctx, cli.criu.as_deref(), a),
        }
    })();
    (Some(name), result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn takes_flag_value_and_flag_equals_value() {
        let a = Cli::try_parse_from([
            "rt",
            "--root",
            "/x",
            "--log-format=json",
            "kill",
            "-a",
            "c1",
            "9",
        ])
        .unwrap();
        assert_eq!(a.root, Some(PathBuf::from("/x")));
        assert_eq!(a.log_format, "json");
        assert!(
            matches!(a.command, Some(Command::Kill(ref k)) if k.all && k.id == "c1" && k.signal == "9")
        );
        let r = Cli::try_parse_from(["rt", "run", "-d", "--bundle=/b", "--pid-file", "p", "c2"])
            .unwrap();
        assert!(matches!(r.command, Some(Command::Run(ref r)) if r.detach && r.create.id == "c2"));
    }
}
