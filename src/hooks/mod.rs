//! OCI hooks: each runs with its own args and env (nothing of ours leaks in), the container state
//! JSON on stdin (a file), and an optional timeout after which it is killed and counted as failed.
//! The error names the hook and carries what it wrote.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use nix::sys::memfd::{memfd_create, MFdFlags};
use oci_spec::runtime::Hook;
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

/// Run the hooks of one kind in order; the first failure stops the rest, except for `poststop`:
/// there a failure is only a warning and the remaining hooks still run (runtime.md, lifecycle
/// step 13), so all of them run and the error, if any, lists every failed one.
pub fn run_all(kind: &str, hooks: &[Hook], state: &serde_json::Value) -> Result<()> {
    run_all_with_env(kind, hooks, state, &[])
}

/// `run_all` where a hook without `env` gets `default_env`: the container process's own, for
/// the hooks that run in the container (createContainer, startContainer), as runc's do (its
/// init has the process's environment by then). The runtime's own environment reaches none.
pub fn run_all_with_env(
    kind: &str,
    hooks: &[Hook],
    state: &serde_json::Value,
    default_env: &[String],
) -> Result<()> {
    let input = serde_json::to_vec(state)?;
    let keep_going = kind == "poststop";
    let mut failed = Vec::new();
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, &input, default_env) {
            let e = anyhow::anyhow!(
                "{kind} hook #{i} {:?}: {}",
                h.path().display().to_string(),
                crate::errno::words(&e)
            );
            if !keep_going {
                return Err(e);
            }
            failed.push(crate::errno::words(&e));
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

fn memfd(name: &str) -> Result<std::fs::File> {
    let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC).sys(|| "memfd_create")?;
    Ok(std::fs::File::from(fd))
}

fn run_one(h: &Hook, input: &[u8], default_env: &[String]) -> Result<()> {
    let path = h.path();
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(path);
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(default_env) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // The state is read from a file, not a pipe: writing a large state (annotations) into a
    // pipe would wait for a hook that never reads it, before its timeout even started.
    let mut stdin = memfd("rt-hook-state")?;
    stdin
        .write_all(input)
        .sys(|| "write the state for the hook")?;
    stdin.rewind().sys(|| "rewind the state for the hook")?;
    let out = memfd("rt-hook-output")?;
    cmd.stdin(Stdio::from(stdin))
        .stdout(Stdio::from(out.try_clone().sys(|| "dup")?))
        .stderr(Stdio::from(out.try_clone().sys(|| "dup")?));
    let mut child = cmd.spawn().sys(|| "start")?;
    let status = match h.timeout() {
        Some(secs) => match wait_timeout(&child, secs) {
            Ok(true) => child.wait().sys(|| "wait")?,
            // Never return with the hook still running or unreaped.
            Ok(false) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("timed out after {secs}s{}", output(out));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        },
        None => child.wait().sys(|| "wait")?,
    };
    if !status.success() {
        let how = match (status.code(), status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (_, Some(s)) => format!("killed by signal {s}"),
            _ => "failed".to_string(),
        };
        bail!("{how}{}", output(out));
    }
    Ok(())
}

/// True once the child has exited; false if `secs` passed first.
fn wait_timeout(child: &std::process::Child, secs: i64) -> Result<bool> {
    // Our own unreaped child: its pid is not reused.
    let pidfd = crate::sys::pidfd_open(child.id() as i32).sys(|| "pidfd_open")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs as u64);
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut p = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut p,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(1) => return Ok(true),
            Ok(_) => return Ok(false),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).sys(|| "poll"),
        }
    }
}

/// What the hook wrote, for the error message (the tail, if long).
fn output(mut f: std::fs::File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let _ = f.read_to_string(&mut s);
    let s = s.trim();
    if s.is_empty() {
        return String::new();
    }
    // The last 2 KiB, cut at a character boundary (a byte index inside one would panic).
    let mut start = s.len().saturating_sub(2048);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!(": {}", &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn passes_state_args_and_env_only() {
        let dir = std::env::temp_dir().join(format!("rt-hook-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {0}; echo \"$0 $1 $FOO ${{HOME:-nohome}}\" >> {0}","zero","one"],"env":["FOO=bar"]}}"#,
            out.display()
        ));
        run_all(
            "poststart",
            &[h],
            &serde_json::json!({"id": "c1", "status": "running"}),
        )
        .unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            got.starts_with(r#"{"id":"c1","status":"running"}"#),
            "{got}"
        );
        assert!(got.ends_with("zero one bar nohome\n"), "{got}");
    }

    #[test]
    fn failure_and_timeout_name_the_hook_and_its_output() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo oops >&2; exit 3"]}"#);
        let e = run_all("prestart", &[h], &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prestart hook #0") && e.contains("exit status 3") && e.contains("oops"),
            "{e}"
        );
        let h = hook(r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#);
        let t = std::time::Instant::now();
        let e = run_all("createRuntime", &[h], &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out after 1s"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(4));
    }

    #[test]
    fn the_timeout_counts_for_a_hook_that_never_reads_a_large_state() {
        // A state larger than a pipe holds (annotations can be that big): handing it over must
        // not wait for the hook to read it, or the timeout would never start.
        let h = hook(r#"{"path":"/bin/sleep","args":["sleep","6"],"timeout":1}"#);
        let state = serde_json::json!({"annotations": {"big": "x".repeat(1 << 20)}});
        let t = std::time::Instant::now();
        let e = run_all("startContainer", &[h], &state).map_err(|e| e.to_string());
        assert!(
            e.as_ref().is_err_and(|e| e.contains("timed out after 1s")),
            "{e:?}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(4));
    }

    #[test]
    fn long_output_is_cut_at_a_character_boundary() {
        // 3000 bytes of three-byte characters: 2048 from the end falls inside one.
        let mut f = memfd("test").unwrap();
        write!(f, "{}", "€".repeat(1000)).unwrap();
        let tail = output(f);
        assert!(
            tail.starts_with(": €") && tail.len() == 2 + 2046,
            "{}",
            tail.len()
        );
    }

    #[test]
    fn a_failed_poststop_hook_does_not_stop_the_rest() {
        let dir = std::env::temp_dir().join(format!("rt-hook-poststop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fail = |n: u8| {
            hook(&format!(
                r#"{{"path":"/bin/sh","args":["sh","-c","echo bad{n} >&2; exit {n}"]}}"#
            ))
        };
        let touch = |f: &str| {
            hook(&format!(
                r#"{{"path":"/bin/sh","args":["sh","-c","touch {}"]}}"#,
                dir.join(f).display()
            ))
        };
        let list = [fail(1), touch("a"), fail(2), touch("b")];
        let e = run_all("poststop", &list, &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        let ran = dir.join("a").exists() && dir.join("b").exists();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(ran, "hooks after a failed poststop hook did not run");
        assert!(e.contains("poststop hook #0") && e.contains("bad1"), "{e}");
        assert!(e.contains("poststop hook #2") && e.contains("bad2"), "{e}");
        // Any other kind stops at the first failure.
        let e = run_all("poststart", &list, &serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("#0") && !e.contains("#2"), "{e}");
    }
}
