//! Listing, lifecycles and clearing on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::Row;

use tradeq_model::lifecycle::{self, Advance, LifecycleState};
use tradeq_model::{Record, RecordKind};

use super::{PgStore, LOCK_WRITERS};
use crate::codec::{decode_record, stamp_seconds, AuditRow, KindSpec};
use crate::listing::{list_sql, Bind, Dialect, RecordQuery};
use crate::StoreError;

const UPSERT_LIFECYCLE: &str = "INSERT INTO record_lifecycle (kind, key, state) \
     VALUES ($1, $2, $3::jsonb) ON CONFLICT (kind, key) DO UPDATE SET state = EXCLUDED.state";

const SELECT_LIFECYCLE: &str =
    "SELECT state::text FROM record_lifecycle WHERE kind = $1 AND key = $2";

fn encode_state(state: &LifecycleState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

fn decode_state(kind: RecordKind, key: &str, text: &str) -> Result<LifecycleState, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        kind,
        key: key.to_string(),
        reason: format!("its lifecycle state is unreadable: {e}"),
    })
}

impl PgStore {
    pub(super) async fn list_records_pg(
        &self,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        let (sql, binds) = list_sql(kind, query, Dialect::Postgres);
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(n) => q.bind(n),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let pk: &str = row.try_get(0)?;
                let doc: &str = row.try_get(1)?;
                decode_record(kind, pk, doc)
            })
            .collect()
    }

    pub(super) async fn get_lifecycle_pg(
        &self,
        kind: RecordKind,
        key: &str,
    ) -> Result<Option<LifecycleState>, StoreError> {
        let text: Option<String> = sqlx::query_scalar(SELECT_LIFECYCLE)
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        text.map(|t| decode_state(kind, key, &t)).transpose()
    }

    pub(super) async fn put_lifecycles_pg(
        &self,
        states: &[(RecordKind, String, LifecycleState)],
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (kind, key, state) in states {
            sqlx::query(UPSERT_LIFECYCLE)
                .bind(kind.as_str())
                .bind(key)
                .bind(encode_state(state)?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn remove_lifecycles_pg(
        &self,
        kind: RecordKind,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM record_lifecycle WHERE kind = $1 AND key = ANY($2::text[])")
            .bind(kind.as_str())
            .bind(keys)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn advance_lifecycle_pg(
        &self,
        kind: RecordKind,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Advance>, StoreError> {
        let spec = KindSpec::of(kind);
        let mut tx = self.pool.begin().await?;
        // Every node's queries of the record take the writers' lock first, so two nodes never
        // both apply a step or lose a query count.
        sqlx::query(LOCK_WRITERS).execute(&mut *tx).await?;
        let doc: Option<String> = sqlx::query_scalar(&format!(
            "SELECT doc::text FROM {} WHERE {} = $1",
            spec.table, spec.pk
        ))
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(doc) = doc else {
            return Ok(None);
        };
        let record = decode_record(kind, key, &doc)?;
        if record.timeline().is_none() {
            return Ok(None);
        }
        let state: Option<String> = sqlx::query_scalar(SELECT_LIFECYCLE)
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let state = match state {
            Some(t) => decode_state(kind, key, &t)?,
            None => LifecycleState::new(now),
        };
        let advance = lifecycle::advance(&record, &state, now);
        if advance.changed {
            let stamp = advance.record.version_stamp();
            sqlx::query(&format!(
                "UPDATE {} SET gmt_modified = $1, version = $2, doc = $3::json WHERE {} = $4",
                spec.table, spec.pk
            ))
            .bind(stamp_seconds(&stamp))
            .bind(stamp.version)
            .bind(advance.record.to_json())
            .bind(key)
            .execute(&mut *tx)
            .await?;
            let audit = AuditRow {
                kind: kind.as_str(),
                key,
                merchant: advance.record.merchant(),
                action: "updated",
                gmt_modified: stamp_seconds(&stamp),
                version: stamp.version,
            };
            Self::insert_audit(&mut tx, &[audit]).await?;
        }
        sqlx::query(UPSERT_LIFECYCLE)
            .bind(kind.as_str())
            .bind(key)
            .bind(encode_state(&advance.state)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if advance.changed {
            self.epoch.wrote();
        }
        Ok(Some(advance))
    }

    pub(super) async fn clear_records_pg(&self) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_WRITERS).execute(&mut *tx).await?;
        let mut n = 0;
        for kind in RecordKind::ALL {
            let done = sqlx::query(&format!("DELETE FROM {}", KindSpec::of(kind).table))
                .execute(&mut *tx)
                .await?;
            n += done.rows_affected();
        }
        sqlx::query("DELETE FROM record_lifecycle")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.epoch.wrote();
        Ok(n)
    }

    pub(super) async fn clear_credentials_pg(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for table in ["app_auth_token", "alipay_app", "top_session", "top_app"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
