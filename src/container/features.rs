//! The OCI features document (the runtime spec's features.md), printed by `rt features`. Every
//! list is read from the table the implementation itself uses, so the document cannot claim more
//! or less than rt does; the booleans point at the code that makes them true.
//!
//! `annotations` carries what runc reports there about checkpoint/restore
//! (`org.opencontainers.runc.checkpoint.enabled`: rt has `checkpoint` and `restore`, through CRIU).
//! Left out: `potentiallyUnsafeConfigAnnotations` (the one config annotation rt acts on,
//! `org.criu.config`, only names CRIU's configuration file).

use serde::Serialize;

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub oci_version_min: &'static str,
    pub oci_version_max: &'static str,
    pub hooks: Vec<&'static str>,
    pub mount_options: Vec<&'static str>,
    pub linux: Linux,
    pub annotations: std::collections::BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    pub namespaces: Vec<String>,
    pub capabilities: Vec<String>,
    pub cgroup: Cgroup,
    pub seccomp: Seccomp,
    pub apparmor: Enabled,
    pub selinux: Enabled,
    pub intel_rdt: Enabled,
    pub mount_extensions: MountExtensions,
    pub net_devices: Enabled,
    pub memory_policy: MemoryPolicy,
}

#[derive(Serialize, Debug)]
pub struct MemoryPolicy {
    pub modes: Vec<String>,
    pub flags: Vec<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Cgroup {
    pub v1: bool,
    pub v2: bool,
    pub systemd: bool,
    pub systemd_user: bool,
    pub rdma: bool,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub enabled: bool,
    pub actions: Vec<String>,
    pub operators: Vec<String>,
    pub archs: Vec<String>,
    pub known_flags: Vec<String>,
    pub supported_flags: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Serialize, Debug)]
pub struct MountExtensions {
    pub idmap: Enabled,
}

const fn enabled(enabled: bool) -> Enabled {
    Enabled { enabled }
}

pub fn document() -> Features {
    use super::config::{implemented, HOOK_KINDS, SPEC_VERSION};
    Features {
        // container::config accepts every 1.x ociVersion.
        oci_version_min: "1.0.0",
        oci_version_max: SPEC_VERSION,
        hooks: HOOK_KINDS.iter().map(|(name, _)| *name).collect(),
        mount_options: crate::rootfs::known_mount_options(),
        linux: Linux {
            namespaces: crate::namespaces::known()
                .iter()
                .map(crate::variants::spec_name)
                .collect(),
            capabilities: crate::capabilities::known(),
            cgroup: Cgroup {
                // Per-controller dispatch over cgroups/v1 and cgroups/v2 (hybrid hosts mix both).
                v1: true,
                v2: true,
                // cgroups/systemd, with --systemd-cgroup.
                systemd: true,
                // The user instance of systemd serves rootless containers, which rt refuses.
                systemd_user: false,
                // resources.rdma is written to rdma.max on either version.
                rdma: true,
            },
            // archs and supportedFlags are what this host's libseccomp and kernel accept, as
            // a profile would find them; the rest are rt's own tables.
            seccomp: Seccomp {
                enabled: true,
                actions: crate::seccomp::known::actions(),
                operators: crate::seccomp::known::operators(),
                archs: crate::seccomp::known::archs(),
                known_flags: crate::seccomp::known::flags(),
                supported_flags: crate::seccomp::known::supported_flags(),
            },
            // lsm::apply sets both labels for the exec (whether this host has either LSM is a
            // runtime matter, checked when a config asks for one).
            apparmor: enabled(true),
            selinux: enabled(true),
            intel_rdt: enabled(implemented("/linux/intelRdt")),
            // idmap/ridmap bind mounts: rootfs/options.rs and process/idmap.rs.
            mount_extensions: MountExtensions {
                idmap: enabled(true),
            },
            net_devices: enabled(implemented("/linux/netDevices")),
            // process/mempolicy.rs: its own tables of modes and flags.
            memory_policy: {
                let (modes, flags) = crate::process::mempolicy::known();
                MemoryPolicy { modes, flags }
            },
        },
        // cli/checkpoint.rs and cli/restore.rs (CRIU must be installed to use them).
        annotations: [("org.opencontainers.runc.checkpoint.enabled", "true")].into(),
    }
}

/// The document as runc prints it: JSON indented by four spaces, then a newline.
pub fn to_json() -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    document()
        .serialize(&mut ser)
        .expect("serialize plain structs");
    String::from_utf8(out).expect("serde_json writes UTF-8") + "\n"
}

#[cfg(test)]
mod tests;
