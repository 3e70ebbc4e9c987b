//! A process's identity from `/proc/<pid>/stat`: its state and start time, so that a pid the
//! kernel gave to another process since is never taken for the one recorded.

/// Process state letter and start time from `/proc/<pid>/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields = stat_fields(&raw)?;
    let state = stat_field::<String>(&fields, 3)?.chars().next()?;
    Some((state, stat_field(&fields, 22)?))
}

/// The fields of a `/proc/<pid>/stat` line after the command name, which may contain spaces and
/// parentheses (fields resume after the last ')').
pub fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat.rsplit_once(')')?.1.split_whitespace().collect())
}

/// Field `n` of [`stat_fields`], numbered as in proc(5) (the first after the name is 3).
pub fn stat_field<T: std::str::FromStr>(fields: &[&str], n: usize) -> Option<T> {
    fields.get(n.checked_sub(3)?)?.parse().ok()
}

/// True if `pid` is still the process that had `start_time`, and not a zombie.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((state, start)) => start == start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_start_time_matters() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
        assert!(!is_alive(0, start));
    }
}
