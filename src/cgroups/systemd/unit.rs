//! Unit names and cgroup paths for the systemd driver: runc's cgroupsPath "slice:prefix:name"
//! becomes the unit "prefix-name.scope" in that slice, and a slice name expands to the nested
//! directories systemd gives it ("a-b.slice" lives in "a.slice/a-b.slice").

use anyhow::{anyhow, bail, ensure, Context, Result};
use std::path::PathBuf;

/// Where the container goes: `unit` (a scope, or a slice when the name ends in ".slice") inside
/// `slice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeName {
    pub slice: String,
    pub unit: String,
}

const DEFAULT_SLICE: &str = "system.slice";
/// systemd's UNIT_NAME_MAX, without the NUL.
const MAX_UNIT_NAME: usize = 255;

/// Parse cgroupsPath "slice:prefix:name" as runc does (an empty slice is "system.slice"; a name
/// ending in ".slice" makes the container a slice of that name, the prefix then unused); an empty
/// cgroupsPath is "system.slice:rt:<id>", as runc's is "system.slice:runc:<id>".
pub fn parse_cgroups_path(path: &str, id: &str) -> Result<ScopeName> {
    let default;
    let path = if path.is_empty() {
        default = format!("{DEFAULT_SLICE}:rt:{id}");
        &default
    } else {
        path
    };
    let in_path = || format!("cgroupsPath {path:?}");
    let [slice, prefix, name] = path.split(':').collect::<Vec<_>>()[..] else {
        bail!(
            "{}: expected \"slice:prefix:name\" for the systemd cgroup driver",
            in_path()
        );
    };
    let slice = if slice.is_empty() {
        DEFAULT_SLICE
    } else {
        slice
    };
    expand_slice(slice).with_context(|| format!("{}: slice", in_path()))?;
    check_chars(prefix).with_context(|| format!("{}: prefix {prefix:?}", in_path()))?;
    ensure!(!name.is_empty(), "{}: name is empty", in_path());
    check_chars(name).with_context(|| format!("{}: name {name:?}", in_path()))?;
    let unit = if name.ends_with(".slice") {
        expand_slice(name).with_context(|| format!("{}: name", in_path()))?;
        name.to_string()
    } else {
        format!("{prefix}-{name}.scope")
    };
    ensure!(
        unit.len() <= MAX_UNIT_NAME,
        "{}: unit name {unit:?} is longer than {MAX_UNIT_NAME} bytes",
        in_path()
    );
    Ok(ScopeName {
        slice: slice.to_string(),
        unit,
    })
}

/// systemd's slice path expansion: "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice", and the
/// root slice "-.slice" -> "" (the hierarchy's root).
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let bad = |why: &str| anyhow!("invalid slice name {slice:?}: {why}");
    let stem = slice
        .strip_suffix(".slice")
        .ok_or_else(|| bad("must end in \".slice\""))?;
    if stem == "-" {
        return Ok(PathBuf::new());
    }
    if stem.is_empty() {
        return Err(bad("empty name"));
    }
    check_chars(stem).map_err(|e| bad(&e.to_string()))?;
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(bad("leading, trailing or double '-'"));
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    Ok(path)
}

/// The unit's cgroup relative to a hierarchy's root: the expanded slice, then the unit (as runc's
/// systemd drivers compute it, for a slice container too).
pub fn relative_path(name: &ScopeName) -> Result<PathBuf> {
    Ok(expand_slice(&name.slice)?.join(&name.unit))
}

/// The characters systemd allows in unit names; '/' in particular, which would let a name
/// escape its cgroup directory.
fn check_chars(s: &str) -> Result<()> {
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.\\@".contains(*c)))
    {
        Some(c) => bail!("{c:?} is not allowed in a systemd unit name"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(slice: &str, unit: &str) -> ScopeName {
        ScopeName {
            slice: slice.into(),
            unit: unit.into(),
        }
    }

    #[test]
    fn cgroups_paths() {
        let ok = [
            (
                "system.slice:docker:abc",
                scope("system.slice", "docker-abc.scope"),
            ),
            (":rt:abc", scope("system.slice", "rt-abc.scope")),
            ("", scope("system.slice", "rt-c1.scope")),
            ("user.slice::x", scope("user.slice", "-x.scope")),
            (
                "kubepods-burstable.slice:cri-containerd:0123",
                scope("kubepods-burstable.slice", "cri-containerd-0123.scope"),
            ),
            (
                "kubepods.slice:x:kubepods-pod1.slice",
                scope("kubepods.slice", "kubepods-pod1.slice"),
            ),
            ("-.slice:p:n", scope("-.slice", "p-n.scope")),
        ];
        for (input, want) in ok {
            assert_eq!(parse_cgroups_path(input, "c1").unwrap(), want, "{input:?}");
        }
        let bad = [
            ("/rt/c1", "expected \"slice:prefix:name\""),
            ("a:b", "expected \"slice:prefix:name\""),
            ("a.slice:b:c:d", "expected \"slice:prefix:name\""),
            ("system:rt:c1", "slice: invalid slice name \"system\""),
            ("a--b.slice:rt:c1", "double '-'"),
            ("system.slice:rt:", "name is empty"),
            ("system.slice:r/t:c1", "prefix \"r/t\": '/' is not allowed"),
            (
                "system.slice:rt:../../x",
                "name \"../../x\": '/' is not allowed",
            ),
            ("system.slice:rt:a b", "' ' is not allowed"),
            ("system.slice:rt:-x.slice", "name: invalid slice name"),
        ];
        for (input, want) in bad {
            let e = format!("{:#}", parse_cgroups_path(input, "c1").unwrap_err());
            assert!(e.contains(want), "{input:?}: {e}");
            assert!(e.starts_with(&format!("cgroupsPath {input:?}")), "{e}");
        }
        let long = format!("system.slice:rt:{}", "x".repeat(250));
        assert!(parse_cgroups_path(&long, "c1").is_err());
    }

    #[test]
    fn slices_expand() {
        let ok = [
            ("a-b-c.slice", "a.slice/a-b.slice/a-b-c.slice"),
            ("system.slice", "system.slice"),
            ("-.slice", ""),
            ("user-1000.slice", "user.slice/user-1000.slice"),
        ];
        for (input, want) in ok {
            assert_eq!(expand_slice(input).unwrap(), PathBuf::from(want), "{input}");
        }
        for bad in [
            "",
            ".slice",
            "a",
            "a.scope",
            "-a.slice",
            "a-.slice",
            "a--b.slice",
            "a/b.slice",
            "--.slice",
            "a b.slice",
        ] {
            let e = expand_slice(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid slice name {bad:?}")), "{e}");
        }
    }

    #[test]
    fn relative_paths() {
        let p = |s: &str| relative_path(&parse_cgroups_path(s, "c1").unwrap()).unwrap();
        assert_eq!(
            p("a-b.slice:rt:c1"),
            PathBuf::from("a.slice/a-b.slice/rt-c1.scope")
        );
        assert_eq!(p(""), PathBuf::from("system.slice/rt-c1.scope"));
        assert_eq!(p("-.slice:rt:c1"), PathBuf::from("rt-c1.scope"));
    }
}
