//! The temporary directory a `create` claims an id with (`state::create`): made and locked under a
//! name of its own, `.rt-new:<pid>:<start time>`, then renamed to the id. A `create` killed between
//! the mkdir and the rename leaves it behind, named after a creator that is gone: the next `create`
//! and every `delete --force` remove such leftovers.

use super::state::{Locked, STATE_FILE};
use super::status::{is_alive, proc_stat};
use std::path::{Path, PathBuf};

/// ':' is not allowed in ids, so these names never collide with a container's.
const PREFIX: &str = ".rt-new:";

/// The claim of the process `pid` that started at `start` (see status::proc_stat).
pub fn path(root: &Path, pid: i32, start: u64) -> PathBuf {
    root.join(format!("{PREFIX}{pid}:{start}"))
}

/// Whether the creator named by a claim is gone: by pid and start time, or by pid alone for the
/// `.rt-new:<pid>` of an older rt.
fn creator_gone(name: &str) -> bool {
    let Some(creator) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let (pid, start) = match creator.split_once(':') {
        Some((p, s)) => (p, Some(s)),
        None => (creator, None),
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    match start.map(str::parse::<u64>) {
        Some(Ok(start)) => !is_alive(pid, start),
        Some(Err(_)) => false,
        None => proc_stat(pid).is_none(),
    }
}

/// Remove the claims of creates that are gone. Only what a claim may hold goes (the first
/// state, written there before the rename, and its temporary file), and only when nobody holds
/// the directory's lock: a creator in another PID namespace, which we cannot see, still does.
pub fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !creator_gone(name) {
            continue;
        }
        let Some(locked) = Locked::try_lock(e.path()) else {
            continue;
        };
        for f in [STATE_FILE, super::state::STATE_TMP] {
            let _ = std::fs::remove_file(locked.dir.join(f));
        }
        // Anything else in it (not ours) keeps it.
        match std::fs::remove_dir(&locked.dir) {
            Ok(()) => crate::logging::debug(&format!(
                "removed {}, left by a create that died",
                locked.dir.display()
            )),
            Err(e) => crate::logging::debug(&format!(
                "left {}, claimed by a create that died: {}",
                locked.dir.display(),
                crate::errno::describe_io(&e)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_claims_of_creators_that_are_gone_are_swept() {
        let root = std::env::temp_dir().join(format!("rt-claim-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let me = std::process::id() as i32;
        let (_, start) = proc_stat(me).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id() as i32;
        child.wait().unwrap();
        let mine = path(&root, me, start);
        let reused = path(&root, me, start + 1);
        let gone = path(&root, dead, 1);
        let legacy_gone = root.join(format!("{PREFIX}{dead}"));
        let legacy_mine = root.join(format!("{PREFIX}{me}"));
        let not_ours = path(&root, dead, 2);
        for d in [&mine, &reused, &gone, &legacy_gone, &legacy_mine, &not_ours] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(gone.join(STATE_FILE), "{}").unwrap();
        std::fs::write(not_ours.join("other"), "").unwrap();
        let held = Locked::try_lock(path(&root, dead, 3));
        assert!(held.is_none(), "no such directory");
        std::fs::create_dir(path(&root, dead, 3)).unwrap();
        let held = Locked::try_lock(path(&root, dead, 3)).unwrap();
        sweep(&root);
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want: Vec<String> = [&mine, &legacy_mine, &not_ours, &held.dir]
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        want.sort();
        assert_eq!(left, want);
        drop(held);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
