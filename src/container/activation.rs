//! Socket activation (LISTEN_FDS), as runc does it with go-systemd's `activation.Files(false)`:
//! the descriptors systemd passed us from 3 go to the container's process at the same numbers,
//! which is told of them with LISTEN_FDS=N and LISTEN_PID=1. `--preserve-fds` counts after them.

use oci_spec::runtime::Spec;

/// How many descriptors from 3 were passed to us: LISTEN_FDS, when LISTEN_PID is our pid.
pub fn listen_fds() -> i32 {
    // Without LISTEN_FDS, not even a getpid.
    let Some(fds) = std::env::var_os("LISTEN_FDS") else {
        return 0;
    };
    let pid = std::env::var_os("LISTEN_PID");
    count(
        fds.to_str(),
        pid.as_deref().and_then(|p| p.to_str()),
        std::process::id(),
    )
}

/// Values that are not numbers, or not positive, mean none, as for go-systemd.
fn count(fds: Option<&str>, pid: Option<&str>, own_pid: u32) -> i32 {
    let n = fds.and_then(|f| f.parse::<i32>().ok()).unwrap_or(0);
    match pid.and_then(|p| p.parse::<u32>().ok()) {
        Some(p) if p == own_pid && n > 0 => n,
        _ => 0,
    }
}

/// Tell the container's process about its `n` descriptors (in memory: config.json stays as is).
pub fn setup(spec: &mut Spec, n: i32) {
    if let Some(p) = spec.process_mut() {
        let env = p.env_mut().get_or_insert_with(Vec::new);
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn only_our_pid_and_a_positive_number_count() {
        assert_eq!(count(Some("2"), Some("77"), 77), 2);
        assert_eq!(count(Some("2"), Some("78"), 77), 0);
        assert_eq!(count(Some("2"), None, 77), 0);
        assert_eq!(count(Some("x"), Some("77"), 77), 0);
        assert_eq!(count(Some("-1"), Some("77"), 77), 0);
        assert_eq!(count(Some("0"), Some("77"), 77), 0);
        assert_eq!(count(None, Some("77"), 77), 0);
    }
}
