use crate::container::{self, Context};
use anyhow::Result;
use std::io::Write;

/// List containers
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Display only container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Print JSON to stdout; a closed stdout is not worth a panic.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = out.write_all(b"\n");
    Ok(())
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    let entries = container::list(ctx)?;
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for e in &entries {
            let _ = writeln!(out, "{}", e.id);
        }
        return Ok(0);
    }
    if a.format == "json" {
        let _ = serde_json::to_writer(&mut out, &entries);
        let _ = out.write_all(b"\n");
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
        let _ = writeln!(out, "{}", line.trim_end());
    }
    Ok(0)
}
