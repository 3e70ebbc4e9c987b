use crate::container::{self, Context};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn pause(ctx: &Context, a: Args) -> Result<i32> {
    container::pause(ctx, &a.id)?;
    Ok(0)
}

pub fn resume(ctx: &Context, a: Args) -> Result<i32> {
    container::resume(ctx, &a.id)?;
    Ok(0)
}
