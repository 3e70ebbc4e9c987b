//! Finding the executable the way runc (Go's exec.LookPath) does, with its error wording, which
//! managers match on ("executable file not found in $PATH", "no such file or directory").

use anyhow::{bail, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub fn find(name: &str, env: &[String]) -> Result<String> {
    if name.contains('/') {
        return match check(Path::new(name)) {
            Ok(()) => Ok(name.to_string()),
            Err(e) => bail!("exec: {name:?}: stat {name}: {}", describe(&e)),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{dir}/{name}");
        if check(Path::new(&candidate)).is_ok() {
            return Ok(candidate);
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}

fn check(p: &Path) -> std::io::Result<()> {
    let m = std::fs::metadata(p)?;
    if m.is_dir() || m.permissions().mode() & 0o111 == 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    Ok(())
}

fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn searches_path_and_words_errors_like_runc() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find("sh", &env).unwrap().ends_with("/sh"));
        let e = find("nosuch-rt", &env).unwrap_err().to_string();
        assert_eq!(e, "exec: \"nosuch-rt\": executable file not found in $PATH");
        let e = find("/nosuch-rt", &env).unwrap_err().to_string();
        assert_eq!(
            e,
            "exec: \"/nosuch-rt\": stat /nosuch-rt: no such file or directory"
        );
    }
}
