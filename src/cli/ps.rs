//! `ps`: the container's processes, as a JSON array of host PIDs or as `ps(1)` lines.

use crate::container::{self, Context};
use crate::errno::SysContext;
use anyhow::{bail, Result};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    pub id: String,
    /// Options for ps(1) (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    let pids = container::pids(ctx, &a.id)?;
    let mut out = Vec::new();
    if a.format == "json" {
        if !a.ps_args.is_empty() {
            bail!("ps options cannot be combined with --format json");
        }
        writeln!(out, "{}", serde_json::to_string(&pids)?)?;
        super::emit(&out)?;
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .sys(|| format!("run ps {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "ps {}: {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    for line in filter(&text, &pids)? {
        writeln!(out, "{line}")?;
    }
    super::emit(&out)?;
    Ok(0)
}

/// The header and the lines whose PID column is one of `pids`.
fn filter<'a>(text: &'a str, pids: &[i32]) -> Result<Vec<&'a str>> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        bail!("ps printed nothing");
    };
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("ps output has no PID column: {header:?}");
    };
    let mut out = vec![header];
    for l in lines {
        let pid = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push(l);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_header_and_the_containers_lines() {
        let text = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:01 ? 00:00:00 sleep 9\n";
        assert_eq!(
            filter(text, &[42]).unwrap(),
            [
                "UID PID PPID C STIME TTY TIME CMD",
                "root 42 1 0 10:01 ? 00:00:00 sleep 9"
            ]
        );
        assert!(filter("X Y\n", &[1]).is_err());
    }
}
