//! Credentials are cached briefly on the request path, but a change made through this node's
//! admin API applies to the very next request.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use tradeq_server::demo::{self, DemoCredentials};
use tradeq_server::serve::protocol_router;
use tradeq_server::{admin, AppState, ServerConfig};
use tradeq_store::memory_nonces::MemoryNonceStore;
use tradeq_wire::time::format_gmt8;
use tradeq_wire::top::sign::{sign, sign_string, SignMethod};

async fn routers() -> (Router, Router, DemoCredentials) {
    let store = tradeq_store::open("sqlite::memory:").await.unwrap();
    let creds = demo::install(
        store.as_ref(),
        "http://gw",
        "http://admin",
        "token",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let config = ServerConfig {
        // Long enough that only an explicit invalidation can explain a changed answer.
        credential_cache_ttl_ms: 3_600_000,
        ..ServerConfig::default()
    };
    let state = AppState::new(
        store,
        Arc::new(MemoryNonceStore::new()),
        config,
        "token".into(),
    );
    (protocol_router(state.clone()), admin::router(state), creds)
}

async fn onsite_query(router: &Router, creds: &DemoCredentials) -> Value {
    let timestamp = format_gmt8(chrono::Utc::now());
    let mut params = vec![
        ("method", "alibaba.xlife.onsite.trade.query"),
        ("app_key", creds.top.app_key.as_str()),
        ("session", creds.top.session.as_str()),
        ("timestamp", timestamp.as_str()),
        ("format", "json"),
        ("v", "2.0"),
        ("sign_method", "md5"),
        ("short_trade_no", "77778888"),
    ];
    let signature = sign(
        &creds.top.app_secret,
        SignMethod::Md5,
        &sign_string(params.iter().copied(), false),
    );
    params.push(("sign", signature.as_str()));
    let body = tradeq_wire::params::encode_form(
        params.iter().map(|(k, v)| (*k, *v)),
        tradeq_wire::params::Charset::Utf8,
    );
    let res = router
        .clone()
        .oneshot(
            Request::post("/router/rest")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_session_deleted_through_the_admin_api_stops_working_at_once() {
    let (protocol, admin, creds) = routers().await;
    let ok = onsite_query(&protocol, &creds).await;
    assert!(
        ok["alibaba_xlife_onsite_trade_query_response"].is_object(),
        "{ok}"
    );
    let res = admin
        .oneshot(
            Request::delete(format!("/v1/top-sessions/{}", creds.top.session))
                .header("authorization", "Bearer token")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let refused = onsite_query(&protocol, &creds).await;
    assert_eq!(refused["error_response"]["code"], 27, "{refused}");
}
