//! linux.seccomp → a libseccomp filter: actions, architectures, rules and argument conditions.
//! Errors name the field of config.json they come from.

use crate::variants::all_variants;
use anyhow::{bail, Context, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall,
};
use std::str::FromStr;

pub(super) use crate::variants::spec_name;

/// An action and its errno. Only ERRNO and TRACE carry one (the default is EPERM); the spec
/// requires an error for errnoRet on any other action.
pub(super) fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    use LinuxSeccompAction::*;
    let ret = |what: &str| -> Result<i32> {
        match errno {
            None => Ok(libc::EPERM),
            Some(e) if e <= u16::MAX as u32 => Ok(e as i32),
            Some(e) => bail!("{what} value {e} does not fit in 16 bits"),
        }
    };
    let act = match a {
        ScmpActErrno => return Ok(ScmpAction::Errno(ret("errno")?)),
        ScmpActTrace => return Ok(ScmpAction::Trace(ret("trace message")? as u16)),
        ScmpActKill | ScmpActKillThread => ScmpAction::KillThread,
        ScmpActKillProcess => ScmpAction::KillProcess,
        ScmpActTrap => ScmpAction::Trap,
        ScmpActLog => ScmpAction::Log,
        ScmpActAllow => ScmpAction::Allow,
        ScmpActNotify => ScmpAction::Notify,
    };
    if let Some(e) = errno {
        bail!(
            "an errno ({e}) is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {}",
            spec_name(&a)
        );
    }
    Ok(act)
}

fn arch(a: Arch) -> Result<ScmpArch> {
    let name = spec_name(&a);
    ScmpArch::from_str(&name).with_context(|| format!("{name:?} is unknown to libseccomp"))
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
        // value is the mask, valueTwo the datum the masked argument must equal.
        ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

/// Whether the profile uses SCMP_ACT_NOTIFY anywhere.
pub(super) fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .iter()
            .flatten()
            .any(|sc| sc.action() == LinuxSeccompAction::ScmpActNotify)
}

/// The syscalls the runtime makes between loading the filter and handing its notify fd to the
/// listener: notifying them would block the runtime on an agent that has no fd yet.
const NEEDED_BEFORE_HANDOFF: &[&str] = &["sendmsg"];

pub(super) fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let default = action(s.default_action(), s.default_errno_ret())
        .context("linux.seccomp.defaultAction/defaultErrnoRet")?;
    if default == ScmpAction::Notify {
        bail!(
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (the \
             runtime's own syscalls before exec would wait on the agent)"
        );
    }
    let mut ctx = ScmpFilterContext::new(default).context("create a seccomp filter")?;
    // no_new_privs is ours to set (process.noNewPrivileges), not libseccomp's.
    ctx.set_ctl_nnp(false)
        .context("seccomp: clear the NNP attribute")?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let name = spec_name(a);
        let a = arch(*a).with_context(|| format!("linux.seccomp.architectures[{i}]"))?;
        ctx.add_arch(a).with_context(|| {
            format!("linux.seccomp.architectures[{i}]: add architecture {name}")
        })?;
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        add_rules(&mut ctx, sc, default).with_context(|| format!("linux.seccomp.syscalls[{i}]"))?;
    }
    Ok(ctx)
}

fn add_rules(ctx: &mut ScmpFilterContext, sc: &LinuxSyscall, default: ScmpAction) -> Result<()> {
    if sc.names().is_empty() {
        bail!("names: must list at least one syscall");
    }
    let act = action(sc.action(), sc.errno_ret()).context("action/errnoRet")?;
    if act == ScmpAction::Notify {
        if let Some(n) = sc
            .names()
            .iter()
            .find(|n| NEEDED_BEFORE_HANDOFF.contains(&n.as_str()))
        {
            bail!(
                "names: SCMP_ACT_NOTIFY cannot be used for {n:?}: the runtime needs it to hand \
                 the notify fd to the listener"
            );
        }
    }
    let mut conds = Vec::new();
    for (j, a) in sc.args().iter().flatten().enumerate() {
        if a.index() > 5 {
            bail!("args[{j}].index: {} is out of range 0..=5", a.index());
        }
        let datum = match a.op() {
            LinuxSeccompOperator::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
            _ => a.value(),
        };
        conds.push(ScmpArgCompare::new(
            a.index() as u32,
            operator(a.op(), a.value()),
            datum,
        ));
    }
    if act == default {
        return Ok(()); // libseccomp refuses rules that repeat the default, runc skips them
    }
    let mut indexes: Vec<usize> = sc.args().iter().flatten().map(|a| a.index()).collect();
    indexes.sort();
    // libseccomp ANDs conditions on distinct arguments only; like runc, conditions that repeat
    // an argument become one rule each.
    let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
    for name in sc.names() {
        // Names this libseccomp does not know are skipped, as runc does.
        let Ok(sys) = ScmpSyscall::from_name(name) else {
            crate::logging::debug(&format!("seccomp: unknown syscall {name:?} skipped"));
            continue;
        };
        let r = if conds.is_empty() {
            ctx.add_rule(act, sys).map(|_| ())
        } else if repeated {
            conds
                .iter()
                .try_for_each(|c| ctx.add_rule_conditional(act, sys, &[*c]).map(|_| ()))
        } else {
            ctx.add_rule_conditional(act, sys, &conds).map(|_| ())
        };
        r.with_context(|| format!("names: add the rule for {name:?}"))?;
    }
    Ok(())
}

/// The actions rt accepts: every one oci-spec knows that [`action`] maps (all of them today).
pub(super) fn known_actions() -> Vec<LinuxSeccompAction> {
    all_variants!(LinuxSeccompAction: ScmpActKill, ScmpActKillProcess, ScmpActKillThread,
        ScmpActTrap, ScmpActErrno, ScmpActTrace, ScmpActAllow, ScmpActLog, ScmpActNotify)
    .into_iter()
    .filter(|&a| action(a, None).is_ok())
    .collect()
}

/// The argument comparisons rt accepts: [`operator`] maps every one.
pub(super) fn known_operators() -> Vec<LinuxSeccompOperator> {
    all_variants!(LinuxSeccompOperator: ScmpCmpNe, ScmpCmpLt, ScmpCmpLe, ScmpCmpEq, ScmpCmpGe,
        ScmpCmpGt, ScmpCmpMaskedEq)
    .to_vec()
}

/// The architectures rt accepts: those the libseccomp it runs with adds to a filter, as [`build`]
/// does (the C library can be older than the binding's table: LOONGARCH64 needs 2.6).
/// SCMP_ARCH_NATIVE is left out: libseccomp and oci-spec have it, the runtime spec does not.
pub(super) fn known_archs() -> Vec<Arch> {
    all_variants!(Arch: ScmpArchX86, ScmpArchX86_64, ScmpArchX32, ScmpArchArm, ScmpArchAarch64,
        ScmpArchLoongarch64, ScmpArchM68k, ScmpArchMips, ScmpArchMips64, ScmpArchMips64n32,
        ScmpArchMipsel, ScmpArchMipsel64, ScmpArchMipsel64n32, ScmpArchPpc, ScmpArchPpc64,
        ScmpArchPpc64le, ScmpArchS390, ScmpArchS390x, ScmpArchSh, ScmpArchSheb, ScmpArchParisc,
        ScmpArchParisc64, ScmpArchRiscv64, ScmpArchNative)
    .into_iter()
    .filter(|&a| a != Arch::ScmpArchNative && arch_usable(a))
    .collect()
}

fn arch_usable(a: Arch) -> bool {
    let Ok(a) = arch(a) else { return false };
    ScmpFilterContext::new(ScmpAction::Allow).is_ok_and(|mut ctx| ctx.add_arch(a).is_ok())
}
