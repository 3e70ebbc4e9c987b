use crate::container::{self, Context};
use anyhow::{bail, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits (not implemented)
    #[arg(long)]
    pub keep: bool,
    /// Do not reap the container's orphans: a foreground run is otherwise their subreaper
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    if a.keep {
        bail!("--keep is not implemented");
    }
    container::run(
        ctx,
        &a.create.id,
        &a.create.options(),
        a.detach,
        !a.no_subreaper,
    )
}
