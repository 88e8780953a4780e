//! Request timestamps refused for being outside the window: by how much, and whether the offset
//! is a time-zone mistake.

use chrono::{DateTime, Utc};

/// How close to a whole number of hours an offset must be to be read as a time-zone mistake.
const ZONE_SLACK_SECS: i64 = 60;

/// Findings for a timestamp outside the window. `timestamp` is the request's time as the platform
/// reads it (`yyyy-MM-dd HH:mm:ss` as Beijing time, or epoch milliseconds), `now` the server's
/// clock, `window_secs` the allowed skew either way.
pub fn diagnose_skew(
    timestamp: DateTime<Utc>,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Vec<String> {
    let offset = (timestamp - now).num_seconds();
    let mut findings = vec![format!(
        "The request timestamp is {} {} the server's clock (the window is ±{}).",
        duration_text(offset.unsigned_abs()),
        if offset < 0 { "behind" } else { "ahead of" },
        duration_text(window_secs.unsigned_abs()),
    )];
    if let Some(hours) = whole_hours(offset) {
        // The client wrote its local wall-clock time, which the platform read as UTC+8: the
        // client's zone is the offset plus eight hours.
        let zone = hours + 8;
        let stamped = match zone {
            0 => "UTC".to_string(),
            z if (-12..=14).contains(&z) => format!("UTC{z:+}"),
            _ => "a time of another zone".to_string(),
        };
        // The actionable finding first: it is the one a short hint shows.
        findings.insert(0, format!(
            "The request timestamp is {} whole hour{} off: your client stamped {stamped} (or another zone); \
             the platform reads Beijing time: set TZ=Asia/Shanghai for the client process \
             (or format the timestamp in UTC+8).",
            hours.unsigned_abs(),
            if hours.abs() == 1 { "" } else { "s" },
        ));
    }
    findings
}

/// Findings for a timestamp that could not be read at all.
pub fn diagnose_unreadable(value: &str, accepts_epoch_millis: bool) -> Vec<String> {
    let forms = if accepts_epoch_millis {
        "`yyyy-MM-dd HH:mm:ss` in Beijing time, or epoch milliseconds"
    } else {
        "`yyyy-MM-dd HH:mm:ss` in Beijing time"
    };
    vec![format!(
        "The timestamp `{}` is not {forms}.",
        super::shorten(value)
    )]
}

/// The number of hours `offset_secs` is, when it is within a minute of a non-zero whole number
/// that two time zones can differ by (at most 26 hours).
pub fn whole_hours(offset_secs: i64) -> Option<i64> {
    let hours = (offset_secs as f64 / 3600.0).round() as i64;
    (hours != 0 && hours.abs() <= 26 && (offset_secs - hours * 3600).abs() <= ZONE_SLACK_SECS)
        .then_some(hours)
}

fn duration_text(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, _, _) if h >= 48 => format!("{} days {} h", h / 24, h % 24),
        (h, 0, 0) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_gmt8, parse_gmt8};

    fn now() -> DateTime<Utc> {
        parse_gmt8("2024-01-01 12:00:00").unwrap_or_default()
    }

    #[test]
    fn a_utc_client_is_told_to_set_the_zone() {
        // A client on a UTC host writes 04:00:00 when Beijing reads 12:00:00.
        let stamped = parse_gmt8("2024-01-01 04:00:30").unwrap_or_default();
        let f = diagnose_skew(stamped, now(), 900);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[1].contains("7 h 59 min behind"), "{}", f[1]);
        assert!(f[0].contains("8 whole hours off"), "{}", f[0]);
        assert!(f[0].contains("stamped UTC "), "{}", f[0]);
        assert!(f[0].contains("TZ=Asia/Shanghai"), "{}", f[0]);
    }

    #[test]
    fn other_zones_are_named() {
        // A client in UTC+9 (Tokyo) is one hour ahead.
        let t = now() + chrono::Duration::hours(1);
        let f = diagnose_skew(t, now(), 900);
        assert!(f[0].contains("1 whole hour off:"), "{f:?}");
        assert!(f[0].contains("UTC+9"), "{f:?}");
        // UTC-5 (New York) is 13 hours behind.
        let t = now() - chrono::Duration::hours(13) + chrono::Duration::seconds(20);
        let f = diagnose_skew(t, now(), 900);
        assert!(f[0].contains("UTC-5"), "{f:?}");
        assert_eq!(format_gmt8(now()), "2024-01-01 12:00:00");
    }

    #[test]
    fn a_drifting_clock_is_not_a_zone_mistake() {
        let t = now() - chrono::Duration::minutes(20);
        let f = diagnose_skew(t, now(), 900);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("20 min behind"), "{}", f[0]);
        assert!(f[0].contains("±15 min"), "{}", f[0]);
        // 1 h 5 min off is more than a minute from a whole hour.
        let t = now() + chrono::Duration::minutes(65);
        assert_eq!(diagnose_skew(t, now(), 900).len(), 1);
        assert_eq!(whole_hours(3600 + 61), None);
        assert_eq!(whole_hours(-8 * 3600 + 59), Some(-8));
        assert_eq!(whole_hours(30), None);
        let t = now() - chrono::Duration::hours(24 * 700 + 3);
        let f = diagnose_skew(t, now(), 900);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("700 days 3 h behind"), "{f:?}");
    }

    #[test]
    fn unreadable_timestamps_name_the_forms() {
        let f = diagnose_unreadable("2024-01-01T12:00:00Z", true);
        assert!(f[0].contains("`2024-01-01T12:00:00Z`"), "{f:?}");
        assert!(f[0].contains("epoch milliseconds"), "{f:?}");
        assert!(!diagnose_unreadable("x", false)[0].contains("epoch"));
    }
}
