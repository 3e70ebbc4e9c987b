//! `/proc/self/mountinfo`, line by line: what the cgroup placement (the hierarchies) and the
//! rootfs (the mount above the rootfs) read of it. Knows nothing of either.

/// One line of mountinfo (proc(5)): the fields rt reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The root of the mount within its filesystem (field 4).
    pub root: &'a str,
    /// Where it is mounted, unescaped (field 5).
    pub mount_point: String,
    /// The optional fields (`shared:N`, `master:N`...), space-separated.
    pub optional: &'a str,
    pub fstype: &'a str,
    /// The filesystem's own options (`rw,memory`).
    pub super_options: &'a str,
}

impl Entry<'_> {
    /// A shared mount (a `shared:N` optional field).
    pub fn is_shared(&self) -> bool {
        self.optional.split(' ').any(|f| f.starts_with("shared:"))
    }
}

/// This process's mount table.
pub fn read() -> std::io::Result<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
}

/// The lines of `raw` that have every field rt reads, in order (later mounts last).
pub fn entries(raw: &str) -> impl Iterator<Item = Entry<'_>> {
    raw.lines().filter_map(entry)
}

fn entry(line: &str) -> Option<Entry<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.splitn(7, ' ');
    let (_id, _parent, _dev) = (l.next()?, l.next()?, l.next()?);
    let root = l.next()?;
    let mount_point = unescape(l.next()?);
    let _options = l.next();
    let optional = l.next().unwrap_or("");
    let mut r = right.split(' ');
    let fstype = r.next()?;
    let _source = r.next()?;
    let super_options = r.next()?;
    Some(Entry {
        root,
        mount_point,
        optional,
        fstype,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_and_the_optional_ones() {
        let raw = "\
36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue
37 35 98:0 / /x rw - tmpfs tmpfs rw
bad line
38 35 98:0 / /y rw - tmpfs tmpfs
";
        let e: Vec<_> = entries(raw).collect();
        assert_eq!(e.len(), 2, "a line without every field is passed over");
        assert_eq!(e[0].root, "/mnt1");
        assert_eq!(e[0].mount_point, "/mnt 2");
        assert_eq!(e[0].optional, "master:1 shared:7");
        assert!(e[0].is_shared());
        assert_eq!(
            (e[0].fstype, e[0].super_options),
            ("ext3", "rw,errors=continue")
        );
        assert_eq!(e[1].optional, "");
        assert!(!e[1].is_shared());
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/x\\0"), "/x\\0");
    }
}
