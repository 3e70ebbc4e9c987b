//! RFC 3339 timestamps (UTC) for state files and log lines, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now as RFC 3339 with nanoseconds, the way Go's `time.RFC3339Nano` prints UTC.
pub fn now_rfc3339_nanos() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, d.subsec_nanos(), true)
}

/// Now as RFC 3339 with whole seconds (logrus' default time format).
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, 0, false)
}

pub fn format_rfc3339(secs: i64, nanos: u32, with_nanos: bool) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
    if with_nanos && nanos != 0 {
        // Go trims trailing zeros of the fraction.
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0, 0, true), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(951_782_400, 0, false),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339(1_795_398_895, 120_000_000, true),
            "2026-11-23T01:54:55.12Z"
        );
        assert_eq!(
            format_rfc3339(1_795_398_895, 5, true),
            "2026-11-23T01:54:55.000000005Z"
        );
    }
}
