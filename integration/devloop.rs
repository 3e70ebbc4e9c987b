//! Tools of the shared-cgroup device test (cgroups.rs): a static helper that opens /dev/null in
//! a tight loop and counts the failures, and what is attached to a cgroup v2 directory as its
//! device filter (ids and tags of the eBPF programs).

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Opens and closes /dev/null until DIR/stop exists; after the first 4096 rounds it makes
/// DIR/ready; at the end it writes "OPENS EPERM OTHER" (how many opens succeeded, failed with
/// EPERM, failed otherwise) to DIR/result. A shell loop would open it a few thousand times a
/// second; this does it about a million times, so a window of microseconds is hit.
const SOURCE: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char stop[4096], ready[4096], result[4096];
    unsigned long opens = 0, eperm = 0, other = 0, n = 0;
    if (argc != 2) return 2;
    snprintf(stop, sizeof stop, "%s/stop", argv[1]);
    snprintf(ready, sizeof ready, "%s/ready", argv[1]);
    snprintf(result, sizeof result, "%s/result", argv[1]);
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { close(fd); opens++; }
        else if (errno == EPERM) eperm++;
        else other++;
        if (++n % 256) continue;
        if (n == 4096) close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        if (access(stop, F_OK) == 0) break;
    }
    FILE *f = fopen(result, "w");
    if (!f) return 3;
    fprintf(f, "%lu %lu %lu\n", opens, eperm, other);
    return fclose(f) ? 4 : 0;
}
"#;

/// Build the helper with the system's gcc, statically (the busybox rootfs has no libc), into
/// `dir`; returns its path.
pub fn build(dir: &Path) -> PathBuf {
    let src = dir.join("devloop.c");
    let bin = dir.join("devloop");
    fs::write(&src, SOURCE).unwrap();
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run gcc (apt-get install gcc libc6-dev)");
    assert!(out.status.success(), "gcc -static: {out:?}");
    bin
}

/// What the helper counted: (opens, EPERM, other failures).
pub fn result(dir: &Path) -> (u64, u64, u64) {
    let s = fs::read_to_string(dir.join("result")).unwrap();
    let v: Vec<u64> = s.split_whitespace().map(|n| n.parse().unwrap()).collect();
    (v[0], v[1], v[2])
}

const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_CGROUP_DEVICE: u32 = 6;

/// A zeroed `union bpf_attr`, larger than the fields used (the kernel wants the tail zero).
type Attr = [u32; 32];

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> libc::c_long {
    // SAFETY: attr is a writable buffer of the size passed; the pointers in it outlive the call.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), size_of::<Attr>()) }
}

fn set_ptr(attr: &mut Attr, at: usize, p: u64) {
    attr[at] = p as u32;
    attr[at + 1] = (p >> 32) as u32;
}

/// The ids of the device programs attached to the cgroup v2 directory `dir` itself.
pub fn attached(dir: &Path) -> Vec<u32> {
    let d = fs::File::open(dir).unwrap();
    let mut ids = [0u32; 64];
    let mut a: Attr = [0; 32];
    // struct { u32 target_fd, attach_type, query_flags, attach_flags; u64 prog_ids; u32 prog_cnt; }
    a[0] = d.as_raw_fd() as u32;
    a[1] = BPF_CGROUP_DEVICE;
    set_ptr(&mut a, 4, ids.as_mut_ptr() as u64);
    a[6] = ids.len() as u32;
    let r = bpf(BPF_PROG_QUERY, &mut a);
    assert!(
        r == 0,
        "BPF_PROG_QUERY {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
    ids[..a[6] as usize].to_vec()
}

/// The tag of program `id`: a hash of its instructions, the same for the same program.
pub fn tag(id: u32) -> [u8; 8] {
    let mut a: Attr = [0; 32];
    a[0] = id;
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut a);
    assert!(
        fd >= 0,
        "BPF_PROG_GET_FD_BY_ID {id}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new descriptor, ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // struct bpf_prog_info begins { u32 type; u32 id; u8 tag[8]; ... }: ask for those 16 bytes.
    let mut info = [0u8; 16];
    let mut a: Attr = [0; 32];
    a[0] = fd.as_raw_fd() as u32;
    a[1] = info.len() as u32;
    set_ptr(&mut a, 2, info.as_mut_ptr() as u64);
    let r = bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a);
    assert!(
        r == 0,
        "BPF_OBJ_GET_INFO_BY_FD {id}: {}",
        std::io::Error::last_os_error()
    );
    info[8..16].try_into().unwrap()
}
