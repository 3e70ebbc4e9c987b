use crate::container::{self, Context};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    let s = container::state(ctx, &a.id)?;
    super::list::print_json(&s)?;
    Ok(0)
}
