//! The init is a copy of the runtime: until it execs, its /proc/<pid>/cmdline and environ would
//! show the runtime's command line (host paths of the bundle and state) and the environment of
//! whoever called the runtime (a manager's secrets, tokens). Both live in the process's own
//! memory, where the kernel reads them from: overwrite them.

/// `arg_start arg_end env_start env_end` of /proc/self/stat (fields 48 to 51).
fn areas(stat: &str) -> Option<[usize; 4]> {
    use crate::pidinfo::{stat_field, stat_fields};
    let f = stat_fields(stat)?;
    Some([
        stat_field(&f, 48)?,
        stat_field(&f, 49)?,
        stat_field(&f, 50)?,
        stat_field(&f, 51)?,
    ])
}

/// Replace the command line with `rt init` and clear the environment strings, in place.
pub fn scrub() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some([arg_start, arg_end, env_start, env_end]) = areas(&stat) else {
        return;
    };
    if env_end > env_start {
        // SAFETY: [env_start, env_end) is the environment block the kernel placed on our initial
        // stack (writable memory of this process, which nothing frees); the strings become
        // empty, which libc's getenv treats as absent.
        unsafe { std::ptr::write_bytes(env_start as *mut u8, 0, env_end - env_start) };
    }
    const TITLE: &[u8] = b"rt\0init\0";
    if arg_end > arg_start && arg_end - arg_start >= TITLE.len() {
        // SAFETY: as above, for the argument block; std's copy of argv points into it and
        // reads "rt", "init" and empty strings from now on.
        unsafe {
            std::ptr::write_bytes(arg_start as *mut u8, 0, arg_end - arg_start);
            std::ptr::copy_nonoverlapping(TITLE.as_ptr(), arg_start as *mut u8, TITLE.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::areas;

    #[test]
    fn reads_the_areas_past_a_hostile_command_name() {
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[0] = "S".into();
        let stat = format!("12 (a) b) c) {}", fields.join(" "));
        assert_eq!(areas(&stat), Some([48, 49, 50, 51]));
        assert_eq!(areas("12 (x) S 1 2"), None);
    }
}
