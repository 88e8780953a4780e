//! The scale-out backend: PostgreSQL (and what speaks its protocol), shared by several
//! stateless gateway nodes.
//!
//! Batches are read and written with array parameters (`UNNEST`, `= ANY($1)`), so every
//! statement has one text whatever the batch size and a batch costs a handful of round trips.
//! Record writers serialize on an EXCLUSIVE lock of `audit_log`, taken first in each of their
//! transactions: batches of several nodes never interleave, and audit sequence numbers become
//! visible in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Row;

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::{KeyKind, Record, RecordKind};

use crate::codec::{
    audit_row, decode_credential, decode_record, encode_credential, key_slot, millis,
    missing_parent, stamp_seconds, AuditRow, KindSpec,
};
use crate::fault_rules::{self, times_column};
use crate::plan::{overlap, plan_kind, Batch, Holder, Lookup, StoredRow, DELETED};
use crate::record_cache::RecordCache;
use crate::{
    AuditEntry, FaultRuleRow, ImportCheckpoint, NewFaultRule, NonceStore, RecordQuery, Store,
    StoreError, WriteOutcome,
};
use tradeq_model::lifecycle::{Advance, LifecycleState};

mod copy;
pub mod epoch;
mod records;

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
/// lifecycles) still commits synchronously.
const IMPORT_COMMITS_ASYNC: &str = "SET LOCAL synchronous_commit = off";

/// Appends audit rows from arrays, numbered in array order.
const AUDIT_INSERT: &str =
    "INSERT INTO audit_log (kind, key, merchant, action, gmt_modified, version) \
     SELECT kind, key, merchant, action, gmt, ver \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
     WITH ORDINALITY AS u(kind, key, merchant, action, gmt, ver, ord) ORDER BY ord";

/// Purge expired nonces every this many claims (per node).
const NONCE_PURGE_EVERY: u64 = 1024;

/// At most this many expired nonces are purged at once.
const NONCE_PURGE_LIMIT: i64 = 10_000;

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
    pool: PgPool,
    /// Statements per kind, in [`RecordKind::ALL`] order.
    kinds: Vec<KindSql>,
    /// Claims since start, to purge expired nonces now and then.
    nonce_claims: AtomicU64,
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

/// The statements of one record kind, built once.
struct KindSql {
    spec: KindSpec,
    find: [Option<String>; 3],
    get: String,
    delete: String,
    count: String,
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
        let find = [KeyKind::Primary, KeyKind::OutTradeNo, KeyKind::ShortTradeNo].map(|k| {
            spec.key_column(k).map(|col| {
                format!("SELECT {pk}, doc::text FROM {table} WHERE merchant = $1 AND {col} = $2")
            })
        });
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
            find,
            get: format!("SELECT {pk}, doc::text FROM {table} WHERE {pk} = $1"),
            delete: format!(
                "DELETE FROM {table} WHERE {pk} = $1 RETURNING merchant, gmt_modified, version"
            ),
            count: format!("SELECT COUNT(*) FROM {table}"),
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
            pool,
            kinds: RecordKind::ALL.into_iter().map(KindSql::new).collect(),
            nonce_claims: AtomicU64::new(0),
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
        let slot = match kind {
            RecordKind::AlipayTrade => 0,
            RecordKind::KoubeiOrder => 1,
            RecordKind::OnsiteTrade => 2,
            RecordKind::OmniOrder => 3,
        };
        &self.kinds[slot]
    }

    /// Appends audit rows in one statement.
    async fn insert_audit(
        conn: &mut sqlx::PgConnection,
        rows: &[AuditRow<'_>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
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

impl PgStore {
    async fn upsert_batch_with(
        &self,
        records: &[Record],
        checkpoint: Option<&ImportCheckpoint>,
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        let mut batch = Batch::new(records);
        if records.is_empty() {
            if let Some(cp) = checkpoint {
                let mut tx = self.pool.begin().await?;
                put_checkpoint(&mut tx, cp).await?;
                tx.commit().await?;
            }
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_WRITERS).execute(&mut *tx).await?;
        if checkpoint.is_some() {
            sqlx::query(IMPORT_COMMITS_ASYNC).execute(&mut *tx).await?;
        }
        let mut serialized = false;
        for kind in batch.kinds() {
            let sql = self.sql(kind);
            let all = batch.of_kind(kind);
            let lookup = Self::lookup(
                &mut tx,
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
                    .bind(&plan.delete_first)
                    .execute(&mut *tx)
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
                copy::write_records(&mut tx, sql, &rs, &docs, &plan.replaces).await?;
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
                    write_rows(&mut tx, statement, sql.spec, &rs, docs).await?;
                }
            }
        }
        let audit: Vec<AuditRow<'_>> = batch
            .sorted_audit()
            .iter()
            .map(|&(i, action)| AuditRow::of(&records[i], action))
            .collect();
        if audit.len() >= self.copy_min_rows {
            copy::write_audit(&mut tx, &audit).await?;
        } else {
            Self::insert_audit(&mut tx, &audit).await?;
        }
        if let Some(cp) = checkpoint {
            put_checkpoint(&mut tx, cp).await?;
        }
        tx.commit().await?;
        self.epoch.wrote();
        Ok(batch.finish())
    }
}

/// Runs `statement` (a kind's `insert` or `upsert`) with `rs` and their `docs` bound as one
/// array per column.
async fn write_rows(
    conn: &mut sqlx::PgConnection,
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

/// Writes an import checkpoint inside the batch's transaction.
async fn put_checkpoint(
    conn: &mut sqlx::PgConnection,
    cp: &ImportCheckpoint,
) -> Result<(), StoreError> {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO import_checkpoint \
         (file_id, kind, file_len, modified_ns, byte_offset, line) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (file_id, kind) DO UPDATE SET file_len = EXCLUDED.file_len, \
         modified_ns = EXCLUDED.modified_ns, byte_offset = EXCLUDED.byte_offset, \
         line = EXCLUDED.line",
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

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
             WHERE file_id = $1 AND kind = $2",
        )
        .bind(file_id)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let uint = |v: i64| u64::try_from(v).unwrap_or(0);
        row.map(|r| {
            Ok(ImportCheckpoint {
                file_id: file_id.to_string(),
                kind,
                file_len: uint(r.try_get(0)?),
                modified_ns: r.try_get(1)?,
                byte_offset: uint(r.try_get(2)?),
                line: uint(r.try_get(3)?),
            })
        })
        .transpose()
    }

    async fn clear_import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM import_checkpoint WHERE file_id = $1 AND kind = $2")
            .bind(file_id)
            .bind(kind.as_str())
            .execute(&self.pool)
            .await?;
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
        let read = || async {
            let row = sqlx::query(sql)
                .bind(merchant)
                .bind(value)
                .fetch_optional(&self.pool)
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

    async fn get(&self, kind: RecordKind, primary_key: &str) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql(kind).get)
            .bind(primary_key)
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_WRITERS).execute(&mut *tx).await?;
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
        Self::insert_audit(&mut tx, &[audit]).await?;
        sqlx::query("DELETE FROM record_lifecycle WHERE kind = $1 AND key = $2")
            .bind(kind.as_str())
            .bind(primary_key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.epoch.wrote();
        Ok(true)
    }

    async fn count(&self, kind: RecordKind) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&self.sql(kind).count)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, (EXTRACT(EPOCH FROM at) * 1000)::bigint, kind, key, merchant, action, \
             gmt_modified, version FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_row).collect()
    }

    async fn put_alipay_app(&self, app: &AlipayApp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alipay_app (app_id, merchant_pid, doc) VALUES ($1, $2, $3::jsonb) \
             ON CONFLICT (app_id) DO UPDATE SET merchant_pid = EXCLUDED.merchant_pid, \
             doc = EXCLUDED.doc",
        )
        .bind(&app.app_id)
        .bind(&app.merchant_pid)
        .bind(encode_credential(app)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_alipay_app(&self, app_id: &str) -> Result<Option<AlipayApp>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc::text FROM alipay_app WHERE app_id = $1")
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?;
        doc.map(|d| decode_credential("Alipay app", app_id, &d))
            .transpose()
    }

    async fn list_alipay_apps(&self) -> Result<Vec<AlipayApp>, StoreError> {
        list(
            &self.pool,
            "SELECT app_id, doc::text FROM alipay_app ORDER BY app_id",
            "Alipay app",
            false,
        )
        .await
    }

    async fn delete_alipay_app(&self, app_id: &str) -> Result<bool, StoreError> {
        // The tokens go by ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM alipay_app WHERE app_id = $1")
            .bind(app_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_app_auth_token(&self, token: &AppAuthToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO app_auth_token (token, app_id, merchant_pid, doc) \
             VALUES ($1, $2, $3, $4::jsonb) \
             ON CONFLICT (token) DO UPDATE SET app_id = EXCLUDED.app_id, \
             merchant_pid = EXCLUDED.merchant_pid, doc = EXCLUDED.doc",
        )
        .bind(&token.token)
        .bind(&token.app_id)
        .bind(&token.merchant_pid)
        .bind(encode_credential(token)?)
        .execute(&self.pool)
        .await
        .map_err(|e| missing_parent(e, "Alipay app", &token.app_id))?;
        Ok(())
    }

    async fn get_app_auth_token(&self, token: &str) -> Result<Option<AppAuthToken>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc::text FROM app_auth_token WHERE token = $1")
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
        doc.map(|d| decode_credential("app auth token", &redact(token), &d))
            .transpose()
    }

    async fn list_app_auth_tokens(&self) -> Result<Vec<AppAuthToken>, StoreError> {
        list(
            &self.pool,
            "SELECT token, doc::text FROM app_auth_token ORDER BY token",
            "app auth token",
            true,
        )
        .await
    }

    async fn delete_app_auth_token(&self, token: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM app_auth_token WHERE token = $1")
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_top_app(&self, app: &TopApp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO top_app (app_key, merchant_id, doc) VALUES ($1, $2, $3::jsonb) \
             ON CONFLICT (app_key) DO UPDATE SET merchant_id = EXCLUDED.merchant_id, \
             doc = EXCLUDED.doc",
        )
        .bind(&app.app_key)
        .bind(&app.merchant_id)
        .bind(encode_credential(app)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_top_app(&self, app_key: &str) -> Result<Option<TopApp>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc::text FROM top_app WHERE app_key = $1")
                .bind(app_key)
                .fetch_optional(&self.pool)
                .await?;
        doc.map(|d| decode_credential("TOP app", app_key, &d))
            .transpose()
    }

    async fn list_top_apps(&self) -> Result<Vec<TopApp>, StoreError> {
        list(
            &self.pool,
            "SELECT app_key, doc::text FROM top_app ORDER BY app_key",
            "TOP app",
            false,
        )
        .await
    }

    async fn delete_top_app(&self, app_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM top_app WHERE app_key = $1")
            .bind(app_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_top_session(&self, session: &TopSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO top_session (session, app_key, merchant_id, doc) \
             VALUES ($1, $2, $3, $4::jsonb) \
             ON CONFLICT (session) DO UPDATE SET app_key = EXCLUDED.app_key, \
             merchant_id = EXCLUDED.merchant_id, doc = EXCLUDED.doc",
        )
        .bind(&session.session)
        .bind(&session.app_key)
        .bind(&session.merchant_id)
        .bind(encode_credential(session)?)
        .execute(&self.pool)
        .await
        .map_err(|e| missing_parent(e, "TOP app", &session.app_key))?;
        Ok(())
    }

    async fn get_top_session(&self, session: &str) -> Result<Option<TopSession>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc::text FROM top_session WHERE session = $1")
                .bind(session)
                .fetch_optional(&self.pool)
                .await?;
        doc.map(|d| decode_credential("TOP session", &redact(session), &d))
            .transpose()
    }

    async fn list_top_sessions(&self) -> Result<Vec<TopSession>, StoreError> {
        list(
            &self.pool,
            "SELECT session, doc::text FROM top_session ORDER BY session",
            "TOP session",
            true,
        )
        .await
    }

    async fn delete_top_session(&self, session: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM top_session WHERE session = $1")
            .bind(session)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_records(
        &self,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        self.list_records_pg(kind, query).await
    }

    async fn get_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
    ) -> Result<Option<LifecycleState>, StoreError> {
        self.get_lifecycle_pg(kind, primary_key).await
    }

    async fn put_lifecycles(
        &self,
        states: &[(RecordKind, String, LifecycleState)],
    ) -> Result<(), StoreError> {
        self.put_lifecycles_pg(states).await
    }

    async fn remove_lifecycles(&self, kind: RecordKind, keys: &[String]) -> Result<(), StoreError> {
        self.remove_lifecycles_pg(kind, keys).await
    }

    async fn advance_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Advance>, StoreError> {
        self.advance_lifecycle_pg(kind, primary_key, now).await
    }

    async fn clear_records(&self) -> Result<u64, StoreError> {
        self.clear_records_pg().await
    }

    async fn clear_credentials(&self) -> Result<(), StoreError> {
        self.clear_credentials_pg().await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_fault_rule(&self, rule: &NewFaultRule) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO fault_rule (id, created_at, times, doc) VALUES ($1, $2, $3, $4)")
            .bind(&rule.id)
            .bind(millis(rule.created_at))
            .bind(times_column(rule.times))
            .bind(&rule.doc)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_fault_rules(&self) -> Result<Vec<FaultRuleRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, times, matched, hits, doc FROM fault_rule ORDER BY seq",
        )
        .fetch_all(&self.pool)
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
        let done = sqlx::query("DELETE FROM fault_rule WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn clear_fault_rules(&self) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM fault_rule")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn count_fault_match(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let n: Option<i64> = sqlx::query_scalar(
            "UPDATE fault_rule SET matched = matched + 1 WHERE id = $1 RETURNING matched",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(n.map(fault_rules::count))
    }

    async fn claim_fault_hit(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let hits: Option<i64> = sqlx::query_scalar(
            "UPDATE fault_rule SET hits = hits + 1 \
             WHERE id = $1 AND (times IS NULL OR hits < times) RETURNING hits",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(hits.map(fault_rules::count))
    }

    async fn close(&self) {
        if let Some(poller) = &self.poller {
            poller.abort();
        }
        self.pool.close().await;
    }

    fn nonce_store(self: Arc<Self>) -> Arc<dyn NonceStore> {
        self
    }
}

#[async_trait]
impl NonceStore for PgStore {
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
                "DELETE FROM used_nonce WHERE ctid = ANY(ARRAY(\
                 SELECT ctid FROM used_nonce WHERE expires_at <= $1 LIMIT $2))",
            )
            .bind(now_ms)
            .bind(NONCE_PURGE_LIMIT)
            .execute(&self.pool)
            .await?;
        }
        // Inserted, or an expired row reclaimed: one row. A live row: none. The statement is
        // atomic, so two nodes racing on one nonce cannot both see one row.
        let done = sqlx::query(
            "INSERT INTO used_nonce (app_id, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
             WHERE used_nonce.expires_at <= $4",
        )
        .bind(app_id)
        .bind(nonce)
        .bind(millis(expires_at))
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Lists credentials of one table as `(key, doc)` rows.
async fn list<T: serde::de::DeserializeOwned>(
    pool: &PgPool,
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
