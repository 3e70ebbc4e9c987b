use crate::container::{self, Context};
use anyhow::Result;

/// Start a created container
#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    container::start(ctx, &a.id)?;
    Ok(0)
}
