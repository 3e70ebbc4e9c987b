//! Mount options as config.json spells them, turned into mount(2) flags, propagation changes and
//! filesystem data, the way runc reads them.

use crate::mountapi::*;
use anyhow::{bail, Result};
use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub flags: MsFlags,
    /// Propagation changes, applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Everything else goes to the filesystem as data (`size=64k`, `mode=755`, ...).
    pub data: Vec<String>,
    /// Recursive attribute changes (`rro`, `rnosuid`, ...), applied with mount_setattr.
    pub attr_set: u64,
    pub attr_clr: u64,
    /// `idmap` (false) or `ridmap` (true).
    pub idmap: Option<bool>,
    /// Options the runtime carries out itself (never data for the kernel).
    pub ext: Extensions,
}

/// The runtime-side options managers send (podman, crun's extensions), by name.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Extensions {
    /// `tmpcopyup`: the new tmpfs starts with a copy of what the image has there.
    pub tmpcopyup: bool,
    /// `copy-symlink`: a bind whose source is a symlink makes that symlink instead.
    pub copy_symlink: bool,
    /// `src-nofollow`: a symlink as the bind's source is bound itself, not followed.
    pub src_nofollow: bool,
    /// `dest-nofollow`: a symlink at the destination is mounted over, not followed.
    pub dest_nofollow: bool,
}

const EXTENSIONS: &[&str] = &["tmpcopyup", "copy-symlink", "src-nofollow", "dest-nofollow"];

impl Parsed {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// (name, set, flag): `set` false means the option clears the flag.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("atime", false, MsFlags::MS_NOATIME),
    ("bind", true, MsFlags::MS_BIND),
    ("defaults", false, MsFlags::empty()),
    ("dev", false, MsFlags::MS_NODEV),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("iversion", true, MsFlags::MS_I_VERSION),
    ("lazytime", true, MsFlags::MS_LAZYTIME),
    ("loud", false, MsFlags::MS_SILENT),
    ("mand", true, MsFlags::MS_MANDLOCK),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("nodev", true, MsFlags::MS_NODEV),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("noiversion", false, MsFlags::MS_I_VERSION),
    ("nolazytime", false, MsFlags::MS_LAZYTIME),
    ("nomand", false, MsFlags::MS_MANDLOCK),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("nostrictatime", false, MsFlags::MS_STRICTATIME),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("nosymfollow", true, MS_NOSYMFOLLOW),
    ("rbind", true, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("remount", true, MsFlags::MS_REMOUNT),
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("silent", true, MsFlags::MS_SILENT),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
    ("suid", false, MsFlags::MS_NOSUID),
    ("symfollow", false, MS_NOSYMFOLLOW),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
];

const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("shared", MsFlags::MS_SHARED),
    ("slave", MsFlags::MS_SLAVE),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Recursive attributes: (name, clear, attribute), as runc reads them.
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, MOUNT_ATTR_RDONLY),
    ("rrw", true, MOUNT_ATTR_RDONLY),
    ("rnosuid", false, MOUNT_ATTR_NOSUID),
    ("rsuid", true, MOUNT_ATTR_NOSUID),
    ("rnodev", false, MOUNT_ATTR_NODEV),
    ("rdev", true, MOUNT_ATTR_NODEV),
    ("rnoexec", false, MOUNT_ATTR_NOEXEC),
    ("rexec", true, MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, MOUNT_ATTR_NODIRATIME),
    ("rrelatime", false, MOUNT_ATTR_RELATIME),
    ("rnorelatime", true, MOUNT_ATTR_RELATIME),
    ("rnoatime", false, MOUNT_ATTR_NOATIME),
    ("ratime", true, MOUNT_ATTR_NOATIME),
    ("rstrictatime", false, MOUNT_ATTR_STRICTATIME),
    ("rnostrictatime", true, MOUNT_ATTR_STRICTATIME),
    ("rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW),
];

/// Idmapped bind mounts: `idmap`, or `ridmap` for the whole tree.
const IDMAP: &[(&str, bool)] = &[("idmap", false), ("ridmap", true)];

/// Every option name [`parse`] recognises (anything else is filesystem data), for `rt features`:
/// read from the tables themselves so that the list cannot drift from the parser.
pub fn known() -> Vec<&'static str> {
    let mut v: Vec<&str> = FLAGS.iter().map(|(n, _, _)| *n).collect();
    v.extend(PROPAGATION.iter().map(|(n, _)| *n));
    v.extend(RECURSIVE.iter().map(|(n, _, _)| *n));
    v.extend(IDMAP.iter().map(|(n, _)| *n));
    v.extend(EXTENSIONS);
    v.sort_unstable();
    v
}

const ATIME_OPTIONS: &[&str] = &[
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
];

pub fn parse(options: &[String]) -> Result<Parsed> {
    let mut p = Parsed {
        flags: MsFlags::empty(),
        propagation: Vec::new(),
        data: Vec::new(),
        attr_set: 0,
        attr_clr: 0,
        idmap: None,
        ext: Extensions::default(),
    };
    for o in options {
        if let Some(&(_, set, f)) = FLAGS.iter().find(|(n, _, _)| n == o) {
            if set {
                p.flags |= f;
            } else {
                p.flags.remove(f);
            }
        } else if let Some(&(_, f)) = PROPAGATION.iter().find(|(n, _)| n == o) {
            p.propagation.push(f);
        } else if let Some(&(_, clear, a)) = RECURSIVE.iter().find(|(n, _, _)| n == o) {
            if ATIME_OPTIONS.contains(&o.as_str()) {
                // One atime mode at a time, and the kernel takes it only with the whole atime
                // field in attr_clr.
                p.attr_set &= !MOUNT_ATTR_ATIME;
                if !clear {
                    p.attr_set |= a;
                }
                p.attr_clr |= MOUNT_ATTR_ATIME;
            } else if clear {
                p.attr_clr |= a;
                p.attr_set &= !a;
            } else {
                p.attr_set |= a;
                p.attr_clr &= !a;
            }
        } else if let Some(&(_, recursive)) = IDMAP.iter().find(|(n, _)| n == o) {
            p.idmap = Some(recursive);
        } else if o.starts_with("idmap=") || o.starts_with("ridmap=") {
            // crun's inline form (idmap=uids=0-1000-10;gids=...): the spec's way is the
            // mount's uidMappings and gidMappings, which rt reads.
            bail!("mount option {o:?}: mappings in the option are not supported; give the mount uidMappings and gidMappings with \"idmap\"");
        } else if EXTENSIONS.contains(&o.as_str()) {
            match o.as_str() {
                "tmpcopyup" => p.ext.tmpcopyup = true,
                "copy-symlink" => p.ext.copy_symlink = true,
                "src-nofollow" => p.ext.src_nofollow = true,
                _ => p.ext.dest_nofollow = true,
            }
        } else {
            p.data.push(o.clone());
        }
    }
    Ok(p)
}

/// A rootfsPropagation value.
pub fn propagation(name: &str) -> Result<MsFlags> {
    match PROPAGATION.iter().find(|(n, _)| *n == name) {
        Some(&(_, f)) => Ok(f),
        None => bail!("linux.rootfsPropagation {name:?}: unknown propagation mode"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_propagation_and_data() {
        let p = parse(&opts(&[
            "rbind", "ro", "nosuid", "rslave", "size=64k", "mode=755",
        ]))
        .unwrap();
        assert_eq!(
            p.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        assert_eq!(p.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(p.data, opts(&["size=64k", "mode=755"]));
        assert!(p.is_bind());
    }

    #[test]
    fn later_options_clear_earlier_ones() {
        let p = parse(&opts(&["ro", "rw", "nosuid", "suid"])).unwrap();
        assert_eq!(p.flags, MsFlags::empty());
    }

    #[test]
    fn recursive_attributes_and_idmap() {
        let p = parse(&opts(&["rro", "rnosuid", "rnoatime", "ridmap"])).unwrap();
        assert_eq!(
            p.attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(p.attr_clr, MOUNT_ATTR_ATIME);
        assert_eq!(p.idmap, Some(true));
        let p = parse(&opts(&["rro", "rrw"])).unwrap();
        assert_eq!((p.attr_set, p.attr_clr), (0, MOUNT_ATTR_RDONLY));
        assert!(p.data.is_empty());
    }

    #[test]
    fn every_known_option_is_recognised_by_the_parser() {
        let known = known();
        let mut dedup = known.clone();
        dedup.dedup();
        assert_eq!(known, dedup, "an option is in two tables");
        for name in known {
            let p = parse(&opts(&[name])).unwrap();
            // Recognised means consumed by a table, not passed on as filesystem data.
            assert!(p.data.is_empty(), "{name} fell through to filesystem data");
        }
        let p = parse(&opts(&["size=64k"])).unwrap();
        assert_eq!(p.data, opts(&["size=64k"]));
    }

    #[test]
    fn runtime_options_are_the_runtimes_never_data() {
        let p = parse(&opts(&[
            "tmpcopyup",
            "copy-symlink",
            "src-nofollow",
            "dest-nofollow",
            "nosymfollow",
            "rw",
        ]))
        .unwrap();
        assert!(p.data.is_empty(), "{:?}", p.data);
        assert!(p.ext.tmpcopyup && p.ext.copy_symlink && p.ext.src_nofollow && p.ext.dest_nofollow);
        // Cleared flags keep the bits nix has no name for.
        assert!(p.flags.contains(crate::mountapi::MS_NOSYMFOLLOW));
        let e = parse(&opts(&["idmap=uids=0-1000-10;gids=0-1000-10"])).unwrap_err();
        assert!(e.to_string().contains("uidMappings"), "{e}");
    }

    #[test]
    fn unknown_propagation_is_an_error() {
        assert!(propagation("sideways").is_err());
        assert_eq!(
            propagation("rshared").unwrap(),
            MsFlags::MS_SHARED | MsFlags::MS_REC
        );
    }
}
