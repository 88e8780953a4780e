//! [`Store`] and [`NonceStore`] for every [`SqlBackend`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::lifecycle::{self, Advance, LifecycleState};
use tradeq_model::{KeyKind, Record, RecordKind};

use super::driver::{Bind, Columns, Driver, On};
use super::statements::CredentialSql;
use super::{SqlBackend, Written};
use crate::codec::{
    audit_row, decode_credential, decode_record, encode_credential, from_millis, key_slot, millis,
    missing_parent, stamp_seconds, AuditRow,
};
use crate::fault_rules::{self, times_column};
use crate::listing::list_sql;
use crate::plan::{Batch, DELETED, UPDATED};
use crate::{
    AuditEntry, FaultRuleRow, ImportCheckpoint, NewFaultRule, NonceStore, RecordQuery, Store,
    StoreError, WriteOutcome,
};

/// Purge expired nonces every this many claims (per process).
const NONCE_PURGE_EVERY: u64 = 1024;

/// At most this many expired nonces are purged at once, to keep the write lock short.
const NONCE_PURGE_LIMIT: i64 = 10_000;

#[async_trait]
impl<B: SqlBackend> Store for B {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn upsert_batch(
        &self,
        records: &[Record],
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        upsert_batch_with(self, records, None).await
    }

    async fn upsert_batch_checkpointed(
        &self,
        records: &[Record],
        checkpoint: &ImportCheckpoint,
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        upsert_batch_with(self, records, Some(checkpoint)).await
    }

    async fn import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<Option<ImportCheckpoint>, StoreError> {
        let row = B::Db::fetch_optional(
            self.writer(),
            &self.statements().import_checkpoint,
            [Bind::Str(file_id), Bind::Str(kind.as_str())],
        )
        .await?;
        let uint = |v: i64| u64::try_from(v).unwrap_or(0);
        row.map(|r| {
            Ok(ImportCheckpoint {
                file_id: file_id.to_string(),
                kind,
                file_len: uint(r.int(0)?),
                modified_ns: r.int(1)?,
                byte_offset: uint(r.int(2)?),
                line: uint(r.int(3)?),
            })
        })
        .transpose()
    }

    async fn clear_import_checkpoint(
        &self,
        file_id: &str,
        kind: RecordKind,
    ) -> Result<(), StoreError> {
        let binds = [Bind::Str(file_id), Bind::Str(kind.as_str())];
        write(self, &self.statements().clear_checkpoint, binds).await?;
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
        let Some(sql) = &self.statements().kind(kind).find[key_slot(key)] else {
            return Ok(None);
        };
        self.find_record(kind, sql, merchant, key, value).await
    }

    async fn get(&self, kind: RecordKind, primary_key: &str) -> Result<Option<Record>, StoreError> {
        let row = B::Db::fetch_optional(
            self.reader(),
            &self.statements().kind(kind).get,
            [Bind::Str(primary_key)],
        )
        .await?;
        row.map(|row| decode_record(kind, primary_key, row.str(1)?))
            .transpose()
    }

    async fn delete(&self, kind: RecordKind, primary_key: &str) -> Result<bool, StoreError> {
        let st = self.statements();
        let at = millis(Utc::now());
        let mut tx = self.begin_records(false).await?;
        let row = B::Db::fetch_optional(
            On::Conn(&mut *tx),
            &st.kind(kind).delete,
            [Bind::Str(primary_key)],
        )
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let merchant = row.string(0)?;
        let audit = AuditRow {
            kind: kind.as_str(),
            key: primary_key,
            merchant: &merchant,
            action: DELETED,
            gmt_modified: row.opt_int(1)?,
            version: row.int(2)?,
        };
        self.insert_audit(&mut tx, at, &[audit]).await?;
        B::Db::execute(
            On::Conn(&mut *tx),
            &st.delete_lifecycle,
            [Bind::Str(kind.as_str()), Bind::Str(primary_key)],
        )
        .await?;
        tx.commit().await?;
        self.committed(true);
        Ok(true)
    }

    async fn count(&self, kind: RecordKind) -> Result<u64, StoreError> {
        let sql = &self.statements().kind(kind).count;
        let row = B::Db::fetch_optional(self.reader(), sql, [])
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok(u64::try_from(row.int(0)?).unwrap_or(0))
    }

    async fn audit_since(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = B::Db::fetch_all(
            self.reader(),
            &self.statements().audit_since,
            [Bind::Int(after), Bind::Int(i64::from(limit))],
        )
        .await?;
        rows.iter().map(audit_row).collect()
    }

    async fn put_alipay_app(&self, app: &AlipayApp) -> Result<(), StoreError> {
        let binds = [
            Bind::Str(&app.app_id),
            Bind::Str(&app.merchant_pid),
            Bind::Text(encode_credential(app)?),
        ];
        write(self, &self.statements().alipay_app.put, binds).await?;
        Ok(())
    }

    async fn get_alipay_app(&self, app_id: &str) -> Result<Option<AlipayApp>, StoreError> {
        get_credential(self, &self.statements().alipay_app, app_id).await
    }

    async fn list_alipay_apps(&self) -> Result<Vec<AlipayApp>, StoreError> {
        list_credentials(self, &self.statements().alipay_app).await
    }

    async fn delete_alipay_app(&self, app_id: &str) -> Result<bool, StoreError> {
        // The tokens go by ON DELETE CASCADE (SQLite has foreign_keys on for every connection).
        delete_credential(self, &self.statements().alipay_app, app_id).await
    }

    async fn put_app_auth_token(&self, token: &AppAuthToken) -> Result<(), StoreError> {
        let binds = [
            Bind::Str(&token.token),
            Bind::Str(&token.app_id),
            Bind::Str(&token.merchant_pid),
            Bind::Text(encode_credential(token)?),
        ];
        write(self, &self.statements().app_auth_token.put, binds)
            .await
            .map_err(|e| missing_parent(e, "Alipay app", &token.app_id))?;
        Ok(())
    }

    async fn get_app_auth_token(&self, token: &str) -> Result<Option<AppAuthToken>, StoreError> {
        get_credential(self, &self.statements().app_auth_token, token).await
    }

    async fn list_app_auth_tokens(&self) -> Result<Vec<AppAuthToken>, StoreError> {
        list_credentials(self, &self.statements().app_auth_token).await
    }

    async fn delete_app_auth_token(&self, token: &str) -> Result<bool, StoreError> {
        delete_credential(self, &self.statements().app_auth_token, token).await
    }

    async fn put_top_app(&self, app: &TopApp) -> Result<(), StoreError> {
        let binds = [
            Bind::Str(&app.app_key),
            Bind::Str(&app.merchant_id),
            Bind::Text(encode_credential(app)?),
        ];
        write(self, &self.statements().top_app.put, binds).await?;
        Ok(())
    }

    async fn get_top_app(&self, app_key: &str) -> Result<Option<TopApp>, StoreError> {
        get_credential(self, &self.statements().top_app, app_key).await
    }

    async fn list_top_apps(&self) -> Result<Vec<TopApp>, StoreError> {
        list_credentials(self, &self.statements().top_app).await
    }

    async fn delete_top_app(&self, app_key: &str) -> Result<bool, StoreError> {
        delete_credential(self, &self.statements().top_app, app_key).await
    }

    async fn put_top_session(&self, session: &TopSession) -> Result<(), StoreError> {
        let binds = [
            Bind::Str(&session.session),
            Bind::Str(&session.app_key),
            Bind::Str(&session.merchant_id),
            Bind::Text(encode_credential(session)?),
        ];
        write(self, &self.statements().top_session.put, binds)
            .await
            .map_err(|e| missing_parent(e, "TOP app", &session.app_key))?;
        Ok(())
    }

    async fn get_top_session(&self, session: &str) -> Result<Option<TopSession>, StoreError> {
        get_credential(self, &self.statements().top_session, session).await
    }

    async fn list_top_sessions(&self) -> Result<Vec<TopSession>, StoreError> {
        list_credentials(self, &self.statements().top_session).await
    }

    async fn delete_top_session(&self, session: &str) -> Result<bool, StoreError> {
        delete_credential(self, &self.statements().top_session, session).await
    }

    async fn list_records(
        &self,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        let (sql, binds) = list_sql(kind, query, self.statements().dialect);
        let rows = B::Db::fetch_all(self.reader(), &sql, binds).await?;
        rows.iter()
            .map(|row| decode_record(kind, row.str(0)?, row.str(1)?))
            .collect()
    }

    async fn get_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
    ) -> Result<Option<LifecycleState>, StoreError> {
        let row = B::Db::fetch_optional(
            self.reader(),
            &self.statements().get_lifecycle,
            [Bind::Str(kind.as_str()), Bind::Str(primary_key)],
        )
        .await?;
        row.map(|row| decode_state(kind, primary_key, row.str(0)?))
            .transpose()
    }

    async fn put_lifecycles(
        &self,
        states: &[(RecordKind, String, LifecycleState)],
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        let sql = &self.statements().put_lifecycle;
        let mut tx = self.begin_write().await?;
        for (kind, key, state) in states {
            let binds = [
                Bind::Str(kind.as_str()),
                Bind::Str(key),
                Bind::Text(encode_state(state)?),
            ];
            B::Db::execute(On::Conn(&mut *tx), sql, binds).await?;
        }
        tx.commit().await?;
        self.committed(false);
        Ok(())
    }

    async fn remove_lifecycles(&self, kind: RecordKind, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.delete_lifecycles(kind, keys).await?;
        self.committed(false);
        Ok(())
    }

    async fn advance_lifecycle(
        &self,
        kind: RecordKind,
        primary_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Advance>, StoreError> {
        let st = self.statements();
        let key = primary_key;
        // Writers of records exclude each other, so two processes never both apply a step or
        // lose a query count.
        let mut tx = self.begin_records(false).await?;
        let doc =
            B::Db::fetch_optional(On::Conn(&mut *tx), &st.kind(kind).doc, [Bind::Str(key)]).await?;
        let Some(doc) = doc else {
            return Ok(None);
        };
        let record = decode_record(kind, key, doc.str(0)?)?;
        if record.timeline().is_none() {
            return Ok(None);
        }
        let state = B::Db::fetch_optional(
            On::Conn(&mut *tx),
            &st.get_lifecycle,
            [Bind::Str(kind.as_str()), Bind::Str(key)],
        )
        .await?;
        let state = match state {
            Some(row) => decode_state(kind, key, row.str(0)?)?,
            None => LifecycleState::new(now),
        };
        let advance = lifecycle::advance(&record, &state, now);
        if advance.changed {
            let stamp = advance.record.version_stamp();
            let binds = [
                Bind::OptInt(stamp_seconds(&stamp)),
                Bind::Int(stamp.version),
                Bind::Text(advance.record.to_json()),
                Bind::Str(key),
            ];
            B::Db::execute(On::Conn(&mut *tx), &st.kind(kind).restamp, binds).await?;
            let audit = AuditRow {
                kind: kind.as_str(),
                key,
                merchant: advance.record.merchant(),
                action: UPDATED,
                gmt_modified: stamp_seconds(&stamp),
                version: stamp.version,
            };
            self.insert_audit(&mut tx, millis(Utc::now()), &[audit])
                .await?;
        }
        let binds = [
            Bind::Str(kind.as_str()),
            Bind::Str(key),
            Bind::Text(encode_state(&advance.state)?),
        ];
        B::Db::execute(On::Conn(&mut *tx), &st.put_lifecycle, binds).await?;
        tx.commit().await?;
        self.committed(advance.changed);
        Ok(Some(advance))
    }

    async fn clear_records(&self) -> Result<u64, StoreError> {
        let st = self.statements();
        let mut tx = self.begin_records(false).await?;
        let mut n = 0;
        for kind in RecordKind::ALL {
            n += B::Db::execute(On::Conn(&mut *tx), &st.kind(kind).clear, []).await?;
        }
        B::Db::execute(On::Conn(&mut *tx), &st.clear_lifecycles, []).await?;
        tx.commit().await?;
        self.committed(true);
        Ok(n)
    }

    async fn clear_credentials(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for table in self.statements().credentials() {
            B::Db::execute(On::Conn(&mut *tx), &table.clear, []).await?;
        }
        tx.commit().await?;
        self.committed(false);
        Ok(())
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let sql = &self.statements().get_meta;
        let row = B::Db::fetch_optional(self.reader(), sql, [Bind::Str(key)]).await?;
        Ok(row.map(|r| r.string(0)).transpose()?)
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let binds = [Bind::Str(key), Bind::Str(value)];
        write(self, &self.statements().put_meta, binds).await?;
        Ok(())
    }

    async fn insert_fault_rule(&self, rule: &NewFaultRule) -> Result<(), StoreError> {
        let binds = [
            Bind::Str(&rule.id),
            Bind::Int(millis(rule.created_at)),
            Bind::OptInt(times_column(rule.times)),
            Bind::Str(&rule.doc),
        ];
        write(self, &self.statements().insert_fault_rule, binds).await?;
        Ok(())
    }

    async fn list_fault_rules(&self) -> Result<Vec<FaultRuleRow>, StoreError> {
        // A reader's transaction starts at the latest commit, so a rule added or a hit claimed
        // a moment ago shows; every node re-reads the rules every second, off the writer.
        let sql = &self.statements().list_fault_rules;
        let rows = B::Db::fetch_all(self.reader(), sql, []).await?;
        rows.iter()
            .map(|r| {
                Ok(FaultRuleRow {
                    id: r.string(0)?,
                    created_at: from_millis(r.int(1)?),
                    times: r.opt_int(2)?.map(fault_rules::count),
                    matched: fault_rules::count(r.int(3)?),
                    hits: fault_rules::count(r.int(4)?),
                    doc: r.string(5)?,
                })
            })
            .collect()
    }

    async fn delete_fault_rule(&self, id: &str) -> Result<bool, StoreError> {
        Ok(write(self, &self.statements().delete_fault_rule, [Bind::Str(id)]).await? > 0)
    }

    async fn clear_fault_rules(&self) -> Result<u64, StoreError> {
        Ok(write(self, &self.statements().clear_fault_rules, []).await?)
    }

    async fn count_fault_match(&self, id: &str) -> Result<Option<u64>, StoreError> {
        write_returning(self, &self.statements().count_fault_match, id).await
    }

    async fn claim_fault_hit(&self, id: &str) -> Result<Option<u64>, StoreError> {
        write_returning(self, &self.statements().claim_fault_hit, id).await
    }

    async fn close(&self) {
        self.shut_down().await;
    }

    fn nonce_store(self: Arc<Self>) -> Arc<dyn NonceStore> {
        self
    }
}

#[async_trait]
impl<B: SqlBackend> NonceStore for B {
    async fn claim(
        &self,
        app_id: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let parts = self.parts();
        let st = &parts.statements;
        let now_ms = millis(now);
        let on = || On::Pool(&parts.nonces);
        if parts
            .nonce_claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(NONCE_PURGE_EVERY)
        {
            let binds = [Bind::Int(now_ms), Bind::Int(NONCE_PURGE_LIMIT)];
            B::Db::execute(on(), &st.purge_nonces, binds).await?;
        }
        // The statement is atomic, so two processes racing on one nonce cannot both see one
        // row changed.
        let binds = [
            Bind::Str(app_id),
            Bind::Str(nonce),
            Bind::Int(millis(expires_at)),
            Bind::Int(now_ms),
        ];
        let changed = B::Db::execute(on(), &st.claim_nonce, binds).await?;
        if parts.nonces_in_record_store {
            self.committed(false);
        }
        Ok(changed == 1)
    }
}

/// Upserts `records` in one transaction, with the import `checkpoint` if any.
async fn upsert_batch_with<B: SqlBackend>(
    store: &B,
    records: &[Record],
    checkpoint: Option<&ImportCheckpoint>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    if records.is_empty() && checkpoint.is_none() {
        return Ok(Vec::new());
    }
    let mut refused = Vec::new();
    loop {
        let mut batch = Batch::new(records);
        for &i in &refused {
            batch.refuse_unstorable(i);
        }
        let at = millis(Utc::now());
        let mut tx = if records.is_empty() {
            store.begin_write().await?
        } else {
            store.begin_records(checkpoint.is_some()).await?
        };
        if let Written::Unstorable(i) = store.write_records(&mut tx, &mut batch).await? {
            // Rolled back (the transaction is dropped): plan again without the record that
            // cannot be stored. Each round refuses one more record, so this ends.
            refused.push(i);
            continue;
        }
        store.insert_audit(&mut tx, at, &batch.audit_rows()).await?;
        if let Some(cp) = checkpoint {
            let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            let binds = [
                Bind::Str(&cp.file_id),
                Bind::Str(cp.kind.as_str()),
                Bind::Int(int(cp.file_len)),
                Bind::Int(cp.modified_ns),
                Bind::Int(int(cp.byte_offset)),
                Bind::Int(int(cp.line)),
            ];
            let sql = &store.statements().put_checkpoint;
            B::Db::execute(On::Conn(&mut *tx), sql, binds).await?;
        }
        tx.commit().await?;
        store.committed(!records.is_empty());
        return Ok(batch.finish());
    }
}

/// Runs a write outside a transaction; how many rows it changed.
async fn write<'a, B: SqlBackend, const N: usize>(
    store: &'a B,
    sql: &'a str,
    binds: [Bind<'a>; N],
) -> Result<u64, sqlx::Error> {
    let changed = B::Db::execute(store.writer(), sql, binds).await?;
    store.committed(false);
    Ok(changed)
}

/// Runs a counter update of fault rule `id` that returns the counter (no row: no rule, or no
/// update allowed).
async fn write_returning<B: SqlBackend>(
    store: &B,
    sql: &str,
    id: &str,
) -> Result<Option<u64>, StoreError> {
    let row = B::Db::fetch_optional(store.writer(), sql, [Bind::Str(id)]).await?;
    store.committed(false);
    Ok(row.map(|r| r.int(0)).transpose()?.map(fault_rules::count))
}

async fn get_credential<B: SqlBackend, T: serde::de::DeserializeOwned>(
    store: &B,
    table: &CredentialSql,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let row = B::Db::fetch_optional(store.reader(), &table.get, [Bind::Str(key)]).await?;
    row.map(|r| decode_credential(table.what, &table.shown(key), r.str(0)?))
        .transpose()
}

async fn list_credentials<B: SqlBackend, T: serde::de::DeserializeOwned>(
    store: &B,
    table: &CredentialSql,
) -> Result<Vec<T>, StoreError> {
    let rows = B::Db::fetch_all(store.reader(), &table.list, []).await?;
    rows.iter()
        .map(|r| decode_credential(table.what, &table.shown(r.str(0)?), r.str(1)?))
        .collect()
}

async fn delete_credential<B: SqlBackend>(
    store: &B,
    table: &CredentialSql,
    key: &str,
) -> Result<bool, StoreError> {
    Ok(write(store, &table.delete, [Bind::Str(key)]).await? > 0)
}

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
