//! v1 devices controller: deny everything, then write the rules in order.

use super::super::write;
use anyhow::Result;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::path::Path;

pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    write(dir, "devices.deny", "a")?;
    for rule in rules {
        let (file, line) = render(rule);
        write(dir, file, &line)?;
    }
    Ok(())
}

fn render(rule: &LinuxDeviceCgroup) -> (&'static str, String) {
    let typ = match rule.typ() {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    let line = if typ == "a" {
        "a".to_string()
    } else {
        format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
    };
    let file = if rule.allow() {
        "devices.allow"
    } else {
        "devices.deny"
    };
    (file, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_runc_style_rules() {
        let r: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},{"allow":true,"type":"b","major":8,"access":"r"}]"#,
        )
        .unwrap();
        assert_eq!(render(&r[0]), ("devices.deny", "a".to_string()));
        assert_eq!(render(&r[1]), ("devices.allow", "c 1:3 rw".to_string()));
        assert_eq!(render(&r[2]), ("devices.allow", "b 8:* r".to_string()));
    }
}
