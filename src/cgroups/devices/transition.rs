//! The writes that take a v1 devices cgroup from the policy it enforces to the one wanted,
//! touching only what differs (runc's emulator, Transition). The cgroup may already hold
//! processes: containers sharing its cgroupsPath, or the container itself on `update`. Writing
//! "deny everything, then allow" would take every device, even /dev/null, away from them for the
//! duration of the writes; a transition never refuses a device that both policies allow.

use super::policy::{show, Policy};
use std::collections::BTreeMap;

/// One line for devices.allow (`allow`) or devices.deny.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub allow: bool,
    pub line: String,
}

impl Write {
    pub fn file(&self) -> &'static str {
        if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    }
}

/// The line that resets a cgroup to allow-all or deny-all, dropping every exception.
pub const RESET: &str = "a *:* rwm";

/// The writes from `from` (read from devices.list) to `to`, in the order to make them.
pub fn transition(from: &Policy, to: &Policy) -> Vec<Write> {
    let mut out = Vec::new();
    let none = BTreeMap::new();
    // Only a reset changes the default. And in allow-all mode devices.list hides the deny
    // exceptions, so nothing is known to keep: start over (as runc does). A reset to deny-all
    // on a cgroup in use is the one disruptive write, and only happens when the default flips
    // (or on a new cgroup, which a v1 kernel makes allow-all).
    let old = if from.default_allow || from.default_allow != to.default_allow {
        out.push(Write {
            allow: to.default_allow,
            line: RESET.to_string(),
        });
        &none
    } else {
        &from.exceptions
    };
    // Gains before losses (runc writes the losses first): in between, the cgroup enforces the
    // union of both policies, so a device allowed before and after through different exceptions
    // (`c 1:* rwm` replaced by `c 1:3 rwm`) is not refused for a moment either.
    // In the order the rules list them: devices.list then shows them so.
    let mut gains: Vec<_> = to
        .exceptions
        .iter()
        .filter_map(|(key, &access)| {
            let gained = access & !old.get(key).copied().unwrap_or(0);
            (gained != 0).then_some((key, gained))
        })
        .collect();
    gains.sort_by_key(|(key, _)| to.listed.get(*key).copied().unwrap_or(usize::MAX));
    for (key, gained) in gains {
        out.push(Write {
            allow: !to.default_allow,
            line: show(key, gained),
        });
    }
    for (key, &access) in old {
        let dropped = access & !to.exceptions.get(key).copied().unwrap_or(0);
        if dropped != 0 {
            out.push(Write {
                allow: to.default_allow,
                line: show(key, dropped),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Each case is a devices.list before and the rules wanted after. `runc` is what runc's
    //! emulator writes for the same (opencontainers/cgroups devices/devices_emulator.go:
    //! emulatorFromList(before).Transition(target), run on these very cases): rt writes the same
    //! lines, with its gains moved ahead of its losses.
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroup;

    /// The default devices (src/cgroups/devices/mod.rs) as devices.list shows them.
    const DEFAULTS: &str = "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\n\
        c 1:9 rwm\nc 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 136:* rwm\nc 10:200 rwm\n";
    const DENY_ALL: &str = r#"[{"allow":false,"access":"rwm"}]"#;

    type Writes = Vec<(&'static str, String)>;

    /// rt's writes from `before` (devices.list) to `config` (OCI rules, followed by the default
    /// devices when `defaults`), and the same writes in runc's order: reset, losses, gains.
    fn case(before: &str, config: &str, defaults: bool) -> (Writes, Writes) {
        let config: Vec<LinuxDeviceCgroup> = serde_json::from_str(config).unwrap();
        let rules = match defaults {
            true => super::super::rules(&config, &[]),
            false => config,
        };
        let to = Policy::from_rules(&rules).unwrap();
        let w = transition(&Policy::from_list(before).unwrap(), &to);
        let mut runc = w.clone();
        runc.sort_by_key(|w| match () {
            _ if w.line == RESET => 0,
            _ if w.allow == to.default_allow => 1,
            _ => 2,
        });
        let pairs = |w: Vec<Write>| w.into_iter().map(|w| (w.file(), w.line)).collect();
        (pairs(w), pairs(runc))
    }

    fn writes(list: &[(&'static str, &str)]) -> Writes {
        list.iter().map(|(f, l)| (*f, l.to_string())).collect()
    }

    #[test]
    fn the_same_rules_write_nothing() {
        assert_eq!(case(DEFAULTS, DENY_ALL, true), (vec![], vec![]));
        // Neither the order of devices.list matters, nor an empty config (default deny).
        let shuffled: String = DEFAULTS.lines().rev().map(|l| format!("{l}\n")).collect();
        assert_eq!(case(&shuffled, "[]", true), (vec![], vec![]));
        assert_eq!(case("", "[]", false), (vec![], vec![]));
    }

    #[test]
    fn an_added_rule_is_one_allow() {
        let config = r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"w"}]"#;
        let runc = writes(&[("devices.allow", "c 1:11 w")]);
        assert_eq!(case(DEFAULTS, config, true), (runc.clone(), runc));
    }

    #[test]
    fn a_removed_rule_is_one_deny() {
        let before = format!("{DEFAULTS}c 1:11 w\n");
        let runc = writes(&[("devices.deny", "c 1:11 w")]);
        assert_eq!(case(&before, DENY_ALL, true), (runc.clone(), runc));
        // Every exception goes, one deny each.
        let runc = writes(&[("devices.deny", "c 1:3 rw"), ("devices.deny", "b 8:* m")]);
        assert_eq!(
            case("c 1:3 rw\nb 8:* m\n", "[]", false),
            (runc.clone(), runc)
        );
    }

    #[test]
    fn changed_access_writes_only_the_difference() {
        // c 1:3 loses m, c 1:5 stays, c 10:229 gains w.
        let before = "c 1:3 rwm\nc 1:5 rwm\nc 10:229 r\n";
        let config = r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}]"#;
        let runc = writes(&[("devices.deny", "c 1:3 m"), ("devices.allow", "c 10:229 w")]);
        let rt = writes(&[("devices.allow", "c 10:229 w"), ("devices.deny", "c 1:3 m")]);
        assert_eq!(case(before, config, false), (rt, runc));
    }

    #[test]
    fn a_wildcard_replaced_by_an_exact_rule_is_never_refused_in_between() {
        let before = format!("{DEFAULTS}c 4:* rwm\n");
        let config = r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":4,"minor":1,"access":"rwm"}]"#;
        // runc denies the wildcard first: for a moment c 4:1 is refused. rt allows c 4:1 first.
        let runc = writes(&[
            ("devices.deny", "c 4:* rwm"),
            ("devices.allow", "c 4:1 rwm"),
        ]);
        let rt = writes(&[
            ("devices.allow", "c 4:1 rwm"),
            ("devices.deny", "c 4:* rwm"),
        ]);
        assert_eq!(case(&before, config, true), (rt, runc));
    }

    #[test]
    fn a_default_flip_resets_first() {
        // deny-all to allow-all: the reset, then the deny exceptions.
        let config = r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#;
        let runc = writes(&[("devices.allow", "a *:* rwm"), ("devices.deny", "c 1:3 w")]);
        assert_eq!(case(DEFAULTS, config, false), (runc.clone(), runc));

        // allow-all (a new v1 cgroup) to deny-all: the reset, then every allow in the order the
        // rules list them (runc sorts them: major, minor, type, wildcards first), so that
        // devices.list shows the config's order.
        let rt = writes(&[
            ("devices.deny", "a *:* rwm"),
            ("devices.allow", "c *:* m"),
            ("devices.allow", "b *:* m"),
            ("devices.allow", "c 1:3 rwm"),
            ("devices.allow", "c 1:5 rwm"),
            ("devices.allow", "c 1:7 rwm"),
            ("devices.allow", "c 1:8 rwm"),
            ("devices.allow", "c 1:9 rwm"),
            ("devices.allow", "c 5:0 rwm"),
            ("devices.allow", "c 5:1 rwm"),
            ("devices.allow", "c 5:2 rwm"),
            ("devices.allow", "c 136:* rwm"),
            ("devices.allow", "c 10:200 rwm"),
        ]);
        assert_eq!(case("a *:* rwm\n", DENY_ALL, true), (rt.clone(), rt));
    }

    #[test]
    fn the_config_rules_come_first_in_their_order() {
        // runtime-tools' linux_cgroups_devices reads devices.list back and wants the config's
        // rules first, in order; a later rule that only adds access keeps its first place.
        let config = r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"},
            {"allow":true,"type":"b","major":8,"minor":20,"access":"rw"},
            {"allow":true,"type":"b","major":10,"minor":200,"access":"r"},
            {"allow":true,"type":"b","major":8,"minor":20,"access":"m"}]"#;
        let (rt, _) = case("a *:* rwm\n", config, true);
        let lines: Vec<&str> = rt.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            lines[..5],
            [
                "a *:* rwm",
                "c 10:229 rwm",
                "b 8:20 rwm",
                "b 10:200 r",
                "c *:* m"
            ]
        );
    }

    #[test]
    fn an_allow_all_cgroup_is_always_reset() {
        // Its deny exceptions are not listed, so none can be kept: even allow-all to allow-all
        // writes the reset.
        let runc = writes(&[("devices.allow", "a *:* rwm")]);
        let allow_all = r#"[{"allow":true,"access":"rwm"}]"#;
        assert_eq!(case("a *:* rwm\n", allow_all, false), (runc.clone(), runc));
    }
}
