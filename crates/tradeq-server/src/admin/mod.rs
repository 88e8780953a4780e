//! The administration API, served on its own listener (default loopback): record upsert, read,
//! delete and NDJSON batch upsert, the audit log, credentials management, health, metrics and
//! the OpenAPI document (`GET /openapi.json`, also `docs/admin-api.md`).
//!
//! Every endpoint except `/health`, `/metrics` and `/openapi.json` requires
//! `Authorization: Bearer <admin token>`. Every error, including unknown paths, wrong methods,
//! malformed bodies and wrong content types, is JSON:
//! `{"error":{"code":"<machine_code>","message":"<what to fix>"}}`.

use std::any::Any;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use tradeq_model::RecordKind;

use crate::state::AppState;

pub mod answers;
pub mod credentials;
pub mod demo;
pub mod error;
pub mod explorer;
pub mod extract;
pub mod journal;
pub mod lifecycle;
pub mod listing;
pub mod records;
pub mod sandbox;
pub mod snapshot;

pub use error::AdminError;

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Every path the router serves, with its methods, in the router's path syntax. The OpenAPI
/// document describes exactly these (a test checks both ways).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/health", &["GET"]),
    ("/metrics", &["GET"]),
    ("/openapi.json", &["GET"]),
    (
        "/v1/records/{kind}/{key}",
        &["GET", "PUT", "PATCH", "DELETE"],
    ),
    ("/v1/records/{kind}", &["GET"]),
    ("/v1/records/{kind}/{key}/lifecycle", &["POST"]),
    ("/v1/lifecycle-templates", &["GET"]),
    ("/v1/reset", &["POST"]),
    ("/v1/snapshot", &["GET", "PUT"]),
    ("/v1/records/{kind}/_batch", &["POST"]),
    ("/v1/audit", &["GET"]),
    ("/v1/stats", &["GET"]),
    ("/v1/alipay-apps", &["GET", "POST"]),
    ("/v1/alipay-apps/{app_id}", &["GET", "PUT", "DELETE"]),
    ("/v1/app-auth-tokens", &["GET", "POST"]),
    ("/v1/app-auth-tokens/{token}", &["GET", "DELETE"]),
    ("/v1/top-apps", &["GET", "POST"]),
    ("/v1/top-apps/{app_key}", &["GET", "PUT", "DELETE"]),
    ("/v1/top-sessions", &["GET", "POST"]),
    ("/v1/top-sessions/{session}", &["GET", "DELETE"]),
    ("/v1/faults", &["GET", "POST", "DELETE"]),
    ("/v1/faults/{id}", &["DELETE"]),
    ("/v1/clock", &["GET", "PUT"]),
    ("/v1/clock/advance", &["POST"]),
    ("/v1/journal", &["GET", "DELETE"]),
    ("/v1/journal/stream", &["GET"]),
    ("/v1/journal/{id}", &["GET"]),
    ("/v1/explain", &["POST"]),
    ("/v1/explorer/send", &["POST"]),
    ("/v1/demo-credentials", &["GET"]),
    ("/v1/records/{kind}/{key}/answers", &["GET"]),
];

/// The administration router.
pub fn router(state: AppState) -> Router {
    use credentials as c;
    use records as r;

    let limit = state.config.max_admin_body_bytes;
    let public = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi));
    let protected = Router::new()
        .route(
            "/v1/records/{kind}/{key}",
            get(r::get_record)
                .put(r::put_record)
                .patch(listing::patch_record)
                .delete(r::delete_record),
        )
        .route("/v1/records/{kind}", get(listing::list_records))
        .route(
            "/v1/records/{kind}/{key}/lifecycle",
            post(lifecycle::attach_template),
        )
        .route("/v1/lifecycle-templates", get(lifecycle::list_templates))
        .route("/v1/reset", post(snapshot::reset))
        .route("/v1/snapshot", get(snapshot::save).put(snapshot::load))
        .route("/v1/records/{kind}/_batch", post(r::batch))
        .route("/v1/audit", get(r::audit))
        .route("/v1/stats", get(stats))
        .route(
            "/v1/alipay-apps",
            get(c::list_alipay_apps).post(c::create_alipay_app),
        )
        .route(
            "/v1/alipay-apps/{app_id}",
            get(c::get_alipay_app)
                .put(c::put_alipay_app)
                .delete(c::delete_alipay_app),
        )
        .route(
            "/v1/app-auth-tokens",
            get(c::list_app_auth_tokens).post(c::create_app_auth_token),
        )
        .route(
            "/v1/app-auth-tokens/{token}",
            get(c::get_app_auth_token).delete(c::delete_app_auth_token),
        )
        .route(
            "/v1/top-apps",
            get(c::list_top_apps).post(c::create_top_app),
        )
        .route(
            "/v1/top-apps/{app_key}",
            get(c::get_top_app)
                .put(c::put_top_app)
                .delete(c::delete_top_app),
        )
        .route(
            "/v1/top-sessions",
            get(c::list_top_sessions).post(c::create_top_session),
        )
        .route(
            "/v1/top-sessions/{session}",
            get(c::get_top_session).delete(c::delete_top_session),
        )
        .route(
            "/v1/faults",
            get(sandbox::list_faults)
                .post(sandbox::create_fault)
                .delete(sandbox::clear_faults),
        )
        .route(
            "/v1/faults/{id}",
            axum::routing::delete(sandbox::delete_fault),
        )
        .route("/v1/clock", get(sandbox::get_clock).put(sandbox::put_clock))
        .route("/v1/clock/advance", post(sandbox::advance_clock))
        .route("/v1/journal", get(journal::list).delete(journal::clear))
        .route("/v1/journal/stream", get(journal::stream))
        .route("/v1/journal/{id}", get(journal::get_one))
        .route("/v1/explain", post(journal::explain))
        .route("/v1/explorer/send", post(explorer::send))
        .route("/v1/demo-credentials", get(demo::credentials))
        .route(
            "/v1/records/{kind}/{key}/answers",
            get(answers::get_answers),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));

    public
        .merge(protected)
        .merge(crate::console::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(make_span))
        .with_state(state)
}

/// The request span: method and path, with the token or session of
/// `/v1/app-auth-tokens/{token}` and `/v1/top-sessions/{session}` elided so that credentials
/// never reach the log.
fn make_span(req: &Request) -> tracing::Span {
    tracing::info_span!("admin", method = %req.method(), path = %loggable_path(req.uri().path()))
}

/// `path` with credential path segments replaced by their parameter name.
fn loggable_path(path: &str) -> String {
    for (prefix, name) in [
        ("/v1/app-auth-tokens/", "{token}"),
        ("/v1/top-sessions/", "{session}"),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if !rest.is_empty() {
                return format!("{prefix}{name}");
            }
        }
    }
    path.to_string()
}

/// The bearer token of a request, if it sent one.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Refuses requests without the admin token.
async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match bearer(&req) {
        Some(token) if state.admin_token.matches(token) => {
            let writes = req.method() != axum::http::Method::GET;
            let response = next.run(req).await;
            // A credential written here applies to this node's next request, not after the
            // credential cache's TTL.
            if writes {
                state.credentials.invalidate();
            }
            response
        }
        Some(token) if !token.is_empty() => AdminError::invalid_token().into_response(),
        _ => AdminError::unauthorized().into_response(),
    }
}

/// The answer of `GET /health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Records per kind (absent when the store is unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /health` (no token): the backend and record counts; 503 when the store fails.
async fn health(State(state): State<AppState>) -> Response {
    let backend = state.store.backend();
    // A point read, not counts: probes come every few seconds and must stay cheap on a large
    // PostgreSQL store. Record counts are `GET /v1/stats`.
    match state.store.get_meta("admin_token").await {
        Ok(_) => Json(Health {
            status: "ok",
            backend,
            records: None,
        })
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the store failed");
            let body = Health {
                status: "unavailable",
                backend,
                records: None,
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `GET /v1/stats`: exact record counts per kind (a full count: slow on very large tables).
async fn stats(State(state): State<AppState>) -> Response {
    let mut records = serde_json::Map::new();
    for kind in RecordKind::ALL {
        match state.store.count(kind).await {
            Ok(n) => {
                records.insert(kind.as_str().to_string(), n.into());
            }
            Err(e) => return AdminError::from(e).into_response(),
        }
    }
    Json(Health {
        status: "ok",
        backend: state.store.backend(),
        records: Some(records),
    })
    .into_response()
}

/// `GET /metrics` (no token): Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json` (no token).
async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

/// Unknown paths.
async fn not_found(method: Method, uri: Uri) -> AdminError {
    AdminError::not_found(format!(
        "no endpoint {method} {}; GET /openapi.json lists the endpoints",
        uri.path()
    ))
}

/// Known paths with an unsupported method.
async fn method_not_allowed(method: Method, uri: Uri) -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not support {method}; GET /openapi.json lists the endpoints",
            uri.path()
        ),
    )
}

/// A handler that panicked still answers in the API's error shape.
fn panic_response(_err: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("admin handler panicked");
    AdminError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal error; the server log has the detail",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_not_logged() {
        assert_eq!(
            loggable_path("/v1/app-auth-tokens/abc"),
            "/v1/app-auth-tokens/{token}"
        );
        assert_eq!(
            loggable_path("/v1/top-sessions/abc/x"),
            "/v1/top-sessions/{session}"
        );
        assert_eq!(loggable_path("/v1/top-sessions"), "/v1/top-sessions");
        assert_eq!(loggable_path("/v1/alipay-apps/1"), "/v1/alipay-apps/1");
    }

    #[test]
    fn openapi_is_json_and_covers_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(
            doc["openapi"].as_str().map(|s| s.starts_with("3.1")),
            Some(true)
        );
        let paths = doc["paths"].as_object().unwrap();
        for (path, methods) in ROUTES {
            let item = paths.get(*path).unwrap_or_else(|| panic!("{path} missing"));
            for m in *methods {
                assert!(item.get(m.to_ascii_lowercase()).is_some(), "{m} {path}");
            }
        }
        assert_eq!(paths.len(), ROUTES.len());
    }
}
