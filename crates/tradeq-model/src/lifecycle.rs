//! Record lifecycles: a `timeline` of steps a record carries, each setting some of its fields
//! once a trigger is due (a virtual-time delay since the record was written, or a number of
//! successful queries of it), and the progress the store keeps for it.
//!
//! Everything here is pure: the store decides *when* (inside the transaction of a query) and
//! this module decides *what* — which steps are due, what the record becomes, and whether that
//! still satisfies every invariant of its kind.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::record::{Record, RecordKind};
use crate::time::Timestamp;
use crate::validate::ValidationError;

/// The most steps one timeline may hold.
pub const MAX_STEPS: usize = 32;

/// The longest delay a step may wait: ten years, in seconds.
pub const MAX_AFTER_SECS: u64 = 10 * 366 * 24 * 3600;

/// A string value of a step's `set` that stands for the time the step applies, in platform
/// time (`send_pay_date`, `gmt_payment`, a bill's `disbursed_at`): the moment is not known when
/// the timeline is written.
pub const NOW: &str = "$now";

/// The most queries a step may wait for.
pub const MAX_AFTER_QUERIES: u64 = 1_000_000;

/// One step of a timeline: exactly one trigger and the fields it sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Due on the record's N-th successful query since it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_queries: Option<u64>,
    /// Due this many seconds of business (virtual) time after the record was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_secs: Option<u64>,
    /// The fields the step sets, merged into the record as a JSON merge patch (RFC 7396).
    pub set: Map<String, Value>,
}

/// The steps of a record, applied in order.
pub type Timeline = Vec<Step>;

/// Fields a step may not set: they identify the record, and changing them would move it.
const FIXED_FIELDS: [&str; 6] = [
    "trade_no",
    "order_no",
    "order_id",
    "out_trade_no",
    "short_trade_no",
    "timeline",
];

/// The merchant field of each kind, which a step may not set either.
fn merchant_field(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::AlipayTrade => "seller_id",
        RecordKind::KoubeiOrder => "partner_id",
        RecordKind::OnsiteTrade | RecordKind::OmniOrder => "merchant_id",
    }
}

/// Checks a timeline's shape: bounded, one trigger per step, a non-empty `set` that leaves the
/// record's keys alone, and every `set` readable as fields of `kind` (applied cumulatively to
/// `doc`, the record's own document). Invariants that depend on the values are checked when a
/// step is applied, since a later write may change what the step lands on.
pub fn check(kind: RecordKind, doc: &Value, timeline: &[Step]) -> Result<(), ValidationError> {
    if timeline.is_empty() {
        return Err(ValidationError::new(
            "timeline",
            "is empty; leave the field out for a record without a lifecycle",
        ));
    }
    if timeline.len() > MAX_STEPS {
        return Err(ValidationError::new(
            "timeline",
            format!(
                "has {} steps; at most {MAX_STEPS} are allowed",
                timeline.len()
            ),
        ));
    }
    let mut merged = doc.clone();
    if let Value::Object(m) = &mut merged {
        m.remove("timeline");
    }
    let mut last_queries = 0u64;
    for (i, step) in timeline.iter().enumerate() {
        let at = |f: &str| format!("timeline[{i}].{f}");
        match (step.after_queries, step.after_secs) {
            (Some(_), Some(_)) => {
                return Err(ValidationError::new(
                    format!("timeline[{i}]"),
                    "has both after_queries and after_secs; a step has exactly one trigger",
                ))
            }
            (None, None) => {
                return Err(ValidationError::new(
                    format!("timeline[{i}]"),
                    "has no trigger: give after_queries (a number of queries) or after_secs \
                     (seconds of virtual time since the write)",
                ))
            }
            (Some(n), None) => {
                if !(1..=MAX_AFTER_QUERIES).contains(&n) {
                    return Err(ValidationError::new(
                        at("after_queries"),
                        format!("is {n}; it must be between 1 and {MAX_AFTER_QUERIES}"),
                    ));
                }
                if n < last_queries {
                    return Err(ValidationError::new(
                        at("after_queries"),
                        format!(
                            "is {n}, fewer than the {last_queries} of an earlier step; steps \
                             apply in order, so query counts must not decrease"
                        ),
                    ));
                }
                last_queries = n;
            }
            (None, Some(s)) => {
                if s > MAX_AFTER_SECS {
                    return Err(ValidationError::new(
                        at("after_secs"),
                        format!("is {s}; at most {MAX_AFTER_SECS} (ten years) is allowed"),
                    ));
                }
            }
        }
        if step.set.is_empty() {
            return Err(ValidationError::new(
                at("set"),
                "is empty; a step sets at least one field",
            ));
        }
        for field in FIXED_FIELDS.iter().chain([&merchant_field(kind)]) {
            if step.set.contains_key(*field) {
                return Err(ValidationError::new(
                    format!("timeline[{i}].set.{field}"),
                    "identifies the record and cannot change over its lifecycle",
                ));
            }
        }
        // Any valid platform time stands in for `$now` when checking the shape.
        merge_patch(&mut merged, &resolve_now(&step.set, "2000-01-01 00:00:00"));
        if let Err(e) = Record::parse_unchecked(kind, &merged.to_string()) {
            let field = if e.field == "(record)" {
                at("set")
            } else {
                format!("timeline[{i}].set.{}", e.field)
            };
            return Err(ValidationError::new(field, e.reason));
        }
    }
    Ok(())
}

/// `set` with every string equal to [`NOW`], at any depth, replaced by `now`.
pub fn resolve_now(set: &Map<String, Value>, now: &str) -> Value {
    fn walk(v: &Value, now: &str) -> Value {
        match v {
            Value::String(s) if s == NOW => Value::String(now.to_string()),
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, now)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), walk(v, now))).collect())
            }
            other => other.clone(),
        }
    }
    walk(&Value::Object(set.clone()), now)
}

/// Applies a JSON merge patch (RFC 7396) to `target`: objects merge key by key, `null` removes
/// a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// A step refused because the record it produced broke an invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusedStep {
    /// The step's index in the timeline.
    pub step: usize,
    /// The field to blame.
    pub field: String,
    /// What was wrong.
    pub reason: String,
    /// When it was refused (business time).
    pub at: DateTime<Utc>,
}

/// A record's progress through its timeline, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleState {
    /// How many steps were dealt with (applied or refused), from the first.
    pub applied: usize,
    /// Successful queries of the record since it was written.
    pub queries: u64,
    /// When the record was written: `after_secs` counts from here (business time).
    pub base_at: DateTime<Utc>,
    /// Steps that were not applied, and why.
    #[serde(default)]
    pub refused: Vec<RefusedStep>,
}

impl LifecycleState {
    /// A fresh lifecycle starting at `base_at`.
    pub fn new(base_at: DateTime<Utc>) -> LifecycleState {
        LifecycleState {
            applied: 0,
            queries: 0,
            base_at,
            refused: Vec::new(),
        }
    }
}

/// What [`advance`] did on one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// The record after the due steps (the same record when none applied).
    pub record: Record,
    /// Whether the record changed and must be written.
    pub changed: bool,
    /// The new progress.
    pub state: LifecycleState,
    /// Steps refused on this query.
    pub refused: Vec<RefusedStep>,
}

/// Counts one query of `record` and applies every step that is then due, in order. A step
/// whose result breaks an invariant is skipped and reported in [`Advance::refused`]; the
/// record is left as the previous step made it.
pub fn advance(record: &Record, state: &LifecycleState, now: DateTime<Utc>) -> Advance {
    let mut state = state.clone();
    state.queries = state.queries.saturating_add(1);
    let mut current = record.clone();
    let mut changed = false;
    let mut refused = Vec::new();
    let Some(timeline) = record.timeline() else {
        return Advance {
            record: current,
            changed,
            state,
            refused,
        };
    };
    while let Some(step) = timeline.get(state.applied) {
        if !is_due(step, &state, now) {
            break;
        }
        match apply_step(&current, step, now) {
            Ok(next) => {
                current = next;
                changed = true;
            }
            Err(e) => {
                let r = RefusedStep {
                    step: state.applied,
                    field: e.field,
                    reason: e.reason,
                    at: now,
                };
                state.refused.push(r.clone());
                refused.push(r);
            }
        }
        state.applied += 1;
    }
    Advance {
        record: current,
        changed,
        state,
        refused,
    }
}

/// Whether a step's trigger has fired.
pub fn is_due(step: &Step, state: &LifecycleState, now: DateTime<Utc>) -> bool {
    if let Some(n) = step.after_queries {
        return state.queries >= n;
    }
    if let Some(secs) = step.after_secs {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        return Duration::try_seconds(secs)
            .and_then(|d| state.base_at.checked_add_signed(d))
            .is_some_and(|due| now >= due);
    }
    false
}

/// The record a step makes of `record`: its `set` merged in, `gmt_modified` moved to `now`
/// (or one second past the stored value, so the version always advances) and `version` counted
/// up when the record has one, unless the step sets them itself; then every invariant checked.
pub fn apply_step(
    record: &Record,
    step: &Step,
    now: DateTime<Utc>,
) -> Result<Record, ValidationError> {
    let kind = record.kind();
    let mut doc: Value = serde_json::from_str(&record.to_json())
        .map_err(|e| ValidationError::new("(record)", e.to_string()))?;
    let now = DateTime::<Utc>::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    merge_patch(
        &mut doc,
        &resolve_now(&step.set, &Timestamp(now).to_string()),
    );
    let old = record.version_stamp();
    if let Value::Object(m) = &mut doc {
        if !step.set.contains_key("gmt_modified") {
            let next = match old.gmt_modified {
                Some(t) if t.0 >= now => t.0 + Duration::seconds(1),
                _ => now,
            };
            m.insert(
                "gmt_modified".into(),
                Value::String(Timestamp(next).to_string()),
            );
        }
        if !step.set.contains_key("version") {
            if let Some(Value::Number(v)) = m.get("version") {
                if let Some(v) = v.as_i64() {
                    m.insert("version".into(), Value::from(v.saturating_add(1)));
                }
            }
        }
    }
    let next = Record::from_json(kind, &doc.to_string())?;
    if next.version_stamp() <= old {
        return Err(ValidationError::new(
            "gmt_modified",
            format!(
                "the change would write {} over {old}; gmt_modified must move forward (or stay, with a higher version)",
                next.version_stamp()
            ),
        ));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trade(extra: Value) -> Record {
        let mut doc = json!({
            "trade_no": "2024010122001446880500000099", "out_trade_no": "T-99",
            "seller_id": "2088102146225135", "buyer_logon_id": "159****5620",
            "trade_status": "WAIT_BUYER_PAY", "total_amount": 8888,
            "gmt_modified": "2024-01-01 10:00:00"
        });
        merge_patch(&mut doc, &extra);
        match Record::from_json(RecordKind::AlipayTrade, &doc.to_string()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        Timestamp::parse(s).map(|t| t.0).unwrap_or_default()
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1]});
        merge_patch(&mut t, &json!({"a": {"b": 1}}));
        assert_eq!(t, json!({"a": {"b": 1}}));
    }

    #[test]
    fn third_query_pays_the_trade() {
        let r = trade(json!({"timeline": [{"after_queries": 3, "set": {
            "trade_status": "TRADE_SUCCESS", "send_pay_date": "$now"}}]}));
        let mut state = LifecycleState::new(at("2024-01-01 10:00:00"));
        let now = at("2024-01-01 10:06:00");
        let mut current = r;
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let a = advance(&current, &state, now);
            state = a.state;
            current = a.record;
            if let Record::AlipayTrade(t) = &current {
                statuses.push(format!("{:?}", t.trade_status));
            }
        }
        assert_eq!(
            statuses,
            [
                "WaitBuyerPay",
                "WaitBuyerPay",
                "TradeSuccess",
                "TradeSuccess"
            ]
        );
        assert_eq!(state.applied, 1);
        assert_eq!(state.queries, 4);
        assert_eq!(current.version_stamp().gmt_modified.map(|t| t.0), Some(now));
    }

    #[test]
    fn time_step_waits_for_virtual_time() {
        let r = trade(
            json!({"timeline": [{"after_secs": 900, "set": {"trade_status": "TRADE_CLOSED"}}]}),
        );
        let state = LifecycleState::new(at("2024-01-01 10:00:00"));
        let early = advance(&r, &state, at("2024-01-01 10:14:59"));
        assert!(!early.changed);
        let due = advance(&r, &early.state, at("2024-01-01 10:15:00"));
        assert!(due.changed);
        assert_eq!(due.state.applied, 1);
    }

    #[test]
    fn a_step_breaking_an_invariant_is_refused_and_skipped() {
        // An unpaid trade has no payment date.
        let r = trade(json!({"timeline": [
            {"after_queries": 1, "set": {"send_pay_date": "2024-01-01 10:05:00"}},
            {"after_queries": 1, "set": {"trade_status": "TRADE_CLOSED"}}
        ]}));
        let a = advance(
            &r,
            &LifecycleState::new(at("2024-01-01 10:00:00")),
            at("2024-01-01 10:01:00"),
        );
        assert_eq!(a.refused.len(), 1, "{:?}", a.refused);
        assert_eq!(a.refused[0].step, 0);
        assert_eq!(a.state.applied, 2);
        match &a.record {
            Record::AlipayTrade(t) => assert_eq!(format!("{:?}", t.trade_status), "TradeClosed"),
            _ => panic!("not a trade"),
        }
    }

    #[test]
    fn bad_timelines_name_the_field() {
        let doc = trade(json!({})).to_json();
        let bad = |timeline: Value| {
            let mut d: Value = serde_json::from_str(&doc).unwrap_or_default();
            d["timeline"] = timeline;
            Record::from_json(RecordKind::AlipayTrade, &d.to_string())
                .err()
                .map(|e| e.field)
        };
        assert_eq!(
            bad(json!([{"after_queries": 1, "after_secs": 2, "set": {"trade_status": "TRADE_SUCCESS"}}])).as_deref(),
            Some("timeline[0]")
        );
        assert_eq!(
            bad(json!([{"set": {"trade_status": "TRADE_SUCCESS"}}])).as_deref(),
            Some("timeline[0]")
        );
        assert_eq!(
            bad(json!([{"after_queries": 0, "set": {"trade_status": "TRADE_SUCCESS"}}])).as_deref(),
            Some("timeline[0].after_queries")
        );
        assert_eq!(
            bad(json!([{"after_queries": 1, "set": {"trade_status": "PAID"}}])).as_deref(),
            Some("timeline[0].set.trade_status")
        );
        assert_eq!(
            bad(json!([{"after_queries": 1, "set": {"trade_no": "x"}}])).as_deref(),
            Some("timeline[0].set.trade_no")
        );
        assert_eq!(
            bad(json!([{"after_queries": 1, "set": {}}])).as_deref(),
            Some("timeline[0].set")
        );
        assert_eq!(
            bad(json!([{"after_queries": 1, "when": 3, "set": {"trade_status": "TRADE_SUCCESS"}}]))
                .as_deref(),
            Some("timeline[0].when")
        );
        assert_eq!(bad(json!([])).as_deref(), Some("timeline"));
        assert_eq!(
            bad(json!([{"after_queries": 2, "set": {"trade_status": "TRADE_SUCCESS"}}])),
            None
        );
    }
}
