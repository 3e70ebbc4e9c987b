//! What a device rule list means once folded: a default verdict and the exceptions to it. This is
//! the model of the cgroup v1 devices controller (and of runc's emulator,
//! libcontainer/cgroups/devices/devices_emulator.go) that both versions build on: v1 reads the
//! cgroup's current policy back from devices.list to write only the difference
//! (transition.rs); v2 compiles the policy into an eBPF program (v2/devices.rs).
//!
//! Folding follows v1's handling of writes to `devices.allow` and `devices.deny`: a rule of type
//! `a` resets the policy to allow-all or deny-all and drops every exception; any other rule adds
//! access to, or removes access from, the exception of exactly its (type, major, minor). So later
//! rules override earlier ones, partial access merges (`c 1:3 r` + `c 1:3 w` = `c 1:3 rw`), and
//! an empty list denies everything. Like runc, a rule that would punch a hole in a wildcard
//! exception (`allow c *:* m` then `deny c 1:3 m`) is an error rather than silently ignored as
//! v1 does.

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::collections::BTreeMap;

/// Access bits; the values of the kernel's `BPF_DEVCG_ACC_*`, so that v2 uses them as they are.
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
pub const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;
/// Device types; the values of the kernel's `BPF_DEVCG_DEV_*`.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Num {
    Any,
    Is(u32),
}

/// The device numbers an exception covers. Ordered like runc's emulator orders its rules
/// (major, minor, type; a wildcard first), so the writes come out in runc's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub major: Num,
    pub minor: Num,
    pub typ: u32,
}

/// The folded rule list: a default verdict and exceptions to it (key -> access bits), all of
/// which have the opposite verdict.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub default_allow: bool,
    pub exceptions: BTreeMap<Key, u32>,
    /// Where each exception was first listed (rule index, or devices.list line): v1 lists
    /// exceptions in the order they were written, and the config's order is the one to show
    /// (runtime-tools' linux_cgroups_devices reads devices.list back in the listed order).
    pub listed: BTreeMap<Key, usize>,
}

/// Two policies are the same when they enforce the same; the order they list in is not part of it.
impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.default_allow == other.default_allow && self.exceptions == other.exceptions
    }
}
impl Eq for Policy {}

fn access_bits(i: usize, access: Option<&str>) -> Result<u32> {
    // A missing access means all of it.
    let Some(access) = access else {
        return Ok(ACC_ALL);
    };
    if access.is_empty() {
        bail!("linux.resources.devices[{i}]: access must not be empty");
    }
    let mut bits = 0;
    for c in access.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => bail!("linux.resources.devices[{i}]: access {access:?}: unknown mode {c:?} (want a subset of \"rwm\")"),
        };
    }
    Ok(bits)
}

fn number(i: usize, what: &str, n: Option<i64>) -> Result<Num> {
    match n {
        None => Ok(Num::Any),
        Some(n) if n < 0 => Ok(Num::Any),
        Some(n) => match u32::try_from(n) {
            Ok(n) => Ok(Num::Is(n)),
            Err(_) => bail!("linux.resources.devices[{i}]: {what} {n} is out of range"),
        },
    }
}

/// `rwm`, in the kernel's order.
pub fn show_access(access: u32) -> String {
    [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')]
        .iter()
        .filter(|(b, _)| access & b != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// One exception as devices.list and devices.allow/deny spell it: `c 1:3 rwm`, `b 8:* r`.
pub fn show(k: &Key, access: u32) -> String {
    let n = |m: Num| match m {
        Num::Any => "*".to_string(),
        Num::Is(n) => n.to_string(),
    };
    let t = if k.typ == DEV_BLOCK { 'b' } else { 'c' };
    format!("{t} {}:{} {}", n(k.major), n(k.minor), show_access(access))
}

impl Policy {
    /// Fold `rules` (OCI order: later rules override earlier). Returns an error naming the
    /// offending rule for an unknown access mode, type `p` or a wildcard hole punch.
    pub fn from_rules(rules: &[LinuxDeviceCgroup]) -> Result<Policy> {
        let mut p = Policy::default();
        for (i, rule) in rules.iter().enumerate() {
            let access = access_bits(i, rule.access().as_deref())?;
            let typ = match rule.typ() {
                None | Some(LinuxDeviceType::A) => {
                    p = Policy {
                        default_allow: rule.allow(),
                        ..Policy::default()
                    };
                    continue;
                }
                Some(LinuxDeviceType::B) => DEV_BLOCK,
                Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => DEV_CHAR,
                Some(LinuxDeviceType::P) => {
                    bail!("linux.resources.devices[{i}]: type \"p\" (FIFO) cannot be used in a device cgroup rule")
                }
            };
            let key = Key {
                major: number(i, "major", rule.major())?,
                minor: number(i, "minor", rule.minor())?,
                typ,
            };
            p.apply(i, rule.allow(), key, access)?;
        }
        Ok(p)
    }

    /// The policy a v1 cgroup enforces, from its devices.list: in deny-all mode one line per
    /// exception (`c 1:3 rwm`); in allow-all mode the single line `a *:* rwm`, which hides the
    /// deny exceptions (transition.rs must then start over).
    pub fn from_list(list: &str) -> Result<Policy> {
        let mut p = Policy::default();
        for (n, line) in list.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let bad = || anyhow::anyhow!("cannot parse {line:?}");
            let f: Vec<&str> = line.split([' ', ':']).collect();
            let [typ, major, minor, access] = f[..] else {
                return Err(bad());
            };
            let typ = match typ {
                "a" => {
                    p = Policy {
                        default_allow: true,
                        ..Policy::default()
                    };
                    continue;
                }
                "b" => DEV_BLOCK,
                "c" => DEV_CHAR,
                _ => return Err(bad()),
            };
            let num = |s: &str| match s {
                "*" => Ok(Num::Any),
                _ => s.parse().map(Num::Is).map_err(|_| bad()),
            };
            let bits = access_bits(0, Some(access)).map_err(|_| bad())?;
            let key = Key {
                major: num(major)?,
                minor: num(minor)?,
                typ,
            };
            *p.exceptions.entry(key).or_insert(0) |= bits;
            p.listed.entry(key).or_insert(n);
        }
        Ok(p)
    }

    /// One allow (`allow`) or deny rule of rule list index `i`.
    fn apply(&mut self, i: usize, allow: bool, key: Key, access: u32) -> Result<()> {
        if allow != self.default_allow {
            *self.exceptions.entry(key).or_insert(0) |= access;
            self.listed.entry(key).or_insert(i);
            return Ok(());
        }
        // The rule agrees with the default: it takes access away from the exact exception. A
        // wider exception it overlaps would keep granting it, which v1 silently accepts.
        for wider in [
            Key {
                major: Num::Any,
                ..key
            },
            Key {
                minor: Num::Any,
                ..key
            },
            Key {
                major: Num::Any,
                minor: Num::Any,
                ..key
            },
        ] {
            if wider == key {
                continue;
            }
            let have = self.exceptions.get(&wider).copied().unwrap_or(0);
            if have & access != 0 {
                bail!(
                    "linux.resources.devices[{i}]: {} {:?} cannot punch a hole in the earlier wildcard rule {} {:?}",
                    if allow { "allow" } else { "deny" },
                    show(&key, access),
                    if self.default_allow { "deny" } else { "allow" },
                    show(&wider, have),
                );
            }
        }
        if let Some(have) = self.exceptions.get_mut(&key) {
            *have &= !access;
            if *have == 0 {
                self.exceptions.remove(&key);
                self.listed.remove(&key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(typ: u32, major: Num, minor: Num) -> Key {
        Key { major, minor, typ }
    }

    #[test]
    fn reads_a_deny_all_list() {
        let p = Policy::from_list("c *:* m\nb *:* m\nc 1:3 rwm\nc 136:* rw\nb 8:0 r\nc 1:3 w\n")
            .unwrap();
        assert!(!p.default_allow);
        let want: BTreeMap<Key, u32> = [
            (key(DEV_CHAR, Num::Any, Num::Any), ACC_MKNOD),
            (key(DEV_BLOCK, Num::Any, Num::Any), ACC_MKNOD),
            (key(DEV_CHAR, Num::Is(1), Num::Is(3)), ACC_ALL),
            (key(DEV_CHAR, Num::Is(136), Num::Any), ACC_READ | ACC_WRITE),
            (key(DEV_BLOCK, Num::Is(8), Num::Is(0)), ACC_READ),
        ]
        .into();
        assert_eq!(p.exceptions, want);
        // An empty list: a cgroup that denies everything.
        assert_eq!(Policy::from_list("").unwrap(), Policy::default());
    }

    #[test]
    fn reads_an_allow_all_list() {
        let p = Policy::from_list("a *:* rwm\n").unwrap();
        assert!(p.default_allow && p.exceptions.is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "c 1:3",
            "x 1:3 rw",
            "c 1:y rw",
            "c 1:3 rwx",
            "c 1:3 ",
            "c -1:3 r",
        ] {
            let e = Policy::from_list(bad).unwrap_err().to_string();
            assert_eq!(e, format!("cannot parse {bad:?}"));
        }
    }

    #[test]
    fn a_list_reads_back_as_the_rules_that_made_it() {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","access":"m"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                {"allow":true,"type":"b","major":8,"access":"r"}]"#,
        )
        .unwrap();
        let p = Policy::from_rules(&rules).unwrap();
        let list: String = p
            .exceptions
            .iter()
            .map(|(k, a)| show(k, *a) + "\n")
            .collect();
        assert_eq!(list, "c *:* m\nc 1:3 rw\nb 8:* r\n");
        assert_eq!(Policy::from_list(&list).unwrap(), p);
    }
}
