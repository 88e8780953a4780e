//! A v3 request captured on the wire stays refused after the server restarts.

use std::time::Duration;

use tradeq_wire::alipay::keys::parse_private_key;
use tradeq_wire::alipay::sign::{rsa_sign, SignType};
use tradeq_wire::alipay::v3::request_sign_content;

use crate::node::{demo_credentials, Node};

/// A signed `alipay.trade.query` v3 request: the Authorization header and the body.
pub fn signed_v3_request(creds: &serde_json::Value, nonce: &str) -> (String, String) {
    let key = parse_private_key(
        creds["alipay"]["app_private_key_pkcs8_pem"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let ts = chrono::Utc::now().timestamp_millis();
    let app_id = creds["alipay"]["app_id"].as_str().unwrap();
    let auth = format!("app_id={app_id},nonce={nonce},timestamp={ts}");
    let body = r#"{"trade_no":"2013112011001004330000121536"}"#.to_string();
    let content = request_sign_content(
        &auth,
        "POST",
        "/v3/alipay/trade/query",
        body.as_bytes(),
        None,
    );
    let sign = rsa_sign(&key, SignType::Rsa2, &content).unwrap();
    (format!("ALIPAY-SHA256withRSA {auth},sign={sign}"), body)
}

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
