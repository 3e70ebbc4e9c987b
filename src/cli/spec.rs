//! `spec`: write a starting config.json, runc's template with our spec version.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

pub fn template() -> Value {
    json!({
        "ociVersion": super::SPEC_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "rt",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// runc's rootless changes: a user namespace mapping the caller, no network namespace, no
/// cgroup limits, sysfs bound from the host in place of every mount under /sys, and no uid=/gid=
/// mount options (ids the single mapping does not have).
pub fn make_rootless(v: &mut Value, uid: u32, gid: u32) {
    let linux = &mut v["linux"];
    linux["resources"] = json!({});
    let ns = linux["namespaces"]
        .as_array_mut()
        .expect("template namespaces");
    ns.retain(|n| n["type"] != "network" && n["type"] != "user");
    ns.push(json!({"type": "user"}));
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    let mounts = v["mounts"].as_array_mut().expect("template mounts");
    mounts.retain(|m| {
        let dest = m["destination"].as_str().unwrap_or_default();
        dest != "/sys" && !dest.starts_with("/sys/")
    });
    for m in mounts.iter_mut() {
        if let Some(opts) = m["options"].as_array_mut() {
            opts.retain(|o| {
                !o.as_str()
                    .is_some_and(|s| s.starts_with("gid=") || s.starts_with("uid="))
            });
        }
    }
    mounts.push(
        json!({"destination": "/sys", "type": "none", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
    );
}

pub fn run(a: Args) -> Result<i32> {
    let mut v = template();
    if a.rootless {
        make_rootless(
            &mut v,
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
    }
    let path = a.bundle.join("config.json");
    if std::fs::symlink_metadata(&path).is_ok() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&v)? + "\n";
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_as_a_valid_bundle_config() {
        let raw = serde_json::to_vec(&template()).unwrap();
        crate::container::bundle::parse(&raw).unwrap();
    }

    #[test]
    fn rootless_maps_the_caller_and_drops_network() {
        let mut v = template();
        make_rootless(&mut v, 1000, 1000);
        let raw = serde_json::to_vec(&v).unwrap();
        let spec = crate::container::bundle::parse(&raw).unwrap();
        let ns: Vec<String> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .collect();
        assert!(ns.contains(&"user".to_string()) && !ns.contains(&"network".to_string()));
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 1000);
        let mounts = serde_json::to_string(&v["mounts"]).unwrap();
        assert!(!mounts.contains("gid=5") && !mounts.contains("/sys/fs/cgroup"));
        assert!(mounts.contains(r#""source":"/sys""#), "{mounts}");
        assert!(spec.linux().is_some());
    }
}
