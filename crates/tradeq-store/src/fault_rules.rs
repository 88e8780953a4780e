//! The rows of the sandbox's fault rules. The store keeps a rule as an opaque JSON document and
//! owns only its counters, so that the hit limit holds across every process sharing a database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A rule to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFaultRule {
    /// Its id, unique.
    pub id: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// At most this many applications (`None`: unlimited).
    pub times: Option<u64>,
    /// The rule itself, as JSON.
    pub doc: String,
}

/// A stored rule and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRuleRow {
    /// Its id.
    pub id: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// At most this many applications (`None`: unlimited).
    pub times: Option<u64>,
    /// Requests it matched so far.
    pub matched: u64,
    /// Requests it was applied to so far.
    pub hits: u64,
    /// The rule itself, as JSON.
    pub doc: String,
}

/// `times` as a column value: counts beyond `i64::MAX` are as good as unlimited.
pub(crate) fn times_column(times: Option<u64>) -> Option<i64> {
    times.map(|t| i64::try_from(t).unwrap_or(i64::MAX))
}

/// A counter column read back (never negative; clamp rather than fail on a hand-edited row).
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
