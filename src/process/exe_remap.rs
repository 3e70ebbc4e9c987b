//! Move the running process onto a read-only image of its own binary without executing it
//! again (see sealed_exe for why the image is needed).
//!
//! Executing the image costs an exec and a second start of glibc and std: about 1 ms on a VM,
//! where glibc's start issues dozens of CPUID instructions that each leave the guest. The kernel
//! offers the same result for less: PR_SET_MM_MAP replaces /proc/self/exe (with CAP_SYS_ADMIN or
//! CAP_CHECKPOINT_RESTORE, as CRIU uses it), but only once no mapping of the old file is left.
//! So every mapping of our binary is replaced first, with identical bytes: pages that were never
//! written (code, read-only data) by a mapping of the image at the same offset, which shares the
//! page cache; pages of writable segments (relocated RELRO, data) by an anonymous copy.
//!
//! Every replacement holds the same bytes as what it replaces, so stopping halfway leaves a
//! process that works; /proc/self/maps is read again to check that no mapping of the old file
//! is left (the kernel refuses the new exe then too, EBUSY, but compares paths, which an overlayfs
//! binary defeats), and the caller then executes the image instead.
//!
//! Assumed: only pages of writable segments differ from the file (no text relocations, no
//! debugger's breakpoints in the code); a patched text page would be reverted.

use crate::errno::SysContext;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

/// struct prctl_mm_map of <linux/prctl.h> (the libc crate does not carry it).
#[repr(C)]
#[derive(Default)]
struct PrctlMmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// One page-aligned range of our binary's mappings and what replaces it.
#[derive(Debug, PartialEq)]
struct Run {
    start: usize,
    len: usize,
    prot: i32,
    /// `Some(offset)`: map the image at this file offset; `None`: an anonymous copy.
    file_offset: Option<u64>,
}

/// A line of /proc/self/maps that maps our binary.
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    prot: i32,
    offset: u64,
}

/// Replace every mapping of the running binary with one of `image` (the same file, opened
/// through a read-only mount) and make `image` our /proc/self/exe.
pub fn onto(image: &File) -> Result<()> {
    let exe = std::fs::metadata("/proc/self/exe").context("stat /proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps").context("read /proc/self/maps")?;
    let mappings = binary_mappings(&maps, exe.dev(), exe.ino())?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as usize;
    let runs = plan(&mappings, &writable_segments(page)?, page);
    let path = std::fs::read_link("/proc/self/exe").context("readlink /proc/self/exe")?;
    replace(&runs, image)?;
    // Not only the kernel's word (its check compares paths, which an overlayfs binary defeats):
    // what maps the binary now is what was just put there, and nothing names its path.
    let after = std::fs::read_to_string("/proc/self/maps").context("read /proc/self/maps")?;
    check_replaced(&after, exe.dev(), exe.ino(), &runs, &path.to_string_lossy())?;
    // Read last: the break is what it is now (the reads above may have moved it).
    let mm = current_mm_map(image.as_raw_fd())?;
    // SAFETY: PR_SET_MM_MAP reads a struct prctl_mm_map of the size given; `mm` is one, with
    // this process's own bounds (no auxv: auxv_size 0 leaves it as it is).
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP,
            &mm as *const PrctlMmMap,
            std::mem::size_of::<PrctlMmMap>(),
            0,
        )
    };
    Errno::result(r).sys(|| "prctl PR_SET_MM_MAP to the read-only image")?;
    Ok(())
}

/// The mappings of the file `dev`/`ino` in /proc/self/maps.
fn binary_mappings(maps: &str, dev: u64, ino: u64) -> Result<Vec<Mapping>> {
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let mut out = Vec::new();
    for line in maps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [range, perms, offset, device, inode, ..] = f[..] else {
            continue;
        };
        let Ok(i) = inode.parse::<u64>() else {
            continue;
        };
        let Some((maj, min)) = device.split_once(':') else {
            continue;
        };
        let same_dev =
            u64::from_str_radix(maj, 16) == Ok(major) && u64::from_str_radix(min, 16) == Ok(minor);
        if i != ino || !same_dev {
            continue;
        }
        let (s, e) = range.split_once('-').context("maps: address range")?;
        let perm = perms.as_bytes();
        if perm.get(3) != Some(&b'p') {
            bail!("maps: shared mapping of the runtime's binary: {line}");
        }
        let mut prot = libc::PROT_NONE;
        for (c, p) in [
            (b'r', libc::PROT_READ),
            (b'w', libc::PROT_WRITE),
            (b'x', libc::PROT_EXEC),
        ] {
            if perm.contains(&c) {
                prot |= p;
            }
        }
        out.push(Mapping {
            start: usize::from_str_radix(s, 16).context("maps: start")?,
            end: usize::from_str_radix(e, 16).context("maps: end")?,
            prot,
            offset: u64::from_str_radix(offset, 16).context("maps: offset")?,
        });
    }
    if out.is_empty() {
        bail!("maps: no mapping of the runtime's binary");
    }
    Ok(out)
}

/// After [`replace`]: every mapping of the binary's file is one of the image's runs, and no line
/// of `maps` names the writable binary's path.
fn check_replaced(maps: &str, dev: u64, ino: u64, runs: &[Run], path: &str) -> Result<()> {
    if let Some(line) = maps.lines().find(|l| l.ends_with(path)) {
        bail!("maps: the runtime's binary is still mapped: {line}");
    }
    let installed = |m: &Mapping| {
        runs.iter()
            .any(|r| r.file_offset.is_some() && r.start <= m.start && m.end <= r.start + r.len)
    };
    if let Ok(left) = binary_mappings(maps, dev, ino) {
        if let Some(m) = left.iter().find(|m| !installed(m)) {
            bail!(
                "maps: a mapping of the runtime's binary at {:#x} was not replaced",
                m.start
            );
        }
    }
    Ok(())
}

/// The address ranges of our writable PT_LOAD segments (RELRO is one: it was written while
/// relocating), page-aligned outward: pages there may differ from the file.
fn writable_segments(page: usize) -> Result<Vec<(usize, usize)>> {
    // SAFETY: getauxval reads the auxiliary vector the kernel gave this process.
    let (phdr, phnum) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR) as usize,
            libc::getauxval(libc::AT_PHNUM) as usize,
        )
    };
    if phdr == 0 || phnum == 0 {
        bail!("no program headers in the auxiliary vector");
    }
    // SAFETY: AT_PHDR/AT_PHNUM locate our own program headers, mapped for the life of the
    // process (the first PT_LOAD segment holds them).
    let headers = unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum) };
    let bias = headers
        .iter()
        .find(|h| h.p_type == libc::PT_PHDR)
        .map(|h| phdr.wrapping_sub(h.p_vaddr as usize))
        .context("no PT_PHDR program header")?;
    Ok(headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W != 0)
        .map(|h| {
            let start = bias.wrapping_add(h.p_vaddr as usize);
            let end = start + h.p_memsz as usize;
            (start & !(page - 1), (end + page - 1) & !(page - 1))
        })
        .collect())
}

/// Split each mapping into runs: pages inside a writable segment are copied, the rest mapped
/// from the image at the same file offset.
fn plan(mappings: &[Mapping], writable: &[(usize, usize)], page: usize) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for m in mappings {
        let mut at = m.start;
        while at < m.end {
            let copy =
                m.prot & libc::PROT_READ != 0 && writable.iter().any(|&(s, e)| s <= at && at < e);
            let file_offset = (!copy).then(|| m.offset + (at - m.start) as u64);
            match runs.last_mut() {
                Some(r)
                    if r.start + r.len == at
                        && r.prot == m.prot
                        && r.file_offset.is_none() == copy
                        && r.file_offset.map(|o| o + r.len as u64) == file_offset =>
                {
                    r.len += page;
                }
                _ => runs.push(Run {
                    start: at,
                    len: page,
                    prot: m.prot,
                    file_offset,
                }),
            }
            at += page;
        }
    }
    runs
}

/// This process's memory bounds from /proc/self/stat, with `exe_fd` as the new exe.
fn current_mm_map(exe_fd: i32) -> Result<PrctlMmMap> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("read /proc/self/stat")?;
    let fields = crate::pidinfo::stat_fields(&stat).context("/proc/self/stat: no command name")?;
    let field = |n: usize| -> Result<u64> {
        crate::pidinfo::stat_field(&fields, n)
            .with_context(|| format!("/proc/self/stat: field {n}"))
    };
    // SAFETY: brk(0) changes nothing and returns the current break.
    let brk = unsafe { libc::syscall(libc::SYS_brk, 0) } as u64;
    Ok(PrctlMmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_stack: field(28)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        brk,
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
        exe_fd: u32::try_from(exe_fd).context("image descriptor")?,
        ..Default::default()
    })
}

/// Build every replacement away from the binary first (what can fail: memory, permissions),
/// fill the copies, then move each over its run. Between the copies and the moves only
/// syscalls run: nothing writes to the data being replaced, so no write is lost.
fn replace(runs: &[Run], image: &File) -> Result<()> {
    let mut made: Vec<(usize, usize)> = Vec::with_capacity(runs.len());
    let unmap = |made: &[(usize, usize)]| {
        for &(addr, len) in made {
            // SAFETY: a mapping this function made and nothing else refers to.
            unsafe { libc::munmap(addr as *mut libc::c_void, len) };
        }
    };
    for r in runs {
        match replacement(r, image) {
            Ok(addr) => made.push((addr, r.len)),
            Err(e) => {
                unmap(&made);
                return Err(e);
            }
        }
    }
    for (&(addr, _), r) in made.iter().zip(runs) {
        if r.file_offset.is_none() {
            if let Err(e) = fill(r, addr) {
                unmap(&made);
                return Err(e);
            }
        }
    }
    for (i, (&(addr, _), r)) in made.iter().zip(runs).enumerate() {
        // SAFETY: moves a mapping holding the same bytes as the run over it; code running from
        // the run continues on identical pages.
        let moved = unsafe {
            libc::mremap(
                addr as *mut libc::c_void,
                r.len,
                r.len,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                r.start as *mut libc::c_void,
            )
        };
        if moved == libc::MAP_FAILED {
            let err = Errno::last();
            unmap(&made[i..]);
            return Err(err).sys(|| format!("mremap the runtime's image over {:#x}", r.start));
        }
    }
    Ok(())
}

/// A mapping away from the binary for `r`: the image at the run's offset, or anonymous memory
/// for a copy (writable until `fill`).
fn replacement(r: &Run, image: &File) -> Result<usize> {
    let addr = match r.file_offset {
        // SAFETY: a new private mapping of the image at a place the kernel picks.
        Some(offset) => unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                r.len,
                r.prot,
                libc::MAP_PRIVATE,
                image.as_raw_fd(),
                offset as libc::off_t,
            )
        },
        // SAFETY: a new anonymous mapping at a place the kernel picks.
        None => unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                r.len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        },
    };
    if addr == libc::MAP_FAILED {
        return Err(Errno::last()).sys(|| format!("mmap a replacement for {:#x}", r.start));
    }
    Ok(addr as usize)
}

/// Copy the run's bytes into `addr` and give it the run's protection.
fn fill(r: &Run, addr: usize) -> Result<()> {
    // SAFETY: `r` is readable (an unreadable run is mapped from the file, never copied) and
    // `addr` is a fresh writable mapping of the same length; they do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(r.start as *const u8, addr as *mut u8, r.len) };
    // SAFETY: changes the protection of a mapping `replacement` made only.
    let r2 = unsafe { libc::mprotect(addr as *mut libc::c_void, r.len, r.prot) };
    Errno::result(r2)
        .map(drop)
        .sys(|| "mprotect a copy of the runtime's data")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a process of its own (this test binary again, running this test alone): move onto a
    /// read-only image of the binary; then /proc/self/exe must be that image and no mapping of
    /// the writable path may be left. A crash, a refusal or a leftover fails the test.
    #[test]
    fn the_process_ends_on_the_read_only_image_without_a_mapping_of_its_binary() {
        const NAME: &str =
            "process::exe_remap::tests::the_process_ends_on_the_read_only_image_without_a_mapping_of_its_binary";
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        if std::env::var_os("RT_TEST_REMAP").is_none() {
            let out = std::process::Command::new("/proc/self/exe")
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env("RT_TEST_REMAP", "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("remapped onto the image"), "{text}");
            return;
        }
        let path = std::fs::read_link("/proc/self/exe").unwrap();
        let tree = super::super::sealed_exe::read_only_mount().unwrap();
        super::super::sealed_exe::remap_onto(&tree).unwrap();
        let now = std::fs::read_link("/proc/self/exe").unwrap();
        assert_ne!(now, path, "/proc/self/exe still names the writable binary");
        let access = nix::unistd::access("/proc/self/exe", nix::unistd::AccessFlags::W_OK);
        assert_eq!(access, Err(nix::errno::Errno::EROFS));
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let p = path.to_string_lossy();
        assert!(
            !maps.lines().any(|l| l.ends_with(&*p)),
            "a mapping of {p} is left:\n{maps}"
        );
        // The code and data still work after the move: allocate, format, print.
        let v: Vec<String> = (0..1000).map(|i| format!("{i}")).collect();
        assert_eq!(v[999], "999");
        println!("remapped onto the image {}", now.display());
    }

    const MAPS: &str = "\
55d0c0000000-55d0c00cc000 r--p 00000000 fe:00 1234 /usr/bin/rt
55d0c00cc000-55d0c0303000 r-xp 000cb000 fe:00 1234 /usr/bin/rt
55d0c0303000-55d0c0315000 r--p 00301000 fe:00 1234 /usr/bin/rt
55d0c0315000-55d0c0318000 rw-p 00312000 fe:00 1234 /usr/bin/rt
55d0c0318000-55d0c031f000 rw-p 00000000 00:00 0
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000001000 r--p 00000000 fe:00 999 /usr/lib/other
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
";

    #[test]
    fn only_the_binary_is_taken_by_device_and_inode() {
        let dev = nix::sys::stat::makedev(0xfe, 0);
        let m = binary_mappings(MAPS, dev, 1234).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].prot, libc::PROT_READ | libc::PROT_EXEC);
        assert_eq!(m[1].offset, 0xcb000);
        assert!(binary_mappings(MAPS, nix::sys::stat::makedev(0xfe, 1), 1234).is_err());
    }

    #[test]
    fn writable_pages_are_copied_and_the_rest_mapped_at_their_offset() {
        let dev = nix::sys::stat::makedev(0xfe, 0);
        let m = binary_mappings(MAPS, dev, 1234).unwrap();
        // RELRO and data: one writable segment over the last two mappings.
        let runs = plan(&m, &[(0x55d0c0303000, 0x55d0c031f000)], 4096);
        let kinds: Vec<(usize, Option<u64>)> =
            runs.iter().map(|r| (r.start, r.file_offset)).collect();
        assert_eq!(
            kinds,
            vec![
                (0x55d0c0000000, Some(0)),
                (0x55d0c00cc000, Some(0xcb000)),
                (0x55d0c0303000, None),
                (0x55d0c0315000, None),
            ]
        );
        assert_eq!(runs[1].len, 0x55d0c0303000 - 0x55d0c00cc000);
    }

    #[test]
    fn a_mapping_left_over_or_naming_the_binary_fails_the_check() {
        let dev = nix::sys::stat::makedev(0xfe, 0);
        let m = binary_mappings(MAPS, dev, 1234).unwrap();
        let runs = plan(&m, &[(0x55d0c0303000, 0x55d0c031f000)], 4096);
        // The image mounted alone shows as "/"; the copies are anonymous.
        let after = MAPS
            .replace(" /usr/bin/rt", " /")
            .replace("00301000 fe:00 1234 /", "00000000 00:00 0 ")
            .replace("00312000 fe:00 1234 /", "00000000 00:00 0 ");
        check_replaced(&after, dev, 1234, &runs, "/usr/bin/rt").unwrap();
        assert!(check_replaced(MAPS, dev, 1234, &runs, "/usr/bin/rt").is_err());
        let stray = format!("{after}7f1000000000-7f1000001000 r--p 00000000 fe:00 1234 /\n");
        assert!(check_replaced(&stray, dev, 1234, &runs, "/usr/bin/rt").is_err());
    }

    #[test]
    fn a_mapping_half_in_a_writable_segment_is_split() {
        let m = [Mapping {
            start: 0x1000,
            end: 0x5000,
            prot: libc::PROT_READ,
            offset: 0x10000,
        }];
        let runs = plan(&m, &[(0x3000, 0x4000)], 4096);
        assert_eq!(
            runs,
            vec![
                Run {
                    start: 0x1000,
                    len: 0x2000,
                    prot: libc::PROT_READ,
                    file_offset: Some(0x10000)
                },
                Run {
                    start: 0x3000,
                    len: 0x1000,
                    prot: libc::PROT_READ,
                    file_offset: None
                },
                Run {
                    start: 0x4000,
                    len: 0x1000,
                    prot: libc::PROT_READ,
                    file_offset: Some(0x13000)
                },
            ]
        );
    }
}
