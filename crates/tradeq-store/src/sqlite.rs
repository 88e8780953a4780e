//! The embedded backend: one SQLite file in WAL mode.
//!
//! SQLite has one writer at a time, so writes go through a pool of exactly one connection (our
//! own writers queue in-process instead of spinning on `SQLITE_BUSY`) and start with
//! `BEGIN IMMEDIATE` (another process sharing the file waits on `busy_timeout` instead of
//! failing when a read transaction tries to upgrade). Reads use a separate pool of a few
//! connections, which WAL lets run beside the writer.

use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Transaction};
use tokio::sync::Notify;

use tradeq_model::{KeyKind, Record, RecordKind};

use crate::codec::{decode_record, json_array, kind_slot, stamp_seconds, AuditRow, KindSpec};
use crate::plan::{chunk_sizes, overlap, plan_kind, Batch, Lookup};
use crate::record_cache::{ChangeProbe, RecordCache};
use crate::sql::dialect::Dialect;
use crate::sql::statements::Statements;
use crate::sql::{SqlBackend, SqlParts, Written};
use crate::sqlite_reader::FastReader;
use crate::{StoreError, StoreOptions};

/// The largest multi-row statement, in rows. 256 rows of at most 7 columns stay far below
/// SQLite's 32,766 bound parameters, and bigger statements gain nothing measurable.
const MAX_ROWS: usize = 256;

/// How long a writer waits for another process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the checkpointer lets commits accumulate before checkpointing.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// The SQLite store.
pub struct SqliteStore {
    /// The writer (a pool of one connection), the readers (for `sqlite::memory:`, the writer
    /// too), and where used v3 nonces are kept: for a file, a database file of their own beside
    /// it (`<file>-nonces`), so that a v3 request's commit neither rewrites `tradeq.db`'s
    /// wal-index (which would empty the record cache on every v3 request) nor queues behind an
    /// import on the record writer; in memory, the writer.
    parts: SqlParts<Sqlite>,
    /// The batch statements per kind, in [`RecordKind::ALL`] order.
    kinds: Vec<KindSql>,
    /// Multi-row audit inserts, by log2 of the row count.
    audit_insert: Vec<String>,
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

/// The batch statements of one record kind, built once so that each keeps one text (and one
/// entry in sqlx's per-connection prepared statement cache).
struct KindSql {
    spec: KindSpec,
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

/// A pool of one connection kept for the life of the store (the writer's, the nonce file's). An
/// in-memory database dies with its last connection, so the pool must never retire it for
/// idleness or age.
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
            parts: SqlParts {
                statements: Statements::new(Dialect::Sqlite),
                read,
                write,
                nonces,
                nonces_in_record_store: memory,
                nonce_claims: AtomicU64::new(0),
            },
            kinds: RecordKind::ALL.into_iter().map(KindSql::new).collect(),
            audit_insert,
            checkpointer,
            fast,
            cache: None,
        })
    }

    fn sql(&self, kind: RecordKind) -> &KindSql {
        &self.kinds[kind_slot(kind)]
    }

    /// Runs the batch lookup of one kind.
    async fn lookup(
        conn: &mut SqliteConnection,
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

impl SqlBackend for SqliteStore {
    type Db = Sqlite;

    const NAME: &'static str = "sqlite";

    fn parts(&self) -> &SqlParts<Sqlite> {
        &self.parts
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.parts.write.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn begin_records(
        &self,
        _import: bool,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        // The one writer connection already serializes writers; every commit is durable.
        self.begin_write().await
    }

    /// Any commit changes the file, which is all the record cache watches.
    fn committed(&self, _records: bool) {
        self.wrote();
    }

    async fn find_record(
        &self,
        kind: RecordKind,
        sql: &str,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> Result<Option<Arc<Record>>, StoreError> {
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
            .fetch_optional(&self.parts.read)
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

    /// Documents are serialized while the database executes the previous statement, chunk by
    /// chunk, so the two cores work at once; a document found unstorable only then abandons
    /// the attempt (see [`Batch::take_docs`]).
    async fn write_records(
        &self,
        conn: &mut SqliteConnection,
        batch: &mut Batch<'_>,
    ) -> Result<Written, StoreError> {
        let records = batch.records;
        for kind in batch.kinds() {
            let sql = self.sql(kind);
            let keys = LookupKeys::new(batch, &batch.of_kind(kind))?;
            let looked = Self::lookup(conn, sql, &keys).await?;
            let idx = batch.pending(kind);
            let plan = plan_kind(batch, kind, &idx, looked.stored, looked.outs, looked.shorts);
            if !plan.delete_first.is_empty() {
                sqlx::query(&sql.delete_many)
                    .bind(json_array(&plan.delete_first)?)
                    .execute(&mut *conn)
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
                Err(i) => return Ok(Written::Unstorable(i)),
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
                    overlap(q.execute(&mut *conn), || batch.take_docs(next)).await;
                done?;
                docs = match next_docs {
                    Ok(docs) => docs,
                    Err(i) => return Ok(Written::Unstorable(i)),
                };
            }
        }
        Ok(Written::Done)
    }

    /// In multi-row statements, every row stamped `at`.
    async fn insert_audit(
        &self,
        conn: &mut SqliteConnection,
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

    async fn delete_lifecycles(&self, kind: RecordKind, keys: &[String]) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM record_lifecycle WHERE kind = ?1 AND key IN (SELECT value FROM json_each(?2))",
        )
        .bind(kind.as_str())
        .bind(json_array(keys)?)
        .execute(&self.parts.write)
        .await?;
        Ok(())
    }

    async fn shut_down(&self) {
        if let Some(c) = &self.checkpointer {
            c.task.abort();
        }
        if !self.parts.nonces_in_record_store {
            self.parts.nonces.close().await;
        }
        self.parts.read.close().await;
        self.parts.write.close().await;
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
    let pool = writer_pool_options().connect_with(options).await?;
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
