//! runc commands rt does not implement yet: each fails with a clear error instead of pretending.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Checkpoint a running container (not implemented)
    Checkpoint(Rest),
    /// Restore a container from a checkpoint (not implemented)
    Restore(Rest),
}

#[derive(clap::Args, Debug)]
pub struct Rest {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Checkpoint(_) => "checkpoint",
            Command::Restore(_) => "restore",
        }
    }
}
