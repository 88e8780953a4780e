//! Store errors.

use tradeq_model::{RecordKind, VersionStamp};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write is older than what is stored; late or replayed events never overwrite newer
    /// state.
    #[error(
        "stale write to {kind} `{key}`: incoming ({incoming}) is older than stored ({stored})"
    )]
    Stale {
        /// Record kind.
        kind: RecordKind,
        /// Primary key.
        key: String,
        /// Version of the refused write.
        incoming: VersionStamp,
        /// Version in the store.
        stored: VersionStamp,
    },
    /// A key of the record already belongs to another record (or to another merchant).
    #[error("{kind} `{key}`: {field} `{value}` already belongs to {holder}")]
    KeyConflict {
        /// Record kind.
        kind: RecordKind,
        /// Primary key of the refused record.
        key: String,
        /// The conflicting field.
        field: &'static str,
        /// Its value.
        value: String,
        /// Who holds it (another record's key, or "another merchant").
        holder: String,
    },
    /// The record cannot be stored faithfully by every backend (a NUL character, which
    /// PostgreSQL refuses in `text` and `jsonb`). Refused on both backends so they agree.
    #[error("{kind} `{key}` cannot be stored: {reason}")]
    Unstorable {
        /// Record kind.
        kind: RecordKind,
        /// Primary key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A credential names a parent that does not exist (an app auth token of an unknown app,
    /// a TOP session of an unknown app key).
    #[error("{parent} `{key}` does not exist: add it before what belongs to it")]
    MissingParent {
        /// What is missing: `Alipay app` or `TOP app`.
        parent: &'static str,
        /// Its key.
        key: String,
    },
    /// The in-memory nonce store holds as many unexpired nonces as it may; a new one is
    /// refused rather than forgetting one that could still be replayed.
    #[error("nonce store is full ({capacity} unexpired nonces); retry later")]
    NonceCapacity {
        /// The bound.
        capacity: usize,
    },
    /// The URL names no supported backend.
    #[error("unsupported database URL scheme `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// A stored document no longer parses (edited by hand, or written by a newer version).
    #[error("stored {kind} `{key}` is unreadable: {reason}")]
    Corrupt {
        /// Record kind.
        kind: RecordKind,
        /// Primary key.
        key: String,
        /// Parse error.
        reason: String,
    },
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded store's direct reader failed.
    #[error("database error: {0}")]
    Reader(String),
    /// A file of the embedded store could not be created.
    #[error("cannot create {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}
