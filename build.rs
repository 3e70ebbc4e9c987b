//! RT_SECCOMP_CODE_ID: a hash of the code that turns a seccomp profile into a BPF program (rt's
//! src/seccomp, src/variants.rs and the locked dependency versions), part of the key of the compiled-filter cache
//! (src/seccomp/cache.rs), so that a rebuilt rt never loads a program an older one compiled.

use std::hash::{Hash, Hasher};

fn main() {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("src/seccomp")
        .expect("read src/seccomp")
        .map(|e| e.expect("read src/seccomp").path())
        .collect();
    files.sort();
    // The spec names of actions, operators and architectures come from there.
    files.push("src/variants.rs".into());
    files.push("Cargo.lock".into());
    let mut h = std::hash::DefaultHasher::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rerun-if-changed=src/seccomp");
    println!("cargo:rustc-env=RT_SECCOMP_CODE_ID={:016x}", h.finish());
}
