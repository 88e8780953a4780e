//! `POST /v1/explorer/send`: the console's API explorer hands over a request it built and signed
//! in the browser; it is served by this node's protocol service in-process, so the journal, the
//! fault rules, the clock and the signature checks apply exactly as to a client on the network.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::error::AdminError;
use super::extract::{JsonBytes, JsonObject};
use super::journal::header_pairs;
use crate::sandbox::FrontDoor;
use crate::serve::protocol_service;
use crate::state::AppState;

/// The most headers a request may carry.
const MAX_HEADERS: usize = 64;

/// The longest path and query, as a client's HTTP library would accept to send.
const MAX_TARGET_BYTES: usize = 64 << 10;

/// Headers that describe the connection or the body's framing, which this endpoint sets itself.
const FRAMING_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// The request, as read from the body.
struct Outgoing {
    method: Method,
    target: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: String,
}

fn read(state: &AppState, bytes: &[u8]) -> Result<Outgoing, AdminError> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(AdminError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    let pairs = header_pairs(fields.remove("headers"))?;
    let mut body = JsonObject::from_map(fields);
    let method = match body.opt_string("method")?.as_deref() {
        None | Some("POST") => Method::POST,
        Some("GET") => Method::GET,
        Some(other) => {
            return Err(AdminError::invalid_field(
                "method",
                format!("is `{other}`; the protocol front doors take GET or POST"),
            ))
        }
    };
    let target = body.string("target")?;
    let raw_body = body.opt_string("body")?.unwrap_or_default();
    body.finish(&["method", "target", "headers", "body"])?;

    if target.len() > MAX_TARGET_BYTES {
        return Err(AdminError::invalid_field(
            "target",
            format!("is {} bytes; at most {MAX_TARGET_BYTES}", target.len()),
        ));
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !target.starts_with('/') || FrontDoor::for_path(path).is_none() {
        // The path only: the query may carry a session or token.
        return Err(AdminError::invalid_field(
            "target",
            format!(
                "the path `{}` is none of /gateway.do, /v3/…, /router/rest; give the path and \
                 query of a protocol request",
                path.chars().take(200).collect::<String>()
            ),
        ));
    }
    if target.contains('#') {
        return Err(AdminError::invalid_field(
            "target",
            "has a fragment (#…), which no client sends",
        ));
    }
    if raw_body.len() > state.config.max_body_bytes {
        return Err(AdminError::invalid_field(
            "body",
            format!(
                "is {} bytes; the protocol listener takes at most max_body_bytes = {}",
                raw_body.len(),
                state.config.max_body_bytes
            ),
        ));
    }
    if pairs.len() > MAX_HEADERS {
        return Err(AdminError::invalid_field(
            "headers",
            format!("has {} headers; at most {MAX_HEADERS}", pairs.len()),
        ));
    }
    let mut headers = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            AdminError::invalid_field("headers", format!("`{name}` is not a header name"))
        })?;
        if FRAMING_HEADERS.contains(&header.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(&value).map_err(|_| {
            AdminError::invalid_field(
                "headers",
                format!("the value of `{name}` is not a valid header value"),
            )
        })?;
        headers.push((header, value));
    }
    Ok(Outgoing {
        method,
        target,
        headers,
        body: raw_body,
    })
}

/// `POST /v1/explorer/send`: `{"method","target","headers","body"}` → `{"status","headers",
/// "body"}`, plus `"error"` when the answer was cut short (a `reset` or `timeout` fault).
pub async fn send(
    State(state): State<AppState>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, AdminError> {
    let out = read(&state, &bytes)?;
    let mut builder = Request::builder()
        .method(out.method)
        .uri(out.target.as_str());
    for (name, value) in out.headers {
        builder = builder.header(name, value);
    }
    let length = out.body.len();
    let request = builder
        .header(axum::http::header::CONTENT_LENGTH, length)
        .body(Body::from(out.body))
        .map_err(|e| {
            AdminError::invalid_field("target", format!("is not a request target: {e}"))
        })?;

    let response = match protocol_service(state.clone()).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        headers.insert(
            name.as_str().to_string(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    // A timeout fault holds the answer for at most fault_max_timeout_ms before failing it.
    let wait = Duration::from_millis(state.config.fault_max_timeout_ms.saturating_add(5_000));
    let (text, error) = match tokio::time::timeout(wait, body.collect()).await {
        Ok(Ok(collected)) => (
            String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
            None,
        ),
        Ok(Err(e)) => (
            String::new(),
            Some(format!(
                "the connection was closed before the answer was complete ({e})"
            )),
        ),
        Err(_) => (
            String::new(),
            Some("no answer within the longest fault timeout".to_string()),
        ),
    };
    // A client would have seen no status line at all.
    let answer = match error {
        None => json!({ "status": parts.status.as_u16(), "headers": headers, "body": text }),
        Some(e) => json!({ "status": null, "headers": {}, "body": "", "error": e }),
    };
    Ok(Json(answer).into_response())
}
