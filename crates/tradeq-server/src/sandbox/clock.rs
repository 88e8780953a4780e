//! The business clock, like Stripe's test clocks: real time, real time shifted by an offset, or
//! a frozen instant. It drives what business data does with time (token and session expiry, the
//! 30-day short trade number, bill disbursement, lifecycles); request timestamps keep real time
//! unless `request_timestamps_follow_clock` is set.
//!
//! The setting is one row of the store's `meta` table, so every node on a database shares it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The `meta` key the setting is kept under.
pub const META_KEY: &str = "sandbox_clock";

/// The largest offset or advance, in seconds (100 years): beyond it dates leave the range the
/// protocols can write.
pub const MAX_SHIFT_SECS: i64 = 100 * 366 * 86_400;

/// How the business clock reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ClockSetting {
    /// Real time.
    #[default]
    Real,
    /// Real time plus `offset_secs`.
    Offset {
        /// Seconds added to real time (negative: the past).
        offset_secs: i64,
    },
    /// Always `at`.
    Frozen {
        /// The instant.
        at: DateTime<Utc>,
    },
}

/// A clock change refused: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ClockError {
    /// The request field to blame.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ClockError {
    ClockError {
        field,
        reason: reason.into(),
    }
}

/// The earliest instant the clock may show (before it, v2's `yyyy-MM-dd HH:mm:ss` and every
/// stored record's dates stop making sense).
fn earliest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default()
}

/// The latest instant the clock may show.
fn latest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_214_399, 0).unwrap_or_default() // 9999-12-31 (GMT+8 safe)
}

fn check_instant(field: &'static str, at: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
    if at < earliest() || at > latest() {
        return Err(bad(
            field,
            "the clock must stay between 1970-01-01 and 9999-12-31",
        ));
    }
    Ok(at)
}

fn check_shift(field: &'static str, secs: i64) -> Result<i64, ClockError> {
    if secs.abs() > MAX_SHIFT_SECS {
        return Err(bad(
            field,
            format!("must be within ±{MAX_SHIFT_SECS} seconds (100 years)"),
        ));
    }
    Ok(secs)
}

impl ClockSetting {
    /// What the clock reads when real time is `real`.
    pub fn now(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            ClockSetting::Real => real,
            ClockSetting::Offset { offset_secs } => Duration::try_seconds(*offset_secs)
                .and_then(|d| real.checked_add_signed(d))
                .unwrap_or(real),
            ClockSetting::Frozen { at } => *at,
        }
    }

    /// The stored form (what serde reads back).
    pub fn to_json(&self) -> String {
        match self {
            ClockSetting::Real => r#"{"mode":"real"}"#.to_string(),
            ClockSetting::Offset { offset_secs } => {
                format!(r#"{{"mode":"offset","offset_secs":{offset_secs}}}"#)
            }
            ClockSetting::Frozen { at } => format!(
                r#"{{"mode":"frozen","at":"{}"}}"#,
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        }
    }

    /// The mode's name.
    pub fn mode(&self) -> &'static str {
        match self {
            ClockSetting::Real => "real",
            ClockSetting::Offset { .. } => "offset",
            ClockSetting::Frozen { .. } => "frozen",
        }
    }

    /// A checked setting (offsets and instants within range).
    pub fn checked(self) -> Result<ClockSetting, ClockError> {
        match self {
            ClockSetting::Real => Ok(self),
            ClockSetting::Offset { offset_secs } => {
                check_shift("offset_secs", offset_secs)?;
                check_instant("offset_secs", self.now(Utc::now()))?;
                Ok(self)
            }
            ClockSetting::Frozen { at } => {
                check_instant("at", at)?;
                Ok(self)
            }
        }
    }

    /// The setting moved forward by `secs` (backward when negative): a frozen instant moves;
    /// real and offset time get a (larger) offset.
    pub fn advanced(self, secs: i64) -> Result<ClockSetting, ClockError> {
        check_shift("secs", secs)?;
        let next = match self {
            ClockSetting::Frozen { at } => {
                let at = Duration::try_seconds(secs)
                    .and_then(|d| at.checked_add_signed(d))
                    .ok_or_else(|| bad("secs", "moves the clock out of range"))?;
                ClockSetting::Frozen {
                    at: check_instant("secs", at)?,
                }
            }
            ClockSetting::Real => ClockSetting::Offset { offset_secs: secs },
            ClockSetting::Offset { offset_secs } => ClockSetting::Offset {
                offset_secs: offset_secs.saturating_add(secs),
            },
        };
        next.checked().map_err(|e| bad("secs", e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn modes_read_and_advance() {
        let real = at("2026-01-01T00:00:00Z");
        assert_eq!(ClockSetting::Real.now(real), real);
        let off = ClockSetting::Offset { offset_secs: 3600 };
        assert_eq!(off.now(real), at("2026-01-01T01:00:00Z"));
        let frozen = ClockSetting::Frozen {
            at: at("2030-05-01T00:00:00Z"),
        };
        assert_eq!(frozen.now(real), at("2030-05-01T00:00:00Z"));
        assert_eq!(
            frozen.advanced(86_400).unwrap(),
            ClockSetting::Frozen {
                at: at("2030-05-02T00:00:00Z")
            }
        );
        assert_eq!(
            ClockSetting::Real.advanced(60).unwrap(),
            ClockSetting::Offset { offset_secs: 60 }
        );
        assert_eq!(
            off.advanced(-3600).unwrap(),
            ClockSetting::Offset { offset_secs: 0 }
        );
    }

    #[test]
    fn stored_form_reads_back() {
        for s in [
            ClockSetting::Real,
            ClockSetting::Offset { offset_secs: -5 },
            ClockSetting::Frozen {
                at: at("2030-05-01T00:00:00.125Z"),
            },
        ] {
            assert_eq!(
                serde_json::from_str::<ClockSetting>(&s.to_json()).unwrap(),
                s
            );
        }
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(
            ClockSetting::Real.advanced(i64::MAX).unwrap_err().field,
            "secs"
        );
        let early = ClockSetting::Frozen {
            at: at("1970-01-01T00:00:10Z"),
        };
        assert_eq!(early.advanced(-60).unwrap_err().field, "secs");
        assert_eq!(
            ClockSetting::Offset {
                offset_secs: MAX_SHIFT_SECS + 1
            }
            .checked()
            .unwrap_err()
            .field,
            "offset_secs"
        );
    }
}
