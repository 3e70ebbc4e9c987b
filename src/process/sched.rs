//! process.scheduler (sched_setattr), process.ioPriority (ioprio_set) and linux.personality.

use crate::errno::SysContext;
use anyhow::{bail, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

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
    // Safety: sched_setattr on ourselves with a sched_attr of the size it states.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .sys(|| format!("set process.scheduler {:?}", s.policy()));
    }
    Ok(())
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
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let value = (class << 13) | p.priority() as i32;
    // Safety: ioprio_set on ourselves.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).sys(|| "set process.ioPriority");
    }
    Ok(())
}

pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        bail!("linux.personality.flags: not implemented by rt yet");
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // Safety: personality(2) with a plain value.
    if unsafe { libc::personality(persona) } == -1 {
        return Err(std::io::Error::last_os_error()).sys(|| "set linux.personality");
    }
    Ok(())
}
