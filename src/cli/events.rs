//! `events`: runc's JSON event lines on stdout.

use crate::container::{self, Context};
use anyhow::{bail, Result};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Display the container's stats once, then exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events (Go duration: 5s, 500ms, 1m30s)
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32> {
    if a.interval.is_zero() {
        bail!("--interval: duration must be greater than 0");
    }
    let id = a.id.clone();
    let interval = (!a.stats).then_some(a.interval);
    container::events(ctx, &a.id, interval, &mut |e| {
        let line = e.to_json_line(&id)?;
        let mut out = std::io::stdout().lock();
        // A reader that went away ends the stream; it is not an error of the container's.
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            std::process::exit(0);
        }
        Ok(())
    })?;
    Ok(0)
}

/// A Go-style duration: a sequence of decimal numbers with units ns, us (or µs), ms, s, m, h.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (examples: 5s, 500ms, 1m30s)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * secs;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "s", "5x", "-1s", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
