//! `update`: change a live container's resource limits. The new values are merged into the
//! stored config (so a later update, `events` and `exec` see them) and the merged limits applied;
//! device rules only when the update gives them.

use super::status::Status;
use super::{load, open_existing, Context};
use crate::errno::SysContext;
use anyhow::{bail, Context as _, Result};
use oci_spec::runtime::{LinuxResources, Spec};
use serde_json::Value;

pub fn update(ctx: &Context, id: &str, new: &LinuxResources) -> Result<()> {
    let locked = open_existing(ctx, id)?;
    let (state, st) = load(&locked, id)?;
    if st == Status::Stopped {
        bail!(super::Error::wrong_state(st, "container not running"));
    }
    let path = locked.config_path();
    let raw = std::fs::read(&path).sys(|| format!("read {}", path.display()))?;
    let mut config: Value =
        serde_json::from_slice(&raw).with_context(|| format!("parse {}", path.display()))?;
    let merged = merge(&mut config, new)?;
    super::config::validate_resources(&merged)?;
    let mut apply = merged.clone();
    apply.set_devices(new.devices().clone());
    let linux = super::config::from_value::<Spec>(config.clone())
        .ok()
        .and_then(|s| s.linux().clone());
    let nodes = crate::cgroups::device_nodes(linux.as_ref().and_then(|l| l.devices().as_deref()));
    state.cgroup().update(&merged, &apply, &nodes)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&config)?)
        .sys(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).sys(|| format!("rename {} to {}", tmp.display(), path.display()))
}

/// Overlay `new` on the config's linux.resources, field by field (a block given in the update
/// replaces only the fields it sets), and return the merged resources.
fn merge(config: &mut Value, new: &LinuxResources) -> Result<LinuxResources> {
    let linux = config
        .as_object_mut()
        .context("config.json: not an object")?
        .entry("linux")
        .or_insert_with(|| Value::Object(Default::default()));
    let resources = linux
        .as_object_mut()
        .context("config.json: linux is not an object")?
        .entry("resources")
        .or_insert_with(|| Value::Object(Default::default()));
    overlay(resources, serde_json::to_value(new)?);
    serde_json::from_value(resources.clone()).context("linux.resources after the update")
}

/// Objects merge key by key; anything else (numbers, strings, arrays) is replaced.
fn overlay(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(slot) => overlay(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_merges_field_by_field() {
        let mut config: Value = serde_json::from_str(
            r#"{"linux":{"resources":{"memory":{"limit":100,"swap":200},"pids":{"limit":5}}}}"#,
        )
        .unwrap();
        let new: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":150},"cpu":{"shares":512}}"#).unwrap();
        let m = merge(&mut config, &new).unwrap();
        assert_eq!(m.memory().unwrap().limit(), Some(150));
        assert_eq!(m.memory().unwrap().swap(), Some(200));
        assert_eq!(m.pids().unwrap().limit(), 5);
        assert_eq!(m.cpu().as_ref().unwrap().shares(), Some(512));
        assert_eq!(config["linux"]["resources"]["memory"]["limit"], 150);
    }
}
