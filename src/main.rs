//! rt: a daemonless, runc-compatible, low-level OCI container runtime.
//! This file parses the command line, sets up logging, dispatches, and turns an error into
//! runc-style output and exit status. Nothing else.

#![warn(clippy::too_many_lines)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod capabilities;
mod cgroups;
mod cli;
mod container;
mod criu;
mod errno;
mod hooks;
mod logging;
mod lsm;
mod mountapi;
mod mountinfo;
mod namespaces;
mod pidinfo;
mod process;
mod procfs;
mod rootfs;
mod rootless;
mod seccomp;
mod signal;
mod sys;
mod testpoint;
mod timestamp;
mod tty;
mod variants;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // Before anything else: a command whose process enters a container runs from an image the
    // container cannot write (CVE-2019-5736; see process::sealed_exe).
    if cli.enters_container() {
        if let Err(e) = process::sealed_exe::ensure() {
            logging::fatal(&crate::errno::words(&e));
            std::process::exit(1);
        }
    }
    // First, before rt opens anything (the log file included).
    process::fds::record_inherited(cli.passed_fds());
    let format = if cli.log_format == "json" {
        logging::Format::Json
    } else {
        logging::Format::Text
    };
    if let Err(e) = logging::init(cli.log.as_deref(), format, cli.debug) {
        logging::fatal(&crate::errno::words(&e));
        std::process::exit(1);
    }
    let (name, result) = cli::dispatch(cli);
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = match name {
                Some(n) => format!("{n}: {}", crate::errno::words(&e)),
                None => crate::errno::words(&e),
            };
            logging::fatal(&msg);
            std::process::exit(1);
        }
    }
}
