use crate::container::{self, Context};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    let notify_socket = container::notify::from_env();
    container::start(ctx, &a.id, notify_socket.as_deref())?;
    Ok(0)
}
