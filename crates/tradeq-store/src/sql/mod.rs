//! The logic both SQL backends share, written once: the [`crate::Store`] and
//! [`crate::NonceStore`] implementations of every [`SqlBackend`] (planning and writing batches,
//! decoding, versioning, audit, checkpoints, credentials, meta, fault rules, listing,
//! lifecycles). A backend supplies what truly differs: its driver and pools, how it begins a
//! write, its batch statements, its point reads and how it keeps its record cache coherent.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sqlx::{Database, Pool, Transaction};

use tradeq_model::{KeyKind, Record, RecordKind};

use crate::codec::AuditRow;
use crate::plan::Batch;
use crate::StoreError;

pub(crate) mod dialect;
pub(crate) mod driver;
pub(crate) mod statements;
mod store;

use driver::{Driver, On};
use statements::Statements;

/// A connection of backend `B`'s driver.
pub(crate) type Conn<B> = <<B as SqlBackend>::Db as Database>::Connection;

/// What a backend supplies to the shared store logic.
pub(crate) trait SqlBackend: Send + Sync + 'static {
    /// Its sqlx driver.
    type Db: Driver;

    /// `sqlite` or `postgres`.
    const NAME: &'static str;

    /// The parts the shared logic runs on.
    fn parts(&self) -> &SqlParts<Self::Db>;

    /// The shared statements, in its dialect.
    fn statements(&self) -> &Statements {
        &self.parts().statements
    }

    /// Where reads go.
    fn reader(&self) -> On<'_, Self::Db> {
        On::Pool(&self.parts().read)
    }

    /// Where writes outside a transaction go.
    fn writer(&self) -> On<'_, Self::Db> {
        On::Pool(&self.parts().write)
    }

    /// Begins a transaction that writes no record.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, StoreError>> + Send;

    /// Begins a transaction that writes or reads-to-decide records: it must not interleave
    /// with another writer of records. `import`: a batch of `tradeq import` whose checkpoint
    /// commits with it, which a backend may commit without waiting for durability.
    fn begin_records(
        &self,
        import: bool,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, StoreError>> + Send;

    /// Called after every committed write; `records` when records changed.
    fn committed(&self, records: bool);

    /// The record of `kind` whose `key` is `value` for `merchant`, by `sql` (the kind's
    /// [`statements::KindStatements::find`] for `key`).
    fn find_record(
        &self,
        kind: RecordKind,
        sql: &str,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> impl Future<Output = Result<Option<Arc<Record>>, StoreError>> + Send;

    /// Plans and writes the records of `batch`, kind by kind (the audit rows and the
    /// checkpoint are the caller's).
    fn write_records(
        &self,
        conn: &mut Conn<Self>,
        batch: &mut Batch<'_>,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;

    /// Appends audit rows. `at` is the time the write began in epoch milliseconds (a backend
    /// whose database stamps the rows itself may ignore it).
    fn insert_audit(
        &self,
        conn: &mut Conn<Self>,
        at: i64,
        rows: &[AuditRow<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the lifecycle progress of `keys` (not empty) of `kind`, outside a transaction.
    fn delete_lifecycles(
        &self,
        kind: RecordKind,
        keys: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stops background work and closes the pools.
    fn shut_down(&self) -> impl Future<Output = ()> + Send;
}

/// How [`SqlBackend::write_records`] ended.
pub(crate) enum Written {
    /// Every record is decided and its row written.
    Done,
    /// Record `i` turned out unstorable after it was planned: the transaction must be rolled
    /// back and the batch planned again without it.
    Unstorable(usize),
}

/// The parts of a store the shared logic runs on.
pub(crate) struct SqlParts<DB: Database> {
    /// The shared statements, in the store's dialect.
    pub statements: Statements,
    /// Where reads go.
    pub read: Pool<DB>,
    /// Where writes outside a transaction go.
    pub write: Pool<DB>,
    /// Where the `used_nonce` table is.
    pub nonces: Pool<DB>,
    /// Whether commits to `nonces` are commits of the record database (which
    /// [`SqlBackend::committed`] must then hear of).
    pub nonces_in_record_store: bool,
    /// Nonce claims since start, to purge expired nonces now and then.
    pub nonce_claims: AtomicU64,
}
