//! Platform time: `yyyy-MM-dd HH:mm:ss` in GMT+8, the layout of every date in the five documents.

use std::fmt;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The platforms' fixed zone, GMT+8.
pub fn gmt8() -> FixedOffset {
    const EIGHT_HOURS: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => offset,
        None => panic!("8 hours is within chrono's ±24 h range"),
    };
    EIGHT_HOURS
}

/// The layout of every platform date: `2014-11-27 15:45:57`.
pub const DATE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Parses `yyyy-MM-dd HH:mm:ss` as GMT+8. Exactly 19 characters, no zone suffix, no fraction.
pub fn parse_gmt8(s: &str) -> Option<DateTime<Utc>> {
    // Every stored record carries several of these and each answer reads them back: parsed by
    // hand, without a format-string interpreter.
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    gmt8()
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// Formats an instant as `yyyy-MM-dd HH:mm:ss` in GMT+8.
pub fn format_gmt8(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&gmt8());
    let year = local.year();
    if !(0..=9999).contains(&year) {
        // Outside four digits: chrono's own layout (sign and width as it sees fit).
        return local.format(DATE_TIME_FORMAT).to_string();
    }
    let mut out = String::with_capacity(19);
    let push2 = |out: &mut String, n: u32| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    let year = year as u32;
    push2(&mut out, year / 100);
    push2(&mut out, year % 100);
    out.push('-');
    push2(&mut out, local.month());
    out.push('-');
    push2(&mut out, local.day());
    out.push(' ');
    push2(&mut out, local.hour());
    out.push(':');
    push2(&mut out, local.minute());
    out.push(':');
    push2(&mut out, local.second());
    out
}

/// Milliseconds since the Unix epoch as an instant, if in chrono's range.
pub fn from_epoch_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms)
}

/// An instant that reads and writes itself as platform time (`2014-11-27 15:45:57`, GMT+8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parses platform time; `None` when `s` is not exactly `yyyy-MM-dd HH:mm:ss`.
    pub fn parse(s: &str) -> Option<Timestamp> {
        parse_gmt8(s).map(Timestamp)
    }

    /// The current instant, truncated to whole seconds as the platforms show it.
    pub fn now() -> Timestamp {
        let now = Utc::now();
        Timestamp(DateTime::<Utc>::from_timestamp(now.timestamp(), 0).unwrap_or(now))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_gmt8(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not a platform time: expected yyyy-MM-dd HH:mm:ss (GMT+8)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_beijing_time() {
        let t = parse_gmt8("2024-01-01 12:00:00").unwrap();
        assert_eq!(t.timestamp_millis(), 1_704_081_600_000);
        assert_eq!(format_gmt8(t), "2024-01-01 12:00:00");
    }

    #[test]
    fn rejects_other_layouts() {
        for s in [
            "2024-01-01T12:00:00",
            "2024-01-01 12:00",
            "2024-1-01 12:00:00",
            "2024-01-01 12:00:00Z",
            "2024-02-30 12:00:00",
            "２０２４-01-01 12:00",
        ] {
            assert!(parse_gmt8(s).is_none(), "{s}");
        }
    }

    #[test]
    fn hand_written_layout_agrees_with_chrono_formatting() {
        // Instants spread over 1970–2099, a few hours apart, every field value reached.
        let mut secs: i64 = 0;
        while secs < 4_102_444_800 {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let expected = t
                .with_timezone(&gmt8())
                .format(DATE_TIME_FORMAT)
                .to_string();
            assert_eq!(format_gmt8(t), expected);
            assert_eq!(parse_gmt8(&expected), Some(t), "{expected}");
            secs += 3_600 * 7 + 61 * 13 + 17;
        }
        for s in [
            "2024-01-01 24:00:00",
            "2024-13-01 12:00:00",
            "2024-00-10 12:00:00",
            "2023-02-29 12:00:00",
            "2024-01-01 12:60:00",
            "2024-01-01 12:00:61",
            "+024-01-01 12:00:00",
            "2024-01-01 1a:00:00",
        ] {
            assert!(parse_gmt8(s).is_none(), "{s}");
        }
        assert!(parse_gmt8("2024-02-29 23:59:59").is_some());
    }

    #[test]
    fn timestamp_serde_round_trip() {
        let t: Timestamp = serde_json::from_str("\"2016-09-29 00:00:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2016-09-29 00:00:00\""
        );
        assert!(serde_json::from_str::<Timestamp>("\"2016-09-29\"").is_err());
    }
}
