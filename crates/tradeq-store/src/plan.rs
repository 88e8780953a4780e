//! The decisions of a batch upsert, made in Rust and shared by both backends.
//!
//! A backend fetches, in a few set-based statements, what the database holds for the batch's
//! keys; [`plan_kind`] then replays the batch record by record against that snapshot plus the
//! effects of the records before it (so duplicates of one key behave as if applied in order),
//! and returns the final state of every written key, the audit rows, and the keys to delete
//! first. The backend writes all of that with a few multi-row statements. Per-row statements
//! through sqlx cost a round trip each, which is what this design avoids.

use std::collections::HashMap;
use std::future::Future;
use std::task::Poll;

use tradeq_model::{Record, RecordKind, VersionStamp};

use crate::codec::{decode_record, json_has_nul, stamp_from_columns, stamp_seconds, AuditRow};
use crate::{StoreError, WriteOutcome};

/// A stored record row, as a batch needs it.
pub(crate) struct StoredRow {
    /// Primary key.
    pub pk: String,
    /// Owning merchant.
    pub merchant: String,
    /// `out_trade_no`, for the kinds that have one.
    pub out_trade_no: Option<String>,
    /// `short_trade_no`, for onsite trades that have one.
    pub short_trade_no: Option<String>,
    /// `gmt_modified` in epoch seconds.
    pub gmt_modified: Option<i64>,
    /// `version`.
    pub version: i64,
    /// The JSON document, fetched only when some record of the batch carries the same stamp
    /// (otherwise it cannot be `Unchanged`, and the document would be read for nothing). A
    /// key may come back in several rows, one per distinct stamp in the batch.
    pub doc: Option<String>,
}

/// A stored row holding a secondary key (`out_trade_no` or `short_trade_no`) of a merchant.
pub(crate) struct Holder {
    /// The holder's primary key.
    pub pk: String,
    /// Its merchant.
    pub merchant: String,
    /// The key value.
    pub value: String,
}

/// What the database holds for the keys of one kind's records in a batch.
#[derive(Default)]
pub(crate) struct Lookup {
    /// Stored rows with the batch's primary keys.
    pub stored: Vec<StoredRow>,
    /// Stored holders of the batch's (merchant, `out_trade_no`) pairs.
    pub outs: Vec<Holder>,
    /// Stored holders of the batch's (merchant, `short_trade_no`) pairs.
    pub shorts: Vec<Holder>,
}

impl Lookup {
    /// Parses the three JSON arrays SQLite's lookup statement aggregates its rows into:
    /// `[pk, merchant, out_trade_no, short_trade_no, gmt_modified, version, doc]` rows and two
    /// lists of `[pk, merchant, value]` holders. One aggregated row is much cheaper to hand
    /// over than a thousand rows, each crossing from sqlx's SQLite worker thread on its own.
    pub fn parse(stored: &str, outs: &str, shorts: &str) -> Result<Lookup, StoreError> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            i64,
            Option<String>,
        );
        let stored: Vec<Row> = parse_rows(stored)?;
        Ok(Lookup {
            stored: stored
                .into_iter()
                .map(
                    |(pk, merchant, out_trade_no, short_trade_no, gmt_modified, version, doc)| {
                        StoredRow {
                            pk,
                            merchant,
                            out_trade_no,
                            short_trade_no,
                            gmt_modified,
                            version,
                            doc,
                        }
                    },
                )
                .collect(),
            outs: parse_holders(outs)?,
            shorts: parse_holders(shorts)?,
        })
    }
}

fn parse_rows<T: serde::de::DeserializeOwned>(json: &str) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

fn parse_holders(json: &str) -> Result<Vec<Holder>, StoreError> {
    let rows: Vec<(String, String, String)> = parse_rows(json)?;
    Ok(rows
        .into_iter()
        .map(|(pk, merchant, value)| Holder {
            pk,
            merchant,
            value,
        })
        .collect())
}

/// Audit actions.
pub(crate) const INSERTED: &str = "inserted";
/// See [`INSERTED`].
pub(crate) const UPDATED: &str = "updated";
/// See [`INSERTED`].
pub(crate) const DELETED: &str = "deleted";

/// A batch being upserted: its records, their documents and what happened to each.
pub(crate) struct Batch<'a> {
    /// The input, in order.
    pub records: &'a [Record],
    /// `records[i].to_json()`, where computed and not yet handed to the database.
    docs: Vec<Option<String>>,
    /// Outcome of each record; `None` while undecided.
    outcomes: Vec<Option<Result<WriteOutcome, StoreError>>>,
    /// Accepted writes in input order: (record index, action).
    pub audit: Vec<(usize, &'static str)>,
}

impl<'a> Batch<'a> {
    /// A batch with every record undecided.
    pub fn new(records: &'a [Record]) -> Batch<'a> {
        Batch {
            records,
            docs: (0..records.len()).map(|_| None).collect(),
            outcomes: (0..records.len()).map(|_| None).collect(),
            audit: Vec::new(),
        }
    }

    /// Serializes every record up front and refuses the ones no backend can store faithfully
    /// (see [`unstorable`]). Serialization is the costliest step of a batch on the caller's
    /// side, so a backend runs this while its first lookup is in the database (see
    /// [`overlap`]), or serializes lazily with [`Batch::take_docs`] instead.
    pub fn serialize(&mut self) {
        for (i, r) in self.records.iter().enumerate() {
            let doc = r.to_json();
            if json_has_nul(&doc) {
                self.outcomes[i] = Some(Err(unstorable(r)));
            } else {
                self.docs[i] = Some(doc);
            }
        }
    }

    /// Refuses record `i` as [`unstorable`] before planning (found so by an earlier attempt).
    pub fn refuse_unstorable(&mut self, i: usize) {
        self.outcomes[i] = Some(Err(unstorable(&self.records[i])));
    }

    /// The document of record `i`, serialized now if it was not yet.
    fn doc(&mut self, i: usize) -> &str {
        let records = self.records;
        self.docs[i].get_or_insert_with(|| records[i].to_json())
    }

    /// Hands over the documents of records `idx`, serializing those not yet serialized. `Err`
    /// names a record that turns out [`unstorable`]: the planner accepted it without looking
    /// at its document, so the caller must roll back and plan again without it (a NUL
    /// character is rare enough that this costs nothing in practice).
    pub fn take_docs(&mut self, idx: &[usize]) -> Result<Vec<String>, usize> {
        let mut docs = Vec::with_capacity(idx.len());
        for &i in idx {
            let doc = match self.docs[i].take() {
                Some(doc) => doc,
                None => self.records[i].to_json(),
            };
            if json_has_nul(&doc) {
                return Err(i);
            }
            docs.push(doc);
        }
        Ok(docs)
    }

    /// The kinds present, in [`RecordKind::ALL`] order.
    pub fn kinds(&self) -> Vec<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .filter(|k| self.records.iter().any(|r| r.kind() == *k))
            .collect()
    }

    /// Indices of every record of `kind`, decided or not, in input order.
    pub fn of_kind(&self, kind: RecordKind) -> Vec<usize> {
        (0..self.records.len())
            .filter(|&i| self.records[i].kind() == kind)
            .collect()
    }

    /// Indices of the undecided records of `kind`, in input order.
    pub fn pending(&self, kind: RecordKind) -> Vec<usize> {
        (0..self.records.len())
            .filter(|&i| self.outcomes[i].is_none() && self.records[i].kind() == kind)
            .collect()
    }

    /// The distinct (primary key, `gmt_modified` seconds, version) of `idx`, for the lookup
    /// of stored rows: the stamps tell the database which documents are worth returning.
    pub fn stamped_keys(&self, idx: &[usize]) -> Vec<(&'a str, Option<i64>, i64)> {
        let records = self.records;
        distinct(idx.iter().map(|&i| {
            let r = &records[i];
            let stamp = r.version_stamp();
            (r.primary_key(), stamp_seconds(&stamp), stamp.version)
        }))
    }

    /// The distinct (merchant, `out_trade_no`) pairs of `idx`.
    pub fn out_pairs(&self, idx: &[usize]) -> Vec<(&'a str, &'a str)> {
        let records = self.records;
        distinct(idx.iter().filter_map(|&i| {
            let r = &records[i];
            r.out_trade_no().map(|o| (r.merchant(), o))
        }))
    }

    /// The distinct (merchant, `short_trade_no`) pairs of `idx`.
    pub fn short_pairs(&self, idx: &[usize]) -> Vec<(&'a str, &'a str)> {
        let records = self.records;
        distinct(idx.iter().filter_map(|&i| {
            let r = &records[i];
            r.short_trade_no().map(|s| (r.merchant(), s))
        }))
    }

    /// Every record's outcome, in input order, once all kinds were planned. The audit rows are
    /// sorted into input order too, so the audit reads like the batch.
    pub fn finish(self) -> Vec<Result<WriteOutcome, StoreError>> {
        self.outcomes
            .into_iter()
            .map(|o| {
                // Every pending record goes through `plan_kind`; a gap would be a bug here, and
                // it is reported as an error rather than a panic.
                o.unwrap_or_else(|| {
                    Err(StoreError::Database(sqlx::Error::Protocol(
                        "internal: record left undecided by the batch planner".to_string(),
                    )))
                })
            })
            .collect()
    }

    /// The audit rows of the accepted writes, in input order.
    pub fn audit_rows(&mut self) -> Vec<AuditRow<'a>> {
        self.audit.sort_by_key(|&(i, _)| i);
        let records = self.records;
        self.audit
            .iter()
            .map(|&(i, action)| AuditRow::of(&records[i], action))
            .collect()
    }
}

/// What to write for one kind.
pub(crate) struct KindPlan {
    /// For every key written, the index of the record whose state it ends with, in order of
    /// first write.
    pub writes: Vec<usize>,
    /// Written keys whose stored secondary keys change. They are deleted before the multi-row
    /// upsert, which then cannot meet a unique index still holding an old value (two records
    /// swapping `out_trade_no` in one batch would otherwise fail whichever goes first).
    pub delete_first: Vec<String>,
    /// Parallel to `writes`: whether the key keeps a stored row that the write replaces (stored
    /// before the batch and not in `delete_first`). The other writes are plain inserts, which
    /// spares them the speculative insertion an upsert pays on every row.
    pub replaces: Vec<bool>,
}

/// The state of one primary key as the batch replays.
struct Current {
    merchant: String,
    out: Option<String>,
    short: Option<String>,
    stamp: Result<VersionStamp, String>,
    doc: DocRef,
}

/// Where the current document of a key is.
enum DocRef {
    /// `stored[i].doc`.
    Stored(usize),
    /// `records[i]`.
    Batch(usize),
}

type KeyIndex = HashMap<(String, String), Option<String>>;

/// Decides the outcome of every pending record of `kind` (the indices `idx`), given the stored
/// rows for their primary keys and the stored holders of their secondary keys.
pub(crate) fn plan_kind(
    batch: &mut Batch<'_>,
    kind: RecordKind,
    idx: &[usize],
    stored: Vec<StoredRow>,
    out_holders: Vec<Holder>,
    short_holders: Vec<Holder>,
) -> KindPlan {
    let records = batch.records;
    let mut state: HashMap<String, Current> = HashMap::with_capacity(idx.len());
    let mut outs: KeyIndex = HashMap::new();
    let mut shorts: KeyIndex = HashMap::new();
    // The secondary keys each stored key had before the batch, to find the ones that change.
    let mut original: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();

    for h in out_holders {
        outs.insert((h.merchant, h.value), Some(h.pk));
    }
    for h in short_holders {
        shorts.insert((h.merchant, h.value), Some(h.pk));
    }
    for (j, row) in stored.iter().enumerate() {
        if let Some(cur) = state.get_mut(&row.pk) {
            // The same key again, for another stamp of the batch: only its document is new.
            if row.doc.is_some() {
                cur.doc = DocRef::Stored(j);
            }
            continue;
        }
        if let Some(o) = &row.out_trade_no {
            outs.insert((row.merchant.clone(), o.clone()), Some(row.pk.clone()));
        }
        if let Some(s) = &row.short_trade_no {
            shorts.insert((row.merchant.clone(), s.clone()), Some(row.pk.clone()));
        }
        let stamp = stamp_from_columns(kind, &row.pk, row.gmt_modified, row.version)
            .map_err(|e| e.to_string());
        original.insert(
            row.pk.clone(),
            (row.out_trade_no.clone(), row.short_trade_no.clone()),
        );
        state.insert(
            row.pk.clone(),
            Current {
                merchant: row.merchant.clone(),
                out: row.out_trade_no.clone(),
                short: row.short_trade_no.clone(),
                stamp,
                doc: DocRef::Stored(j),
            },
        );
    }

    let mut final_of: HashMap<String, usize> = HashMap::new();
    let mut order: Vec<String> = Vec::new();

    for &i in idx {
        let r = &records[i];
        let pk = r.primary_key();
        let merchant = r.merchant();
        let stamp = r.version_stamp();
        let conflict = |field: &'static str, value: &str, holder: String| StoreError::KeyConflict {
            kind,
            key: pk.to_string(),
            field,
            value: value.to_string(),
            holder,
        };

        let existed = match state.get(pk) {
            Some(cur) => {
                // Ownership first: a record of another merchant must not even learn its stamp.
                if cur.merchant != merchant {
                    batch.outcomes[i] = Some(Err(conflict(
                        kind.primary_key_name(),
                        pk,
                        "another merchant".to_string(),
                    )));
                    continue;
                }
                let stored_stamp = match &cur.stamp {
                    Ok(s) => *s,
                    Err(reason) => {
                        batch.outcomes[i] = Some(Err(StoreError::Corrupt {
                            kind,
                            key: pk.to_string(),
                            reason: reason.clone(),
                        }));
                        continue;
                    }
                };
                if stamp < stored_stamp {
                    batch.outcomes[i] = Some(Err(StoreError::Stale {
                        kind,
                        key: pk.to_string(),
                        incoming: stamp,
                        stored: stored_stamp,
                    }));
                    continue;
                }
                if stamp == stored_stamp {
                    // Compared as records when the text differs: documents stored as JSONB
                    // (before PostgreSQL migration 0012) come back re-ordered.
                    let same = match cur.doc {
                        DocRef::Batch(j) => records[j] == *r,
                        // The same text is the same record (one serializer wrote both);
                        // other text may still be the same record, written by another
                        // version or normalized by the database.
                        DocRef::Stored(j) => stored[j].doc.as_deref().is_some_and(|doc| {
                            doc == batch.doc(i)
                                || decode_record(kind, pk, doc).is_ok_and(|s| s == *r)
                        }),
                    };
                    if same {
                        batch.outcomes[i] = Some(Ok(WriteOutcome::Unchanged));
                        continue;
                    }
                }
                true
            }
            None => false,
        };

        let out = r.out_trade_no();
        let short = r.short_trade_no();
        if let Some(o) = out {
            if let Some(Some(holder)) = outs.get(&(merchant.to_string(), o.to_string())) {
                if holder != pk {
                    batch.outcomes[i] = Some(Err(conflict("out_trade_no", o, holder.clone())));
                    continue;
                }
            }
        }
        if let Some(s) = short {
            if let Some(Some(holder)) = shorts.get(&(merchant.to_string(), s.to_string())) {
                if holder != pk {
                    batch.outcomes[i] = Some(Err(conflict("short_trade_no", s, holder.clone())));
                    continue;
                }
            }
        }

        // Accepted: release the secondary keys this record gives up, claim its own.
        if let Some(cur) = state.get(pk) {
            release(&mut outs, merchant, cur.out.as_deref(), out, pk);
            release(&mut shorts, merchant, cur.short.as_deref(), short, pk);
        }
        if let Some(o) = out {
            outs.insert((merchant.to_string(), o.to_string()), Some(pk.to_string()));
        }
        if let Some(s) = short {
            shorts.insert((merchant.to_string(), s.to_string()), Some(pk.to_string()));
        }
        state.insert(
            pk.to_string(),
            Current {
                merchant: merchant.to_string(),
                out: out.map(str::to_string),
                short: short.map(str::to_string),
                stamp: Ok(stamp),
                doc: DocRef::Batch(i),
            },
        );
        if final_of.insert(pk.to_string(), i).is_none() {
            order.push(pk.to_string());
        }
        let (outcome, action) = if existed {
            (WriteOutcome::Updated, UPDATED)
        } else {
            (WriteOutcome::Inserted, INSERTED)
        };
        batch.outcomes[i] = Some(Ok(outcome));
        batch.audit.push((i, action));
    }

    let mut writes = Vec::with_capacity(order.len());
    let mut delete_first = Vec::new();
    let mut replaces = Vec::with_capacity(order.len());
    for pk in order {
        let Some(&i) = final_of.get(&pk) else {
            continue;
        };
        writes.push(i);
        let mut replaced = false;
        if let Some((out, short)) = original.get(&pk) {
            let r = &records[i];
            if out.as_deref() != r.out_trade_no() || short.as_deref() != r.short_trade_no() {
                delete_first.push(pk);
            } else {
                replaced = true;
            }
        }
        replaces.push(replaced);
    }
    KindPlan {
        writes,
        delete_first,
        replaces,
    }
}

/// Frees `old` when the record moves to a different value, if the record still holds it.
fn release(index: &mut KeyIndex, merchant: &str, old: Option<&str>, new: Option<&str>, pk: &str) {
    if let Some(old) = old {
        if Some(old) != new {
            let key = (merchant.to_string(), old.to_string());
            if let Some(slot) = index.get_mut(&key) {
                if slot.as_deref() == Some(pk) {
                    *slot = None;
                }
            }
        }
    }
}

/// Drives `statement` while running `work`: polls the statement once, which hands it to the
/// database (SQLite's worker thread, or PostgreSQL's socket), runs the synchronous `work` on
/// this thread meanwhile, then waits for the statement. On two cores this hides the
/// serialization of a batch's documents behind the statements of the batch.
pub(crate) async fn overlap<F: Future, R>(
    statement: F,
    work: impl FnOnce() -> R,
) -> (F::Output, R) {
    let mut statement = std::pin::pin!(statement);
    let first = std::future::poll_fn(|cx| Poll::Ready(statement.as_mut().poll(cx))).await;
    let worked = work();
    let output = match first {
        Poll::Ready(output) => output,
        Poll::Pending => statement.await,
    };
    (output, worked)
}

/// The error of a record no backend can store faithfully: PostgreSQL refuses NUL characters
/// in `text` and `jsonb`, so both backends refuse them and agree.
fn unstorable(r: &Record) -> StoreError {
    StoreError::Unstorable {
        kind: r.kind(),
        key: r.primary_key().to_string(),
        reason: "a field contains a NUL character (\\u0000)".to_string(),
    }
}

/// The distinct items of `items`, in first-seen order.
fn distinct<T: Eq + std::hash::Hash + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|x| seen.insert(*x)).collect()
}

/// Splits `n` rows into power-of-two chunks of at most `max` (a power of two), so that a
/// multi-row statement only ever has one of a handful of shapes and stays in the prepared
/// statement cache.
pub(crate) fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= max {
            max
        } else {
            1usize << (usize::BITS - 1 - n.leading_zeros())
        };
        sizes.push(size);
        n -= size;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two() {
        assert_eq!(chunk_sizes(0, 128), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1, 128), vec![1]);
        assert_eq!(
            chunk_sizes(1000, 128),
            vec![128, 128, 128, 128, 128, 128, 128, 64, 32, 8]
        );
        assert_eq!(chunk_sizes(7, 4), vec![4, 2, 1]);
        for n in 0..600 {
            let c = chunk_sizes(n, 256);
            assert_eq!(c.iter().sum::<usize>(), n);
            assert!(c.iter().all(|s| s.is_power_of_two() && *s <= 256));
        }
    }
}
