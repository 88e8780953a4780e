//! The statements both backends run alike, written once in PostgreSQL's spelling and built for
//! a [`Dialect`] when a store opens, so that each keeps one text (and one entry in sqlx's
//! per-connection prepared statement cache).

use tradeq_model::{KeyKind, RecordKind};

use super::dialect::Dialect;
use crate::codec::{kind_slot, KindSpec};

/// The shared statements of a store.
pub(crate) struct Statements {
    /// Their dialect, for the statements built per call (listings).
    pub dialect: Dialect,
    /// Per record kind, in [`RecordKind::ALL`] order.
    kinds: Vec<KindStatements>,
    pub alipay_app: CredentialSql,
    pub app_auth_token: CredentialSql,
    pub top_app: CredentialSql,
    pub top_session: CredentialSql,
    pub import_checkpoint: String,
    pub put_checkpoint: String,
    pub clear_checkpoint: String,
    pub audit_since: String,
    pub get_lifecycle: String,
    pub put_lifecycle: String,
    pub delete_lifecycle: String,
    pub clear_lifecycles: String,
    pub get_meta: String,
    pub put_meta: String,
    pub insert_fault_rule: String,
    pub list_fault_rules: String,
    pub delete_fault_rule: String,
    pub clear_fault_rules: String,
    pub count_fault_match: String,
    pub claim_fault_hit: String,
    pub purge_nonces: String,
    /// Inserts a nonce, or reclaims an expired row: one row changed. A live row: none.
    pub claim_nonce: String,
}

impl Statements {
    pub(crate) fn new(d: Dialect) -> Statements {
        Statements {
            dialect: d,
            kinds: RecordKind::ALL
                .into_iter()
                .map(|kind| KindStatements::new(d, kind))
                .collect(),
            alipay_app: CredentialSql::new(
                d,
                "Alipay app",
                "alipay_app",
                "app_id",
                &["merchant_pid"],
            ),
            app_auth_token: CredentialSql::new(
                d,
                "app auth token",
                "app_auth_token",
                "token",
                &["app_id", "merchant_pid"],
            )
            .secret(),
            top_app: CredentialSql::new(d, "TOP app", "top_app", "app_key", &["merchant_id"]),
            top_session: CredentialSql::new(
                d,
                "TOP session",
                "top_session",
                "session",
                &["app_key", "merchant_id"],
            )
            .secret(),
            import_checkpoint: d.sql(
                "SELECT file_len, modified_ns, byte_offset, line FROM import_checkpoint \
                 WHERE file_id = $1 AND kind = $2",
            ),
            put_checkpoint: d.sql(
                "INSERT INTO import_checkpoint \
                 (file_id, kind, file_len, modified_ns, byte_offset, line) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (file_id, kind) DO UPDATE SET file_len = excluded.file_len, \
                 modified_ns = excluded.modified_ns, byte_offset = excluded.byte_offset, \
                 line = excluded.line",
            ),
            clear_checkpoint: d
                .sql("DELETE FROM import_checkpoint WHERE file_id = $1 AND kind = $2"),
            audit_since: d.sql(&format!(
                "SELECT seq, {}, kind, key, merchant, action, gmt_modified, version \
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                d.audit_at()
            )),
            get_lifecycle: d
                .sql("SELECT state::text FROM record_lifecycle WHERE kind = $1 AND key = $2"),
            put_lifecycle: d.sql(
                "INSERT INTO record_lifecycle (kind, key, state) VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state",
            ),
            delete_lifecycle: d.sql("DELETE FROM record_lifecycle WHERE kind = $1 AND key = $2"),
            clear_lifecycles: d.sql("DELETE FROM record_lifecycle"),
            get_meta: d.sql("SELECT value FROM meta WHERE key = $1"),
            put_meta: d.sql(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            ),
            insert_fault_rule: d
                .sql("INSERT INTO fault_rule (id, created_at, times, doc) VALUES ($1, $2, $3, $4)"),
            list_fault_rules: d.sql(
                "SELECT id, created_at, times, matched, hits, doc FROM fault_rule ORDER BY seq",
            ),
            delete_fault_rule: d.sql("DELETE FROM fault_rule WHERE id = $1"),
            clear_fault_rules: d.sql("DELETE FROM fault_rule"),
            count_fault_match: d
                .sql("UPDATE fault_rule SET matched = matched + 1 WHERE id = $1 RETURNING matched"),
            claim_fault_hit: d.sql(
                "UPDATE fault_rule SET hits = hits + 1 \
                 WHERE id = $1 AND (times IS NULL OR hits < times) RETURNING hits",
            ),
            purge_nonces: d.purge_nonces().to_string(),
            claim_nonce: d.sql(
                "INSERT INTO used_nonce (app_id, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE used_nonce.expires_at <= $4",
            ),
        }
    }

    /// The statements of record kind `kind`.
    pub(crate) fn kind(&self, kind: RecordKind) -> &KindStatements {
        &self.kinds[kind_slot(kind)]
    }

    /// Every credential table, children before their parents (so that deleting them in this
    /// order never trips a foreign key).
    pub(crate) fn credentials(&self) -> [&CredentialSql; 4] {
        [
            &self.app_auth_token,
            &self.alipay_app,
            &self.top_session,
            &self.top_app,
        ]
    }
}

/// The shared statements of one record kind.
pub(crate) struct KindStatements {
    /// `SELECT pk, doc … WHERE merchant = $1 AND key = $2`, by [`crate::codec::key_slot`];
    /// `None` when the kind has no such key.
    pub find: [Option<String>; 3],
    /// `pk, doc` by primary key.
    pub get: String,
    /// Deletes by primary key, returning what the audit row needs.
    pub delete: String,
    pub count: String,
    /// The document by primary key.
    pub doc: String,
    /// Rewrites the stamp and document of a primary key (`$4`).
    pub restamp: String,
    /// Deletes every record of the kind.
    pub clear: String,
}

impl KindStatements {
    fn new(d: Dialect, kind: RecordKind) -> KindStatements {
        let spec = KindSpec::of(kind);
        let KindSpec { table, pk, .. } = spec;
        let find = [KeyKind::Primary, KeyKind::OutTradeNo, KeyKind::ShortTradeNo].map(|k| {
            spec.key_column(k).map(|col| {
                d.sql(&format!(
                    "SELECT {pk}, doc::text FROM {table} WHERE merchant = $1 AND {col} = $2"
                ))
            })
        });
        KindStatements {
            find,
            get: d.sql(&format!(
                "SELECT {pk}, doc::text FROM {table} WHERE {pk} = $1"
            )),
            delete: d.sql(&format!(
                "DELETE FROM {table} WHERE {pk} = $1 RETURNING merchant, gmt_modified, version"
            )),
            count: d.sql(&format!("SELECT COUNT(*) FROM {table}")),
            doc: d.sql(&format!("SELECT doc::text FROM {table} WHERE {pk} = $1")),
            restamp: d.sql(&format!(
                "UPDATE {table} SET gmt_modified = $1, version = $2, doc = $3::json WHERE {pk} = $4"
            )),
            clear: d.sql(&format!("DELETE FROM {table}")),
        }
    }
}

/// The statements of one credential table: a key column, some indexed columns and the JSON
/// document.
pub(crate) struct CredentialSql {
    /// What a row is, for errors.
    pub what: &'static str,
    /// Whether the key is a secret, which errors name only by its first characters.
    pub secret: bool,
    /// Inserts or replaces a row: the key, the columns, the document, in that bind order.
    pub put: String,
    /// The document by key.
    pub get: String,
    /// `key, doc` of every row, by key.
    pub list: String,
    /// Deletes by key.
    pub delete: String,
    /// Deletes every row.
    pub clear: String,
}

impl CredentialSql {
    fn new(
        d: Dialect,
        what: &'static str,
        table: &str,
        key: &str,
        columns: &[&str],
    ) -> CredentialSql {
        let written: Vec<&str> = columns.iter().copied().chain(["doc"]).collect();
        let values = (1..=written.len() + 1)
            .map(|n| {
                let json = if n == written.len() + 1 {
                    "::jsonb"
                } else {
                    ""
                };
                format!("${n}{json}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let updates = written
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        CredentialSql {
            what,
            secret: false,
            put: d.sql(&format!(
                "INSERT INTO {table} ({key}, {}) VALUES ({values}) \
                 ON CONFLICT ({key}) DO UPDATE SET {updates}",
                written.join(", ")
            )),
            get: d.sql(&format!("SELECT doc::text FROM {table} WHERE {key} = $1")),
            list: d.sql(&format!(
                "SELECT {key}, doc::text FROM {table} ORDER BY {key}"
            )),
            delete: d.sql(&format!("DELETE FROM {table} WHERE {key} = $1")),
            clear: d.sql(&format!("DELETE FROM {table}")),
        }
    }

    fn secret(self) -> CredentialSql {
        CredentialSql {
            secret: true,
            ..self
        }
    }

    /// `key` as an error may show it.
    pub(crate) fn shown(&self, key: &str) -> String {
        if self.secret {
            tradeq_model::credentials::redact(key)
        } else {
            key.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_statements_keep_each_dialects_spelling() {
        let st = Statements::new(Dialect::Sqlite);
        assert_eq!(
            st.app_auth_token.put,
            "INSERT INTO app_auth_token (token, app_id, merchant_pid, doc) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (token) DO UPDATE SET app_id = excluded.app_id, \
             merchant_pid = excluded.merchant_pid, doc = excluded.doc"
        );
        assert_eq!(st.top_app.get, "SELECT doc FROM top_app WHERE app_key = ?1");
        let st = Statements::new(Dialect::Postgres);
        assert_eq!(
            st.alipay_app.put,
            "INSERT INTO alipay_app (app_id, merchant_pid, doc) VALUES ($1, $2, $3::jsonb) \
             ON CONFLICT (app_id) DO UPDATE SET merchant_pid = excluded.merchant_pid, \
             doc = excluded.doc"
        );
        assert_eq!(
            st.kind(RecordKind::OnsiteTrade).find[2].as_deref(),
            Some(
                "SELECT trade_no, doc::text FROM onsite_trade \
                 WHERE merchant = $1 AND short_trade_no = $2"
            )
        );
    }
}
