//! The device rules a container gets: the config's `linux.resources.devices`, then the devices
//! every container may use (as runc allows them), then the nodes the config creates. Both cgroup
//! versions fold them into a policy (policy.rs); v1 writes the transition from the cgroup's
//! current policy to it (transition.rs), v2 compiles it into an eBPF filter. Default deny either
//! way.

mod lock;
pub mod policy;
pub mod transition;

pub use lock::lock;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// (type, major, minor, access); -1 is a wildcard.
const DEFAULT_ALLOWED: &[(LinuxDeviceType, i64, i64, &str)] = &[
    (LinuxDeviceType::C, -1, -1, "m"),
    (LinuxDeviceType::B, -1, -1, "m"),
    (LinuxDeviceType::C, 1, 3, "rwm"),
    (LinuxDeviceType::C, 1, 5, "rwm"),
    (LinuxDeviceType::C, 1, 7, "rwm"),
    (LinuxDeviceType::C, 1, 8, "rwm"),
    (LinuxDeviceType::C, 1, 9, "rwm"),
    (LinuxDeviceType::C, 5, 0, "rwm"),
    (LinuxDeviceType::C, 5, 1, "rwm"),
    (LinuxDeviceType::C, 5, 2, "rwm"),
    (LinuxDeviceType::C, 136, -1, "rwm"),
    (LinuxDeviceType::C, 10, 200, "rwm"),
];

fn rule(typ: LinuxDeviceType, major: i64, minor: i64, access: &str) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major((major >= 0).then_some(major));
    r.set_minor((minor >= 0).then_some(minor));
    r.set_access(Some(access.to_string()));
    r
}

/// Every rule for a container, in order (later rules win).
pub fn rules(
    config: &[LinuxDeviceCgroup],
    nodes: &[(LinuxDeviceType, i64, i64)],
) -> Vec<LinuxDeviceCgroup> {
    let mut all = config.to_vec();
    all.extend(
        DEFAULT_ALLOWED
            .iter()
            .map(|(t, ma, mi, a)| rule(*t, *ma, *mi, a)),
    );
    all.extend(nodes.iter().map(|(t, ma, mi)| rule(*t, *ma, *mi, "rwm")));
    all
}
