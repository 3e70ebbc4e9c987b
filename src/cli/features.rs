//! `features`: the OCI features document (see src/features.rs), as JSON on stdout.

use anyhow::{Context, Result};
use std::io::Write;

/// Show the enabled features (JSON, see the runtime spec's features.md)
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_: Args) -> Result<i32> {
    std::io::stdout()
        .lock()
        .write_all(crate::features::to_json().as_bytes())
        .context("write the features document")?;
    Ok(0)
}
