//! The embedded backend: one SQLite file in WAL mode.
//!
//! SQLite has one writer at a time, so writes go through a pool of exactly one connection (our
//! own writers queue in-process instead of spinning on `SQLITE_BUSY`) and start with
//! `BEGIN IMMEDIATE` (another process sharing the file waits on `busy_timeout` instead of
//! failing when a read transaction tries to upgrade). Reads use a separate pool of a few
//! connections, which WAL lets run beside the writer.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use tokio::sync::Notify;

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::{KeyKind, Record, RecordKind};

use crate::codec::{
    audit_row, decode_credential, decode_record, encode_credential, json_array, key_slot, millis,
    missing_parent, stamp_seconds, AuditRow, KindSpec,
};
use crate::fault_rules::{self, times_column};
use crate::plan::{chunk_sizes, overlap, plan_kind, Batch, Lookup, DELETED};
use crate::record_cache::{ChangeProbe, RecordCache};
use crate::sqlite_reader::FastReader;
use crate::{
    AuditEntry, FaultRuleRow, ImportCheckpoint, NewFaultRule, NonceStore, RecordQuery, Store,
    StoreError, StoreOptions, WriteOutcome,
};
use tradeq_model::lifecycle::{Advance, LifecycleState};

mod records;

/// The largest multi-row statement, in rows. 256 rows of at most 7 columns stay far below
/// SQLite's 32,766 bound parameters, and bigger statements gain nothing measurable.
const MAX_ROWS: usize = 256;

/// How long a writer waits for another process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the checkpointer lets commits accumulate before checkpointing.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// Purge expired nonces every this many claims.
const NONCE_PURGE_EVERY: u64 = 1024;

/// At most this many expired nonces are purged at once, to keep the write lock short.
const NONCE_PURGE_LIMIT: i64 = 10_000;

/// The SQLite store.
pub struct SqliteStore {
    /// The single writer connection.
    write: SqlitePool,
    /// Readers (for `sqlite::memory:`, the same single-connection pool as `write`).
    read: SqlitePool,
    /// Statements per kind, in [`RecordKind::ALL`] order.
    kinds: Vec<KindSql>,
    /// Multi-row audit inserts, by log2 of the row count.
    audit_insert: Vec<String>,
    /// Claims since start, to purge expired nonces now and then.
    nonce_claims: AtomicU64,
    /// Where used v3 nonces are kept: for a file, a database file of their own beside it
    /// (`<file>-nonces`), so that a v3 request's commit neither rewrites `tradeq.db`'s
    /// wal-index (which would empty the record cache on every v3 request) nor queues behind an
    /// import on the record writer; in memory, the one connection.
    nonces: SqlitePool,
    /// Whether `nonces` is the record writer itself.
    nonces_in_main: bool,
    /// Background WAL checkpoints (files only).
    checkpointer: Option<Checkpointer>,
    /// Direct point reads (files only; an in-memory database is private to its sqlx connection).
    fast: Option<FastReader>,
    /// Records found by `find`, while the file is unchanged (files only).
    cache: Option<RecordCache<ChangeProbe>>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(c) = &self.checkpointer {
            c.task.abort();
        }
    }
}

/// The statements of one record kind, built once so that each keeps one text (and one entry in
/// sqlx's per-connection prepared statement cache).
struct KindSql {
    spec: KindSpec,
    /// `SELECT pk, doc … WHERE merchant = ? AND key = ?`, by [`key_slot`]; `None` when the kind
    /// has no such key.
    find: [Option<String>; 3],
    get: String,
    delete: String,
    count: String,
    /// Everything a batch needs to know, in one statement: the stored rows of a JSON array of
    /// primary keys (`?1`), the holders of a JSON array of `[merchant, out_trade_no]` pairs
    /// (`?2`) and of `[merchant, short_trade_no]` pairs (`?3`), each aggregated into one JSON
    /// array.
    lookup: String,
    /// Deletes a JSON array of primary keys.
    delete_many: String,
    /// Multi-row upserts, by log2 of the row count.
    upsert: Vec<String>,
}

impl KindSql {
    fn new(kind: RecordKind) -> KindSql {
        let spec = KindSpec::of(kind);
        let KindSpec { table, pk, .. } = spec;
        let find = [KeyKind::Primary, KeyKind::OutTradeNo, KeyKind::ShortTradeNo].map(|k| {
            spec.key_column(k).map(|col| {
                format!("SELECT {pk}, doc FROM {table} WHERE merchant = ?1 AND {col} = ?2")
            })
        });
        let secondary = spec.secondary_select("t.", "NULL");
        // CROSS JOIN makes SQLite drive each loop from the (small) JSON array and probe the
        // table's index for each element, whatever its statistics say. The rows come back
        // aggregated into JSON arrays: sqlx hands every row from its worker thread to the
        // caller through a channel, which costs more than the lookup itself.
        // `?1` is an array of `[pk, gmt_modified, version]`: a document comes back only with
        // the same stamp (the one case where it is compared).
        let stored = format!(
            "(SELECT json_group_array(json_array(t.{pk}, t.merchant, {secondary}, \
             t.gmt_modified, t.version, \
             CASE WHEN t.gmt_modified IS j.value ->> 1 AND t.version = j.value ->> 2 \
             THEN t.doc END)) \
             FROM json_each(?1) AS j CROSS JOIN {table} AS t ON t.{pk} = j.value ->> 0)"
        );
        let holders = |has: bool, col: &str, param: &str| {
            if has {
                format!(
                    "(SELECT json_group_array(json_array(t.{pk}, t.merchant, t.{col})) \
                     FROM json_each({param}) AS j CROSS JOIN {table} AS t \
                     ON t.merchant = j.value ->> 0 AND t.{col} = j.value ->> 1)"
                )
            } else {
                "'[]'".to_string()
            }
        };
        let lookup = format!(
            "SELECT {stored}, {}, {}",
            holders(spec.has_out, "out_trade_no", "?2"),
            holders(spec.has_short, "short_trade_no", "?3"),
        );
        let cols = spec.columns();
        let row = format!("({})", vec!["?"; cols.len()].join(", "));
        let updates = cols[1..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let upsert = (0..=MAX_ROWS.trailing_zeros())
            .map(|log| {
                let rows = vec![row.as_str(); 1 << log].join(", ");
                format!(
                    "INSERT INTO {table} ({}) VALUES {rows} ON CONFLICT ({pk}) DO UPDATE SET {updates}",
                    cols.join(", ")
                )
            })
            .collect();
        KindSql {
            spec,
            find,
            get: format!("SELECT {pk}, doc FROM {table} WHERE {pk} = ?1"),
            delete: format!(
                "DELETE FROM {table} WHERE {pk} = ?1 RETURNING merchant, gmt_modified, version"
            ),
            count: format!("SELECT COUNT(*) FROM {table}"),
            lookup,
            delete_many: format!(
                "DELETE FROM {table} WHERE {pk} IN (SELECT value FROM json_each(?1))"
            ),
            upsert,
        }
    }
}

/// An exclusive lock on `<db>-open.lock`, held while a process opens the store (WAL mode, the
/// schema, the nonce file). sqlx's SQLite migrator takes none, so two processes opening a new
/// file at once (`serve` beside `import`) would both run the first migration and one would fail
/// on tables the other made, or on a database locked by the other's mode change. (`flock` on a
/// file of its own: it cannot disturb SQLite's locks on the database.)
fn opening_lock(db: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let path = std::path::PathBuf::from(format!("{}-open.lock", db.display()));
    let file_error = |e: std::io::Error| StoreError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(&path).map_err(file_error)?;
    // The other opener holds it for the few statements of opening and migrating.
    file.lock().map_err(file_error)?;
    Ok(file)
}

/// The writer's pool: one connection, kept for the life of the store. An in-memory database
/// dies with its last connection, so the pool must never retire it for idleness or age.
fn writer_pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        // A file connection has no peer that could drop it: the liveness ping sqlx sends before
        // each checkout by default is a round trip to the connection's thread for nothing.
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// Whether a URL names an in-memory database, which lives only as long as its connection.
fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db` or
    /// `sqlite::memory:`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, &StoreOptions::default()).await
    }

    /// Like [`SqliteStore::open`], with `options`.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let readers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8) as u32;
        let mut store = SqliteStore::open_with_readers(url, readers).await?;
        if let (Some(fast), Some(timeout)) = (&mut store.fast, options.read_busy_timeout) {
            fast.set_busy_timeout(timeout);
        }
        if let Some(fast) = &store.fast {
            // The writer's connection, open for the store's lifetime, keeps the wal-index there.
            store.cache = RecordCache::open(fast.path(), options.record_cache_entries);
        }
        Ok(store)
    }

    /// Lookups `find` answered from its cache of decoded records.
    pub fn record_cache_hits(&self) -> u64 {
        self.cache.as_ref().map_or(0, RecordCache::hits)
    }

    /// Like [`SqliteStore::open`] with `readers` reader connections (ignored in memory, where
    /// every statement shares the one connection that holds the database).
    pub async fn open_with_readers(url: &str, readers: u32) -> Result<SqliteStore, StoreError> {
        let memory = is_memory(url);
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            // A multi-row upsert keeps a statement journal (to undo itself on a constraint
            // error); in memory rather than in a temporary file.
            .pragma("temp_store", "memory")
            // Every kind has about a dozen statement shapes; the default cache of 100 would
            // evict and re-prepare them.
            .statement_cache_capacity(512);
        if !memory {
            // Before SQLite creates it (0644): the file holds every secret of the store, and
            // its -wal and -shm inherit its mode.
            let path = base.get_filename();
            crate::file_modes::create_private(path).map_err(|e| StoreError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let opening = if memory {
            None
        } else {
            // Waiting for another process's opening blocks: off the async workers.
            let db = base.get_filename().to_path_buf();
            let lock = tokio::task::spawn_blocking(move || opening_lock(&db))
                .await
                .map_err(|e| StoreError::Migration(format!("opening lock: {e}")))??;
            Some(lock)
        };
        // WAL is a property of the file; an in-memory database has no use for it.
        let base = if memory {
            base
        } else {
            base.journal_mode(SqliteJournalMode::Wal)
        };
        // The writer gets a bigger page cache (a bulk import touches many index pages; much
        // more than 16 MiB measured no faster) and leaves checkpoints to the checkpointer
        // unless the WAL grows past 64 MiB.
        let write_opts = base
            .clone()
            .pragma("cache_size", "-16384")
            .pragma("wal_autocheckpoint", "16384");
        let write = writer_pool_options().connect_with(write_opts).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let fast = if memory {
            None
        } else {
            let path = base.get_filename();
            for (file, mode) in crate::file_modes::shared_store_files(path) {
                tracing::warn!(
                    "{} is accessible to other users (mode {mode:o}) and holds secrets: \
                     chmod 600 it (and chmod 700 its directory)",
                    file.display()
                );
            }
            Some(FastReader::new(path))
        };
        let nonces = if memory {
            write.clone()
        } else {
            open_nonce_file(base.get_filename()).await?
        };
        let (read, checkpointer) = if memory {
            (write.clone(), None)
        } else {
            let checkpoints = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .test_before_acquire(false)
                .connect_lazy_with(base.clone());
            let read = SqlitePoolOptions::new()
                .max_connections(readers.max(1))
                .min_connections(0)
                .test_before_acquire(false)
                // Opened on first use, so start-up costs one connection, not five.
                .connect_lazy_with(base);
            (read, Checkpointer::start(checkpoints))
        };
        let audit_insert = (0..=MAX_ROWS.trailing_zeros())
            .map(|log| {
                let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; 1 << log].join(", ");
                format!(
                    "INSERT INTO audit_log (at, kind, key, merchant, action, gmt_modified, version) \
                     VALUES {rows}"
                )
            })
            .collect();
        drop(opening);
        tracing::debug!(memory, "opened SQLite store");
        Ok(SqliteStore {
            write,
            read,
            kinds: RecordKind::ALL.into_iter().map(KindSql::new).collect(),
            audit_insert,
            nonce_claims: AtomicU64::new(0),
            nonces,
            nonces_in_main: memory,
            checkpointer,
            fast,
            cache: None,
        })
    }

    fn sql(&self, kind: RecordKind) -> &KindSql {
        // `kinds` is built from RecordKind::ALL, whose order `slot` follows.
        let slot = match kind {
            RecordKind::AlipayTrade => 0,
            RecordKind::KoubeiOrder => 1,
            RecordKind::OnsiteTrade => 2,
            RecordKind::OmniOrder => 3,
        };
        &self.kinds[slot]
    }

    /// Appends audit rows (all stamped `at`) in multi-row statements.
    async fn insert_audit(
        &self,
        conn: &mut sqlx::SqliteConnection,
        at: i64,
        rows: &[AuditRow<'_>],
    ) -> Result<(), StoreError> {
        let mut rest = rows;
        for size in chunk_sizes(rows.len(), MAX_ROWS) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut q = sqlx::query(&self.audit_insert[size.trailing_zeros() as usize]);
            for r in chunk {
                q = q
                    .bind(at)
                    .bind(r.kind)
                    .bind(r.key)
                    .bind(r.merchant)
                    .bind(r.action)
                    .bind(r.gmt_modified)
                    .bind(r.version);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// One try at a batch. Documents are serialized while the database executes the previous
    /// statement, chunk by chunk, so the two cores work at once; a document found unstorable
    /// only then abandons the attempt (see [`Batch::take_docs`]).
    async fn attempt_batch(
        &self,
        records: &[Record],
        refused: &[usize],
        checkpoint: Option<&ImportCheckpoint>,
    ) -> Result<Attempt, StoreError> {
        let mut batch = Batch::new(records);
        for &i in refused {
            batch.refuse_unstorable(i);
        }
        let at = millis(Utc::now());
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for kind in batch.kinds() {
            let sql = self.sql(kind);
            let keys = LookupKeys::new(&batch, &batch.of_kind(kind))?;
            let looked = Self::lookup(&mut tx, sql, &keys).await?;
            let idx = batch.pending(kind);
            let plan = plan_kind(
                &mut batch,
                kind,
                &idx,
                looked.stored,
                looked.outs,
                looked.shorts,
            );
            if !plan.delete_first.is_empty() {
                sqlx::query(&sql.delete_many)
                    .bind(json_array(&plan.delete_first)?)
                    .execute(&mut *tx)
                    .await?;
            }

            let mut chunks = Vec::new();
            let mut rest = &plan.writes[..];
            for size in chunk_sizes(plan.writes.len(), MAX_ROWS) {
                let (chunk, tail) = rest.split_at(size);
                chunks.push(chunk);
                rest = tail;
            }
            let Some(first) = chunks.first() else {
                continue;
            };
            let mut docs = match batch.take_docs(first) {
                Ok(docs) => docs,
                Err(i) => return Ok(Attempt::Unstorable(i)),
            };
            for (n, chunk) in chunks.iter().enumerate() {
                let mut q = sqlx::query(&sql.upsert[chunk.len().trailing_zeros() as usize]);
                for (&i, doc) in chunk.iter().zip(docs) {
                    let r = &records[i];
                    let stamp = r.version_stamp();
                    q = q.bind(r.primary_key()).bind(r.merchant());
                    if sql.spec.has_out {
                        q = q.bind(r.out_trade_no());
                    }
                    if sql.spec.has_short {
                        q = q.bind(r.short_trade_no());
                    }
                    // Moved, not borrowed: sqlx would copy a borrowed text for its worker.
                    q = q.bind(stamp_seconds(&stamp)).bind(stamp.version).bind(doc);
                }
                let next = chunks.get(n + 1).copied().unwrap_or(&[]);
                let (done, next_docs) =
                    overlap(q.execute(&mut *tx), || batch.take_docs(next)).await;
                done?;
                docs = match next_docs {
                    Ok(docs) => docs,
                    Err(i) => return Ok(Attempt::Unstorable(i)),
                };
            }
        }
        let audit: Vec<AuditRow<'_>> = batch
            .sorted_audit()
            .iter()
            .map(|&(i, action)| AuditRow::of(&records[i], action))
            .collect();
        self.insert_audit(&mut tx, at, &audit).await?;
        if let Some(cp) = checkpoint {
            put_checkpoint(&mut tx, cp).await?;
        }
        tx.commit().await?;
        self.wrote();
        Ok(Attempt::Done(batch.finish()))
    }

    async fn upsert_batch_with(
        &self,
        records: &[Record],
        checkpoint: Option<&ImportCheckpoint>,
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        if records.is_empty() {
            if let Some(cp) = checkpoint {
                let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
                put_checkpoint(&mut tx, cp).await?;
                tx.commit().await?;
                self.wrote();
            }
            return Ok(Vec::new());
        }
        let mut refused = Vec::new();
        loop {
            match self.attempt_batch(records, &refused, checkpoint).await? {
                Attempt::Done(outcomes) => return Ok(outcomes),
                // Rolled back: plan again without the record that cannot be stored. Each
                // round refuses one more record, so this ends.
                Attempt::Unstorable(i) => refused.push(i),
            }
        }
    }

    /// Runs the batch lookup of one kind.
    async fn lookup(
        conn: &mut sqlx::SqliteConnection,
        sql: &KindSql,
        keys: &LookupKeys,
    ) -> Result<Lookup, StoreError> {
        let mut q = sqlx::query(&sql.lookup).bind(keys.pks.as_str());
        if sql.spec.has_out {
            q = q.bind(keys.outs.as_str());
        }
        if sql.spec.has_short {
            q = q.bind(keys.shorts.as_str());
        }
        let row = q.fetch_one(&mut *conn).await?;
        Lookup::parse(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)
    }

    /// Lets the checkpointer know the WAL grew (after every write: it coalesces them).
    fn wrote(&self) {
        if let Some(c) = &self.checkpointer {
            c.notify.notify_one();
        }
    }
}

/// How one try at a batch ended.
enum Attempt {
    /// Committed, with every record's outcome.
    Done(Vec<Result<WriteOutcome, StoreError>>),
    /// Rolled back: record `i` cannot be stored.
    Unstorable(usize),
}

/// The keys of one kind's records in a batch, as the JSON arrays the lookup binds.
struct LookupKeys {
    pks: String,
    outs: String,
    shorts: String,
}

impl LookupKeys {
    fn new(batch: &Batch<'_>, idx: &[usize]) -> Result<LookupKeys, StoreError> {
        Ok(LookupKeys {
            pks: json_array(&batch.stamped_keys(idx))?,
            outs: json_array(&batch.out_pairs(idx))?,
            shorts: json_array(&batch.short_pairs(idx))?,
        })
    }
}

/// Checkpoints the WAL from its own connection, so that copying pages back into the database
/// file (a good part of the cost of a bulk import) runs beside the writer instead of inside
/// its commits. The writer keeps a high auto-checkpoint threshold as a safety net.
struct Checkpointer {
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the checkpointer on the current Tokio runtime; `None` outside one (sqlx needs
    /// Tokio anyway, so this is only a refusal to panic), which leaves checkpoints to the
    /// writer's auto-checkpoint.
    fn start(pool: SqlitePool) -> Option<Checkpointer> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        let task = runtime.spawn(async move {
            loop {
                wake.notified().await;
                // Let a burst of commits accumulate: one checkpoint then covers them all.
                tokio::time::sleep(CHECKPOINT_DELAY).await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    if pool.is_closed() {
                        break;
                    }
                    tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
                }
            }
        });
        Some(Checkpointer { notify, task })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn upsert_batch(
        &self,
        records: &[Record],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        self.upsert_batch_with(records, None).await
    }

    async fn upsert_batch_checkpointed(
        &self,
        records: &[Record],
        checkpoint: &ImportCheckpoint,
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        self.upsert_batch_with(records, Some(checkpoint)).await
    }

    async fn import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<Option<ImportCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT file_len, modified_ns, byte_offset, line FROM import_checkpoint \
             WHERE file_id = ?1 AND kind = ?2",
        )
        .bind(file_id)
        .bind(kind.as_str())
        .fetch_optional(&self.write)
        .await?;
        row.map(|r| checkpoint_row(file_id, kind, &r)).transpose()
    }

    async fn clear_import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM import_checkpoint WHERE file_id = ?1 AND kind = ?2")
            .bind(file_id)
            .bind(kind.as_str())
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(())
    }

    async fn find(
        &self,
        kind: RecordKind,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self
            .find_shared(kind, merchant, key, value)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    async fn find_shared(
        &self,
        kind: RecordKind,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> Result<Option<Arc<Record>>, StoreError> {
        let Some(sql) = &self.sql(kind).find[key_slot(key)] else {
            return Ok(None);
        };
        if let Some(fast) = &self.fast {
            let read = || async {
                fast.first_row(sql, &[merchant, value], |pk, doc| {
                    decode_record(kind, pk, doc).map(Arc::new)
                })
            };
            return match &self.cache {
                Some(cache) => cache.find((kind, key, merchant, value), read).await,
                None => read().await,
            };
        }
        let row = sqlx::query(sql)
            .bind(merchant)
            .bind(value)
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(row) => {
                let pk: String = row.try_get(0)?;
                let doc: &str = row.try_get(1)?;
                decode_record(kind, &pk, doc).map(|r| Some(Arc::new(r)))
            }
            None => Ok(None),
        }
    }

    async fn get(&self, kind: RecordKind, primary_key: &str) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql(kind).get)
            .bind(primary_key)
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(row) => {
                let doc: &str = row.try_get(1)?;
                decode_record(kind, primary_key, doc).map(Some)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, kind: RecordKind, primary_key: &str) -> Result<bool, StoreError> {
        let at = millis(Utc::now());
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&self.sql(kind).delete)
            .bind(primary_key)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let merchant: String = row.try_get(0)?;
        let audit = AuditRow {
            kind: kind.as_str(),
            key: primary_key,
            merchant: &merchant,
            action: DELETED,
            gmt_modified: row.try_get(1)?,
            version: row.try_get(2)?,
        };
        self.insert_audit(&mut tx, at, &[audit]).await?;
        sqlx::query("DELETE FROM record_lifecycle WHERE kind = ?1 AND key = ?2")
            .bind(kind.as_str())
            .bind(primary_key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.wrote();
        Ok(true)
    }

    async fn count(&self, kind: RecordKind) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&self.sql(kind).count)
            .fetch_one(&self.read)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, key, merchant, action, gmt_modified, version \
             FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(audit_row).collect()
    }

    async fn put_alipay_app(&self, app: &AlipayApp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alipay_app (app_id, merchant_pid, doc) VALUES (?1, ?2, ?3) \
             ON CONFLICT (app_id) DO UPDATE SET merchant_pid = excluded.merchant_pid, \
             doc = excluded.doc",
        )
        .bind(&app.app_id)
        .bind(&app.merchant_pid)
        .bind(encode_credential(app)?)
        .execute(&self.write)
        .await?;
        self.wrote();
        Ok(())
    }

    async fn get_alipay_app(&self, app_id: &str) -> Result<Option<AlipayApp>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc FROM alipay_app WHERE app_id = ?1")
                .bind(app_id)
                .fetch_optional(&self.read)
                .await?;
        doc.map(|d| decode_credential("Alipay app", app_id, &d))
            .transpose()
    }

    async fn list_alipay_apps(&self) -> Result<Vec<AlipayApp>, StoreError> {
        list(
            &self.read,
            "SELECT app_id, doc FROM alipay_app ORDER BY app_id",
            "Alipay app",
            false,
        )
        .await
    }

    async fn delete_alipay_app(&self, app_id: &str) -> Result<bool, StoreError> {
        // The tokens go by ON DELETE CASCADE (foreign_keys is on for every connection).
        let done = sqlx::query("DELETE FROM alipay_app WHERE app_id = ?1")
            .bind(app_id)
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(done.rows_affected() > 0)
    }

    async fn put_app_auth_token(&self, token: &AppAuthToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO app_auth_token (token, app_id, merchant_pid, doc) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (token) DO UPDATE SET app_id = excluded.app_id, \
             merchant_pid = excluded.merchant_pid, doc = excluded.doc",
        )
        .bind(&token.token)
        .bind(&token.app_id)
        .bind(&token.merchant_pid)
        .bind(encode_credential(token)?)
        .execute(&self.write)
        .await
        .map_err(|e| missing_parent(e, "Alipay app", &token.app_id))?;
        self.wrote();
        Ok(())
    }

    async fn get_app_auth_token(&self, token: &str) -> Result<Option<AppAuthToken>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc FROM app_auth_token WHERE token = ?1")
                .bind(token)
                .fetch_optional(&self.read)
                .await?;
        doc.map(|d| decode_credential("app auth token", &redact(token), &d))
            .transpose()
    }

    async fn list_app_auth_tokens(&self) -> Result<Vec<AppAuthToken>, StoreError> {
        list(
            &self.read,
            "SELECT token, doc FROM app_auth_token ORDER BY token",
            "app auth token",
            true,
        )
        .await
    }

    async fn delete_app_auth_token(&self, token: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM app_auth_token WHERE token = ?1")
            .bind(token)
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(done.rows_affected() > 0)
    }

    async fn put_top_app(&self, app: &TopApp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO top_app (app_key, merchant_id, doc) VALUES (?1, ?2, ?3) \
             ON CONFLICT (app_key) DO UPDATE SET merchant_id = excluded.merchant_id, \
             doc = excluded.doc",
        )
        .bind(&app.app_key)
        .bind(&app.merchant_id)
        .bind(encode_credential(app)?)
        .execute(&self.write)
        .await?;
        self.wrote();
        Ok(())
    }

    async fn get_top_app(&self, app_key: &str) -> Result<Option<TopApp>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM top_app WHERE app_key = ?1")
            .bind(app_key)
            .fetch_optional(&self.read)
            .await?;
        doc.map(|d| decode_credential("TOP app", app_key, &d))
            .transpose()
    }

    async fn list_top_apps(&self) -> Result<Vec<TopApp>, StoreError> {
        list(
            &self.read,
            "SELECT app_key, doc FROM top_app ORDER BY app_key",
            "TOP app",
            false,
        )
        .await
    }

    async fn delete_top_app(&self, app_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM top_app WHERE app_key = ?1")
            .bind(app_key)
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(done.rows_affected() > 0)
    }

    async fn put_top_session(&self, session: &TopSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO top_session (session, app_key, merchant_id, doc) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (session) DO UPDATE SET app_key = excluded.app_key, \
             merchant_id = excluded.merchant_id, doc = excluded.doc",
        )
        .bind(&session.session)
        .bind(&session.app_key)
        .bind(&session.merchant_id)
        .bind(encode_credential(session)?)
        .execute(&self.write)
        .await
        .map_err(|e| missing_parent(e, "TOP app", &session.app_key))?;
        self.wrote();
        Ok(())
    }

    async fn get_top_session(&self, session: &str) -> Result<Option<TopSession>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc FROM top_session WHERE session = ?1")
                .bind(session)
                .fetch_optional(&self.read)
                .await?;
        doc.map(|d| decode_credential("TOP session", &redact(session), &d))
            .transpose()
    }

    async fn list_top_sessions(&self) -> Result<Vec<TopSession>, StoreError> {
        list(
            &self.read,
            "SELECT session, doc FROM top_session ORDER BY session",
            "TOP session",
            true,
        )
        .await
    }

    async fn delete_top_session(&self, session: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM top_session WHERE session = ?1")
            .bind(session)
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(done.rows_affected() > 0)
    }

    async fn list_records(
        &self,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        self.list_records_sqlite(kind, query).await
    }

    async fn get_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
    ) -> Result<Option<LifecycleState>, StoreError> {
        self.get_lifecycle_sqlite(kind, primary_key).await
    }

    async fn put_lifecycles(
        &self,
        states: &[(RecordKind, String, LifecycleState)],
    ) -> Result<(), StoreError> {
        self.put_lifecycles_sqlite(states).await
    }

    async fn remove_lifecycles(&self, kind: RecordKind, keys: &[String]) -> Result<(), StoreError> {
        self.remove_lifecycles_sqlite(kind, keys).await
    }

    async fn advance_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Advance>, StoreError> {
        self.advance_lifecycle_sqlite(kind, primary_key, now).await
    }

    async fn clear_records(&self) -> Result<u64, StoreError> {
        self.clear_records_sqlite().await
    }

    async fn clear_credentials(&self) -> Result<(), StoreError> {
        self.clear_credentials_sqlite().await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.read)
            .await?)
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.write)
        .await?;
        self.wrote();
        Ok(())
    }

    async fn insert_fault_rule(&self, rule: &NewFaultRule) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO fault_rule (id, created_at, times, doc) VALUES (?1, ?2, ?3, ?4)")
            .bind(&rule.id)
            .bind(millis(rule.created_at))
            .bind(times_column(rule.times))
            .bind(&rule.doc)
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(())
    }

    async fn list_fault_rules(&self) -> Result<Vec<FaultRuleRow>, StoreError> {
        // A reader's transaction starts at the latest commit, so a rule added or a hit claimed
        // a moment ago shows; every node re-reads the rules every second, off the writer.
        let rows = sqlx::query(
            "SELECT id, created_at, times, matched, hits, doc FROM fault_rule ORDER BY seq",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FaultRuleRow {
                    id: r.try_get(0)?,
                    created_at: fault_rules::from_millis(r.try_get(1)?),
                    times: r.try_get::<Option<i64>, _>(2)?.map(fault_rules::count),
                    matched: fault_rules::count(r.try_get(3)?),
                    hits: fault_rules::count(r.try_get(4)?),
                    doc: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn delete_fault_rule(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM fault_rule WHERE id = ?1")
            .bind(id)
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(done.rows_affected() > 0)
    }

    async fn clear_fault_rules(&self) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM fault_rule")
            .execute(&self.write)
            .await?;
        self.wrote();
        Ok(done.rows_affected())
    }

    async fn count_fault_match(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let n: Option<i64> = sqlx::query_scalar(
            "UPDATE fault_rule SET matched = matched + 1 WHERE id = ?1 RETURNING matched",
        )
        .bind(id)
        .fetch_optional(&self.write)
        .await?;
        self.wrote();
        Ok(n.map(fault_rules::count))
    }

    async fn claim_fault_hit(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let hits: Option<i64> = sqlx::query_scalar(
            "UPDATE fault_rule SET hits = hits + 1 \
             WHERE id = ?1 AND (times IS NULL OR hits < times) RETURNING hits",
        )
        .bind(id)
        .fetch_optional(&self.write)
        .await?;
        self.wrote();
        Ok(hits.map(fault_rules::count))
    }

    async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.task.abort();
        }
        if !self.nonces_in_main {
            self.nonces.close().await;
        }
        self.read.close().await;
        self.write.close().await;
    }

    fn nonce_store(self: Arc<Self>) -> Arc<dyn NonceStore> {
        self
    }
}

#[async_trait]
impl NonceStore for SqliteStore {
    async fn claim(
        &self,
        app_id: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now_ms = millis(now);
        if self
            .nonce_claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(NONCE_PURGE_EVERY)
        {
            sqlx::query(
                "DELETE FROM used_nonce WHERE rowid IN \
                 (SELECT rowid FROM used_nonce WHERE expires_at <= ?1 LIMIT ?2)",
            )
            .bind(now_ms)
            .bind(NONCE_PURGE_LIMIT)
            .execute(&self.nonces)
            .await?;
        }
        // Inserted, or an expired row reclaimed: one row changed. A live row: none.
        let done = sqlx::query(
            "INSERT INTO used_nonce (app_id, nonce, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (app_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_nonce.expires_at <= ?4",
        )
        .bind(app_id)
        .bind(nonce)
        .bind(millis(expires_at))
        .bind(now_ms)
        .execute(&self.nonces)
        .await?;
        if self.nonces_in_main {
            self.wrote();
        }
        Ok(done.rows_affected() == 1)
    }
}

/// Opens (creating it 0600 if missing) the nonce database beside the database file `db`.
async fn open_nonce_file(db: &std::path::Path) -> Result<SqlitePool, StoreError> {
    let mut name = db.as_os_str().to_owned();
    name.push("-nonces");
    let path = std::path::PathBuf::from(name);
    crate::file_modes::create_private(&path).map_err(|e| StoreError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .busy_timeout(BUSY_TIMEOUT)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await?;
    // The schema of this side file is this one table, the same as `used_nonce` in the store's
    // migrations (which the in-memory store uses).
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS used_nonce (app_id TEXT NOT NULL, nonce TEXT NOT NULL, \
         expires_at INTEGER NOT NULL, PRIMARY KEY (app_id, nonce))",
    )
    .execute(&pool)
    .await?;
    sqlx::query("CREATE INDEX IF NOT EXISTS used_nonce_expires_at ON used_nonce (expires_at)")
        .execute(&pool)
        .await?;
    Ok(pool)
}

/// Lists credentials of one table as `(key, doc)` rows.
async fn list<T: serde::de::DeserializeOwned>(
    pool: &SqlitePool,
    sql: &'static str,
    what: &str,
    secret_key: bool,
) -> Result<Vec<T>, StoreError> {
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let key: &str = row.try_get(0)?;
            let doc: &str = row.try_get(1)?;
            let shown = if secret_key {
                redact(key)
            } else {
                key.to_string()
            };
            decode_credential(what, &shown, doc)
        })
        .collect()
}

/// Tokens and sessions are secrets: an error names only their first characters.
fn redact(secret: &str) -> String {
    tradeq_model::credentials::redact(secret)
}

/// Writes an import checkpoint inside the batch's transaction.
async fn put_checkpoint(
    conn: &mut sqlx::SqliteConnection,
    cp: &ImportCheckpoint,
) -> Result<(), StoreError> {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO import_checkpoint \
         (file_id, kind, file_len, modified_ns, byte_offset, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (file_id, kind) DO UPDATE SET file_len = excluded.file_len, \
         modified_ns = excluded.modified_ns, byte_offset = excluded.byte_offset, \
         line = excluded.line",
    )
    .bind(&cp.file_id)
    .bind(cp.kind.as_str())
    .bind(int(cp.file_len))
    .bind(cp.modified_ns)
    .bind(int(cp.byte_offset))
    .bind(int(cp.line))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An import checkpoint from its row (`file_len, modified_ns, byte_offset, line`).
fn checkpoint_row(
    file_id: &str,
    kind: RecordKind,
    row: &sqlx::sqlite::SqliteRow,
) -> Result<ImportCheckpoint, StoreError> {
    let uint = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(ImportCheckpoint {
        file_id: file_id.to_string(),
        kind,
        file_len: uint(row.try_get(0)?),
        modified_ns: row.try_get(1)?,
        byte_offset: uint(row.try_get(2)?),
        line: uint(row.try_get(3)?),
    })
}

#[cfg(test)]
mod pool_tests {
    #[test]
    fn the_writer_connection_is_never_retired() {
        // sqlx retires idle connections after 10 minutes and every connection after 30 by
        // default; for `sqlite::memory:` that would drop the whole database.
        let options = super::writer_pool_options();
        assert_eq!(options.get_idle_timeout(), None);
        assert_eq!(options.get_max_lifetime(), None);
        assert_eq!(options.get_min_connections(), 1);
        assert_eq!(options.get_max_connections(), 1);
    }
}
