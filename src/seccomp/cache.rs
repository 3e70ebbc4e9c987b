//! Compiled filters kept under the state root, as crun does: libseccomp takes about 10 ms to
//! compile a Docker-like profile, which is most of such a container's start; containers of one
//! manager mostly share a profile.
//!
//! An entry is named by a hash of its key but holds the whole key, compared byte for byte on
//! lookup: a colliding profile can never load another's program. The key is everything the
//! program depends on: the profile as parsed, the seccomp(2) flags, libseccomp's version and API
//! level (which follows the kernel), the architecture, and the source of rt's profile code. A
//! checksum of the whole entry comes last: a damaged entry is compiled again, never loaded.
//!
//! The cache is bounded: at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`], none unused for more
//! than [`MAX_AGE`]; the least recently used go first (an entry's mtime is when it was last
//! used). Each store also sweeps the temporary files of writers that died before their rename
//! (their pid and start time are in the name) or that are older than [`MAX_TMP_AGE`].
//!
//! Only the runtime reads and writes it, before the clone ([`super::Compiled`]): the container's
//! processes get the program in memory, never a descriptor of a host directory. Any failure to
//! read or write the cache only costs a compilation.

use super::load::Program;
use oci_spec::runtime::LinuxSeccomp;
use std::ffi::{CStr, CString};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::Duration;

/// Under the state root; not a valid container id, so `list` never shows it.
const DIR: &str = ".rt-cache:seccomp";
const MAGIC: &[u8] = b"rt-seccomp-bpf 2\n";
/// One entry per distinct profile, so a handful in practice.
const MAX_ENTRIES: usize = 64;
/// A Docker-like profile's entry is about 30 KiB (its key is most of it).
const MAX_BYTES: u64 = 4 << 20;
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// A writer takes microseconds between its temporary file and the rename.
const MAX_TMP_AGE: Duration = Duration::from_secs(60);

/// The cache directory under `root`, made if missing.
pub fn open_dir(root: &Path) -> Option<OwnedFd> {
    let dir = root.join(DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            let e = crate::errno::describe_io(&e);
            crate::logging::debug(&format!("seccomp cache: create {}: {e}", dir.display()));
            return None;
        }
    }
    std::fs::File::open(&dir)
        .inspect_err(|e| {
            let e = crate::errno::describe_io(e);
            crate::logging::debug(&format!("seccomp cache: open {}: {e}", dir.display()))
        })
        .ok()
        .map(OwnedFd::from)
}

pub struct Key {
    material: Vec<u8>,
    name: String,
}

impl Key {
    pub fn new(s: &LinuxSeccomp, flags: libc::c_ulong) -> Option<Key> {
        let version = libseccomp::ScmpVersion::current().ok()?;
        let api = libseccomp::get_api();
        let mut material = format!(
            "profile code {}\nlibseccomp {}.{}.{} api {api}\narch {}\nflags {flags:#x}\n",
            env!("RT_SECCOMP_CODE_ID"),
            version.major,
            version.minor,
            version.micro,
            std::env::consts::ARCH,
        )
        .into_bytes();
        // Where the notify fd goes is not part of the program.
        let mut profile = s.clone();
        profile.set_listener_path(None).set_listener_metadata(None);
        serde_json::to_writer(&mut material, &profile).ok()?;
        Some(Key {
            name: format!("{:016x}", hash(&material)),
            material,
        })
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn open_at(dir: BorrowedFd, name: &str, flags: i32) -> std::io::Result<std::fs::File> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        nix::fcntl::OFlag::from_bits_retain(flags | libc::O_CLOEXEC | libc::O_NOFOLLOW),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )?;
    Ok(std::fs::File::from(fd))
}

/// Mark a file as used now (its mtime), to the nanosecond: the kernel's own timestamps are as
/// coarse as a clock tick, too coarse to order entries used one after the other.
fn touch(f: &std::fs::File) {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME);
    if let Ok(now) = now {
        let _ = nix::sys::stat::futimens(f.as_fd(), &nix::sys::time::TimeSpec::UTIME_OMIT, &now);
    }
}

/// The program stored for `key`, if any (and only if its key is exactly `key` and the entry is
/// whole).
pub fn load(dir: BorrowedFd, key: &Key, flags: libc::c_ulong) -> Option<Program> {
    let mut bytes = Vec::new();
    let mut f = open_at(dir, &key.name, libc::O_RDONLY).ok()?;
    f.read_to_end(&mut bytes).ok()?;
    let (body, sum) = bytes.split_last_chunk::<8>()?;
    if u64::from_le_bytes(*sum) != hash(body) {
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len || rest[..len] != key.material[..] {
        return None;
    }
    let program = Program::from_bytes(&rest[len..], flags).ok()?;
    touch(&f);
    Some(program)
}

/// Keep `program` for `key`. Written aside under a name of its own and renamed into place, so
/// that a reader sees a whole entry or none; room is made first (see the module).
pub fn store(dir: BorrowedFd, key: &Key, program: &Program) {
    if let Err(e) = try_store(dir, key, program) {
        let e = crate::errno::describe_io(&e);
        crate::logging::debug(&format!("seccomp cache: store {}: {e}", key.name));
    }
}

fn entries(dir: BorrowedFd) -> std::io::Result<Vec<CString>> {
    let mut d = nix::dir::Dir::openat(
        dir,
        ".",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(d.iter()
        .flatten()
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect())
}

/// What a name in the cache directory is: an entry (16 hex digits), the temporary file of a
/// writer (an entry's name, `.tmp`, then `.<pid>.<start time>.<random>`, or only random digits
/// for an older rt's), or something that is not ours.
enum Kind {
    Entry,
    Temporary { writer: Option<(i32, u64)> },
    Other,
}

fn kind(name: &str) -> Kind {
    let is_hex = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (entry, tmp) = match name.split_once(".tmp") {
        Some((e, t)) => (e, Some(t)),
        None => (name, None),
    };
    if !is_hex(entry) {
        return Kind::Other;
    }
    let Some(tmp) = tmp else {
        return Kind::Entry;
    };
    let mut parts = tmp.strip_prefix('.').unwrap_or("").split('.');
    let writer = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(pid), Some(start), Some(_), None) => pid.parse().ok().zip(start.parse().ok()),
        _ => None,
    };
    Kind::Temporary { writer }
}

/// Remove stale temporary files and expired entries, then the least recently used entries until
/// one of `incoming` bytes fits. `replacing`: the entry the new one replaces (not counted).
fn make_room(dir: BorrowedFd, incoming: u64, replacing: &str) -> std::io::Result<()> {
    let now = std::time::SystemTime::now();
    let unlink = |n: &CStr| {
        let _ = nix::unistd::unlinkat(dir, n, nix::unistd::UnlinkatFlags::NoRemoveDir);
    };
    let mut kept = Vec::new();
    for n in entries(dir)? {
        let Ok(name) = n.to_str() else { continue };
        let Ok(st) =
            nix::sys::stat::fstatat(dir, n.as_c_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        else {
            continue;
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            continue;
        }
        let used = std::time::UNIX_EPOCH
            + Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec as u32);
        let age = now.duration_since(used).unwrap_or_default();
        match kind(name) {
            Kind::Other => {}
            Kind::Temporary { writer } => {
                let gone = writer.is_some_and(|(pid, start)| !crate::pidinfo::is_alive(pid, start));
                if gone || age > MAX_TMP_AGE {
                    unlink(&n);
                }
            }
            Kind::Entry if name == replacing => {}
            Kind::Entry if age > MAX_AGE => unlink(&n),
            Kind::Entry => kept.push((used, st.st_size.max(0) as u64, n)),
        }
    }
    kept.sort();
    let mut count = kept.len() + 1;
    let mut bytes = kept.iter().map(|(_, size, _)| size).sum::<u64>() + incoming;
    for (_, size, n) in &kept {
        if count <= MAX_ENTRIES && bytes <= MAX_BYTES {
            break;
        }
        unlink(n);
        count -= 1;
        bytes -= size;
    }
    Ok(())
}

fn try_store(dir: BorrowedFd, key: &Key, program: &Program) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + key.material.len() + program.len() * 8 + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(key.material.len() as u32).to_le_bytes());
    out.extend_from_slice(&key.material);
    program.write_bytes(&mut out);
    out.extend_from_slice(&hash(&out).to_le_bytes());
    if out.len() as u64 > MAX_BYTES {
        return Err(std::io::Error::other("larger than the whole cache may be"));
    }
    make_room(dir, out.len() as u64, &key.name)?;
    // Named after the writer, whose death makes it stale at once (see make_room), and a random
    // suffix: a pid is no name of its own (rt may run in several PID namespaces).
    let me = std::process::id() as i32;
    let start = crate::pidinfo::proc_stat(me).map_or(0, |(_, s)| s);
    let mut suffix = [0u8; 8];
    if crate::sys::getrandom(&mut suffix)? != 8 {
        return Err(std::io::Error::other("getrandom: short read"));
    }
    let tmp = format!(
        "{}.tmp.{me}.{start}.{:016x}",
        key.name,
        u64::from_ne_bytes(suffix)
    );
    let mut file = open_at(dir, &tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)?;
    let renamed = file.write_all(&out).and_then(|()| {
        touch(&file);
        nix::fcntl::renameat(dir, tmp.as_str(), dir, key.name.as_str())
            .map_err(std::io::Error::from)
    });
    if renamed.is_err() {
        // Ours (O_EXCL), so ours to remove.
        let _ = nix::unistd::unlinkat(dir, tmp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::path::PathBuf;

    /// A cache directory of the test's own, removed on drop.
    struct Dir(PathBuf, OwnedFd);

    impl Dir {
        fn new(name: &str) -> Dir {
            let root = std::env::temp_dir().join(format!("rt-cache-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).unwrap();
            let fd = open_dir(&root).unwrap();
            Dir(root, fd)
        }

        fn path(&self) -> PathBuf {
            self.0.join(DIR)
        }

        fn names(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(self.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn key(n: usize) -> Key {
        Key {
            material: format!("test key {n}").into_bytes(),
            name: format!("{n:016x}"),
        }
    }

    /// `ret ALLOW`, `ret ERRNO(n)`.
    fn program(n: u16) -> Program {
        let mut b = vec![0x06, 0, 0, 0];
        b.extend_from_slice(&(0x0005_0000u32 | n as u32).to_ne_bytes());
        b.extend_from_slice(&[0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
        Program::from_bytes(&b, 0).unwrap()
    }

    fn bytes(p: &Program) -> Vec<u8> {
        let mut v = Vec::new();
        p.write_bytes(&mut v);
        v
    }

    #[test]
    fn an_entry_is_found_by_its_whole_key() {
        let d = Dir::new("key");
        store(d.1.as_fd(), &key(1), &program(1));
        let got = load(d.1.as_fd(), &key(1), 0).expect("stored");
        assert_eq!(bytes(&got), bytes(&program(1)));
        let mut other = key(2);
        other.name = key(1).name;
        assert!(load(d.1.as_fd(), &other, 0).is_none());
    }

    #[test]
    fn a_damaged_program_is_not_loaded() {
        let d = Dir::new("damaged");
        store(d.1.as_fd(), &key(1), &program(1));
        let path = d.path().join(key(1).name);
        let good = std::fs::read(&path).unwrap();
        let program_at = MAGIC.len() + 4 + key(1).material.len();
        for at in [program_at, program_at + 4, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).unwrap();
            assert!(load(d.1.as_fd(), &key(1), 0).is_none(), "byte {at} changed");
        }
        std::fs::write(&path, &good[..good.len() - 8]).unwrap();
        assert!(load(d.1.as_fd(), &key(1), 0).is_none(), "truncated");
    }

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let d = Dir::new("lru");
        for n in 0..MAX_ENTRIES {
            store(d.1.as_fd(), &key(n), &program(n as u16));
        }
        // Entry 0 is used again: entry 1 is now the least recently used.
        assert!(load(d.1.as_fd(), &key(0), 0).is_some());
        store(d.1.as_fd(), &key(MAX_ENTRIES), &program(0));
        assert!(d.names().len() <= MAX_ENTRIES, "{}", d.names().len());
        assert!(load(d.1.as_fd(), &key(0), 0).is_some(), "used last, kept");
        assert!(
            load(d.1.as_fd(), &key(MAX_ENTRIES), 0).is_some(),
            "the new one"
        );
        assert!(
            load(d.1.as_fd(), &key(1), 0).is_none(),
            "the least recently used"
        );
        assert!(
            load(d.1.as_fd(), &key(2), 0).is_some(),
            "only as many as needed go"
        );
    }

    #[test]
    fn entries_are_bounded_in_bytes() {
        let d = Dir::new("bytes");
        let big = |n: usize| Key {
            material: vec![b'a' + n as u8; 1 << 20],
            name: format!("{n:016x}"),
        };
        for n in 0..10 {
            store(d.1.as_fd(), &big(n), &program(1));
        }
        let total: u64 = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total <= MAX_BYTES, "{total} bytes kept");
        assert!(
            load(d.1.as_fd(), &big(9), 0).is_some(),
            "the last one is kept"
        );
    }

    #[test]
    fn entries_unused_for_too_long_expire() {
        let d = Dir::new("age");
        store(d.1.as_fd(), &key(1), &program(1));
        std::fs::File::options()
            .write(true)
            .open(d.path().join(key(1).name))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - MAX_AGE - Duration::from_secs(60))
            .unwrap();
        std::fs::write(d.path().join("not-ours"), b"").unwrap();
        store(d.1.as_fd(), &key(2), &program(2));
        assert_eq!(d.names(), [key(2).name, "not-ours".to_string()]);
    }

    #[test]
    fn temporaries_of_dead_or_old_writers_are_swept() {
        let d = Dir::new("tmp");
        let me = std::process::id() as i32;
        let (_, start) = crate::pidinfo::proc_stat(me).unwrap();
        // A writer that is gone: a child of ours, reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let name = |writer: String, n: u8| format!("{}.tmp.{writer}.{n:016x}", key(9).name);
        let dead_writer = name(format!("{dead}.1"), 1);
        let live_writer = name(format!("{me}.{start}"), 2);
        let old_live_writer = name(format!("{me}.{start}"), 3);
        let old_unknown = format!("{}.tmp00000000000000bb", key(8).name);
        let new_unknown = format!("{}.tmp00000000000000cc", key(8).name);
        for n in [
            &dead_writer,
            &live_writer,
            &old_live_writer,
            &old_unknown,
            &new_unknown,
        ] {
            std::fs::write(d.path().join(n), b"partial").unwrap();
        }
        let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for n in [&old_live_writer, &old_unknown] {
            std::fs::File::options()
                .write(true)
                .open(d.path().join(n))
                .unwrap()
                .set_modified(hours_ago)
                .unwrap();
        }
        store(d.1.as_fd(), &key(1), &program(1));
        let mut want = vec![key(1).name, live_writer, new_unknown];
        want.sort();
        assert_eq!(d.names(), want);
    }
}
