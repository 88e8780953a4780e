//! Conversions shared by both backends: documents to records, stamps to columns, times to
//! integers.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use tradeq_model::{Record, RecordKind, Timestamp, VersionStamp};

use crate::sql::driver::Columns;
use crate::StoreError;

/// Reads a stored document back into a record. Documents were validated when they were
/// written, so only deserialization is repeated here (validation would cost as much again on
/// every query); a document that no longer parses is [`StoreError::Corrupt`].
pub(crate) fn decode_record(kind: RecordKind, key: &str, doc: &str) -> Result<Record, StoreError> {
    let parsed = match kind {
        RecordKind::AlipayTrade => serde_json::from_str(doc).map(Record::AlipayTrade),
        RecordKind::KoubeiOrder => serde_json::from_str(doc).map(Record::KoubeiOrder),
        RecordKind::OnsiteTrade => serde_json::from_str(doc).map(Record::OnsiteTrade),
        RecordKind::OmniOrder => serde_json::from_str(doc).map(Record::OmniOrder),
    };
    parsed.map_err(|e| StoreError::Corrupt {
        kind,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Reads a stored credential document. Credentials are not records, so an unreadable one is
/// reported as a decode failure of the database rather than [`StoreError::Corrupt`].
pub(crate) fn decode_credential<T: DeserializeOwned>(
    what: &str,
    key: &str,
    doc: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| {
        StoreError::Database(sqlx::Error::Decode(
            format!("stored {what} `{key}` is unreadable: {e}").into(),
        ))
    })
}

/// Serializes a credential; plain structs of strings always serialize, but the error is kept
/// rather than unwrapped.
pub(crate) fn encode_credential<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

/// `gmt_modified` as stored: whole epoch seconds (platform times have no fraction).
pub(crate) fn stamp_seconds(stamp: &VersionStamp) -> Option<i64> {
    stamp.gmt_modified.map(|t| t.0.timestamp())
}

/// The stamp of a stored row; an out-of-range time means the row was not written by us.
pub(crate) fn stamp_from_columns(
    kind: RecordKind,
    key: &str,
    gmt_modified: Option<i64>,
    version: i64,
) -> Result<VersionStamp, StoreError> {
    let gmt_modified = match gmt_modified {
        Some(secs) => Some(Timestamp(
            DateTime::<Utc>::from_timestamp(secs, 0).ok_or_else(|| StoreError::Corrupt {
                kind,
                key: key.to_string(),
                reason: format!("gmt_modified {secs} is out of range"),
            })?,
        )),
        None => None,
    };
    Ok(VersionStamp {
        gmt_modified,
        version,
    })
}

/// An instant as epoch milliseconds (audit times, nonce expiries).
pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Epoch milliseconds back to an instant; clamps nonsense to the epoch rather than failing a
/// whole audit page over one row.
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// True when a JSON text (as serde_json writes it) contains an escaped NUL character. A plain
/// substring search would also match an escaped backslash followed by `u0000`, so escapes are
/// walked one by one.
pub(crate) fn json_has_nul(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            // Skip the escaped character, so `\\` never starts a new escape.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Where a record kind lives: its table, primary key column and secondary key columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KindSpec {
    /// Table name.
    pub table: &'static str,
    /// Primary key column (named as the record's field).
    pub pk: &'static str,
    /// Has `out_trade_no` (unique per merchant).
    pub has_out: bool,
    /// Has `short_trade_no` (unique per merchant, nullable).
    pub has_short: bool,
}

impl KindSpec {
    /// The spec of `kind`.
    pub fn of(kind: RecordKind) -> KindSpec {
        let (table, has_out, has_short) = match kind {
            RecordKind::AlipayTrade => ("alipay_trade", true, false),
            RecordKind::KoubeiOrder => ("koubei_order", false, false),
            RecordKind::OnsiteTrade => ("onsite_trade", true, true),
            RecordKind::OmniOrder => ("omni_order", false, false),
        };
        KindSpec {
            table,
            pk: kind.primary_key_name(),
            has_out,
            has_short,
        }
    }

    /// The columns written by an upsert, in bind order.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut cols = vec![self.pk, "merchant"];
        if self.has_out {
            cols.push("out_trade_no");
        }
        if self.has_short {
            cols.push("short_trade_no");
        }
        cols.extend(["gmt_modified", "version", "doc"]);
        cols
    }

    /// The column a lookup by `key` uses, or `None` when the kind has no such key.
    pub fn key_column(&self, key: tradeq_model::KeyKind) -> Option<&'static str> {
        match key {
            tradeq_model::KeyKind::Primary => Some(self.pk),
            tradeq_model::KeyKind::OutTradeNo => self.has_out.then_some("out_trade_no"),
            tradeq_model::KeyKind::ShortTradeNo => self.has_short.then_some("short_trade_no"),
        }
    }

    /// `out_trade_no` (or NULL) and `short_trade_no` (or NULL) as select-list expressions, so
    /// that every kind's lookup returns the same row shape.
    pub fn secondary_select(&self, prefix: &str, null: &str) -> String {
        let out = if self.has_out {
            format!("{prefix}out_trade_no")
        } else {
            null.to_string()
        };
        let short = if self.has_short {
            format!("{prefix}short_trade_no")
        } else {
            null.to_string()
        };
        format!("{out}, {short}")
    }
}

/// The index of `kind` in per-kind statement lists, which follow [`RecordKind::ALL`].
pub(crate) fn kind_slot(kind: RecordKind) -> usize {
    match kind {
        RecordKind::AlipayTrade => 0,
        RecordKind::KoubeiOrder => 1,
        RecordKind::OnsiteTrade => 2,
        RecordKind::OmniOrder => 3,
    }
}

/// The SQL index of `KeyKind` in per-kind statement arrays.
pub(crate) fn key_slot(key: tradeq_model::KeyKind) -> usize {
    match key {
        tradeq_model::KeyKind::Primary => 0,
        tradeq_model::KeyKind::OutTradeNo => 1,
        tradeq_model::KeyKind::ShortTradeNo => 2,
    }
}

/// Reads an audit row of the shape `seq, at (epoch ms), kind, key, merchant, action,
/// gmt_modified, version`.
pub(crate) fn audit_row(row: &impl Columns) -> Result<crate::AuditEntry, StoreError> {
    let kind: RecordKind = row
        .str(2)?
        .parse()
        .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?;
    let key = row.string(3)?;
    let version = stamp_from_columns(kind, &key, row.opt_int(6)?, row.int(7)?)?;
    Ok(crate::AuditEntry {
        seq: row.int(0)?,
        at: from_millis(row.int(1)?),
        kind,
        key,
        merchant: row.string(4)?,
        action: row.string(5)?,
        version,
    })
}

/// Serializes a list of keys or key pairs as a JSON array, the single parameter of the batch
/// lookups (one statement shape whatever the batch size).
pub(crate) fn json_array<T: serde::Serialize>(items: &[T]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

/// One audit row to append.
pub(crate) struct AuditRow<'a> {
    /// Kind name.
    pub kind: &'static str,
    /// Primary key.
    pub key: &'a str,
    /// Merchant.
    pub merchant: &'a str,
    /// `inserted`, `updated` or `deleted`.
    pub action: &'static str,
    /// `gmt_modified` in epoch seconds.
    pub gmt_modified: Option<i64>,
    /// `version`.
    pub version: i64,
}

impl<'a> AuditRow<'a> {
    /// The audit row of an accepted write of `record`.
    pub fn of(record: &'a Record, action: &'static str) -> AuditRow<'a> {
        let stamp = record.version_stamp();
        AuditRow {
            kind: record.kind().as_str(),
            key: record.primary_key(),
            merchant: record.merchant(),
            action,
            gmt_modified: stamp_seconds(&stamp),
            version: stamp.version,
        }
    }
}

/// Maps a foreign-key violation of a credential insert to [`StoreError::MissingParent`].
pub(crate) fn missing_parent(e: sqlx::Error, parent: &'static str, key: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::MissingParent {
            parent,
            key: key.to_string(),
        },
        _ => StoreError::Database(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_escaped_nul_only() {
        assert!(json_has_nul(r#"{"a":"x\u0000y"}"#));
        assert!(!json_has_nul(r#"{"a":"x\\u0000y"}"#));
        assert!(json_has_nul(r#"{"a":"x\\\u0000y"}"#));
        assert!(!json_has_nul(
            r#"{"a":"\u00001"}"#.replace("\\u0000", "\\u0001").as_str()
        ));
        assert!(!json_has_nul(r#"{"a":"plain"}"#));
        assert!(!json_has_nul("\\"));
    }
}
