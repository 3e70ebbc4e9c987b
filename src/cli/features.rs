//! `features`: the OCI features document (see src/container/features.rs), as JSON on stdout.

use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_: Args) -> Result<i32> {
    super::emit(crate::container::features::to_json().as_bytes())?;
    Ok(0)
}
