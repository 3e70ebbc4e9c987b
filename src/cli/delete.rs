use crate::container::{self, Context};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container if it is still running, then delete it
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    container::delete(ctx, &a.id, a.force)?;
    Ok(0)
}
