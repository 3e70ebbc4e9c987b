//! `list`: every container under the root with its live status.

use super::{public, state, status, Context, PublicState};
use anyhow::Result;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

pub fn list(ctx: &Context) -> Result<Vec<PublicState>> {
    let mut out = Vec::new();
    // Every lookup reads /etc/passwd; containers mostly share one owner.
    let mut names: HashMap<u32, String> = HashMap::new();
    for id in state::list_ids(&ctx.root)? {
        // Read without the lock: a container being created or deleted is simply skipped.
        let dir = ctx.root.join(&id);
        let Ok(raw) = std::fs::read(dir.join(state::STATE_FILE)) else {
            continue;
        };
        let Ok(s) = serde_json::from_slice::<state::State>(&raw) else {
            continue;
        };
        let st = status::live_status(&s, &dir);
        let owner = std::fs::metadata(&dir)
            .map(|m| {
                let uid = m.uid();
                names.entry(uid).or_insert_with(|| user_name(uid)).clone()
            })
            .unwrap_or_default();
        out.push(public(&s, st, owner));
    }
    Ok(out)
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"))
}
