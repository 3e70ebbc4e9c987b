//! runc commands rt does not implement yet: each fails with a clear error instead of pretending.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pause all processes of a container (not implemented)
    Pause(Rest),
    /// Resume a paused container (not implemented)
    Resume(Rest),
    /// List the processes of a container (not implemented)
    Ps(Rest),
    /// Update a container's resource limits (not implemented)
    Update(Rest),
    /// Display container events and statistics (not implemented)
    Events(Rest),
    /// Checkpoint a running container (not implemented)
    Checkpoint(Rest),
    /// Restore a container from a checkpoint (not implemented)
    Restore(Rest),
    /// Show the features the runtime supports (not implemented)
    Features(Rest),
}

#[derive(clap::Args, Debug)]
pub struct Rest {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Pause(_) => "pause",
            Command::Resume(_) => "resume",
            Command::Ps(_) => "ps",
            Command::Update(_) => "update",
            Command::Events(_) => "events",
            Command::Checkpoint(_) => "checkpoint",
            Command::Restore(_) => "restore",
            Command::Features(_) => "features",
        }
    }
}
