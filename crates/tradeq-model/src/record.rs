//! The four record kinds behind one type, with the keys and versions the store indexes.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::validate::ValidationError;
use crate::{AlipayTrade, KoubeiOrder, OmniOrder, OnsiteTrade};

/// Which store a record belongs to. The names are those of the command line and admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// [`AlipayTrade`].
    AlipayTrade,
    /// [`KoubeiOrder`].
    KoubeiOrder,
    /// [`OnsiteTrade`].
    OnsiteTrade,
    /// [`OmniOrder`].
    OmniOrder,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::AlipayTrade,
        RecordKind::KoubeiOrder,
        RecordKind::OnsiteTrade,
        RecordKind::OmniOrder,
    ];

    /// `alipay-trade`, `koubei-order`, `onsite-trade` or `omni-order`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::AlipayTrade => "alipay-trade",
            RecordKind::KoubeiOrder => "koubei-order",
            RecordKind::OnsiteTrade => "onsite-trade",
            RecordKind::OmniOrder => "omni-order",
        }
    }

    /// The top-level fields a record document of this kind must carry.
    pub fn required_fields(&self) -> &'static [&'static str] {
        match self {
            RecordKind::AlipayTrade => AlipayTrade::REQUIRED_FIELDS,
            RecordKind::KoubeiOrder => KoubeiOrder::REQUIRED_FIELDS,
            RecordKind::OnsiteTrade => OnsiteTrade::REQUIRED_FIELDS,
            RecordKind::OmniOrder => OmniOrder::REQUIRED_FIELDS,
        }
    }

    /// The name of the primary key field.
    pub fn primary_key_name(&self) -> &'static str {
        match self {
            RecordKind::AlipayTrade | RecordKind::OnsiteTrade => "trade_no",
            RecordKind::KoubeiOrder => "order_no",
            RecordKind::OmniOrder => "order_id",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown record kind `{0}`: expected alipay-trade, koubei-order, onsite-trade or omni-order"
)]
pub struct UnknownKind(pub String);

impl FromStr for RecordKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// A key a record can be looked up by. Keys unique only per merchant are always looked up with
/// the merchant; so are the global ones, so that not-yours and not-found are one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// The primary key: `trade_no`, `order_no` or `order_id`.
    Primary,
    /// `out_trade_no` of an Alipay or onsite trade (unique per merchant).
    OutTradeNo,
    /// `short_trade_no` of an onsite trade.
    ShortTradeNo,
}

/// What orders two writes of the same record: `gmt_modified`, then `version`. Absent values sort
/// first, so a record that carries none is overwritten by any that does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionStamp {
    /// The record's `gmt_modified`.
    pub gmt_modified: Option<Timestamp>,
    /// The record's `version` (0 when absent).
    pub version: i64,
}

impl PartialOrd for VersionStamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for VersionStamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gmt_modified
            .cmp(&other.gmt_modified)
            .then(self.version.cmp(&other.version))
    }
}

impl fmt::Display for VersionStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.gmt_modified {
            Some(t) => write!(f, "gmt_modified {t}, version {}", self.version),
            None => write!(f, "no gmt_modified, version {}", self.version),
        }
    }
}

/// A record of any kind.
// Records are built once and moved into a batch or a view; boxing the large Alipay trade would
// cost an allocation per record for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An Alipay trade.
    AlipayTrade(AlipayTrade),
    /// A Koubei item order.
    KoubeiOrder(KoubeiOrder),
    /// A Miaojie onsite trade.
    OnsiteTrade(OnsiteTrade),
    /// An omni order.
    OmniOrder(OmniOrder),
}

impl Record {
    /// Parses one record of `kind` from its JSON document and validates it. A parse error names
    /// the field path (`fund_bill_list[0].amount`) the way a validation error does.
    pub fn from_json(kind: RecordKind, json: &str) -> Result<Record, ValidationError> {
        let record = Record::parse_unchecked(kind, json)?;
        if json.contains("\\u0000") {
            if let Some(field) = nul_field(json) {
                return Err(ValidationError::new(
                    field,
                    "contains a NUL character (\\u0000), which no platform field allows",
                ));
            }
        }
        record.validate()?;
        if let Some(timeline) = record.timeline() {
            let doc: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| ValidationError::new("(record)", strip_position(&e.to_string())))?;
            crate::lifecycle::check(kind, &doc, timeline)?;
        }
        Ok(record)
    }

    /// Parses one record of `kind` without checking its invariants: the shape and types only.
    pub fn parse_unchecked(kind: RecordKind, json: &str) -> Result<Record, ValidationError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let record = match kind {
            RecordKind::AlipayTrade => {
                serde_path_to_error::deserialize(&mut *de).map(Record::AlipayTrade)
            }
            RecordKind::KoubeiOrder => {
                serde_path_to_error::deserialize(&mut *de).map(Record::KoubeiOrder)
            }
            RecordKind::OnsiteTrade => {
                serde_path_to_error::deserialize(&mut *de).map(Record::OnsiteTrade)
            }
            RecordKind::OmniOrder => {
                serde_path_to_error::deserialize(&mut *de).map(Record::OmniOrder)
            }
        }
        .map_err(|e| {
            let path = e.path().to_string();
            // An empty key (`{"": 1}`) prints as an empty path, which would name no field.
            let top_level = path == "." || path == "?" || path.is_empty();
            let field = if top_level {
                "(record)".to_string()
            } else {
                path
            };
            let msg = strip_position(&e.into_inner().to_string());
            // serde names the first missing field only; a person fixing a file wants them all.
            if top_level && msg.starts_with("missing field `") {
                if let Some(reason) = missing_fields(kind, json) {
                    return ValidationError::new(field, reason);
                }
            }
            ValidationError::new(field, explain(&msg))
        })?;
        // Two records on one line (`{…}{…}`, as `curl -d` makes of a file) would otherwise load
        // the first and drop the second without a word.
        if de.end().is_err() {
            let column = trailing_column(json).unwrap_or(1);
            return Err(ValidationError::new(
                "(record)",
                format!(
                    "unexpected text after the record at column {column}: one JSON object per \
                     line (is a newline missing between two records?)"
                ),
            ));
        }
        Ok(record)
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::AlipayTrade(_) => RecordKind::AlipayTrade,
            Record::KoubeiOrder(_) => RecordKind::KoubeiOrder,
            Record::OnsiteTrade(_) => RecordKind::OnsiteTrade,
            Record::OmniOrder(_) => RecordKind::OmniOrder,
        }
    }

    /// Checks every invariant of the record's kind.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Record::AlipayTrade(r) => r.validate(),
            Record::KoubeiOrder(r) => r.validate(),
            Record::OnsiteTrade(r) => r.validate(),
            Record::OmniOrder(r) => r.validate(),
        }
    }

    /// The primary key.
    pub fn primary_key(&self) -> &str {
        match self {
            Record::AlipayTrade(r) => &r.trade_no,
            Record::KoubeiOrder(r) => &r.order_no,
            Record::OnsiteTrade(r) => &r.trade_no,
            Record::OmniOrder(r) => &r.order_id,
        }
    }

    /// The record's lifecycle steps, if it has any.
    pub fn timeline(&self) -> Option<&crate::lifecycle::Timeline> {
        match self {
            Record::AlipayTrade(r) => r.timeline.as_ref(),
            Record::KoubeiOrder(r) => r.timeline.as_ref(),
            Record::OnsiteTrade(r) => r.timeline.as_ref(),
            Record::OmniOrder(r) => r.timeline.as_ref(),
        }
    }

    /// Replaces the record's lifecycle steps.
    pub fn set_timeline(&mut self, timeline: Option<crate::lifecycle::Timeline>) {
        match self {
            Record::AlipayTrade(r) => r.timeline = timeline,
            Record::KoubeiOrder(r) => r.timeline = timeline,
            Record::OnsiteTrade(r) => r.timeline = timeline,
            Record::OmniOrder(r) => r.timeline = timeline,
        }
    }

    /// The owning merchant every lookup is scoped to.
    pub fn merchant(&self) -> &str {
        match self {
            Record::AlipayTrade(r) => &r.seller_id,
            Record::KoubeiOrder(r) => &r.partner_id,
            Record::OnsiteTrade(r) => &r.merchant_id,
            Record::OmniOrder(r) => &r.merchant_id,
        }
    }

    /// The `out_trade_no` of trades (unique per merchant).
    pub fn out_trade_no(&self) -> Option<&str> {
        match self {
            Record::AlipayTrade(r) => Some(&r.out_trade_no),
            Record::OnsiteTrade(r) => Some(&r.out_trade_no),
            _ => None,
        }
    }

    /// The `short_trade_no` of onsite trades.
    pub fn short_trade_no(&self) -> Option<&str> {
        match self {
            Record::OnsiteTrade(r) => r.short_trade_no.as_deref(),
            _ => None,
        }
    }

    /// What orders writes of this record.
    pub fn version_stamp(&self) -> VersionStamp {
        let (gmt_modified, version) = match self {
            Record::AlipayTrade(r) => (r.gmt_modified, r.version),
            Record::KoubeiOrder(r) => (Some(r.gmt_modified), r.version),
            Record::OnsiteTrade(r) => (r.gmt_modified, r.version),
            Record::OmniOrder(r) => (r.gmt_modified, r.version),
        };
        VersionStamp {
            gmt_modified,
            version: version.unwrap_or(0),
        }
    }

    /// The record as its JSON document (the record format of `docs/records.md`).
    pub fn to_json(&self) -> String {
        let result = match self {
            Record::AlipayTrade(r) => serde_json::to_string(r),
            Record::KoubeiOrder(r) => serde_json::to_string(r),
            Record::OnsiteTrade(r) => serde_json::to_string(r),
            Record::OmniOrder(r) => serde_json::to_string(r),
        };
        // Plain structs with string keys always serialize.
        result.unwrap_or_default()
    }
}

/// "missing fields: a, b, c": every required field the document lacks, or `None` when it is not
/// an object or lacks none.
fn missing_fields(kind: RecordKind, json: &str) -> Option<String> {
    let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    let missing: Vec<&str> = kind
        .required_fields()
        .iter()
        .copied()
        .filter(|name| !doc.contains_key(*name))
        .collect();
    match missing.len() {
        0 => None,
        1 => Some(format!("missing field: {}", missing[0])),
        _ => Some(format!("missing fields: {}", missing.join(", "))),
    }
}

/// serde_json appends " at line L column C", which means nothing to someone reading a field
/// path; the line number of a JSONL file is reported separately by the importer.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// serde's message, with what a person needs to fix the usual mistakes: amounts written as
/// decimals, and misspelt field names.
fn explain(msg: &str) -> String {
    if msg.contains("expected i64") && (msg.contains("string") || msg.contains("floating point")) {
        return format!(
            "{msg}: amounts are integers in minor units (fen, cents), so 1.00 yuan is written 100"
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let Some((unknown, expected)) = rest.split_once('`') else {
            return msg.to_string();
        };
        let closest = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|name| (edit_distance(unknown, name), name))
            .min();
        if let Some((distance, name)) = closest {
            if distance <= unknown.chars().count().div_ceil(3).max(2) {
                return format!("unknown field `{unknown}`: did you mean `{name}`?");
            }
        }
    }
    msg.to_string()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The path of the first string holding a NUL character (databases refuse them in text).
fn nul_field(json: &str) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &mut String) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut path = String::new();
    walk(&value, &mut path).then_some(path)
}

/// The 1-based column where the text after the first JSON value of `json` starts.
fn trailing_column(json: &str) -> Option<usize> {
    let mut values = serde_json::Deserializer::from_str(json).into_iter::<serde::de::IgnoredAny>();
    values.next()?.ok()?;
    let end = values.byte_offset();
    let skipped = json[end..].len() - json[end..].trim_start().len();
    Some(json[..end + skipped].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest document of each kind: exactly the fields it must carry.
    fn minimal(kind: RecordKind) -> serde_json::Value {
        match kind {
            RecordKind::AlipayTrade => serde_json::json!({
                "trade_no": "T1", "out_trade_no": "O1", "seller_id": "2088102146225135",
                "buyer_logon_id": "b", "trade_status": "WAIT_BUYER_PAY", "total_amount": 100
            }),
            RecordKind::KoubeiOrder => serde_json::json!({
                "order_no": "K1", "out_order_no": "O1", "partner_id": "2088102146225135",
                "status": "WAIT_PAY", "buyer_id": "b", "biz_product": "ONLINE_TRADE_PAY",
                "gmt_create": "2024-01-01 00:00:00", "gmt_modified": "2024-01-01 00:00:00",
                "total_amount": 100, "real_pay_amount": 100, "deliver_seller_real_amount": 100,
                "item_order_vo": []
            }),
            RecordKind::OnsiteTrade => serde_json::json!({
                "trade_no": "T1", "out_trade_no": "O1", "merchant_id": "2088102146225135",
                "gmt_create": "2024-01-01 00:00:00", "buyer_id": "b", "buyer_nick": "n",
                "trade_status": "WAIT_BUYER_PAY", "total_amount": 100, "store_name": "s"
            }),
            RecordKind::OmniOrder => serde_json::json!({
                "order_id": "1", "merchant_id": "2088102146225135", "out_order_id": "o",
                "o2o_guide_id": 1
            }),
        }
    }

    /// `required_fields` is what deserializing requires, no more and no less: the minimal
    /// document (exactly the listed fields) reads, and without any one of them it does not, for
    /// that field's absence. A field made required without being listed breaks the first half,
    /// one made optional while still listed breaks the second.
    #[test]
    fn the_required_fields_are_those_serde_requires() {
        for kind in RecordKind::ALL {
            let doc = minimal(kind);
            let keys: Vec<&str> = doc
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut listed = kind.required_fields().to_vec();
            listed.sort_unstable();
            assert_eq!(keys, listed, "{kind}: the fixture holds the listed fields");
            Record::parse_unchecked(kind, &doc.to_string())
                .unwrap_or_else(|e| panic!("{kind}: the listed fields are not enough: {e}"));
            for name in kind.required_fields() {
                let mut without = doc.clone();
                without.as_object_mut().unwrap().remove(*name);
                let err = Record::parse_unchecked(kind, &without.to_string()).unwrap_err();
                assert_eq!(
                    (err.field.as_str(), err.reason.as_str()),
                    ("(record)", format!("missing field: {name}").as_str()),
                    "{kind}"
                );
            }
        }
    }

    #[test]
    fn every_missing_field_is_named_at_once() {
        let err = Record::from_json(
            RecordKind::OnsiteTrade,
            r#"{"trade_no":"T1","merchant_id":"2088102146225135","total_amount":1}"#,
        )
        .unwrap_err();
        assert_eq!(err.field, "(record)");
        assert_eq!(
            err.reason,
            "missing fields: out_trade_no, gmt_create, buyer_id, buyer_nick, trade_status, \
             store_name"
        );
        // An unknown field is reported before any missing one (serde stops at it).
        let err = Record::from_json(RecordKind::OmniOrder, r#"{"order_idd":"1"}"#).unwrap_err();
        assert!(err.reason.contains("did you mean `order_id`"), "{err}");
    }

    /// Found by the `admin_record` fuzz target: an unknown empty key at the top level came back
    /// as an error with an empty field.
    #[test]
    fn an_empty_key_is_reported_against_the_record() {
        for kind in RecordKind::ALL {
            let err = Record::from_json(kind, r#"{"":1}"#).unwrap_err();
            assert_eq!(err.field, "(record)", "{kind}");
            assert!(err.reason.starts_with("unknown field ``"), "{kind}: {err}");
        }
        let err = Record::from_json(
            RecordKind::AlipayTrade,
            r#"{"trade_no":"T1","fund_bill_list":[{"":1}]}"#,
        )
        .unwrap_err();
        assert!(err.field.starts_with("fund_bill_list[0]"), "{err}");
    }
}
