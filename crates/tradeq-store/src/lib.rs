//! Storage for tradeq: records and credentials behind one [`Store`] trait, with an embedded
//! SQLite implementation (the default: one file, WAL) and a PostgreSQL implementation (several
//! stateless gateway nodes sharing one database), chosen by URL with [`open`].
//!
//! A record is stored as its keys in indexed columns plus its JSON document, so every query is
//! one indexed point lookup. Writes are transactional and versioned: a write older than the stored
//! record is refused as stale, and every accepted write is appended to an audit table.
//!
//! Batches are decided in Rust (one lookup statement per kind fetches what the database holds
//! for the batch's keys, the records are then replayed in order against it) and written with
//! multi-row statements, which is what makes bulk imports fast on both backends.
//!
//! v3 nonces are remembered by a [`NonceStore`]: the store's own ([`Store::nonce_store`]: a
//! table of the PostgreSQL database, a file beside the SQLite one), which outlives a restart and
//! is shared by every process using the database, or [`memory_nonces::MemoryNonceStore`] for a
//! process that needs neither.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::lifecycle::{Advance, LifecycleState};
use tradeq_model::{KeyKind, Record, RecordKind, VersionStamp};

mod codec;
mod error;
mod fault_rules;
pub mod file_modes;
pub mod listing;
pub mod memory_nonces;
mod plan;
pub mod postgres;
mod record_cache;
mod sql;
pub mod sqlite;
mod sqlite_reader;

pub use error::StoreError;
pub use fault_rules::{FaultRuleRow, NewFaultRule};
pub use listing::RecordQuery;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// A new record.
    Inserted,
    /// A newer version replaced the stored one.
    Updated,
    /// The stored record is already identical; nothing was written and nothing audited.
    Unchanged,
}

/// One accepted write, as the audit table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Monotonic sequence number.
    pub seq: i64,
    /// When the write was accepted.
    pub at: DateTime<Utc>,
    /// Record kind.
    pub kind: RecordKind,
    /// Primary key.
    pub key: String,
    /// Owning merchant.
    pub merchant: String,
    /// `inserted`, `updated` or `deleted`.
    pub action: String,
    /// The version written (of the deleted record, for a delete).
    pub version: VersionStamp,
}

/// Where records and credentials live. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Inserts or replaces a validated record. A record whose [`VersionStamp`] is older than the
    /// stored one is [`StoreError::Stale`]; one whose secondary key (`out_trade_no`,
    /// `short_trade_no`) already belongs to another record of the merchant, or whose primary key
    /// belongs to another merchant, is [`StoreError::KeyConflict`].
    async fn upsert(&self, record: &Record) -> Result<WriteOutcome, StoreError> {
        let mut outcomes = self.upsert_batch(std::slice::from_ref(record)).await?;
        outcomes.pop().unwrap_or(Ok(WriteOutcome::Unchanged))
    }

    /// Upserts many records in one transaction. A record refused for its own reasons (stale,
    /// key conflict) gets its error in the returned vector, in input order, and does not stop
    /// the others; only a database failure fails the whole batch (and then nothing is written).
    async fn upsert_batch(
        &self,
        records: &[Record],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError>;

    /// [`Store::upsert_batch`], recording in the same transaction that an import of a file got
    /// this far: the checkpoint is committed exactly when the batch is.
    async fn upsert_batch_checkpointed(
        &self,
        records: &[Record],
        checkpoint: &ImportCheckpoint,
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError>;

    /// The checkpoint of an interrupted import of `file_id` as `kind` into this store.
    async fn import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<Option<ImportCheckpoint>, StoreError>;

    /// Forgets the checkpoint of an import (once it completed, or to start over).
    async fn clear_import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<(), StoreError>;

    /// Finds a record of `kind` owned by `merchant` by one of its keys. A record of another
    /// merchant is `None`, exactly like a missing one.
    async fn find(
        &self,
        kind: RecordKind,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> Result<Option<Record>, StoreError>;

    /// [`Store::find`], sharing the record: a store that keeps decoded records (the SQLite
    /// store's record cache) hands out its own copy instead of cloning it for every lookup.
    async fn find_shared(
        &self,
        kind: RecordKind,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> Result<Option<std::sync::Arc<Record>>, StoreError> {
        Ok(self
            .find(kind, merchant, key, value)
            .await?
            .map(std::sync::Arc::new))
    }

    /// Reads a record by primary key regardless of owner (administration only).
    async fn get(&self, kind: RecordKind, primary_key: &str) -> Result<Option<Record>, StoreError>;

    /// Deletes a record by primary key (administration only); audited. `false` when absent.
    async fn delete(&self, kind: RecordKind, primary_key: &str) -> Result<bool, StoreError>;

    /// How many records of `kind` are stored.
    async fn count(&self, kind: RecordKind) -> Result<u64, StoreError>;

    /// Audit entries with `seq > after`, oldest first, at most `limit`.
    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Adds or replaces an Alipay app.
    async fn put_alipay_app(&self, app: &AlipayApp) -> Result<(), StoreError>;
    /// An Alipay app by `app_id`.
    async fn get_alipay_app(&self, app_id: &str) -> Result<Option<AlipayApp>, StoreError>;
    /// Every Alipay app, by `app_id`.
    async fn list_alipay_apps(&self) -> Result<Vec<AlipayApp>, StoreError>;
    /// Removes an Alipay app and its app auth tokens; `false` when absent.
    async fn delete_alipay_app(&self, app_id: &str) -> Result<bool, StoreError>;

    /// Adds or replaces an app auth token.
    async fn put_app_auth_token(&self, token: &AppAuthToken) -> Result<(), StoreError>;
    /// An app auth token by its text.
    async fn get_app_auth_token(&self, token: &str) -> Result<Option<AppAuthToken>, StoreError>;
    /// Every app auth token.
    async fn list_app_auth_tokens(&self) -> Result<Vec<AppAuthToken>, StoreError>;
    /// Removes an app auth token; `false` when absent.
    async fn delete_app_auth_token(&self, token: &str) -> Result<bool, StoreError>;

    /// Adds or replaces a TOP app.
    async fn put_top_app(&self, app: &TopApp) -> Result<(), StoreError>;
    /// A TOP app by `app_key`.
    async fn get_top_app(&self, app_key: &str) -> Result<Option<TopApp>, StoreError>;
    /// Every TOP app.
    async fn list_top_apps(&self) -> Result<Vec<TopApp>, StoreError>;
    /// Removes a TOP app and its sessions; `false` when absent.
    async fn delete_top_app(&self, app_key: &str) -> Result<bool, StoreError>;

    /// Adds or replaces a TOP session.
    async fn put_top_session(&self, session: &TopSession) -> Result<(), StoreError>;
    /// A TOP session by its key.
    async fn get_top_session(&self, session: &str) -> Result<Option<TopSession>, StoreError>;
    /// Every TOP session.
    async fn list_top_sessions(&self) -> Result<Vec<TopSession>, StoreError>;
    /// Removes a TOP session; `false` when absent.
    async fn delete_top_session(&self, session: &str) -> Result<bool, StoreError>;

    /// Records of `kind` matching `query`, in primary-key order, at most `query.limit`.
    async fn list_records(
        &self,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError>;

    /// The lifecycle progress of a record, if one was started.
    async fn get_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
    ) -> Result<Option<LifecycleState>, StoreError>;

    /// Sets (replacing) the lifecycle progress of records: a fresh state when a record with a
    /// timeline is written, the saved one when a snapshot is loaded.
    async fn put_lifecycles(
        &self,
        states: &[(RecordKind, String, LifecycleState)],
    ) -> Result<(), StoreError>;

    /// Forgets the lifecycle progress of records of `kind` (they were rewritten: a record with
    /// a timeline starts again at its next query).
    async fn remove_lifecycles(&self, kind: RecordKind, keys: &[String]) -> Result<(), StoreError>;

    /// Counts one successful query of a record that has a timeline and applies the steps then
    /// due, in one transaction: the record rewritten (and audited) when a step changed it, the
    /// progress saved either way. `None` when the record is gone or has no timeline. A record
    /// whose progress was never started starts at `now`.
    async fn advance_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Advance>, StoreError>;

    /// Removes every record of every kind and every lifecycle, in one transaction (not
    /// audited record by record). Returns how many records went.
    async fn clear_records(&self) -> Result<u64, StoreError>;

    /// Removes every credential: Alipay apps with their tokens, TOP apps with their sessions.
    async fn clear_credentials(&self) -> Result<(), StoreError>;

    /// A value of the small key/value table the server keeps its own settings in.
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a value of the key/value table.
    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Adds a sandbox fault rule; [`StoreError::KeyConflict`]-free: ids are chosen by the
    /// server and unique.
    async fn insert_fault_rule(&self, rule: &NewFaultRule) -> Result<(), StoreError>;
    /// Every fault rule with its counters, oldest first.
    async fn list_fault_rules(&self) -> Result<Vec<FaultRuleRow>, StoreError>;
    /// Removes a fault rule; `false` when absent.
    async fn delete_fault_rule(&self, id: &str) -> Result<bool, StoreError>;
    /// Removes every fault rule; how many there were.
    async fn clear_fault_rules(&self) -> Result<u64, StoreError>;
    /// Counts one more request matched by rule `id` and returns its number (1 for the first),
    /// atomically across every process on the database; `None` when the rule is gone.
    async fn count_fault_match(&self, id: &str) -> Result<Option<u64>, StoreError>;
    /// Claims one application of rule `id`: when the rule has no `times` or fewer than `times`
    /// hits, `hits` is incremented and returned; otherwise (or when the rule is gone) `None`.
    /// Atomic, so processes sharing the database never apply a rule more than `times` times
    /// together.
    async fn claim_fault_hit(&self, id: &str) -> Result<Option<u64>, StoreError>;

    /// Closes the pool, waiting for in-flight statements.
    async fn close(&self);

    /// The store as a [`NonceStore`] kept in its own database, so that every process sharing
    /// the database agrees on which nonces were used. (A single process may prefer the faster
    /// [`memory_nonces::MemoryNonceStore`].)
    fn nonce_store(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn NonceStore>;
}

/// How far an import of one file into a store got: the last line of the last committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportCheckpoint {
    /// Names the file (a digest of its canonical path).
    pub file_id: String,
    /// What its lines are.
    pub kind: RecordKind,
    /// The file's length when the checkpoint was written.
    pub file_len: u64,
    /// Its modification time then, in nanoseconds since the epoch.
    pub modified_ns: i64,
    /// Where the next line starts.
    pub byte_offset: u64,
    /// The last line committed.
    pub line: u64,
}

/// Remembers v3 request nonces for their validity window so a replay is refused.
#[async_trait]
pub trait NonceStore: Send + Sync + 'static {
    /// Records `nonce` for `app_id` until `expires_at`. `true` the first time; `false` when it
    /// was already used and has not expired (a replay).
    async fn claim(
        &self,
        app_id: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Opens a store by URL, creating the database file (SQLite) and running migrations:
/// `sqlite://path/to/file.db`, `sqlite::memory:`, `postgres://user@host/db`.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// How many decoded records an SQLite file store keeps unless told otherwise.
pub const DEFAULT_RECORD_CACHE_ENTRIES: usize = 16_384;

/// Tuning of an opened store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Decoded records a store keeps for lookups while its records are unchanged; 0 turns the
    /// cache off. SQLite: any commit to the file, by any process, empties it. PostgreSQL: any
    /// record write, by any node, empties it within [`postgres::epoch::MAX_AGE`].
    pub record_cache_entries: usize,
    /// How long an operation waits for a PostgreSQL connection before it fails (`None`: the
    /// pool's default, 10 s). While the database is away every operation waits this long, so
    /// a server sets it low enough to answer its clients' retryable error before they give up.
    pub database_timeout: Option<std::time::Duration>,
    /// How long an SQLite point read waits for a lock another connection holds (a checkpoint,
    /// a recovery) before it fails with a retryable error (`None`: 100 ms).
    pub read_busy_timeout: Option<std::time::Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            record_cache_entries: DEFAULT_RECORD_CACHE_ENTRIES,
            database_timeout: None,
            read_busy_timeout: None,
        }
    }
}

/// Like [`open`], with `options`.
pub async fn open_with(
    url: &str,
    options: &StoreOptions,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            sqlite::SqliteStore::open_with(url, options).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut pg = postgres::PgOptions::default();
        if let Some(timeout) = options.database_timeout {
            pg.acquire_timeout = timeout;
        }
        pg.record_cache_entries = options.record_cache_entries;
        Ok(std::sync::Arc::new(
            postgres::PgStore::open_with(url, pg).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl(
            url.split(':').next().unwrap_or("").to_string(),
        ))
    }
}
