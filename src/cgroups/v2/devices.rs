//! The cgroup v2 device controller's program: OCI `linux.resources.devices` rules compiled to a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program. Pure: no system calls (bpf.rs loads and attaches it).
//!
//! The rules are first folded into a default verdict and exceptions the way the cgroup v1
//! devices controller and runc's emulator fold them (cgroups/devices/policy.rs).
//!
//! The program then tests the exceptions, all of which have the verdict opposite to the default:
//! in deny-all mode an exception allows a request whose access is a subset of its own (runc's and
//! v1's rule), in allow-all mode it denies a request sharing any access with it (v1's rule; runc
//! requires a subset there too, which lets `open(O_RDWR)` through a `deny c 1:3 w`).

use crate::cgroups::devices::policy::{Num, Policy, ACC_ALL};
#[cfg(test)]
use crate::cgroups::devices::policy::{ACC_MKNOD, ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR};
use anyhow::Result;
use oci_spec::runtime::LinuxDeviceCgroup;

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg and src_reg, 4 bits each, in the bitfield order of the target.
    regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes: class | size/op | source.
const LDX_MEM_W: u8 = 0x01 | 0x60; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x04 | 0x50;
const ALU32_RSH_K: u8 = 0x04 | 0x70;
const ALU32_MOV_K: u8 = 0x04 | 0xb0;
const ALU32_MOV_X: u8 = 0x04 | 0xb0 | 0x08;
const JMP_CLASS: u8 = 0x05;
const JMP_JEQ_K: u8 = 0x05 | 0x10;
const JMP_JNE_K: u8 = 0x05 | 0x50;
const JMP_JNE_X: u8 = 0x05 | 0x50 | 0x08;
const JMP_EXIT: u8 = 0x05 | 0x90;

// Registers: R1 holds the context on entry and is reused as scratch once it has been read.
const R0: u8 = 0;
const R1: u8 = 1;
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        #[cfg(target_endian = "little")]
        let regs = (src << 4) | (dst & 0xf);
        #[cfg(target_endian = "big")]
        let regs = (dst << 4) | (src & 0xf);
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    #[cfg(test)]
    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        }
    }

    #[cfg(test)]
    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        }
    }
}

/// The device filter program for `rules` (OCI order: later rules override earlier). Returns an
/// error naming the offending rule for an unknown access mode, type `p` or a wildcard hole punch.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    let p = Policy::from_rules(rules)?;
    let verdict = |allow: bool| {
        [
            Insn::new(ALU32_MOV_K, R0, 0, 0, allow as i32),
            Insn::new(JMP_EXIT, 0, 0, 0, 0),
        ]
    };
    if p.exceptions.is_empty() {
        return Ok(verdict(p.default_allow).to_vec());
    }
    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
    let mut insns = vec![
        Insn::new(LDX_MEM_W, R_TYPE, R1, 0, 0),
        Insn::new(ALU32_AND_K, R_TYPE, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, R_ACCESS, R1, 0, 0),
        Insn::new(ALU32_RSH_K, R_ACCESS, 0, 0, 16),
        Insn::new(LDX_MEM_W, R_MAJOR, R1, 4, 0),
        Insn::new(LDX_MEM_W, R_MINOR, R1, 8, 0),
    ];
    for (key, access) in &p.exceptions {
        // Each test jumps to the next block when the request is not covered, fixed up below.
        let mut block = vec![Insn::new(JMP_JNE_K, R_TYPE, 0, 0, key.typ as i32)];
        if *access != ACC_ALL {
            block.push(Insn::new(ALU32_MOV_X, R1, R_ACCESS, 0, 0));
            block.push(Insn::new(ALU32_AND_K, R1, 0, 0, *access as i32));
            block.push(if p.default_allow {
                // Deny when the request shares any access with the exception.
                Insn::new(JMP_JEQ_K, R1, 0, 0, 0)
            } else {
                // Allow only when the exception holds all the requested access.
                Insn::new(JMP_JNE_X, R1, R_ACCESS, 0, 0)
            });
        }
        // The context's numbers are zero-extended u32 and the immediate is sign-extended: a
        // number above i32::MAX matches nothing, as no device has one (majors have 12 bits,
        // minors 20).
        if let Num::Is(n) = key.major {
            block.push(Insn::new(JMP_JNE_K, R_MAJOR, 0, 0, n as i32));
        }
        if let Num::Is(n) = key.minor {
            block.push(Insn::new(JMP_JNE_K, R_MINOR, 0, 0, n as i32));
        }
        let tests = block.len();
        block.extend(verdict(!p.default_allow));
        let len = block.len();
        for (j, insn) in block.iter_mut().enumerate().take(tests) {
            if insn.code & 0x07 == JMP_CLASS {
                insn.off = (len - j - 1) as i16;
            }
        }
        insns.extend(block);
    }
    insns.extend(verdict(p.default_allow));
    Ok(insns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `prog` on one request: the subset of eBPF that `program` emits, with the checks the
    /// kernel's verifier would make (forward jumps in range, no unread registers, exit with R0).
    fn run(prog: &[Insn], typ: u32, major: u32, minor: u32, access: u32) -> bool {
        let ctx = [(access << 16) | typ, major, minor];
        let mut reg = [0u64; 11];
        let mut init = [false; 11];
        init[1] = true; // the context pointer
        let mut pc = 0usize;
        let read = |init: &[bool; 11], r: u8| {
            assert!(init[r as usize], "R{r} read before written");
        };
        loop {
            let i = prog
                .get(pc)
                .unwrap_or_else(|| panic!("fell off the end at {pc}"));
            let (d, s) = (i.dst() as usize, i.src() as usize);
            if i.code & 0x07 != JMP_CLASS && i.code != LDX_MEM_W {
                // The verifier refuses an offset on ALU instructions ("uses reserved fields").
                assert_eq!(i.off, 0, "offset on ALU instruction {pc}");
            }
            if i.code & 0x08 == 0 && i.code != LDX_MEM_W {
                assert_eq!(s, 0, "source register on immediate instruction {pc}");
            }
            pc += 1;
            let jump = |cond: bool, pc: &mut usize| {
                assert!(i.off >= 0, "backward jump");
                if cond {
                    *pc += i.off as usize;
                }
                assert!(*pc < prog.len(), "jump out of the program");
            };
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(s, 1, "load from something else than the context");
                    assert!(i.off >= 0 && i.off % 4 == 0 && i.off < 12, "bad ctx offset");
                    reg[d] = ctx[i.off as usize / 4] as u64;
                    init[d] = true;
                }
                ALU32_AND_K => {
                    read(&init, d as u8);
                    reg[d] = (reg[d] as u32 & i.imm as u32) as u64;
                }
                ALU32_RSH_K => {
                    read(&init, d as u8);
                    reg[d] = ((reg[d] as u32) >> i.imm) as u64;
                }
                ALU32_MOV_K => {
                    reg[d] = i.imm as u32 as u64;
                    init[d] = true;
                }
                ALU32_MOV_X => {
                    read(&init, s as u8);
                    reg[d] = reg[s] as u32 as u64;
                    init[d] = true;
                }
                JMP_JNE_K | JMP_JEQ_K => {
                    read(&init, d as u8);
                    let eq = reg[d] == i.imm as i64 as u64;
                    jump(eq == (i.code == JMP_JEQ_K), &mut pc);
                }
                JMP_JNE_X => {
                    read(&init, d as u8);
                    read(&init, s as u8);
                    jump(reg[d] != reg[s], &mut pc);
                }
                JMP_EXIT => {
                    read(&init, 0);
                    return match reg[0] {
                        0 => false,
                        1 => true,
                        v => panic!("R0 = {v}"),
                    };
                }
                c => panic!("unexpected opcode {c:#x} at {}", pc - 1),
            }
        }
    }

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    const R: u32 = ACC_READ;
    const W: u32 = ACC_WRITE;
    const M: u32 = ACC_MKNOD;
    const RW: u32 = ACC_READ | ACC_WRITE;
    const C: u32 = DEV_CHAR;
    const B: u32 = DEV_BLOCK;

    /// (rules, [(type, major, minor, access, allowed)])
    fn check(json: &str, cases: &[(u32, u32, u32, u32, bool)]) {
        let prog = program(&rules(json)).unwrap();
        for &(t, ma, mi, acc, want) in cases {
            assert_eq!(
                run(&prog, t, ma, mi, acc),
                want,
                "{json}: type {t} {ma}:{mi} access {acc}"
            );
        }
    }

    #[test]
    fn empty_list_and_deny_all_deny_everything() {
        for json in ["[]", r#"[{"allow":false,"access":"rwm"}]"#] {
            let prog = program(&rules(json)).unwrap();
            assert_eq!(prog.len(), 2, "{json}");
            check(json, &[(C, 1, 3, RW, false), (B, 8, 0, M, false)]);
        }
    }

    #[test]
    fn allow_all() {
        let json = r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"a","access":"rwm"}]"#;
        assert_eq!(program(&rules(json)).unwrap().len(), 2);
        check(json, &[(C, 1, 3, RW, true), (B, 8, 0, M, true)]);
        // "a" resets whatever the major, minor and access say, as v1 and runc do.
        check(
            r#"[{"allow":true,"type":"a","major":1,"access":"r"}]"#,
            &[(B, 8, 0, W, true)],
        );
    }

    #[test]
    fn exact_rule_covers_only_its_access() {
        let json = r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]"#;
        // prologue 6 + (type, 3 access, major, minor, mov, exit) + default 2
        assert_eq!(program(&rules(json)).unwrap().len(), 6 + 8 + 2);
        check(
            json,
            &[
                (C, 1, 3, R, true),
                (C, 1, 3, W, true),
                (C, 1, 3, RW, true),
                (C, 1, 3, M, false),
                (C, 1, 4, R, false),
                (C, 2, 3, R, false),
                (B, 1, 3, R, false),
            ],
        );
    }

    #[test]
    fn rwm_skips_the_access_test() {
        let json = r#"[{"allow":true,"type":"b","major":8,"minor":0,"access":"rwm"}]"#;
        let prog = program(&rules(json)).unwrap();
        assert_eq!(prog.len(), 6 + 5 + 2);
        assert_eq!(prog[6].code, JMP_JNE_K);
        assert_eq!((prog[6].dst(), prog[6].imm, prog[6].off), (R_TYPE, 1, 4));
        check(json, &[(B, 8, 0, RW | M, true), (C, 8, 0, R, false)]);
    }

    #[test]
    fn wildcards() {
        let json = r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","access":"m"},
            {"allow":true,"type":"c","major":136,"access":"rwm"},
            {"allow":true,"type":"b","major":-1,"minor":7,"access":"r"}]"#;
        check(
            json,
            &[
                (C, 99, 99, M, true),
                (C, 99, 99, R, false),
                (B, 99, 99, M, false),
                (C, 136, 0, RW, true),
                (C, 136, 12345, RW, true),
                (C, 137, 0, RW, false),
                (B, 5, 7, R, true),
                (B, 5, 7, W, false),
                (B, 5, 8, R, false),
            ],
        );
    }

    #[test]
    fn last_rule_wins() {
        let base = r#"{"allow":false,"access":"rwm"}"#;
        let allow = r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}"#;
        let deny = r#"{"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}"#;
        check(&format!("[{base},{allow},{deny}]"), &[(C, 1, 3, R, false)]);
        check(&format!("[{base},{deny},{allow}]"), &[(C, 1, 3, R, true)]);
        // A later deny-all drops earlier allows; a later allow-all drops earlier denies.
        check(&format!("[{allow},{base}]"), &[(C, 1, 3, R, false)]);
        check(
            &format!(r#"[{deny},{{"allow":true,"access":"rwm"}}]"#),
            &[(C, 1, 3, R, true)],
        );
        // Taking away part of the access.
        check(
            &format!(
                r#"[{base},{allow},{{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}}]"#
            ),
            &[(C, 1, 3, R, true), (C, 1, 3, RW, false), (C, 1, 3, M, true)],
        );
    }

    #[test]
    fn access_of_one_device_merges() {
        check(
            r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"r"},{"allow":true,"type":"c","major":1,"minor":3,"access":"w"}]"#,
            &[(C, 1, 3, RW, true), (C, 1, 3, M, false)],
        );
    }

    #[test]
    fn block_is_not_char_and_u_is_char() {
        let json = r#"[{"allow":true,"type":"b","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"u","major":4,"minor":1,"access":"rwm"}]"#;
        check(
            json,
            &[
                (B, 1, 3, R, true),
                (C, 1, 3, R, false),
                (C, 4, 1, RW, true),
                (B, 4, 1, RW, false),
            ],
        );
    }

    #[test]
    fn deny_list_denies_any_overlap() {
        let json = r#"[{"allow":true,"type":"a","access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"},{"allow":false,"type":"b","major":8,"access":"rwm"}]"#;
        check(
            json,
            &[
                (C, 1, 3, R, true),
                (C, 1, 3, W, false),
                (C, 1, 3, RW, false),
                (C, 1, 3, M, true),
                (C, 1, 5, W, true),
                (B, 8, 16, R, false),
                (B, 9, 16, R, true),
            ],
        );
    }

    #[test]
    fn default_allowed_devices_after_config() {
        // A typical config followed by runc's default allowed list.
        let json = r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"},
            {"allow":true,"type":"c","access":"m"},{"allow":true,"type":"b","access":"m"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
            {"allow":true,"type":"c","major":136,"access":"rwm"},
            {"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"}]"#;
        check(
            json,
            &[
                (C, 10, 229, RW, true),
                (C, 1, 3, RW, true),
                (C, 1, 5, R, true),
                (C, 1, 8, R, false),
                (B, 8, 0, M, true),
                (B, 8, 0, R, false),
                (C, 136, 3, RW, true),
                (C, 5, 2, RW, true),
                (C, 5, 1, RW, false),
            ],
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let err = |json: &str| program(&rules(json)).unwrap_err().to_string();
        assert_eq!(
            err(r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwx"}]"#),
            "linux.resources.devices[0]: access \"rwx\": unknown mode 'x' (want a subset of \"rwm\")"
        );
        assert!(err(r#"[{"allow":true,"type":"c","access":""}]"#).contains("must not be empty"));
        assert!(err(r#"[{"allow":true,"type":"p","access":"rwm"}]"#).contains("FIFO"));
        assert!(
            err(r#"[{"allow":true,"type":"c","major":4294967296,"access":"r"}]"#)
                .contains("major 4294967296 is out of range")
        );
        assert_eq!(
            err(r#"[{"allow":true,"type":"c","access":"m"},{"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]"#),
            "linux.resources.devices[1]: deny \"c 1:3 rwm\" cannot punch a hole in the earlier wildcard rule allow \"c *:* m\""
        );
        // No overlap in access: fine.
        program(&rules(
            r#"[{"allow":true,"type":"c","access":"m"},{"allow":false,"type":"c","major":1,"minor":3,"access":"rw"}]"#,
        ))
        .unwrap();
    }

    #[test]
    fn missing_access_means_rwm() {
        check(
            r#"[{"allow":true,"type":"c","major":1,"minor":3}]"#,
            &[(C, 1, 3, RW, true), (C, 1, 3, M, true)],
        );
    }
}
