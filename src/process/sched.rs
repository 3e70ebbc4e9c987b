//! process.scheduler (sched_setattr), process.ioPriority (ioprio_set) and linux.personality.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

use crate::sys::SchedAttr;

pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        use LinuxSchedulerFlag::*;
        flags |= match f {
            SchedResetOnFork => 0x01,
            SchedFlagReclaim => 0x02,
            SchedFlagDLOverrun => 0x04,
            SchedFlagKeepPolicy => 0x08,
            SchedFlagKeepParams => 0x10,
            SchedFlagUtilClampMin => 0x20,
            SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    crate::sys::sched_setattr_self(&attr).sys(|| format!("set process.scheduler {:?}", s.policy()))
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        bail!(
            "process.ioPriority.priority {}: must be 0 to 7",
            p.priority()
        );
    }
    let value = (class << 13) | p.priority() as i32;
    crate::sys::ioprio_set_self(value).sys(|| "set process.ioPriority")
}

pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        bail!("linux.personality.flags: not implemented by rt yet");
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    nix::sys::personality::set(nix::sys::personality::Persona::from_bits_retain(persona))
        .map(drop)
        .sys(|| "set linux.personality")
}

/// A CPU list as the kernel writes them ("0-3,7"), as used by process.execCPUAffinity.
pub fn parse_cpu_list(list: &str) -> Result<nix::sched::CpuSet> {
    let mut set = nix::sched::CpuSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let num = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("CPU list {list:?}: {s:?} is not a CPU number"))
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        if lo > hi {
            bail!("CPU list {list:?}: range {part:?} is backwards");
        }
        for cpu in lo..=hi {
            set.set(cpu)
                .map_err(|_| anyhow::anyhow!("CPU list {list:?}: CPU {cpu} is out of range"))?;
        }
    }
    Ok(set)
}

/// Pin `pid` (0: ourselves) to the CPUs of `list`; `field` names the config field.
pub fn set_affinity(pid: i32, list: &str, field: &str) -> Result<()> {
    let set = parse_cpu_list(list).map_err(|e| e.context(field.to_string()))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(pid), &set)
        .sys(|| format!("{field} {list:?}: sched_setaffinity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_the_kernel_prints_them() {
        let s = parse_cpu_list("0-2,5").unwrap();
        let on: Vec<usize> = (0..8).filter(|&c| s.is_set(c).unwrap()).collect();
        assert_eq!(on, [0, 1, 2, 5]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("0-99999").is_err());
    }
}
