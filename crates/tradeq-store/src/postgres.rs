//! The scale-out backend: PostgreSQL (and what speaks its protocol), shared by several
//! stateless gateway nodes.
//!
//! Batches are read and written with array parameters (`UNNEST`, `= ANY($1)`), so every
//! statement has one text whatever the batch size and a batch costs a handful of round trips.
//! Record writers serialize on an EXCLUSIVE lock of `audit_log`, taken first in each of their
//! transactions: batches of several nodes never interleave, and audit sequence numbers become
//! visible in order.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use tradeq_model::{KeyKind, Record, RecordKind};

use crate::codec::{decode_record, kind_slot, stamp_seconds, AuditRow, KindSpec};
use crate::plan::{overlap, plan_kind, Batch, Holder, Lookup, StoredRow};
use crate::record_cache::RecordCache;
use crate::sql::dialect::Dialect;
use crate::sql::statements::Statements;
use crate::sql::{SqlBackend, SqlParts, Written};
use crate::StoreError;

mod copy;
pub mod epoch;

use epoch::Epoch;

/// Taken first by every transaction that writes records. The read-decide-write of a batch must
/// not interleave with another node's (two nodes inserting one new key would both see it absent
/// and the older write could win), and the audit sequence must become visible in order, or
/// `audit_since` could pass over a row committed late. EXCLUSIVE mode conflicts with itself and
/// with writes but not with plain reads, so queries never wait on it.
const LOCK_WRITERS: &str = "LOCK TABLE audit_log IN EXCLUSIVE MODE";

/// An import batch commits without waiting for its WAL to reach the disk. Its checkpoint
/// commits with it, so a database crash loses the last batches and their checkpoint together
/// (the import then resumes from the last durable checkpoint and writes them again), never
/// records without a checkpoint. What such a crash takes back: the batches of the last three
/// WAL writer delays (600 ms by default), which other sessions may already have read, and their
/// audit sequence numbers, which may be handed out again. Every other write (admin, API,
/// lifecycles) still commits synchronously, and so does the import's last step (clearing its
/// checkpoint), which makes every batch before it durable before the importer reports.
const IMPORT_COMMITS_ASYNC: &str = "SET LOCAL synchronous_commit = off";

/// Appends audit rows from arrays, numbered in array order.
const AUDIT_INSERT: &str =
    "INSERT INTO audit_log (kind, key, merchant, action, gmt_modified, version) \
     SELECT kind, key, merchant, action, gmt, ver \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
     WITH ORDINALITY AS u(kind, key, merchant, action, gmt, ver, ord) ORDER BY ord";

/// Pool settings of [`PgStore`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections the pool opens (default 16).
    pub max_connections: u32,
    /// How long a caller waits for a free connection (default 10 s).
    pub acquire_timeout: Duration,
    /// Decoded records kept for lookups while no node writes a record (default 16,384; 0 turns
    /// the cache off). A write through any node is seen within [`epoch::MAX_AGE`].
    pub record_cache_entries: usize,
    /// Batches writing at least this many records of a kind stream them with `COPY`; smaller
    /// ones bind arrays. Off by default (`usize::MAX`): measured against bound arrays it did
    /// not import faster (BENCHMARKS.md, "Large stores and PostgreSQL"), the database's own
    /// work on each row being the cost.
    pub copy_min_rows: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            record_cache_entries: 16_384,
            copy_min_rows: usize::MAX,
        }
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    /// One pool for everything, the `used_nonce` table included.
    parts: SqlParts<Postgres>,
    /// The batch statements per kind, in [`RecordKind::ALL`] order.
    kinds: Vec<KindSql>,
    /// Decoded records, valid while the record epoch is unchanged.
    cache: Option<RecordCache<Arc<Epoch>>>,
    /// What the epoch poller last saw.
    epoch: Arc<Epoch>,
    /// The epoch poller, stopped with the store.
    poller: Option<tokio::task::JoinHandle<()>>,
    /// [`PgOptions::copy_min_rows`].
    copy_min_rows: usize,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(poller) = &self.poller {
            poller.abort();
        }
    }
}

/// The batch statements of one record kind, built once.
struct KindSql {
    spec: KindSpec,
    /// The stored rows of the batch's (primary key, gmt_modified, version) arrays (`$1..$3`)
    /// and the holders of its (merchant, `out_trade_no`) pairs (`$4`, `$5`) and (merchant,
    /// `short_trade_no`) pairs (`$6`, `$7`), tagged rows of one shape: one round trip per
    /// kind and batch.
    lookup: String,
    delete_many: String,
    /// Writes rows from arrays, one per column: `insert` the keys not stored, `upsert` the
    /// ones replacing a stored row.
    insert: String,
    upsert: String,
    /// The same write for big batches.
    copy: copy::CopySql,
}

impl KindSql {
    fn new(kind: RecordKind) -> KindSql {
        let spec = KindSpec::of(kind);
        let KindSpec { table, pk, .. } = spec;
        // One statement, rows tagged by what they answer (0: stored row, 1: holder of an
        // out_trade_no, 2: holder of a short_trade_no), all of one shape.
        let secondary = spec.secondary_select("t.", "NULL::text");
        // `$1..$3` are the batch's (pk, gmt_modified, version): a document comes back only
        // with the same stamp (the one case where it is compared).
        let mut lookup = format!(
            "SELECT 0::int2, t.{pk}, t.merchant, {secondary}, t.gmt_modified, t.version, \
             CASE WHEN t.gmt_modified IS NOT DISTINCT FROM u.gmt AND t.version = u.ver \
             THEN t.doc::text END \
             FROM {table} AS t JOIN UNNEST($1::text[], $2::int8[], $3::int8[]) AS u(pk, gmt, ver) \
             ON t.{pk} = u.pk"
        );
        let holders = |tag: u8, col: &str, m: &str, v: &str| {
            format!(
                " UNION ALL SELECT {tag}::int2, t.{pk}, t.merchant, t.{col}, NULL::text, \
                 NULL::int8, 0::int8, NULL::text FROM {table} AS t \
                 JOIN UNNEST({m}::text[], {v}::text[]) AS u(merchant, value) \
                 ON t.merchant = u.merchant AND t.{col} = u.value"
            )
        };
        if spec.has_out {
            lookup.push_str(&holders(1, "out_trade_no", "$4", "$5"));
        }
        if spec.has_short {
            lookup.push_str(&holders(2, "short_trade_no", "$6", "$7"));
        }
        let cols = spec.columns();
        let types: Vec<&str> = cols
            .iter()
            .map(|c| match *c {
                "gmt_modified" | "version" => "bigint[]",
                _ => "text[]",
            })
            .collect();
        let params = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let aliases: Vec<String> = (0..cols.len()).map(|i| format!("c{i}")).collect();
        let mut select = aliases.clone();
        // The document travels as text and is stored as `json`, verbatim (checked, not
        // rebuilt: migration 0012).
        if let Some(last) = select.last_mut() {
            last.push_str("::json");
        }
        let updates = cols[1..]
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!(
            "INSERT INTO {table} ({}) SELECT {} FROM UNNEST({params}) AS u({})",
            cols.join(", "),
            select.join(", "),
            aliases.join(", "),
        );
        let upsert = format!("{insert} ON CONFLICT ({pk}) DO UPDATE SET {updates}");
        let copy = copy::CopySql::new(table, pk, &cols, &updates);
        KindSql {
            spec,
            lookup,
            delete_many: format!("DELETE FROM {table} WHERE {pk} = ANY($1::text[])"),
            insert,
            upsert,
            copy,
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host/db`) with default pool settings and brings the
    /// schema up to date.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open_with(url, PgOptions::default()).await
    }

    /// Connects with explicit pool settings.
    pub async fn open_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let connect: PgConnectOptions = url.parse()?;
        PgStore::connect_with(connect, options).await
    }

    /// Connects with parsed connection options (to set a `search_path`, TLS, …).
    pub async fn connect_with(
        connect: PgConnectOptions,
        options: PgOptions,
    ) -> Result<PgStore, StoreError> {
        // The host and database only: the options may carry a password.
        tracing::debug!(
            host = connect.get_host(),
            database = connect.get_database().unwrap_or(""),
            "connecting to PostgreSQL"
        );
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let epoch = Arc::new(Epoch::default());
        let cache = RecordCache::new(epoch.clone(), options.record_cache_entries);
        let poller = cache
            .is_some()
            .then(|| epoch::spawn_poller(&epoch, &connect));
        Ok(PgStore {
            parts: SqlParts {
                statements: Statements::new(Dialect::Postgres),
                read: pool.clone(),
                write: pool.clone(),
                nonces: pool,
                nonces_in_record_store: true,
                nonce_claims: AtomicU64::new(0),
            },
            kinds: RecordKind::ALL.into_iter().map(KindSql::new).collect(),
            cache,
            epoch,
            poller,
            copy_min_rows: options.copy_min_rows.max(1),
        })
    }

    /// Lookups `find` answered from the record cache.
    pub fn record_cache_hits(&self) -> u64 {
        self.cache.as_ref().map_or(0, RecordCache::hits)
    }

    /// The PostgreSQL server process of the record-epoch poller while it is connected (to
    /// watch it, or to cut it off in a test).
    pub fn epoch_backend_pid(&self) -> Option<i32> {
        self.epoch.backend_pid()
    }

    fn sql(&self, kind: RecordKind) -> &KindSql {
        &self.kinds[kind_slot(kind)]
    }

    /// Runs the batch lookup of one kind.
    async fn lookup(
        conn: &mut sqlx::PgConnection,
        sql: &KindSql,
        keys: Vec<(&str, Option<i64>, i64)>,
        outs: Vec<(&str, &str)>,
        shorts: Vec<(&str, &str)>,
    ) -> Result<Lookup, StoreError> {
        let mut q = sqlx::query(&sql.lookup)
            .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
            .bind(keys.iter().map(|k| k.2).collect::<Vec<_>>());
        if sql.spec.has_out {
            q = q
                .bind(outs.iter().map(|p| p.0).collect::<Vec<_>>())
                .bind(outs.iter().map(|p| p.1).collect::<Vec<_>>());
        }
        if sql.spec.has_short {
            q = q
                .bind(shorts.iter().map(|p| p.0).collect::<Vec<_>>())
                .bind(shorts.iter().map(|p| p.1).collect::<Vec<_>>());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut looked = Lookup::default();
        for row in &rows {
            let tag: i16 = row.try_get(0)?;
            let pk: String = row.try_get(1)?;
            let merchant: String = row.try_get(2)?;
            match tag {
                0 => looked.stored.push(StoredRow {
                    pk,
                    merchant,
                    out_trade_no: row.try_get(3)?,
                    short_trade_no: row.try_get(4)?,
                    gmt_modified: row.try_get(5)?,
                    version: row.try_get(6)?,
                    doc: row.try_get(7)?,
                }),
                _ => {
                    let value: Option<String> = row.try_get(3)?;
                    let holder = Holder {
                        pk,
                        merchant,
                        value: value.unwrap_or_default(),
                    };
                    if tag == 1 {
                        looked.outs.push(holder);
                    } else {
                        looked.shorts.push(holder);
                    }
                }
            }
        }
        Ok(looked)
    }
}

/// Runs `statement` (a kind's `insert` or `upsert`) with `rs` and their `docs` bound as one
/// array per column.
async fn write_rows(
    conn: &mut PgConnection,
    statement: &str,
    spec: KindSpec,
    rs: &[&Record],
    docs: Vec<String>,
) -> Result<(), StoreError> {
    let mut q = sqlx::query(statement)
        .bind(rs.iter().map(|r| r.primary_key()).collect::<Vec<_>>())
        .bind(rs.iter().map(|r| r.merchant()).collect::<Vec<_>>());
    if spec.has_out {
        q = q.bind(rs.iter().map(|r| r.out_trade_no()).collect::<Vec<_>>());
    }
    if spec.has_short {
        q = q.bind(rs.iter().map(|r| r.short_trade_no()).collect::<Vec<_>>());
    }
    let stamps: Vec<_> = rs.iter().map(|r| r.version_stamp()).collect();
    q.bind(stamps.iter().map(stamp_seconds).collect::<Vec<_>>())
        .bind(stamps.iter().map(|s| s.version).collect::<Vec<_>>())
        .bind(docs)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl SqlBackend for PgStore {
    type Db = Postgres;

    const NAME: &'static str = "postgres";

    fn parts(&self) -> &SqlParts<Postgres> {
        &self.parts
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.parts.write.begin().await?)
    }

    /// Takes the writers' lock ([`LOCK_WRITERS`]) first; an import batch commits lazily
    /// ([`IMPORT_COMMITS_ASYNC`]).
    async fn begin_records(
        &self,
        import: bool,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.parts.write.begin().await?;
        sqlx::query(LOCK_WRITERS).execute(&mut *tx).await?;
        if import {
            sqlx::query(IMPORT_COMMITS_ASYNC).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Other nodes learn of record writes from the epoch the database bumps; this node's cache
    /// stops serving at once.
    fn committed(&self, records: bool) {
        if records {
            self.epoch.wrote();
        }
    }

    async fn find_record(
        &self,
        kind: RecordKind,
        sql: &str,
        merchant: &str,
        key: KeyKind,
        value: &str,
    ) -> Result<Option<Arc<Record>>, StoreError> {
        let read = || async {
            let row = sqlx::query(sql)
                .bind(merchant)
                .bind(value)
                .fetch_optional(&self.parts.read)
                .await?;
            match row {
                Some(row) => {
                    let pk: &str = row.try_get(0)?;
                    let doc: &str = row.try_get(1)?;
                    decode_record(kind, pk, doc).map(|r| Some(Arc::new(r)))
                }
                None => Ok(None),
            }
        };
        match &self.cache {
            Some(cache) => cache.find((kind, key, merchant, value), read).await,
            None => read().await,
        }
    }

    /// Every document is serialized (and checked) while the first lookup is in the database.
    async fn write_records(
        &self,
        conn: &mut PgConnection,
        batch: &mut Batch<'_>,
    ) -> Result<Written, StoreError> {
        let records = batch.records;
        let mut serialized = false;
        for kind in batch.kinds() {
            let sql = self.sql(kind);
            let all = batch.of_kind(kind);
            let lookup = Self::lookup(
                conn,
                sql,
                batch.stamped_keys(&all),
                batch.out_pairs(&all),
                batch.short_pairs(&all),
            );
            let looked = if serialized {
                lookup.await?
            } else {
                serialized = true;
                overlap(lookup, || batch.serialize()).await.0?
            };
            let idx = batch.pending(kind);
            let plan = plan_kind(batch, kind, &idx, looked.stored, looked.outs, looked.shorts);

            if !plan.delete_first.is_empty() {
                sqlx::query(&sql.delete_many)
                    .bind(&plan.delete_first)
                    .execute(&mut *conn)
                    .await?;
            }
            if plan.writes.is_empty() {
                continue;
            }
            // Every document was serialized (and checked) during the lookup.
            let docs = batch.take_docs(&plan.writes).map_err(|i| {
                StoreError::Database(sqlx::Error::Protocol(format!(
                    "internal: record {i} was planned without a checked document"
                )))
            })?;
            let rs: Vec<&Record> = plan.writes.iter().map(|&i| &records[i]).collect();
            if rs.len() >= self.copy_min_rows {
                copy::write_records(conn, sql, &rs, &docs, &plan.replaces).await?;
                continue;
            }
            let mut fresh = (Vec::new(), Vec::new());
            let mut replacing = (Vec::new(), Vec::new());
            for ((r, doc), &replaces) in rs.into_iter().zip(docs).zip(&plan.replaces) {
                let to = if replaces { &mut replacing } else { &mut fresh };
                to.0.push(r);
                to.1.push(doc);
            }
            for (statement, (rs, docs)) in [(&sql.insert, fresh), (&sql.upsert, replacing)] {
                if !rs.is_empty() {
                    write_rows(conn, statement, sql.spec, &rs, docs).await?;
                }
            }
        }
        Ok(Written::Done)
    }

    /// In one statement, or streamed with `COPY` from [`PgOptions::copy_min_rows`] rows on.
    /// The database stamps the rows (`at` is the transaction's start).
    async fn insert_audit(
        &self,
        conn: &mut PgConnection,
        _at: i64,
        rows: &[AuditRow<'_>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        if rows.len() >= self.copy_min_rows {
            return copy::write_audit(conn, rows).await;
        }
        sqlx::query(AUDIT_INSERT)
            .bind(rows.iter().map(|r| r.kind).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.key).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.merchant).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.action).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.gmt_modified).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn delete_lifecycles(&self, kind: RecordKind, keys: &[String]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM record_lifecycle WHERE kind = $1 AND key = ANY($2::text[])")
            .bind(kind.as_str())
            .bind(keys)
            .execute(&self.parts.write)
            .await?;
        Ok(())
    }

    async fn shut_down(&self) {
        if let Some(poller) = &self.poller {
            poller.abort();
        }
        self.parts.write.close().await;
    }
}
