//! Credentials are cached briefly on the request path, but a change made through this node's
//! admin API applies to the very next request.

mod support;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use serde_json::Value;

use tradeq_server::demo::DemoCredentials;
use tradeq_server::serve::protocol_router;
use tradeq_server::{admin, ServerConfig};
use tradeq_wire::time::format_gmt8;
use tradeq_wire::top::sign::{sign, sign_string, SignMethod};

async fn routers() -> (Router, Router, DemoCredentials) {
    let (store, creds) = support::demo_store("http://gw", "http://admin", "token").await;
    let config = ServerConfig {
        // Long enough that only an explicit invalidation can explain a changed answer.
        credential_cache_ttl_ms: 3_600_000,
        ..ServerConfig::default()
    };
    let state = support::state(store, config, "token");
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
    let req = Request::post("/router/rest")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a request");
    support::send(router, req).await.json()
}

#[tokio::test]
async fn a_session_deleted_through_the_admin_api_stops_working_at_once() {
    let (protocol, admin, creds) = routers().await;
    let ok = onsite_query(&protocol, &creds).await;
    assert!(
        ok["alibaba_xlife_onsite_trade_query_response"].is_object(),
        "{ok}"
    );
    let uri = format!("/v1/top-sessions/{}", creds.top.session);
    let res = support::send(
        &admin,
        support::admin_json("DELETE", &uri, Some("token"), None),
    )
    .await;
    assert!(res.status.is_success(), "{}", res.text());
    let refused = onsite_query(&protocol, &creds).await;
    assert_eq!(refused["error_response"]["code"], 27, "{refused}");
}
