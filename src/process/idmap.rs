//! uid/gid maps of a new user namespace, written by the parent (which holds the privilege the
//! child lacks inside its fresh namespace).

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};

fn render(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux.and_then(|l| l.uid_mappings().as_ref());
    let gids = linux.and_then(|l| l.gid_mappings().as_ref());
    let (Some(uids), Some(gids)) = (uids, gids) else {
        bail!("linux.uidMappings and linux.gidMappings are required for a new user namespace");
    };
    if uids.is_empty() || gids.is_empty() {
        bail!("linux.uidMappings and linux.gidMappings must not be empty for a new user namespace");
    }
    for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, render(maps)).with_context(|| format!("write {path}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_range() {
        let maps: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":100000,"size":65536},{"containerID":65536,"hostID":1,"size":1}]"#)
                .unwrap();
        assert_eq!(render(&maps), "0 100000 65536\n65536 1 1\n");
    }
}
