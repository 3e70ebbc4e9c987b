//! config.json as data: parsed and checked without looking at the host, so that a bad config is
//! refused, naming its field, before anything is created.
//!
//! Everything here is pure, and the fuzz target (fuzz/fuzz_targets/config.rs) includes this file
//! by path: it must use nothing of the crate (no `crate::`), only external crates.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Hook, Hooks, LinuxNamespaceType, LinuxResources, Process, Spec};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// The OCI runtime spec version rt implements (`rt spec` writes it, `rt features` reports it).
pub const SPEC_VERSION: &str = "1.3.0";

/// The field of config.json's `hooks` that holds the hooks of one kind.
pub type HookGetter = fn(&Hooks) -> &Option<Vec<Hook>>;

/// Every hook kind rt runs, by its name in config.json: validation walks this table and
/// `rt features` lists it. Each runs where the spec places it
/// (container/create.rs, process/init.rs, container/start.rs, container/delete.rs).
pub const HOOK_KINDS: [(&str, HookGetter); 6] = [
    ("prestart", Hooks::prestart),
    ("createRuntime", Hooks::create_runtime),
    ("createContainer", Hooks::create_container),
    ("startContainer", Hooks::start_container),
    ("poststart", Hooks::poststart),
    ("poststop", Hooks::poststop),
];

/// The kernel's NGROUPS_MAX: setgroups refuses more supplementary groups than this.
const NGROUPS_MAX: usize = 65536;

/// The kernel's limit on host and domain names (HOST_NAME_MAX, __NEW_UTS_LEN).
const HOST_NAME_MAX: usize = 64;

/// Seccomp rules (syscall names times conditions) that rt hands to libseccomp. Past a few thousand
/// the filter cannot load anyway (4096 BPF instructions), and libseccomp's time grows with the
/// square of the count (20,000 rules: seconds; 100,000: minutes), so a hostile profile would
/// otherwise hang `create`. Docker's default profile has about 400.
const MAX_SECCOMP_RULES: usize = 8192;

/// Parse config.json and check what the runtime relies on before doing anything. Relative mount
/// destinations come back made absolute (spec: relative to "/").
pub fn parse(raw: &[u8]) -> Result<Spec> {
    // Syntax first, with its line and column; then the version, which decides what the rest means.
    let value: serde_json::Value = serde_json::from_slice(raw)?;
    if !value.is_object() {
        bail!("not a JSON object");
    }
    let version = value
        .get("ociVersion")
        .context("ociVersion: required field missing")?
        .as_str()
        .context("ociVersion: must be a string")?;
    check_version(version)?;
    check_unimplemented(&value)?;
    let mut spec: Spec = from_value(value)?;
    // Checked as written, so that an error quotes the config; then made absolute.
    validate(&spec)?;
    absolute_destinations(&mut spec);
    Ok(spec)
}

/// JSON read into a spec type, an error naming the field that is wrong (`user.uid: invalid
/// value: ...`). Syntax errors come from parsing the Value, with their line and column.
///
/// From a Value rather than the bytes: every reader of a spec type then shares one instance of
/// its (large) Deserialize code; reading the bytes directly would add another, 0.3 MB of binary.
pub fn from_value<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(field_error)
}

/// A typed deserialization error worded as `field.path: what is wrong`.
fn field_error(e: serde_path_to_error::Error<serde_json::Error>) -> anyhow::Error {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    // serde reports a missing field at its parent: name the field itself.
    if let Some(rest) = inner.strip_prefix("missing field `") {
        if let Some((name, _)) = rest.split_once('`') {
            let field = if path == "." {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            return anyhow::anyhow!("{field}: required field missing");
        }
    }
    if path == "." {
        anyhow::anyhow!("{inner}")
    } else {
        anyhow::anyhow!("{path}: {inner}")
    }
}

/// Only 1.x is understood; the spec wants SemVer, so the major is a number.
fn check_version(v: &str) -> Result<()> {
    let major = v.split('.').next().unwrap_or("");
    match major.parse::<u64>() {
        Ok(1) => Ok(()),
        Ok(_) => bail!("ociVersion {v:?}: unsupported major version (rt supports 1.x)"),
        Err(_) => bail!("ociVersion {v:?}: not a SemVer version such as \"1.0.2\""),
    }
}

/// Fields of the spec that rt does not act on yet. Accepting them silently would run a container
/// without what it asked for, so each is refused by name.
const UNIMPLEMENTED: &[&str] = &["/linux/intelRdt", "/linux/netDevices"];

/// Whether rt acts on a field of config.json (a JSON pointer such as "/linux/intelRdt") rather
/// than refusing it: `rt features` reports intelRdt and netDevices from this.
pub fn implemented(field: &str) -> bool {
    !UNIMPLEMENTED.contains(&field)
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

fn check_unimplemented(v: &serde_json::Value) -> Result<()> {
    for ptr in UNIMPLEMENTED {
        if v.pointer(ptr).is_some_and(|f| !is_empty(f)) {
            let field = ptr.trim_start_matches('/').replace('/', ".");
            bail!("{field}: not implemented by rt yet");
        }
    }
    Ok(())
}

/// Linux mount destinations MAY be relative, "interpreted as relative to /" (config.md); made
/// absolute here, as runc does, so that the rest of rt sees absolute paths only.
fn absolute_destinations(spec: &mut Spec) {
    for m in spec.mounts_mut().iter_mut().flatten() {
        let d = m.destination();
        if d.is_relative() && !d.as_os_str().is_empty() {
            let abs = Path::new("/").join(d);
            m.set_destination(abs);
        }
    }
}

/// Relative bind mount sources are relative to the bundle (config.md), not to wherever rt was
/// started: made absolute against the bundle's directory, as runc does.
pub fn bind_sources_in(spec: &mut Spec, bundle: &Path) {
    for m in spec.mounts_mut().iter_mut().flatten() {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        let relative = m
            .source()
            .as_ref()
            .is_some_and(|s| s.is_relative() && !s.as_os_str().is_empty());
        if bind && relative {
            let abs = bundle.join(m.source().as_ref().unwrap());
            m.set_source(Some(abs));
        }
    }
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// Strings that reach the kernel as C strings cannot hold a NUL: refused by name rather than cut
/// short or failing later with no field to blame.
fn no_nul(field: &str, s: &[u8]) -> Result<()> {
    if s.contains(&0) {
        bail!(
            "{field} {:?}: contains a NUL byte",
            String::from_utf8_lossy(s)
        );
    }
    Ok(())
}

fn no_nul_in_path(field: &str, p: &Path) -> Result<()> {
    no_nul(field, p.as_os_str().as_bytes())
}

fn validate(spec: &Spec) -> Result<()> {
    let root = spec
        .root()
        .as_ref()
        .context("root: required field missing")?;
    if root.path().as_os_str().is_empty() {
        // oci-spec defaults a missing path to "", which would make the bundle itself the rootfs.
        bail!("root.path: required field missing (or empty)");
    }
    no_nul_in_path("root.path", root.path())?;
    let process = spec
        .process()
        .as_ref()
        .context("process: required to create a container")?;
    validate_process(process)?;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let d = m.destination();
        if d.as_os_str().is_empty() {
            bail!("mounts[{i}].destination: must not be empty");
        }
        no_nul_in_path(&format!("mounts[{i}].destination"), d)?;
        if let Some(src) = m.source() {
            no_nul_in_path(&format!("mounts[{i}].source"), src)?;
        }
    }
    if let Some(h) = spec.hooks() {
        for (kind, get) in HOOK_KINDS {
            validate_hooks(kind, get(h).as_deref().unwrap_or(&[]))?;
        }
    }
    if let Some(linux) = spec.linux() {
        if let Some(p) = linux.cgroups_path() {
            if p.components().any(|c| c == Component::ParentDir) {
                bail!("linux.cgroupsPath {:?}: must not contain \"..\"", shown(p));
            }
        }
        if let Some(r) = linux.resources() {
            validate_resources(r)?;
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            let p = d.path();
            no_nul_in_path(&format!("linux.devices[{i}].path"), p)?;
            let climbs = p.components().any(|c| c == Component::ParentDir);
            if !p.starts_with("/dev") || p == Path::new("/dev") || climbs {
                bail!(
                    "linux.devices[{i}].path {:?}: must be a path under /dev",
                    shown(p)
                );
            }
            if d.major() < 0 || d.minor() < 0 {
                bail!(
                    "linux.devices[{i}]: major {} and minor {} cannot be negative",
                    d.major(),
                    d.minor()
                );
            }
        }
        let has_userns = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User);
        for (field, maps) in [
            ("uidMappings", linux.uid_mappings()),
            ("gidMappings", linux.gid_mappings()),
        ] {
            if maps.as_ref().is_some_and(|m| !m.is_empty()) && !has_userns {
                bail!("linux.{field}: needs a user namespace in linux.namespaces");
            }
        }
        if let Some(s) = linux.seccomp() {
            let rules: usize = s
                .syscalls()
                .iter()
                .flatten()
                .map(|sc| sc.names().len() * sc.args().as_ref().map_or(1, |a| a.len().max(1)))
                .sum();
            if rules > MAX_SECCOMP_RULES {
                bail!(
                    "linux.seccomp.syscalls: {rules} rules, more than rt's limit of \
                     {MAX_SECCOMP_RULES} (the kernel runs at most 4096 BPF instructions)"
                );
            }
        }
    }
    for (field, v) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if let Some(v) = v {
            no_nul(field, v.as_bytes())?;
            if v.len() > HOST_NAME_MAX {
                bail!(
                    "{field}: {} bytes, more than the kernel's limit of {HOST_NAME_MAX}",
                    v.len()
                );
            }
        }
    }
    Ok(())
}

/// Check what the spec demands of every hook of one kind before anything runs.
pub fn validate_hooks(kind: &str, hooks: &[Hook]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        no_nul_in_path(&format!("hooks.{kind}[{i}].path"), h.path())?;
        for (j, a) in h.args().iter().flatten().enumerate() {
            no_nul(&format!("hooks.{kind}[{i}].args[{j}]"), a.as_bytes())?;
        }
        for (j, e) in h.env().iter().flatten().enumerate() {
            no_nul(&format!("hooks.{kind}[{i}].env[{j}]"), e.as_bytes())?;
        }
        if !h.path().is_absolute() {
            bail!(
                "hooks.{kind}[{i}].path {:?}: must be absolute",
                shown(h.path())
            );
        }
        if h.timeout().is_some_and(|t| t <= 0) {
            bail!("hooks.{kind}[{i}].timeout: must be greater than zero");
        }
    }
    Ok(())
}

/// The checks a process gets before it runs, from config.json or `exec`, that need nothing of the
/// host (container::bundle::validate_process adds those that do).
pub fn validate_process(process: &Process) -> Result<()> {
    match process.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => bail!("process.args: must name an executable"),
    }
    for (i, a) in process.args().iter().flatten().enumerate() {
        no_nul(&format!("process.args[{i}]"), a.as_bytes())?;
    }
    no_nul_in_path("process.cwd", process.cwd())?;
    if !process.cwd().is_absolute() {
        bail!(
            "process.cwd {:?}: must be an absolute path",
            shown(process.cwd())
        );
    }
    if let Some(env) = process.env() {
        for (i, e) in env.iter().enumerate() {
            if !e.contains('=') {
                bail!("process.env[{i}]: {e:?} is not of the form KEY=value");
            }
            no_nul(&format!("process.env[{i}]"), e.as_bytes())?;
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            bail!("process.oomScoreAdj {adj}: must be within [-1000, 1000]");
        }
    }
    // (uid_t)-1 means "unchanged" to setresuid and setresgid: the process would stay root.
    let user = process.user();
    for (field, id) in [
        ("process.user.uid", user.uid()),
        ("process.user.gid", user.gid()),
    ] {
        if id == u32::MAX {
            bail!("{field} {id}: not a valid id (-1 means \"unchanged\" to the kernel, which would leave the process root)");
        }
    }
    if let Some(i) = user
        .additional_gids()
        .iter()
        .flatten()
        .position(|&g| g == u32::MAX)
    {
        bail!(
            "process.user.additionalGids[{i}] {}: not a valid id",
            u32::MAX
        );
    }
    if let Some(gids) = process.user().additional_gids() {
        if gids.len() > NGROUPS_MAX {
            bail!(
                "process.user.additionalGids: {} groups, more than the kernel's limit of {NGROUPS_MAX}",
                gids.len()
            );
        }
    }
    Ok(())
}

/// Limits that no kernel accepts, refused by name before any cgroup is made (at create) or
/// changed (at update). -1 is "unlimited" and 0 "unset" in the spec; other negatives mean nothing.
pub fn validate_resources(r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        #[allow(deprecated)] // memory.kernel: still in configs, ignored by new kernels.
        let fields = [
            ("limit", m.limit()),
            ("reservation", m.reservation()),
            ("swap", m.swap()),
            ("kernel", m.kernel()),
            ("kernelTCP", m.kernel_tcp()),
        ];
        for (field, v) in fields {
            if let Some(v) = v.filter(|v| *v < -1) {
                bail!("linux.resources.memory.{field}: invalid value {v} (-1 is unlimited)");
            }
        }
        if let Some(s) = m.swappiness().filter(|s| *s > 100) {
            bail!("linux.resources.memory.swappiness: {s} is not within [0, 100]");
        }
    }
    if let Some(p) = r.pids() {
        if p.limit() < -1 {
            bail!(
                "linux.resources.pids.limit: invalid value {} (-1 is unlimited)",
                p.limit()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn hook_of(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_kind_is_read_from_its_config_field() {
        for (i, (kind, _)) in HOOK_KINDS.iter().enumerate() {
            // An unknown name would be dropped by serde and read as no hooks at all.
            let h: Hooks =
                serde_json::from_str(&format!(r#"{{"{kind}":[{{"path":"/bin/true"}}]}}"#)).unwrap();
            for (j, (_, other)) in HOOK_KINDS.iter().enumerate() {
                assert_eq!(other(&h).is_some(), i == j, "{kind}");
            }
        }
    }

    #[test]
    fn relative_paths_and_bad_timeouts_are_refused() {
        assert!(validate_hooks("poststop", &[hook_of(r#"{"path":"bin/x"}"#)]).is_err());
        assert!(
            validate_hooks("poststop", &[hook_of(r#"{"path":"/bin/x","timeout":0}"#)]).is_err()
        );
        validate_hooks("poststop", &[hook_of(r#"{"path":"/bin/x","timeout":2}"#)]).unwrap();
    }

    fn path(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn minimal(extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"process":{{"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}}}}{extra}}}"#
        )
    }

    #[test]
    fn accepts_a_minimal_config() {
        parse(minimal("").as_bytes()).unwrap();
    }

    fn err(raw: &str) -> String {
        format!("{:#}", parse(raw.as_bytes()).unwrap_err())
    }

    #[test]
    fn rejects_bad_configs_naming_the_field() {
        let cases = [
            ("{", "EOF"),
            (r#"{"root":{"path":"r"}}"#, "ociVersion"),
            (r#"{"ociVersion":2}"#, "ociVersion"),
            ("[]", "not a JSON object"),
            (r#"{"ociVersion":"2.0.0"}"#, "unsupported major"),
            (r#"{"ociVersion":"garbage"}"#, "not a SemVer version"),
            (
                &minimal(r#","mounts":[{"destination":""}]"#),
                "mounts[0].destination: must not be empty",
            ),
            (
                &minimal(r#","linux":{"cgroupsPath":"/a/../../b"}"#),
                "cgroupsPath",
            ),
            (
                &minimal("").replace(r#""cwd":"/""#, r#""cwd":"x""#),
                "process.cwd",
            ),
            (&minimal("").replace(r#"["sh"]"#, "[]"), "process.args"),
            (
                &minimal(r#","hooks":{"prestart":[{"path":"x"}]}"#),
                "hooks.prestart[0].path",
            ),
            (
                &minimal(r#","linux":{"intelRdt":{"closID":"x"}}"#),
                "linux.intelRdt: not implemented",
            ),
            (
                &minimal(r#","linux":{"netDevices":{"eth0":{"name":"x"}}}"#),
                "linux.netDevices: not implemented",
            ),
        ];
        for (raw, want) in cases {
            let e = err(raw);
            assert!(e.contains(want), "{raw}: {e}");
        }
    }

    #[test]
    fn type_errors_name_the_field_and_where_it_is() {
        let cases = [
            (
                minimal(r#","linux":{"resources":{"memory":{"limit":"1g"}}}"#),
                "linux.resources.memory.limit: invalid type: string \"1g\", expected i64",
            ),
            (
                minimal(r#","linux":{"resources":{"memory":{"limit":100000000000000000000}}}"#),
                "linux.resources.memory.limit: invalid type: floating point",
            ),
            (
                minimal(r#","linux":{"resources":{"cpu":{"shares":100000000000000000000}}}"#),
                "linux.resources.cpu.shares: invalid type: floating point",
            ),
            (
                minimal("").replace(r#"["sh"]"#, r#""sh""#),
                "process.args: invalid type: string \"sh\", expected a sequence",
            ),
            (
                minimal("").replace(r#""uid":0"#, r#""uid":-1"#),
                "process.user.uid: invalid value: integer `-1`, expected u32",
            ),
            (
                minimal(r#","mounts":[{"destination":"/a"},{"destination":5}]"#),
                "mounts[1].destination: invalid type",
            ),
            (
                minimal(r#","linux":{"namespaces":[{"type":"nope"}]}"#),
                "linux.namespaces[0].type: unknown variant `nope`",
            ),
        ];
        for (raw, want) in cases {
            let e = err(&raw);
            assert!(e.contains(want), "{raw}: {e}");
        }
    }

    #[test]
    fn missing_fields_are_named_in_full() {
        let no_cwd = minimal("").replace(r#""cwd":"/","#, "");
        assert_eq!(err(&no_cwd), "process.cwd: required field missing");
        let no_user = minimal("").replace(r#","user":{"uid":0,"gid":0}"#, "");
        assert_eq!(err(&no_user), "process.user: required field missing");
        let no_root = minimal("").replace(r#""root":{"path":"rootfs"},"#, "");
        assert_eq!(err(&no_root), "root: required field missing");
        let no_path = minimal("").replace(r#"{"path":"rootfs"}"#, "{}");
        assert!(err(&no_path).starts_with("root.path: required field missing"));
        let no_dest = minimal(r#","mounts":[{"type":"tmpfs"}]"#);
        assert_eq!(
            err(&no_dest),
            "mounts[0].destination: required field missing"
        );
    }

    #[test]
    fn absurd_values_are_refused_by_name() {
        let cases = [
            (
                minimal(r#","linux":{"resources":{"memory":{"limit":-5}}}"#),
                "linux.resources.memory.limit: invalid value -5",
            ),
            (
                minimal(r#","linux":{"resources":{"memory":{"swap":-2}}}"#),
                "linux.resources.memory.swap: invalid value -2",
            ),
            (
                minimal(r#","linux":{"resources":{"pids":{"limit":-5}}}"#),
                "linux.resources.pids.limit: invalid value -5",
            ),
            (
                minimal(r#","linux":{"resources":{"memory":{"swappiness":101}}}"#),
                "linux.resources.memory.swappiness",
            ),
            (
                minimal("").replace(r#""cwd""#, r#""oomScoreAdj":1001,"cwd""#),
                "process.oomScoreAdj 1001",
            ),
            (
                minimal("").replace(r#"["sh"]"#, r#"["sh"],"env":["A=1","B"]"#),
                "process.env[1]: \"B\"",
            ),
            (
                minimal("").replace(r#"["sh"]"#, r#"["sh","a\u0000b"]"#),
                "process.args[1] \"a\\0b\": contains a NUL byte",
            ),
            (
                minimal("").replace(r#"["sh"]"#, r#"["sh"],"env":["A=\u0000"]"#),
                "process.env[0]",
            ),
            (
                minimal(r#","mounts":[{"destination":"/a\u0000b"}]"#),
                "mounts[0].destination",
            ),
            (
                minimal(r#","hooks":{"poststop":[{"path":"/x","args":["x","\u0000"]}]}"#),
                "hooks.poststop[0].args[1]",
            ),
        ];
        for (raw, want) in cases {
            let e = err(&raw);
            assert!(e.contains(want), "{raw}: {e}");
        }
        let linux_cases = [
            (
                r#","linux":{"devices":[{"path":"/dev/../x","type":"c","major":1,"minor":3}]}"#,
                "linux.devices[0].path \"/dev/../x\": must be a path under /dev",
            ),
            (
                r#","linux":{"devices":[{"path":"/devx","type":"c","major":1,"minor":3}]}"#,
                "linux.devices[0].path \"/devx\"",
            ),
            (
                r#","linux":{"devices":[{"path":"/dev/x","type":"c","major":-5,"minor":3}]}"#,
                "linux.devices[0]: major -5 and minor 3 cannot be negative",
            ),
            (
                r#","linux":{"uidMappings":[{"containerID":0,"hostID":1000,"size":1}]}"#,
                "linux.uidMappings: needs a user namespace",
            ),
            (
                r#","hostname":"a\u0000b""#,
                "hostname \"a\\0b\": contains a NUL byte",
            ),
        ];
        for (extra, want) in linux_cases {
            let e = err(&minimal(extra));
            assert!(e.contains(want), "{extra}: {e}");
        }
        let long = minimal(&format!(r#","domainname":"{}""#, "d".repeat(65)));
        assert!(err(&long).contains("domainname: 65 bytes"));
        let rule = r#"{"names":["read","write"],"action":"SCMP_ACT_ERRNO"}"#;
        let many = |n: usize| {
            let rules = vec![rule; n].join(",");
            minimal(&format!(
                r#","linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{rules}]}}}}"#
            ))
        };
        parse(many(MAX_SECCOMP_RULES / 2).as_bytes()).unwrap();
        assert!(err(&many(MAX_SECCOMP_RULES / 2 + 1)).contains("8194 rules"));
        let gids: Vec<u32> = (0..=NGROUPS_MAX as u32).collect();
        let raw = minimal("").replace(
            r#""gid":0"#,
            &format!(r#""gid":0,"additionalGids":{gids:?}"#),
        );
        assert!(err(&raw).contains("process.user.additionalGids: 65537 groups"));
        // The values the spec gives a meaning to are accepted.
        for ok in [
            r#","linux":{"resources":{"memory":{"limit":-1,"swap":-1},"pids":{"limit":-1}}}"#,
            r#","linux":{"resources":{"memory":{"limit":0},"pids":{"limit":0}}}"#,
        ] {
            parse(minimal(ok).as_bytes()).unwrap();
        }
    }

    #[test]
    fn relative_destinations_are_relative_to_the_root() {
        let spec = parse(
            minimal(
                r#","mounts":[{"destination":"tmp/x"},{"destination":"/a/../b"},{"destination":"../../etc"}]"#,
            )
            .as_bytes(),
        )
        .unwrap();
        let d: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.destination().clone())
            .collect();
        // ".." is left as written: mounts are made by a walk that stays in the rootfs ("/.." is
        // "/", as in the kernel and runc), so it never leads out (integration/rootfs.rs).
        assert_eq!(d, [path("/tmp/x"), path("/a/../b"), path("/../../etc")]);
    }

    #[test]
    fn relative_bind_sources_are_relative_to_the_bundle() {
        let mut spec = parse(
            minimal(
                r#","mounts":[{"destination":"/a","type":"bind","source":"data"},
                {"destination":"/b","options":["rbind"],"source":"/abs"},
                {"destination":"/c","type":"tmpfs","source":"tmpfs"},
                {"destination":"/d","options":["bind"],"source":"x/y"}]"#,
            )
            .as_bytes(),
        )
        .unwrap();
        bind_sources_in(&mut spec, Path::new("/bundle"));
        let s: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.source().clone().unwrap())
            .collect();
        assert_eq!(
            s,
            [
                path("/bundle/data"),
                path("/abs"),
                path("tmpfs"),
                path("/bundle/x/y")
            ]
        );
    }
}
