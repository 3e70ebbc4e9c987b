use crate::container::{self, Context};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the signal to all processes in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    let sig = crate::signal::parse(&a.signal)?;
    container::kill(ctx, &a.id, sig, a.all)?;
    Ok(0)
}
