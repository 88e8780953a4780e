//! Several stateless nodes on one PostgreSQL database: a v3 request accepted by one node is a
//! replay for every other node.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{signed_v3_request, Database, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_nonce_used_on_one_node_is_refused_by_another() {
    let Ok(url) = std::env::var("TRADEQ_TEST_DATABASE_URL") else {
        skip_or_fail!("TRADEQ_TEST_DATABASE_URL is not set");
    };
    if Command::new("psql").arg("--version").output().is_err() {
        skip_or_fail!("psql is not installed");
    }
    let db = Database::create(&url, "multinode");
    let db_url = db.url();
    let a = TestServer::start_demo(None, &["--database-url", &db_url]);
    let b = TestServer::start_demo(None, &["--database-url", &db_url]);
    let creds = a.credentials();
    assert_eq!(
        creds["alipay"]["app_private_key_pkcs8_pem"],
        b.credentials()["alipay"]["app_private_key_pkcs8_pem"],
        "both nodes serve the same demo credentials from the shared database"
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (authorization, body) = signed_v3_request(&creds, "multinode-nonce-1");
    let send = |base: String| {
        http.post(format!("{base}/v3/alipay/trade/query"))
            .header("authorization", authorization.clone())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let first = send(a.base_url()).await.unwrap();
    assert_eq!(first.status(), 200, "{:?}", first.text().await);
    let replay = send(b.base_url()).await.unwrap();
    assert_eq!(replay.status(), 401);
    let err: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(err["code"], "invalid-signature");
    assert!(err["message"].as_str().unwrap().contains("nonce"), "{err}");
    let again = send(a.base_url()).await.unwrap();
    assert_eq!(
        again.status(),
        401,
        "a replay to the first node is refused too"
    );

    // A fresh nonce works on either node.
    let (authorization, body) = signed_v3_request(&creds, "multinode-nonce-2");
    let ok = http
        .post(format!("{}/v3/alipay/trade/query", b.base_url()))
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    drop(a);
    drop(b);
    drop(db);
}
