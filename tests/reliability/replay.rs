//! A v3 request captured on the wire stays refused after the server restarts.

use std::time::Duration;

use crate::node::{demo_credentials, Node};
use crate::support::signed_v3_request;

async fn send(base: &str, authorization: &str, body: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .post(format!("{base}/v3/alipay/trade/query"))
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_captured_v3_request_is_refused_after_a_restart_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Node::start(&data, &["--demo"]);
    let creds = demo_credentials(&data);
    let (authorization, body) = signed_v3_request(&creds, "captured-nonce-1");
    let ok = send(&first.base_url, &authorization, &body).await;
    assert_eq!(ok.status(), 200, "{:?}", ok.text().await);
    assert!(first.stop(), "SIGTERM must exit 0");

    let second = Node::start(&data, &["--demo"]);
    let replay = send(&second.base_url, &authorization, &body).await;
    assert_eq!(replay.status(), 401, "replayed after a restart");
    let err: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(err["code"], "invalid-signature", "{err}");
    assert!(err["message"].as_str().unwrap().contains("nonce"), "{err}");

    // A fresh nonce is served as before.
    let (authorization, body) = signed_v3_request(&creds, "captured-nonce-2");
    let fresh = send(&second.base_url, &authorization, &body).await;
    assert_eq!(fresh.status(), 200);
    assert!(second.stop());
}
