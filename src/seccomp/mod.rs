//! linux.seccomp compiled with libseccomp. Compiled before the init parks (so a bad profile fails
//! `create`), loaded as late as the capability rules allow.

use anyhow::{bail, Context, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use std::str::FromStr;

pub struct Filter {
    ctx: ScmpFilterContext,
}

fn serde_name<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    use LinuxSeccompAction::*;
    Ok(match a {
        ScmpActKill | ScmpActKillThread => ScmpAction::KillThread,
        ScmpActKillProcess => ScmpAction::KillProcess,
        ScmpActTrap => ScmpAction::Trap,
        ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32),
        ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        ScmpActLog => ScmpAction::Log,
        ScmpActAllow => ScmpAction::Allow,
        ScmpActNotify => bail!("linux.seccomp: SCMP_ACT_NOTIFY is not implemented"),
    })
}

fn operator(op: LinuxSeccompOperator, value: u64) -> ScmpCompareOp {
    use LinuxSeccompOperator::*;
    match op {
        ScmpCmpNe => ScmpCompareOp::NotEqual,
        ScmpCmpLt => ScmpCompareOp::Less,
        ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        ScmpCmpEq => ScmpCompareOp::Equal,
        ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        ScmpCmpGt => ScmpCompareOp::Greater,
        ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

impl Filter {
    pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
        let default = action(s.default_action(), s.default_errno_ret())
            .context("linux.seccomp.defaultAction")?;
        let mut ctx = ScmpFilterContext::new(default).context("create seccomp filter")?;
        // no_new_privs is ours to set (process.noNewPrivileges), not libseccomp's.
        ctx.set_ctl_nnp(false)
            .context("seccomp: clear the NNP attribute")?;
        for arch in s.architectures().iter().flatten() {
            let name = serde_name(arch);
            let a = ScmpArch::from_str(&name)
                .with_context(|| format!("linux.seccomp.architectures: unknown {name:?}"))?;
            ctx.add_arch(a)
                .with_context(|| format!("seccomp: add architecture {name}"))?;
        }
        if let Some(flags) = s.flags() {
            if let Some(f) = flags.first() {
                bail!("linux.seccomp.flags: {} is not implemented", serde_name(f));
            }
        }
        if s.listener_path().is_some() {
            bail!("linux.seccomp.listenerPath: seccomp notify listeners are not implemented");
        }
        for sc in s.syscalls().iter().flatten() {
            add_rules(&mut ctx, sc, default)?;
        }
        Ok(Filter { ctx })
    }

    pub fn load(&self) -> Result<()> {
        self.ctx.load().context("load seccomp filter")
    }
}

fn add_rules(ctx: &mut ScmpFilterContext, sc: &LinuxSyscall, default: ScmpAction) -> Result<()> {
    let act = action(sc.action(), sc.errno_ret()).context("linux.seccomp.syscalls[].action")?;
    if act == default {
        return Ok(()); // libseccomp refuses rules that repeat the default
    }
    let conds: Vec<ScmpArgCompare> = sc
        .args()
        .iter()
        .flatten()
        .map(|a| {
            ScmpArgCompare::new(
                a.index() as u32,
                operator(a.op(), a.value()),
                match a.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
                    _ => a.value(),
                },
            )
        })
        .collect();
    let mut indexes: Vec<u32> = sc
        .args()
        .iter()
        .flatten()
        .map(|a| a.index() as u32)
        .collect();
    indexes.sort();
    let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
    for name in sc.names() {
        // Names this libseccomp or architecture does not know are skipped, as runc does.
        let Ok(sys) = ScmpSyscall::from_name(name) else {
            crate::logging::debug(&format!("seccomp: unknown syscall {name:?} skipped"));
            continue;
        };
        let r = if conds.is_empty() {
            ctx.add_rule(act, sys)
        } else if repeated {
            // libseccomp ANDs conditions on distinct arguments only; one rule per condition.
            conds
                .iter()
                .try_for_each(|c| ctx.add_rule_conditional(act, sys, &[*c]).map(|_| ()))
                .map(|_| ctx as &mut _)
        } else {
            ctx.add_rule_conditional(act, sys, &conds)
        };
        r.with_context(|| format!("seccomp: add rule for {name:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_a_profile_with_conditions_and_unknown_names() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mkdir","no_such_syscall_rt"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":0,"value":4,"op":"SCMP_CMP_EQ"}]},
                            {"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        Filter::compile(&s).unwrap();
    }

    #[test]
    fn notify_is_a_clear_error() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap();
        let e = format!("{:#}", Filter::compile(&s).err().unwrap());
        assert!(e.contains("NOTIFY"), "{e}");
    }
}
