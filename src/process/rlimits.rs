//! process.rlimits, applied with setrlimit in the init.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

fn resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

fn name(t: PosixRlimitType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{t:?}"))
}

pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    let mut seen = Vec::new();
    for l in limits {
        if seen.contains(&l.typ()) {
            bail!("process.rlimits: {} listed twice", name(l.typ()));
        }
        seen.push(l.typ());
        if l.soft() > l.hard() {
            bail!(
                "process.rlimits: {} soft limit {} is above the hard limit {}",
                name(l.typ()),
                l.soft(),
                l.hard()
            );
        }
        if let Err(e) = crate::sys::setrlimit(resource(l.typ()), l.soft(), l.hard()) {
            return Err(std::io::Error::from(e)).with_context(|| {
                format!(
                    "setrlimit {} soft {} hard {}",
                    name(l.typ()),
                    l.soft(),
                    l.hard()
                )
            });
        }
    }
    Ok(())
}
