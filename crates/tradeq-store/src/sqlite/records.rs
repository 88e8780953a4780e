//! Listing, lifecycles and clearing on SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row;

use tradeq_model::lifecycle::{self, Advance, LifecycleState};
use tradeq_model::{Record, RecordKind};

use super::SqliteStore;
use crate::codec::{decode_record, millis, stamp_seconds, AuditRow, KindSpec};
use crate::listing::{list_sql, Bind, Dialect, RecordQuery};
use crate::StoreError;

const UPSERT_LIFECYCLE: &str =
    "INSERT INTO record_lifecycle (kind, key, state) VALUES (?1, ?2, ?3) \
     ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state";

pub(super) fn encode_state(state: &LifecycleState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

pub(super) fn decode_state(
    kind: RecordKind,
    key: &str,
    text: &str,
) -> Result<LifecycleState, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        kind,
        key: key.to_string(),
        reason: format!("its lifecycle state is unreadable: {e}"),
    })
}

impl SqliteStore {
    pub(super) async fn list_records_sqlite(
        &self,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        let (sql, binds) = list_sql(kind, query, Dialect::Sqlite);
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(n) => q.bind(n),
            };
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter()
            .map(|row| {
                let pk: &str = row.try_get(0)?;
                let doc: &str = row.try_get(1)?;
                decode_record(kind, pk, doc)
            })
            .collect()
    }

    pub(super) async fn get_lifecycle_sqlite(
        &self,
        kind: RecordKind,
        key: &str,
    ) -> Result<Option<LifecycleState>, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT state FROM record_lifecycle WHERE kind = ?1 AND key = ?2")
                .bind(kind.as_str())
                .bind(key)
                .fetch_optional(&self.read)
                .await?;
        text.map(|t| decode_state(kind, key, &t)).transpose()
    }

    pub(super) async fn put_lifecycles_sqlite(
        &self,
        states: &[(RecordKind, String, LifecycleState)],
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for (kind, key, state) in states {
            sqlx::query(UPSERT_LIFECYCLE)
                .bind(kind.as_str())
                .bind(key)
                .bind(encode_state(state)?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.wrote();
        Ok(())
    }

    pub(super) async fn remove_lifecycles_sqlite(
        &self,
        kind: RecordKind,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys = serde_json::to_string(keys)
            .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
        sqlx::query(
            "DELETE FROM record_lifecycle WHERE kind = ?1 AND key IN (SELECT value FROM json_each(?2))",
        )
        .bind(kind.as_str())
        .bind(keys)
        .execute(&self.write)
        .await?;
        self.wrote();
        Ok(())
    }

    pub(super) async fn advance_lifecycle_sqlite(
        &self,
        kind: RecordKind,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Advance>, StoreError> {
        let spec = KindSpec::of(kind);
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let doc: Option<String> = sqlx::query_scalar(&format!(
            "SELECT doc FROM {} WHERE {} = ?1",
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
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM record_lifecycle WHERE kind = ?1 AND key = ?2")
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
                "UPDATE {} SET gmt_modified = ?1, version = ?2, doc = ?3 WHERE {} = ?4",
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
            self.insert_audit(&mut tx, millis(Utc::now()), &[audit])
                .await?;
        }
        sqlx::query(UPSERT_LIFECYCLE)
            .bind(kind.as_str())
            .bind(key)
            .bind(encode_state(&advance.state)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.wrote();
        Ok(Some(advance))
    }

    pub(super) async fn clear_records_sqlite(&self) -> Result<u64, StoreError> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
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
        self.wrote();
        Ok(n)
    }

    pub(super) async fn clear_credentials_sqlite(&self) -> Result<(), StoreError> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for table in ["app_auth_token", "alipay_app", "top_session", "top_app"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.wrote();
        Ok(())
    }
}
