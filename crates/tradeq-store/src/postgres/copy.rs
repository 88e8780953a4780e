//! Bulk writes through `COPY`: a batch's records go into a per-connection staging table in one
//! stream and into their table with one merge (two when some replace stored rows), and its
//! audit rows straight into `audit_log`.
//!
//! Used for batches of at least [`super::PgOptions::copy_min_rows`] records, off by default:
//! `COPY` spares the bind of one array per column and their unnesting, but measured against
//! the bound arrays (`examples/import_bench.rs`) the import rate was the same, PostgreSQL's work
//! on each row (parsing the document, the indexes, the log) being what a batch costs. Kept, and
//! tested with the whole store suite, to measure again where the wire matters more (a database
//! on another host).

use sqlx::PgConnection;

use tradeq_model::Record;

use super::KindSql;
use crate::codec::{stamp_seconds, AuditRow};
use crate::StoreError;

/// The statements of one kind's `COPY` path.
pub(super) struct CopySql {
    /// Creates the session's staging table (emptied at every commit) unless it exists (after
    /// `SET LOCAL client_min_messages = warning`: the "already exists, skipping" notice of every
    /// batch after the first is noise).
    stage: String,
    /// Streams rows into it, each marked with whether it replaces a stored row.
    copy: String,
    /// Moves the rows of keys not stored into the table.
    insert: String,
    /// Moves the others, replacing the stored versions.
    upsert: String,
}

impl CopySql {
    /// `table` with `cols` (in [`crate::codec::KindSpec::columns`] order), `pk` and the
    /// `SET` list of its upsert.
    pub(super) fn new(table: &str, pk: &str, cols: &[&str], updates: &str) -> CopySql {
        let stage = format!("tradeq_stage_{table}");
        let cols = cols.join(", ");
        let insert = format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage}");
        CopySql {
            stage: format!(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} \
                 (LIKE {table}, replaces boolean NOT NULL) ON COMMIT DELETE ROWS"
            ),
            copy: format!("COPY {stage} ({cols}, replaces) FROM STDIN"),
            upsert: format!("{insert} WHERE replaces ON CONFLICT ({pk}) DO UPDATE SET {updates}"),
            insert: format!("{insert} WHERE NOT replaces"),
        }
    }
}

/// Writes `records` (no primary key twice) with their checked `docs`, in one stream and a
/// merge for the keys not stored and one for those whose stored row each `replaces`.
pub(super) async fn write_records(
    conn: &mut PgConnection,
    sql: &KindSql,
    records: &[&Record],
    docs: &[String],
    replaces: &[bool],
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(records.len() * 1024);
    for ((r, doc), &replaces) in records.iter().zip(docs).zip(replaces) {
        field(&mut rows, Some(r.primary_key()));
        tab(&mut rows);
        field(&mut rows, Some(r.merchant()));
        if sql.spec.has_out {
            tab(&mut rows);
            field(&mut rows, r.out_trade_no());
        }
        if sql.spec.has_short {
            tab(&mut rows);
            field(&mut rows, r.short_trade_no());
        }
        let stamp = r.version_stamp();
        tab(&mut rows);
        int(&mut rows, stamp_seconds(&stamp));
        tab(&mut rows);
        int(&mut rows, Some(stamp.version));
        tab(&mut rows);
        field(&mut rows, Some(doc));
        tab(&mut rows);
        rows.push(if replaces { b't' } else { b'f' });
        rows.push(b'\n');
    }
    sqlx::query("SET LOCAL client_min_messages = warning")
        .execute(&mut *conn)
        .await?;
    sqlx::query(&sql.copy.stage).execute(&mut *conn).await?;
    let mut copy = conn.copy_in_raw(&sql.copy.copy).await?;
    if let Err(e) = copy.send(rows).await {
        // Ends the COPY so the connection stays usable; the transaction rolls back.
        let _ = copy.abort(e.to_string()).await;
        return Err(e.into());
    }
    copy.finish().await?;
    if replaces.iter().any(|&r| !r) {
        sqlx::query(&sql.copy.insert).execute(&mut *conn).await?;
    }
    if replaces.iter().any(|&r| r) {
        sqlx::query(&sql.copy.upsert).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends audit rows in one stream, numbered in order.
pub(super) async fn write_audit(
    conn: &mut PgConnection,
    audit: &[AuditRow<'_>],
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(audit.len() * 96);
    for a in audit {
        field(&mut rows, Some(a.kind));
        tab(&mut rows);
        field(&mut rows, Some(a.key));
        tab(&mut rows);
        field(&mut rows, Some(a.merchant));
        tab(&mut rows);
        field(&mut rows, Some(a.action));
        tab(&mut rows);
        int(&mut rows, a.gmt_modified);
        tab(&mut rows);
        int(&mut rows, Some(a.version));
        rows.push(b'\n');
    }
    let mut copy = conn
        .copy_in_raw(
            "COPY audit_log (kind, key, merchant, action, gmt_modified, version) FROM STDIN",
        )
        .await?;
    if let Err(e) = copy.send(rows).await {
        let _ = copy.abort(e.to_string()).await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}

fn tab(out: &mut Vec<u8>) {
    out.push(b'\t');
}

/// One field of `COPY`'s text format: `\N` for NULL, and the four bytes that would end a field
/// or a row (or start an escape) escaped.
fn field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

fn int(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(v) => out.extend_from_slice(v.to_string().as_bytes()),
        None => out.extend_from_slice(b"\\N"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_escape_what_would_end_them() {
        let mut out = Vec::new();
        field(&mut out, Some("a\\b\tc\nd\re\"f"));
        tab(&mut out);
        field(&mut out, None);
        tab(&mut out);
        int(&mut out, Some(-42));
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\"f\t\\N\t-42".to_vec());
    }
}
