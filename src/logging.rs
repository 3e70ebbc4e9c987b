//! runc-style logging: `--log FILE` and `--log-format text|json`, as containerd and podman read it.
//! Without `--log`, log lines go to stderr. Debug lines appear only with `--debug`.

use crate::errno::SysContext;
use crate::timestamp;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
/// Set in a container's init once it stops logging (see [`detach`]).
static DETACHED: AtomicBool = AtomicBool::new(false);

pub fn init(path: Option<&str>, format: Format, debug: bool) -> anyhow::Result<()> {
    let file = match path {
        Some(p) if !p.is_empty() => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .sys(|| format!("open log file {p:?}"))?,
        ),
        _ => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

fn line(format: Format, level: &str, msg: &str) -> String {
    match format {
        Format::Json => {
            let v =
                serde_json::json!({"level": level, "msg": msg, "time": timestamp::now_rfc3339()});
            format!("{v}\n")
        }
        Format::Text => format!(
            "time=\"{}\" level={} msg={}\n",
            timestamp::now_rfc3339(),
            level,
            serde_json::Value::String(msg.to_string())
        ),
    }
}

fn emit(level: &str, msg: &str) {
    if DETACHED.load(Ordering::Relaxed) {
        return;
    }
    let Some(l) = LOGGER.get() else {
        // Not eprintln!: a closed stderr must not make us panic.
        let _ = writeln!(std::io::stderr(), "{level}: {msg}");
        return;
    };
    let text = line(l.format, level, msg);
    match &l.file {
        Some(f) => {
            let _ = (&*f).write_all(text.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// The log file's descriptor, which a container's init keeps while it is set up.
pub fn file_fd() -> Option<RawFd> {
    LOGGER.get()?.file.as_ref().map(|f| f.as_raw_fd())
}

/// In a container's init about to wait in the container: stop logging and close the log file
/// (a host file: nothing the container could reach may hold it). Its later failures reach
/// `start` through the init's error file instead.
pub fn detach() {
    DETACHED.store(true, Ordering::Relaxed);
    if let Some(fd) = file_fd() {
        // The logger never writes again (DETACHED), and its File is a static that is never
        // dropped, so the number is not closed twice.
        crate::sys::close_number(fd);
    }
}

pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

pub fn debug(msg: &str) {
    if debug_enabled() {
        emit("debug", msg);
    }
}

pub fn warn(msg: &str) {
    emit("warning", msg);
}

/// The final error of a command, as runc reports it: with `--log`, logged there (its last
/// `error` line is what containerd shows its user) and printed plainly on stderr; without, the
/// log line itself on stderr (`time="..." level=error msg="..."`), which tools match on.
pub fn fatal(msg: &str) {
    if DETACHED.load(Ordering::Relaxed) {
        return;
    }
    match LOGGER.get() {
        Some(l) if l.file.is_some() => {
            emit("error", msg);
            let _ = writeln!(std::io::stderr(), "{msg}");
        }
        Some(l) => {
            let _ = std::io::stderr().write_all(line(l.format, "error", msg).as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line(Format::Text, "error", msg).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_level_msg_time() {
        let l = line(Format::Json, "error", "bad \"x\"\n");
        let v: serde_json::Value = serde_json::from_str(l.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "bad \"x\"\n");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn text_line_quotes_message() {
        let l = line(Format::Text, "warning", "a b");
        assert!(l.contains("level=warning msg=\"a b\""), "{l}");
    }
}
