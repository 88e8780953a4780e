//! What the in-process tests of the server share: a store with the demo installed, the state
//! over it, one way to send a request through a router or the protocol service, and the answer
//! as bytes with the helpers every test reads it with.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::{Service, ServiceExt};

use tradeq_server::demo::{self, DemoCredentials};
use tradeq_server::{AppState, ServerConfig};
use tradeq_store::memory_nonces::MemoryNonceStore;
use tradeq_store::Store;

/// An in-memory SQLite store.
pub async fn memory_store() -> Arc<dyn Store> {
    tradeq_store::open("sqlite::memory:")
        .await
        .expect("store opens")
}

/// An in-memory store with the demo installed (gateway and admin URLs as given), and its
/// credentials.
pub async fn demo_store(
    gateway: &str,
    admin: &str,
    token: &str,
) -> (Arc<dyn Store>, DemoCredentials) {
    let store = memory_store().await;
    let creds = demo::install(store.as_ref(), gateway, admin, token, chrono::Utc::now())
        .await
        .expect("demo installs");
    (store, creds)
}

/// The server's state over `store`, with in-memory nonces.
pub fn state(store: Arc<dyn Store>, config: ServerConfig, token: &str) -> AppState {
    AppState::new(
        store,
        Arc::new(MemoryNonceStore::new()),
        config,
        token.to_string(),
    )
}

/// An answer, read to the end.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, or "" when it is absent or not text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The admin API's error code, after checking the error's shape.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "error shape: {v}");
        v["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

/// Reads a response to the end.
pub async fn collect(res: Response) -> Answer {
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// Sends `req` through a router or the protocol service and reads the answer.
pub async fn send<S>(service: &S, req: Request<Body>) -> Answer
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let res = service.clone().oneshot(req).await.expect("answers");
    collect(res).await
}

/// An admin API request: the bearer token when given, and the body with its content type.
pub fn admin_request(
    method: &str,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(body.into()).expect("a request")
}

/// An admin API request with an optional JSON body.
pub fn admin_json(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Request<Body> {
    match body {
        Some(v) => admin_request(method, uri, token, Some("application/json"), v.to_string()),
        None => admin_request(method, uri, token, None, Body::empty()),
    }
}
