use crate::container::{self, Context};
use anyhow::Result;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Display only container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Print JSON to stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = serde_json::to_vec_pretty(v)?;
    out.push(b'\n');
    super::emit(&out)
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    let entries = container::list(ctx)?;
    let mut out = Vec::new();
    if a.quiet {
        for e in &entries {
            writeln!(out, "{}", e.id)?;
        }
        super::emit(&out)?;
        return Ok(0);
    }
    if a.format == "json" {
        serde_json::to_writer(&mut out, &entries)?;
        out.push(b'\n');
        super::emit(&out)?;
        return Ok(0);
    }
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.pid.to_string(),
                e.status.to_string(),
                e.bundle.display().to_string(),
                e.created.clone(),
                e.owner.clone(),
            ]
        })
        .collect();
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let mut widths = [0usize; 6];
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.len() + 3).max(12);
        }
    }
    for r in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    super::emit(&out)?;
    Ok(0)
}
