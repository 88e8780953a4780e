//! Listing records with filters and cursors, and partial updates (JSON merge patch).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use tradeq_model::lifecycle::{apply_step, Step};
use tradeq_model::{Record, RecordKind, Timestamp};
use tradeq_store::RecordQuery;

use super::error::AdminError;
use super::extract::media_type;
use super::records::{parse_kind, record_document, LIFECYCLE_MEMBER};
use crate::state::AppState;

/// The largest page of a listing.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// The page size when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: u32 = 100;

/// The longest value a filter takes.
const MAX_FILTER_CHARS: usize = 128;

/// Query parameters of `GET /v1/records/{kind}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// The owning merchant.
    pub merchant: Option<String>,
    /// `out_trade_no` (alipay-trade, onsite-trade).
    pub out_trade_no: Option<String>,
    /// `short_trade_no` (onsite-trade).
    pub short_trade_no: Option<String>,
    /// `out_order_id` (omni-order).
    pub out_order_id: Option<String>,
    /// The kind's status field.
    pub status: Option<String>,
    /// `gmt_modified` at or after this platform time (`yyyy-MM-dd HH:mm:ss`, GMT+8) or RFC 3339.
    pub modified_after: Option<String>,
    /// `gmt_modified` before this time.
    pub modified_before: Option<String>,
    /// Records per page (1–1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn filter(name: &str, value: Option<String>) -> Result<Option<String>, AdminError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(AdminError::invalid_field(
            name,
            "is empty; leave the parameter out to not filter on it",
        )),
        Some(v) if v.chars().count() > MAX_FILTER_CHARS || v.chars().any(char::is_control) => {
            Err(AdminError::invalid_field(
                name,
                format!("must be 1–{MAX_FILTER_CHARS} characters without control characters"),
            ))
        }
        Some(v) => Ok(Some(v)),
    }
}

fn time_filter(name: &str, value: Option<String>) -> Result<Option<i64>, AdminError> {
    let Some(v) = filter(name, value)? else {
        return Ok(None);
    };
    if let Some(t) = Timestamp::parse(&v) {
        return Ok(Some(t.0.timestamp()));
    }
    chrono::DateTime::parse_from_rfc3339(&v)
        .map(|t| Some(t.timestamp()))
        .map_err(|_| {
            AdminError::invalid_field(
                name,
                format!(
                    "`{v}` is not a time: give platform time `yyyy-MM-dd HH:mm:ss` (GMT+8) or \
                     RFC 3339 (`2024-01-01T10:00:00+08:00`)"
                ),
            )
        })
}

fn only_for(
    name: &str,
    value: &Option<String>,
    kind: RecordKind,
    kinds: &[RecordKind],
) -> Result<(), AdminError> {
    if value.is_some() && !kinds.contains(&kind) {
        let names: Vec<&str> = kinds.iter().map(RecordKind::as_str).collect();
        return Err(AdminError::invalid_field(
            name,
            format!(
                "filters {} records only; {kind} has no such field",
                names.join(" and ")
            ),
        ));
    }
    Ok(())
}

/// `GET /v1/records/{kind}?merchant=…&status=…&limit=…&cursor=…`: records in primary-key order,
/// `{"records": […], "next_cursor": "…" | null}`.
pub async fn list_records(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, AdminError> {
    let Path(kind) = path.map_err(AdminError::from_path_rejection)?;
    let kind = parse_kind(&kind)?;
    let Query(p) = params.map_err(AdminError::from_query_rejection)?;
    use RecordKind as K;
    only_for(
        "out_trade_no",
        &p.out_trade_no,
        kind,
        &[K::AlipayTrade, K::OnsiteTrade],
    )?;
    only_for("short_trade_no", &p.short_trade_no, kind, &[K::OnsiteTrade])?;
    only_for("out_order_id", &p.out_order_id, kind, &[K::OmniOrder])?;
    let limit = p.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(AdminError::invalid_field(
            "limit",
            format!("is {limit}; it must be between 1 and {MAX_LIST_LIMIT}"),
        ));
    }
    let query = RecordQuery {
        merchant: filter("merchant", p.merchant)?,
        out_trade_no: filter("out_trade_no", p.out_trade_no)?,
        short_trade_no: filter("short_trade_no", p.short_trade_no)?,
        out_order_id: filter("out_order_id", p.out_order_id)?,
        status: filter("status", p.status)?,
        modified_after: time_filter("modified_after", p.modified_after)?,
        modified_before: time_filter("modified_before", p.modified_before)?,
        after_key: filter("cursor", p.cursor)?,
        // One more than the page, to know whether another page follows.
        limit: limit + 1,
    };
    let mut records = state.store.list_records(kind, &query).await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = if more {
        records.last().map(|r| r.primary_key().to_string())
    } else {
        None
    };
    let mut body = String::from("{\"records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&record_document(&state, r).await?);
    }
    body.push_str("],\"next_cursor\":");
    body.push_str(&Value::from(next_cursor).to_string());
    body.push('}');
    Ok(json_response(body))
}

fn json_response(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The media type of a JSON merge patch.
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// `PATCH /v1/records/{kind}/{key}` with a JSON merge patch (RFC 7396): the merged record is
/// validated like a PUT; `gmt_modified` moves to now (and `version` counts up) unless the
/// patch sets them. Answers the record as `GET` shows it.
pub async fn patch_record(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let Path((kind, key)) = path.map_err(AdminError::from_path_rejection)?;
    let kind = parse_kind(&kind)?;
    if media_type(&headers).as_deref() != Some(MERGE_PATCH) {
        return Err(AdminError::unsupported_media_type(MERGE_PATCH));
    }
    let body =
        body.map_err(|r| AdminError::from_bytes_rejection(r, state.config.max_admin_body_bytes))?;
    let patch = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(AdminError::bad_request(
                "invalid_patch",
                "a merge patch of a record must be a JSON object of the fields to change",
            ))
        }
        Err(e) => {
            return Err(AdminError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            ))
        }
    };
    let mut patch = patch;
    patch.remove(LIFECYCLE_MEMBER);
    let Some(record) = state.store.get(kind, &key).await? else {
        return Err(AdminError::not_found(format!(
            "no {kind} with {} `{key}`",
            kind.primary_key_name()
        )));
    };
    let merchant_field = match kind {
        RecordKind::AlipayTrade => "seller_id",
        RecordKind::KoubeiOrder => "partner_id",
        _ => "merchant_id",
    };
    for field in [kind.primary_key_name(), merchant_field] {
        if patch.contains_key(field) {
            return Err(AdminError::invalid_field(
                field,
                "identifies the record; PUT the record under its new key and DELETE this one instead",
            ));
        }
    }
    if patch.is_empty() {
        return Ok(json_response(record_document(&state, &record).await?));
    }
    let now = state.sandbox.now();
    let step = Step {
        after_queries: None,
        after_secs: None,
        set: patch,
    };
    let patched: Record =
        apply_step(&record, &step, now).map_err(|e| AdminError::invalid_record(&e))?;
    crate::sandbox::lifecycle::start(&*state.store, &patched, now).await?;
    Ok(json_response(record_document(&state, &patched).await?))
}
