//! Rootless mode: whether rt runs without privileges on the host, and where its state goes then.

use std::path::PathBuf;

/// `--rootless auto`: on when not root, or root only inside a user namespace.
pub fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// True unless this process is in the initial user namespace, whose uid map is the identity
/// over the whole range.
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => !is_initial_map(&map),
        Err(_) => false,
    }
}

fn is_initial_map(map: &str) -> bool {
    let lines: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    lines.len() == 1 && lines[0] == ["0", "0", "4294967295"]
}

/// The state root when `--root` is not given: runc's rule, `$XDG_RUNTIME_DIR/rt` for a rootless
/// caller that has one, else `/run/rt`.
pub fn default_root(rootless: bool) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if rootless && !dir.is_empty() => PathBuf::from(dir).join("rt"),
        _ => PathBuf::from("/run/rt"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_full_identity_map_is_the_initial_namespace() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1000          1\n"));
        assert!(!is_initial_map("0 0 4294967295\n1 1 1\n"));
        assert!(!is_initial_map(""));
    }
}
