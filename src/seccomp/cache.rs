//! Compiled filters kept under the state root, as crun does: libseccomp takes about 10 ms to
//! compile a Docker-like profile, which is most of such a container's start; containers of one
//! manager mostly share a profile.
//!
//! An entry is named by a hash of its key but holds the whole key, compared byte for byte on
//! lookup: a colliding profile can never load another's program. The key is everything the
//! program depends on: the profile as parsed, the seccomp(2) flags, libseccomp's version and API
//! level (which follows the kernel), the architecture, and the source of rt's profile code.
//!
//! Only the runtime reads and writes it, before the clone ([`super::Compiled`]): the container's
//! processes get the program in memory, never a descriptor of a host directory. Any failure to
//! read or write the cache only costs a compilation.

use super::load::Program;
use oci_spec::runtime::LinuxSeccomp;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Under the state root; not a valid container id, so `list` never shows it.
const DIR: &str = ".rt-cache:seccomp";
const MAGIC: &[u8] = b"rt-seccomp-bpf 1\n";
/// Entries kept at most: one per distinct profile, so a handful in practice; when full, the
/// cache is emptied.
const MAX_ENTRIES: usize = 64;

/// The cache directory under `root`, made if missing.
pub fn open_dir(root: &Path) -> Option<OwnedFd> {
    let dir = root.join(DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            crate::logging::debug(&format!("seccomp cache: create {}: {e}", dir.display()));
            return None;
        }
    }
    std::fs::File::open(&dir)
        .inspect_err(|e| {
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
        let mut h = std::hash::DefaultHasher::new();
        material.hash(&mut h);
        let name = format!("{:016x}", h.finish());
        Some(Key { material, name })
    }
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

/// The program stored for `key`, if any (and only if its key is exactly `key`).
pub fn load(dir: BorrowedFd, key: &Key, flags: libc::c_ulong) -> Option<Program> {
    let mut bytes = Vec::new();
    open_at(dir, &key.name, libc::O_RDONLY)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len || rest[..len] != key.material[..] {
        return None;
    }
    Program::from_bytes(&rest[len..], flags).ok()
}

/// Keep `program` for `key`. Written aside under a name of its own and renamed into place, so
/// that a reader sees a whole entry or none; a full cache is emptied first.
pub fn store(dir: BorrowedFd, key: &Key, program: &Program) {
    if let Err(e) = try_store(dir, key, program) {
        crate::logging::debug(&format!("seccomp cache: store {}: {e}", key.name));
    }
}

fn entries(dir: BorrowedFd) -> std::io::Result<Vec<std::ffi::CString>> {
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

fn try_store(dir: BorrowedFd, key: &Key, program: &Program) -> std::io::Result<()> {
    let names = entries(dir)?;
    if names.len() >= MAX_ENTRIES {
        // Profiles come and go (and every rt build has keys of its own): start afresh.
        for n in &names {
            let _ =
                nix::unistd::unlinkat(dir, n.as_c_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
    }
    // The pid is no name of its own (an init is pid 1 of its namespace): a random suffix is.
    let mut suffix = [0u8; 8];
    // Safety: getrandom fills the buffer it is given.
    if unsafe { libc::getrandom(suffix.as_mut_ptr().cast(), suffix.len(), 0) } != 8 {
        return Err(std::io::Error::last_os_error());
    }
    let tmp = format!("{}.tmp{:016x}", key.name, u64::from_ne_bytes(suffix));
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + key.material.len() + program.len() * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(key.material.len() as u32).to_le_bytes());
    out.extend_from_slice(&key.material);
    program.write_bytes(&mut out);
    let mut file = open_at(dir, &tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)?;
    let renamed = file.write_all(&out).and_then(|()| {
        nix::fcntl::renameat(dir, tmp.as_str(), dir, key.name.as_str())
            .map_err(std::io::Error::from)
    });
    if renamed.is_err() {
        // Ours (O_EXCL), so ours to remove.
        let _ = nix::unistd::unlinkat(dir, tmp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    renamed
}
