//! Capability sets: bounding dropped before the uid change, then effective, permitted,
//! inheritable and ambient set exactly as configured.

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;
use std::collections::HashSet;
use std::str::FromStr;

/// Every capability name rt accepts: all the caps crate knows (oci-spec parses the same 41), in
/// the order of their numbers, for `rt features`.
pub fn known() -> Vec<String> {
    let mut v: Vec<Capability> = caps::all().into_iter().collect();
    v.sort_by_key(|c| c.index());
    v.iter().map(Capability::to_string).collect()
}

/// The capabilities of the running kernel, probed once (41 prctl calls) per process.
fn supported() -> &'static CapsHashSet {
    static SUPPORTED: std::sync::OnceLock<CapsHashSet> = std::sync::OnceLock::new();
    SUPPORTED.get_or_init(caps::runtime::thread_all_supported)
}

fn to_caps(
    set: &Option<HashSet<oci_spec::runtime::Capability>>,
    field: &str,
) -> Result<CapsHashSet> {
    let supported = supported();
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = c.to_string();
        let name = if name.starts_with("CAP_") {
            name
        } else {
            format!("CAP_{name}")
        };
        let cap = Capability::from_str(&name).with_context(|| {
            format!("process.capabilities.{field}: unknown capability {name:?}")
        })?;
        if supported.contains(&cap) {
            out.insert(cap);
        } else {
            crate::logging::warn(&format!(
                "process.capabilities.{field}: {name} is not known to the running kernel, skipped"
            ));
        }
    }
    Ok(out)
}

/// Drop every capability from the bounding set that the config does not list. Needs CAP_SETPCAP,
/// so it runs before the uid change.
pub fn drop_bounding(c: Option<&LinuxCapabilities>) -> Result<()> {
    let keep = match c {
        Some(c) => to_caps(c.bounding(), "bounding")?,
        None => CapsHashSet::new(),
    };
    for &cap in supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("drop {cap} from the bounding set"))?;
        }
    }
    Ok(())
}

pub fn apply(c: Option<&LinuxCapabilities>) -> Result<()> {
    let (e, p, i, a) = match c {
        Some(c) => (
            to_caps(c.effective(), "effective")?,
            to_caps(c.permitted(), "permitted")?,
            to_caps(c.inheritable(), "inheritable")?,
            to_caps(c.ambient(), "ambient")?,
        ),
        None => Default::default(),
    };
    if !e.is_subset(&p) {
        bail!("process.capabilities: effective must be a subset of permitted");
    }
    // Inheritable while CAP_SETPCAP is still effective; effective shrinks before permitted, as
    // capset(2) refuses an effective set wider than the permitted one.
    caps::set(None, CapSet::Inheritable, &i).context("set inheritable capabilities")?;
    caps::set(None, CapSet::Effective, &e).context("set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &p).context("set permitted capabilities")?;
    caps::clear(None, CapSet::Ambient).context("clear ambient capabilities")?;
    // As runc: an ambient capability the kernel refuses (it must be permitted and inheritable,
    // and `runc spec` lists ambient ones without inheritable) is a warning, not a failure.
    for cap in a {
        if let Err(e) = caps::raise(None, CapSet::Ambient, cap) {
            crate::logging::warn(&format!(
                "process.capabilities.ambient: cannot raise {cap} (it must be permitted and inheritable): {e}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_parses_as_in_a_config() {
        let names = known();
        assert_eq!(names.first().map(String::as_str), Some("CAP_CHOWN"));
        // Through config.json's type and the same conversion `apply` uses.
        let set: HashSet<oci_spec::runtime::Capability> =
            serde_json::from_value(serde_json::json!(names)).unwrap();
        assert_eq!(set.len(), names.len());
        let got = to_caps(&Some(set), "bounding").unwrap();
        let on_this_kernel = caps::runtime::thread_all_supported();
        for n in &names {
            let c = Capability::from_str(n).unwrap();
            assert_eq!(got.contains(&c), on_this_kernel.contains(&c), "{n}");
        }
    }
}
