//! Reset and snapshots of the whole sandbox.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::AdminError;
use super::extract::{media_type, JsonObject};
use crate::demo::{self, ResetSummary, ResetTarget};
use crate::snapshot::{self, LoadSummary, SnapshotError, SnapshotWriter, MEDIA_TYPE};
use crate::state::AppState;

/// `POST /v1/reset {"to": "demo" | "empty"}`: every record and lifecycle removed; with `demo`
/// the demo records written again. Credentials are kept.
pub async fn reset(
    State(state): State<AppState>,
    mut body: JsonObject,
) -> Result<Json<ResetSummary>, AdminError> {
    let to = match body.string("to")?.as_str() {
        "demo" => ResetTarget::Demo,
        "empty" => ResetTarget::Empty,
        other => {
            return Err(AdminError::invalid_field(
                "to",
                format!("`{other}` is not a reset target: give \"demo\" or \"empty\""),
            ))
        }
    };
    body.finish(&["to"])?;
    // The clock goes back to real time with the reset, so the demo records are made for it.
    let summary = demo::reset(&*state.store, to, chrono::Utc::now())
        .await
        .map_err(|e| match e {
            demo::DemoError::Store(s) => AdminError::from(s),
            other => AdminError::internal(other),
        })?;
    // This node applies the cleared rules and the real clock at once; others within
    // `sandbox_refresh_ms`.
    if let Err(e) = state.sandbox.refresh().await {
        tracing::warn!(error = %e, "sandbox state not re-read after the reset");
    }
    tracing::info!(
        ?to,
        removed = summary.removed,
        inserted = summary.inserted,
        "sandbox reset"
    );
    Ok(Json(summary))
}

/// `GET /v1/snapshot`: every record (with its lifecycle), credential and piece of sandbox state
/// as NDJSON, streamed. It holds secrets.
pub async fn save(State(state): State<AppState>) -> Response {
    let writer = SnapshotWriter::new(state.store.clone());
    let stream = futures_util::stream::unfold(Some(writer), |writer| async move {
        let mut writer = writer?;
        match writer.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), Some(writer))),
            Ok(None) => None,
            Err(e) => {
                // Headers are gone by now: cutting the body short is the one signal left, and
                // a reader then fails on the incomplete last line or the missing records.
                tracing::error!(error = %e, "snapshot failed while streaming");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `PUT /v1/snapshot` with a snapshot body: checks every line, then replaces records,
/// lifecycles and credentials with the snapshot's.
pub async fn load(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LoadSummary>, AdminError> {
    match media_type(&headers) {
        Some(m) if m == MEDIA_TYPE || m == "application/ndjson" => {}
        _ => return Err(AdminError::unsupported_media_type(MEDIA_TYPE)),
    }
    let body =
        body.map_err(|r| AdminError::from_bytes_rejection(r, state.config.max_admin_body_bytes))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AdminError::bad_request("invalid_snapshot", "the body is not UTF-8"))?;
    let summary = snapshot::load(&*state.store, text)
        .await
        .map_err(|e| match e {
            SnapshotError::Line { line, message } => {
                let mut err =
                    AdminError::bad_request("invalid_snapshot", format!("line {line}: {message}"));
                err.field = Some(format!("line {line}"));
                err
            }
            SnapshotError::Store(s) => AdminError::from(s),
        })?;
    if let Err(e) = state.sandbox.refresh().await {
        tracing::warn!(error = %e, "sandbox state not re-read after the snapshot load");
    }
    tracing::info!(
        records = summary.records,
        fault_rules = summary.fault_rules,
        credentials = summary.credentials,
        "snapshot loaded"
    );
    Ok(Json(summary))
}
