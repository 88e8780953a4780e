//! Listing records: one statement per request, built from the filters given, in primary-key
//! order so that a page ends at a key the next one starts after.

use tradeq_model::RecordKind;

use crate::codec::KindSpec;
use crate::sql::dialect::Dialect;
use crate::sql::driver::Bind;

/// The filters of a record listing. Every filter given must hold; a filter the kind has no
/// field for matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// The owning merchant.
    pub merchant: Option<String>,
    /// `out_trade_no` (Alipay and onsite trades).
    pub out_trade_no: Option<String>,
    /// `short_trade_no` (onsite trades).
    pub short_trade_no: Option<String>,
    /// `out_order_id` (omni orders).
    pub out_order_id: Option<String>,
    /// The status field of the kind: `trade_status`, `status` (Koubei) or `pay_status` (omni).
    pub status: Option<String>,
    /// `gmt_modified` at or after this (epoch seconds).
    pub modified_after: Option<i64>,
    /// `gmt_modified` before this (epoch seconds).
    pub modified_before: Option<i64>,
    /// Records whose primary key sorts after this one (the previous page's last key).
    pub after_key: Option<String>,
    /// At most this many records.
    pub limit: u32,
}

/// The document field each kind's status filter reads.
pub fn status_field(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::AlipayTrade | RecordKind::OnsiteTrade => "trade_status",
        RecordKind::KoubeiOrder => "status",
        RecordKind::OmniOrder => "pay_status",
    }
}

/// `SELECT pk, doc … ORDER BY pk LIMIT n` for `query`, and its bound values in order.
pub(crate) fn list_sql(
    kind: RecordKind,
    query: &RecordQuery,
    dialect: Dialect,
) -> (String, Vec<Bind<'static>>) {
    let spec = KindSpec::of(kind);
    let pk = spec.pk;
    let mut conds: Vec<String> = Vec::new();
    let mut binds: Vec<Bind<'static>> = Vec::new();
    let mut push = |conds: &mut Vec<String>, expr: String, op: &str, bind: Bind<'static>| {
        binds.push(bind);
        conds.push(format!("{expr} {op} {}", dialect.placeholder(binds.len())));
    };
    if let Some(m) = &query.merchant {
        push(&mut conds, "merchant".into(), "=", Bind::Text(m.clone()));
    }
    if let Some(v) = &query.out_trade_no {
        if spec.has_out {
            push(
                &mut conds,
                "out_trade_no".into(),
                "=",
                Bind::Text(v.clone()),
            );
        } else {
            conds.push("1 = 0".into());
        }
    }
    if let Some(v) = &query.short_trade_no {
        if spec.has_short {
            push(
                &mut conds,
                "short_trade_no".into(),
                "=",
                Bind::Text(v.clone()),
            );
        } else {
            conds.push("1 = 0".into());
        }
    }
    if let Some(v) = &query.out_order_id {
        if kind == RecordKind::OmniOrder {
            push(
                &mut conds,
                dialect.field("out_order_id"),
                "=",
                Bind::Text(v.clone()),
            );
        } else {
            conds.push("1 = 0".into());
        }
    }
    if let Some(v) = &query.status {
        let field = dialect.field(status_field(kind));
        // SQLite's json_extract yields the omni pay_status as an integer, and an integer never
        // equals text there; PostgreSQL's ->> yields text for both.
        let bind = match (kind, dialect, v.parse::<i64>()) {
            (RecordKind::OmniOrder, Dialect::Sqlite, Ok(n)) => Bind::Int(n),
            _ => Bind::Text(v.clone()),
        };
        push(&mut conds, field, "=", bind);
    }
    if let Some(t) = query.modified_after {
        push(&mut conds, "gmt_modified".into(), ">=", Bind::Int(t));
    }
    if let Some(t) = query.modified_before {
        push(&mut conds, "gmt_modified".into(), "<", Bind::Int(t));
    }
    if let Some(k) = &query.after_key {
        push(&mut conds, pk.into(), ">", Bind::Text(k.clone()));
    }
    let doc = match dialect {
        Dialect::Sqlite => "doc",
        Dialect::Postgres => "doc::text",
    };
    let mut sql = format!("SELECT {pk}, {doc} FROM {}", spec.table);
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    binds.push(Bind::Int(i64::from(query.limit)));
    sql.push_str(&format!(
        " ORDER BY {pk} LIMIT {}",
        dialect.placeholder(binds.len())
    ));
    (sql, binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_numbered_conditions() {
        let q = RecordQuery {
            merchant: Some("m".into()),
            status: Some("8".into()),
            after_key: Some("k".into()),
            limit: 10,
            ..RecordQuery::default()
        };
        let (sql, binds) = list_sql(RecordKind::OmniOrder, &q, Dialect::Sqlite);
        assert_eq!(
            sql,
            "SELECT order_id, doc FROM omni_order WHERE merchant = ?1 AND \
             json_extract(doc, '$.pay_status') = ?2 AND order_id > ?3 ORDER BY order_id LIMIT ?4"
        );
        assert_eq!(binds[1], Bind::Int(8));
        let (sql, _) = list_sql(RecordKind::KoubeiOrder, &q, Dialect::Postgres);
        assert!(sql.contains("(doc ->> 'status') = $2"), "{sql}");
    }
}
