//! Integration tests: `rt features` against the runtime spec's schema, then its lists put to use
//! in a container, and what it reports as disabled refused in a config.
//!
//! The schemas are the copies in integration/schema/ (see its README.md: taken unmodified from
//! opencontainers/runtime-spec's schema/ directory), since CI has only this repository.

mod common;
mod jsonschema;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/schema")
}

fn features() -> Value {
    let out = rt(&["features"]).ok();
    assert!(out.stderr.is_empty(), "{out:?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("features JSON: {e}: {out:?}"))
}

/// The strings of an array of the document, e.g. list(&f["mountOptions"]).
fn list(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn output_validates_against_the_spec_schema() {
    let f = features();
    let v = jsonschema::Validator::new(&schema_dir());
    let errors = v.validate("features-schema.json", &f);
    assert!(errors.is_empty(), "{errors:#?}\n{f:#}");
    // Every part the schema describes is there (absent would also be valid, but rt knows them).
    for key in ["hooks", "mountOptions", "linux"] {
        assert!(f.get(key).is_some(), "{key}");
    }
    assert_eq!(f["ociVersionMin"], "1.0.0");
    // No privileges needed: it only describes rt.
    let out = rt(&["--rootless=true", "features"]).ok();
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), f);
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let v = jsonschema::Validator::new(&schema_dir());
    let good = features();
    let broken = [
        (
            "/ociVersionMin",
            Value::Null,
            "required property ociVersionMin",
        ),
        ("/hooks", json!("prestart"), "is not of type array"),
        ("/linux/namespaces/0", json!("net"), "is not one of"),
        ("/linux/capabilities/0", json!("chown"), "does not match"),
        (
            "/linux/seccomp/actions/0",
            json!("SCMP_ACT_NOPE"),
            "is not one of",
        ),
        ("/linux/cgroup/v2", json!("yes"), "is not of type boolean"),
        (
            "/annotations/org.opencontainers.runc.checkpoint.enabled",
            json!(true),
            "is not of type string",
        ),
    ];
    for (pointer, value, want) in broken {
        let mut doc = good.clone();
        if value.is_null() {
            doc.as_object_mut().unwrap().remove("ociVersionMin");
        } else {
            *doc.pointer_mut(pointer).unwrap() = value;
        }
        let errors = v.validate("features-schema.json", &doc);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{pointer}: {errors:?}"
        );
    }
}

#[test]
fn schema_copies_match_the_spec_checkout_when_present() {
    // Next to the repository in the development tree; CI has only the copies.
    let upstream = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/runtime-spec/schema");
    if !upstream.is_dir() {
        return;
    }
    for f in [
        "features-schema.json",
        "features-linux.json",
        "defs.json",
        "defs-linux.json",
    ] {
        let ours = std::fs::read(schema_dir().join(f)).unwrap();
        assert_eq!(
            ours,
            std::fs::read(upstream.join(f)).unwrap(),
            "{f} is stale"
        );
    }
}

/// The seccomp architecture of this machine, as the spec names it.
fn native_arch() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("SCMP_ARCH_X86_64"),
        "aarch64" => Some("SCMP_ARCH_AARCH64"),
        _ => None,
    }
}

#[test]
fn a_container_runs_with_what_features_lists() {
    let f = features();
    let l = &f["linux"];
    let options = list(&f["mountOptions"]);
    let pick = |have: &[&str], want: &[&'static str]| -> Vec<&'static str> {
        for w in want {
            assert!(have.contains(w), "features lacks {w}: {have:?}");
        }
        want.to_vec()
    };
    let mut c = Container::new("features");
    // Every namespace rt reports, the user one with the mappings it needs.
    let namespaces: Vec<&str> = list(&l["namespaces"]);
    c.config["linux"]["namespaces"] = namespaces
        .iter()
        .filter(|n| **n != "user")
        .map(|n| json!({"type": n}))
        .collect();
    if namespaces.contains(&"user") {
        c.user_namespace();
    }
    let host_dir = c.bundle.join("shared");
    std::fs::create_dir(&host_dir).unwrap();
    // Writable by the container's root, so that only the read-only mount can refuse a write.
    std::os::unix::fs::chown(&host_dir, Some(100000), Some(100000)).unwrap();
    let mounts = c.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": pick(&options, &["nosuid", "nodev", "noexec", "ro"])}),
    );
    mounts.push(
        json!({"destination": "/mnt", "type": "bind", "source": host_dir,
        "options": pick(&options, &["rbind", "rro", "rprivate"])}),
    );
    let actions = list(&l["seccomp"]["actions"]);
    let mut profile = json!({
        "defaultAction": pick(&actions, &["SCMP_ACT_ALLOW"])[0],
        // Every flag this kernel supports, loaded for real.
        "flags": l["seccomp"]["supportedFlags"],
        "syscalls": [{"names": ["mkdir", "mkdirat"],
                      "action": pick(&actions, &["SCMP_ACT_ERRNO"])[0], "errnoRet": 38}]
    });
    if let Some(a) = native_arch() {
        profile["architectures"] = json!(pick(&list(&l["seccomp"]["archs"]), &[a]));
    }
    c.config["linux"]["seccomp"] = profile;
    c.sh(
        "for n in cgroup ipc mnt net pid time user uts; do echo $n=$(readlink /proc/self/ns/$n); done; \
         grep -E ' /(tmp|mnt) ' /proc/self/mountinfo; touch /mnt/f; mkdir /x; echo end",
    );
    let out = c.run().ok();

    // Each namespace differs from this test's own.
    for n in &namespaces {
        let p = match *n {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        };
        let line = format!("{p}={}", ns("self", p));
        assert!(
            !out.stdout.contains(&line),
            "{n} namespace not new: {out:?}"
        );
        assert!(out.stdout.contains(&format!("{p}={p}:[")), "{n}: {out:?}");
    }
    let opts_of = |dest: &str| -> String {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("no {dest} in mountinfo: {out:?}"));
        line.split(' ').nth(5).unwrap().to_string()
    };
    let tmp = opts_of("/tmp");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(tmp.split(',').any(|x| x == o), "/tmp lacks {o}: {tmp}");
    }
    assert!(opts_of("/mnt").split(',').any(|x| x == "ro"), "{out:?}");
    assert!(out.stdout.ends_with("end\n"), "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert!(
        out.stderr
            .contains("can't create directory '/x': Function not implemented"),
        "seccomp errno: {out:?}"
    );
}

#[test]
fn what_features_reports_disabled_is_refused() {
    let f = features();
    let cases = [
        ("intelRdt", json!({"closID": "rt-test"})),
        ("netDevices", json!({"eth0": {"name": "eth0"}})),
    ];
    for (field, value) in cases {
        assert_eq!(f["linux"][field]["enabled"], false, "{field}");
        let mut c = Container::new("features-off");
        c.config["linux"][field] = value;
        c.run()
            .fails_with(&format!("linux.{field}: not implemented"));
        assert!(!state_root().join(&c.id).exists(), "{field}");
    }
}
