//! Journal endpoints: list and page the request journal, read one entry, follow it live
//! (Server-Sent Events), empty it, and explain a raw request.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::error::AdminError;
use super::extract::{JsonBytes, JsonObject};
use crate::sandbox::explain::{explain as analyse, ExplainError, RawRequest};
use crate::sandbox::journal::{Entry, Filter};
use crate::sandbox::FrontDoor;
use crate::state::AppState;

/// Entries per page when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// The largest page.
const MAX_LIMIT: usize = 1000;

/// The filters and paging of a journal query.
#[derive(Debug, Default)]
struct JournalQuery {
    filter: Filter,
    limit: usize,
    cursor: Option<u64>,
}

fn parse_query(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    paging: bool,
) -> Result<JournalQuery, AdminError> {
    let Query(pairs) = query.map_err(AdminError::from_query_rejection)?;
    let mut q = JournalQuery {
        limit: DEFAULT_LIMIT,
        ..JournalQuery::default()
    };
    let mut seen = std::collections::HashSet::new();
    for (name, value) in pairs {
        if !seen.insert(name.clone()) {
            return Err(AdminError::invalid_field(&name, "is given more than once"));
        }
        if value.is_empty() {
            return Err(AdminError::invalid_field(&name, "is empty"));
        }
        match name.as_str() {
            "method" => q.filter.method = Some(value),
            "app" => q.filter.app = Some(value),
            "merchant" => q.filter.merchant = Some(value),
            "key" => q.filter.key = Some(value),
            "outcome" => {
                q.filter.ok = Some(match value.as_str() {
                    "ok" => true,
                    "error" => false,
                    other => {
                        return Err(AdminError::invalid_field(
                            "outcome",
                            format!("is `{other}`; use `ok` or `error`"),
                        ))
                    }
                })
            }
            "front_door" => {
                q.filter.front_door = Some(FrontDoor::from_name(&value).ok_or_else(|| {
                    AdminError::invalid_field(
                        "front_door",
                        format!("is `{value}`; use `alipay_v2`, `alipay_v3` or `top`"),
                    )
                })?)
            }
            "limit" if paging => {
                q.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        AdminError::invalid_field(
                            "limit",
                            format!(
                                "is `{value}`; it must be a whole number from 1 to {MAX_LIMIT}"
                            ),
                        )
                    })?
            }
            "cursor" if paging => {
                q.cursor = Some(value.parse::<u64>().map_err(|_| {
                    AdminError::invalid_field(
                        "cursor",
                        format!("is `{value}`; pass the `next_cursor` of the previous page"),
                    )
                })?)
            }
            other => {
                let known = if paging {
                    "method, app, merchant, outcome, key, front_door, limit, cursor"
                } else {
                    "method, app, merchant, outcome, key, front_door"
                };
                return Err(AdminError::invalid_field(
                    other,
                    format!("is not a filter of this endpoint; use {known}"),
                ));
            }
        }
    }
    Ok(q)
}

/// `GET /v1/journal`: entries newest first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, AdminError> {
    let q = parse_query(query, true)?;
    let page = state.sandbox.journal.page(&q.filter, q.cursor, q.limit);
    let entries: Vec<Value> = page.entries.iter().map(|e| e.to_json()).collect();
    Ok(Json(json!({
        "entries": entries,
        "next_cursor": page.next_cursor,
    }))
    .into_response())
}

/// `GET /v1/journal/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let Path(id) = id.map_err(AdminError::from_path_rejection)?;
    match state.sandbox.journal.get(&id) {
        Some(e) => Ok(Json(e.to_json()).into_response()),
        None => Err(AdminError::not_found(format!(
            "no journal entry {id} on this node (the journal is per node, in memory, and keeps \
             the newest journal_max_entries)"
        ))),
    }
}

/// `DELETE /v1/journal`: empties this node's journal.
pub async fn clear(State(state): State<AppState>) -> Response {
    let deleted = state.sandbox.journal.clear();
    Json(json!({ "deleted": deleted })).into_response()
}

/// `GET /v1/journal/stream`: new entries as Server-Sent Events (`event: entry`, the entry as
/// JSON in `data`); `event: lagged` when a slow reader missed some.
pub async fn stream(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, AdminError> {
    let q = parse_query(query, false)?;
    let rx = state.sandbox.journal.subscribe();
    let closed = state.sandbox.journal.closed();
    let events = futures_util::stream::unfold(
        (rx, closed, q.filter),
        |(mut rx, mut closed, filter)| async move {
            loop {
                let next = tokio::select! {
                    next = rx.recv() => next,
                    _ = closed.wait_for(|c| *c) => return None,
                };
                let event = match next {
                    Ok(e) if filter.matches(&e) => entry_event(&e),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => Event::default()
                        .event("lagged")
                        .data(json!({ "missed": n }).to_string()),
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok::<_, Infallible>(event), (rx, closed, filter)));
            }
        },
    );
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn entry_event(e: &Arc<Entry>) -> Event {
    Event::default()
        .event("entry")
        .id(e.seq.to_string())
        .data(e.to_json().to_string())
}

/// `POST /v1/explain`: `{"method","url","headers","body"}` → the authentication analysis.
pub async fn explain(
    State(state): State<AppState>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, AdminError> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(AdminError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    let headers = header_pairs(fields.remove("headers"))?;
    let mut body = JsonObject::from_map(fields);
    let method = body.opt_string("method")?.unwrap_or_else(|| "POST".into());
    let url = body.string("url")?;
    let raw_body = body.opt_string("body")?.unwrap_or_default();
    body.finish(&["method", "url", "headers", "body"])?;
    let req = RawRequest::from_parts(&method, &url, &headers, &raw_body).map_err(|e| match e {
        ExplainError::Invalid { field, reason } => AdminError::invalid_field(field, reason),
    })?;
    let out = analyse(&state, &req).await.map_err(|e| match e {
        ExplainError::Invalid { field, reason } => AdminError::invalid_field(field, reason),
    })?;
    Ok(Json(out).into_response())
}

/// The `headers` member of a raw request: an object of header names to string values.
pub(super) fn header_pairs(value: Option<Value>) -> Result<Vec<(String, String)>, AdminError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => {
            let mut headers = Vec::with_capacity(map.len());
            for (name, value) in map {
                match value {
                    Value::String(v) => headers.push((name, v)),
                    _ => {
                        return Err(AdminError::invalid_field(
                            "headers",
                            format!("the value of `{name}` must be a string"),
                        ))
                    }
                }
            }
            Ok(headers)
        }
        Some(_) => Err(AdminError::invalid_field(
            "headers",
            "must be an object of header names to string values",
        )),
    }
}
