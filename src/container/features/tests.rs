//! The document compared with behaviour: each value it lists goes through the code path a
//! config.json takes, and each list is compared with the spec's own enum.

use super::*;
use crate::container::bundle;
use crate::container::config::SPEC_VERSION;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A config that bundle validation accepts, with `patch` merged into it.
fn config(patch: Value) -> Vec<u8> {
    let mut v = json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
        "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}});
    merge(&mut v, patch);
    serde_json::to_vec(&v).unwrap()
}

fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn seccomp(profile: Value) -> anyhow::Result<crate::seccomp::Filter> {
    let mut p = json!({"defaultAction": "SCMP_ACT_ALLOW"});
    merge(&mut p, profile);
    crate::seccomp::Filter::new(&serde_json::from_value(p).unwrap(), None, None)
}

/// The enum of a definition in the copy of the spec's defs-linux.json.
fn spec_enum(def: &str) -> BTreeSet<String> {
    let defs: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/integration/schema/defs-linux.json"
    )))
    .unwrap();
    serde_json::from_value(defs["definitions"][def]["enum"].clone()).unwrap()
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

#[test]
fn the_version_range_is_accepted() {
    let d = document();
    for v in [d.oci_version_min, d.oci_version_max] {
        bundle::parse(&config(json!({"ociVersion": v}))).unwrap();
    }
}

#[test]
fn every_hook_kind_is_validated() {
    // Validation reaches a hook only through its config field: a bad path is reported by name.
    for kind in document().hooks {
        let e = bundle::parse(&config(json!({"hooks": {kind: [{"path": "rel"}]}}))).unwrap_err();
        assert!(
            format!("{e:#}").contains(&format!("hooks.{kind}[0].path")),
            "{e:#}"
        );
    }
}

#[test]
fn mount_options_include_each_kind_of_option() {
    let d = document();
    for o in ["bind", "rprivate", "rro", "ratime", "idmap", "ridmap"] {
        assert!(d.mount_options.contains(&o), "{o}");
    }
    assert_eq!(
        d.linux.mount_extensions.idmap.enabled,
        d.mount_options.contains(&"idmap")
    );
}

#[test]
fn namespaces_match_the_spec_and_are_all_created() {
    let d = document();
    assert_eq!(set(&d.linux.namespaces), spec_enum("NamespaceType"));
    let all: Vec<Value> = d
        .linux
        .namespaces
        .iter()
        .map(|t| json!({"type": t}))
        .collect();
    let spec = bundle::parse(&config(json!({"linux": {"namespaces": all}}))).unwrap();
    let plan = crate::namespaces::plan(&spec).unwrap();
    assert_eq!(
        plan.new.bits().count_ones() as usize,
        d.linux.namespaces.len()
    );
}

#[test]
fn capabilities_are_accepted_by_config_parsing() {
    let caps = document().linux.capabilities;
    assert_eq!(caps.len(), caps::all().len());
    bundle::parse(&config(
        json!({"process": {"capabilities": {"bounding": caps, "permitted": caps}}}),
    ))
    .unwrap();
}

#[test]
fn seccomp_actions_and_operators_compile_in_a_profile() {
    let s = document().linux.seccomp;
    assert_eq!(set(&s.actions), spec_enum("SeccompAction"));
    assert_eq!(set(&s.operators), spec_enum("SeccompOperators"));
    for a in &s.actions {
        let r = seccomp(json!({"syscalls": [{"names": ["mkdir"], "action": a}]}));
        if a == "SCMP_ACT_NOTIFY" {
            // Compiled; what is missing is the agent, which this test does not run.
            let e = format!("{:#}", r.err().expect("notify without listenerPath"));
            assert!(e.contains("listenerPath: required"), "{e}");
        } else {
            r.unwrap_or_else(|e| panic!("{a}: {e:#}"));
        }
    }
    for op in &s.operators {
        seccomp(
            json!({"syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": op}]}]}),
        )
        .unwrap_or_else(|e| panic!("{op}: {e:#}"));
    }
}

#[test]
fn seccomp_archs_are_added_by_libseccomp() {
    let s = document().linux.seccomp;
    let spec = spec_enum("SeccompArch");
    assert!(s.archs.iter().any(|a| a == "SCMP_ARCH_X86_64"));
    for a in &s.archs {
        assert!(spec.contains(a), "{a} is not in the spec");
        seccomp(json!({"architectures": [a]})).unwrap_or_else(|e| panic!("{a}: {e:#}"));
    }
}

#[test]
fn seccomp_flags_known_and_supported() {
    let s = document().linux.seccomp;
    assert_eq!(set(&s.known_flags), spec_enum("SeccompFlag"));
    for f in &s.supported_flags {
        assert!(s.known_flags.contains(f), "{f}");
        seccomp(json!({"flags": [f]})).unwrap_or_else(|e| panic!("{f}: {e:#}"));
    }
    // Every kernel rt runs on has TSYNC (3.17) and LOG (4.14).
    for f in ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"] {
        assert!(s.supported_flags.iter().any(|s| s == f), "{f}");
    }
}

#[test]
fn disabled_features_are_refused_in_a_config() {
    let l = document().linux;
    let cases = [
        (l.intel_rdt.enabled, "intelRdt", json!({"closID": "x"})),
        (
            l.net_devices.enabled,
            "netDevices",
            json!({"eth0": {"name": "x"}}),
        ),
    ];
    for (enabled, field, value) in cases {
        let r = bundle::parse(&config(json!({"linux": {field: value}})));
        assert_eq!(r.is_ok(), enabled, "{field}");
        if let Err(e) = r {
            assert!(
                format!("{e:#}").contains(&format!("linux.{field}: not implemented")),
                "{e:#}"
            );
        }
    }
}

#[test]
fn json_is_runc_style() {
    let text = to_json();
    assert!(
        text.starts_with("{\n    \"ociVersionMin\": \"1.0.0\",\n"),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ociVersionMax"], SPEC_VERSION);
    assert_eq!(v["linux"]["cgroup"]["systemdUser"], false);
}
