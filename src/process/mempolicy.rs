//! linux.memoryPolicy (runtime-spec 1.3): the NUMA policy set with set_mempolicy(2) before
//! exec, which the process and its children inherit.

use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

fn mode_bits(m: MemoryPolicyModeType) -> libc::c_int {
    use MemoryPolicyModeType::*;
    match m {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    }
}

fn flag_bits(f: MemoryPolicyFlagType) -> libc::c_int {
    use MemoryPolicyFlagType::*;
    match f {
        MpolFStaticNodes => 1 << 15,
        MpolFRelativeNodes => 1 << 14,
        MpolFNumaBalancing => 1 << 13,
    }
}

/// The modes and flags rt knows, for `rt features`.
pub fn known() -> (Vec<String>, Vec<String>) {
    use MemoryPolicyFlagType::*;
    use MemoryPolicyModeType::*;
    let modes = [
        MpolDefault,
        MpolBind,
        MpolInterleave,
        MpolWeightedInterleave,
        MpolPreferred,
        MpolPreferredMany,
        MpolLocal,
    ];
    let flags = [MpolFNumaBalancing, MpolFRelativeNodes, MpolFStaticNodes];
    (
        modes.iter().map(|m| m.to_string()).collect(),
        flags.iter().map(|f| f.to_string()).collect(),
    )
}

/// "0-3,7" as a nodemask (bit n for node n).
fn nodemask(nodes: &str) -> Result<Vec<libc::c_ulong>> {
    const BITS: usize = libc::c_ulong::BITS as usize;
    // The kernel's MAX_NUMNODES is at most 1024.
    const MAX: usize = 1024;
    let mut mask = Vec::new();
    for part in nodes.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse = |s: &str| -> Result<usize> {
            s.parse::<usize>()
                .ok()
                .filter(|n| *n < MAX)
                .with_context(|| format!("{part:?} is not a node number or range below {MAX}"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            bail!("{part:?}: the range goes down");
        }
        for n in lo..=hi {
            if mask.len() <= n / BITS {
                mask.resize(n / BITS + 1, 0);
            }
            mask[n / BITS] |= 1 << (n % BITS);
        }
    }
    Ok(mask)
}

/// Check a policy without setting it: the mode's rule on nodes (runtime-spec: MPOL_DEFAULT and
/// MPOL_LOCAL take none, the others at least one) and the node list's syntax.
pub fn validate(p: &LinuxMemoryPolicy) -> Result<()> {
    let nodes = p.nodes().as_deref().unwrap_or("");
    let mask = nodemask(nodes).context("linux.memoryPolicy.nodes")?;
    let empty = mask.iter().all(|w| *w == 0);
    match p.mode() {
        MemoryPolicyModeType::MpolDefault | MemoryPolicyModeType::MpolLocal if !empty => bail!(
            "linux.memoryPolicy.nodes {nodes:?}: {} takes no nodes",
            p.mode()
        ),
        MemoryPolicyModeType::MpolDefault | MemoryPolicyModeType::MpolLocal => {}
        m if empty => bail!("linux.memoryPolicy.nodes: {m} needs at least one node"),
        _ => {}
    }
    Ok(())
}

/// set_mempolicy(2) for this process.
pub fn apply(p: &LinuxMemoryPolicy) -> Result<()> {
    validate(p)?;
    let nodes = p.nodes().as_deref().unwrap_or("");
    let mask = nodemask(nodes)?;
    let mode = p
        .flags()
        .iter()
        .flatten()
        .fold(mode_bits(p.mode()), |m, f| m | flag_bits(*f));
    if let Err(e) = crate::sys::set_mempolicy(mode, &mask) {
        let flags: Vec<String> = p.flags().iter().flatten().map(|f| f.to_string()).collect();
        return Err(e).sys(|| {
            format!(
                "linux.memoryPolicy: set_mempolicy {} nodes {nodes:?} flags {flags:?}",
                p.mode()
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lists_become_masks() {
        assert_eq!(nodemask("").unwrap(), Vec::<libc::c_ulong>::new());
        assert_eq!(nodemask("0").unwrap(), vec![1]);
        assert_eq!(nodemask("0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(nodemask("64").unwrap(), vec![0, 1]);
        for bad in ["x", "3-1", "1024", "-1", "1-"] {
            assert!(nodemask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_want_nodes_or_none() {
        let p = |j: &str| -> LinuxMemoryPolicy { serde_json::from_str(j).unwrap() };
        validate(&p(r#"{"mode":"MPOL_DEFAULT"}"#)).unwrap();
        validate(&p(r#"{"mode":"MPOL_DEFAULT","nodes":""}"#)).unwrap();
        validate(&p(r#"{"mode":"MPOL_LOCAL"}"#)).unwrap();
        validate(&p(r#"{"mode":"MPOL_BIND","nodes":"0"}"#)).unwrap();
        assert!(validate(&p(r#"{"mode":"MPOL_BIND"}"#)).is_err());
        assert!(validate(&p(r#"{"mode":"MPOL_LOCAL","nodes":"0"}"#)).is_err());
        assert!(serde_json::from_str::<LinuxMemoryPolicy>(r#"{"mode":"INTERLEAVE"}"#).is_err());
    }
}
