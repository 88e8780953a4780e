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

/// How long after a write committed every node answers it (the record cache's bound, see
/// docs/records.md).
const COHERENCE_BOUND: Duration = Duration::from_millis(100);

/// Signed v3 queries of the demo trade, made before a write: signing takes longer than the
/// bound in a debug build, so the queries after the write must be ready to send.
fn presigned(creds: &serde_json::Value, tag: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| signed_v3_request(creds, &format!("{tag}-{i}")))
        .collect()
}

/// Sends the `queries` to `node` one after the other until its answer names `store_name`,
/// asserting that no query sent `COHERENCE_BOUND` or more after `written` got the old record.
/// Returns the delay of the first current answer.
async fn v3_sees(
    http: &reqwest::Client,
    node: &TestServer,
    queries: Vec<(String, String)>,
    written: std::time::Instant,
    store_name: &str,
) -> Duration {
    for (authorization, body) in queries {
        let sent = std::time::Instant::now();
        let answer = http
            .post(format!("{}/v3/alipay/trade/query", node.base_url()))
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let text = answer.text().await.unwrap();
        if text.contains(store_name) {
            return sent.duration_since(written);
        }
        let late = sent.duration_since(written);
        assert!(
            late < COHERENCE_BOUND,
            "a query sent {late:?} after the write got the old record: {text}"
        );
        // 25 queries 5 ms apart outlast the bound: the last ones are due to be current.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("every query got the old record");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_through_one_node_is_answered_by_another_within_the_bound() {
    let Ok(url) = std::env::var("TRADEQ_TEST_DATABASE_URL") else {
        skip_or_fail!("TRADEQ_TEST_DATABASE_URL is not set");
    };
    if Command::new("psql").arg("--version").output().is_err() {
        skip_or_fail!("psql is not installed");
    }
    let db = Database::create(&url, "coherence");
    let db_url = db.url();
    let a = TestServer::start_demo(None, &["--database-url", &db_url]);
    let b = TestServer::start_demo(None, &["--database-url", &db_url]);
    let creds = a.credentials();
    let token = creds["admin_token"].as_str().unwrap().to_string();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let record_url = format!(
        "http://127.0.0.1:{}/v1/records/alipay-trade/2013112011001004330000121536",
        a.admin_port
    );
    let mut trade: serde_json::Value = http
        .get(&record_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let original = trade["store_name"].as_str().unwrap_or("").to_string();
    // Node B has the trade in its record cache.
    let warm = presigned(&creds, "warm", 2);
    v3_sees(&http, &b, warm, std::time::Instant::now(), &original).await;
    // Enough queries to outlast the bound many times over.
    let queries = presigned(&creds, "put", 25);

    // An admin PUT through node A.
    trade["store_name"] = "coherence-put".into();
    trade["gmt_modified"] = "2099-01-01 00:00:00".into();
    let put = http
        .put(&record_url)
        .bearer_auth(&token)
        .json(&trade)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let written = std::time::Instant::now();
    let put_delay = v3_sees(&http, &b, queries, written, "coherence-put").await;

    // An import by another process (next to neither node).
    trade["store_name"] = "coherence-import".into();
    trade["gmt_modified"] = "2099-01-02 00:00:00".into();
    if let Some(doc) = trade.as_object_mut() {
        doc.remove("lifecycle");
    }
    let (queries_b, queries_a) = (
        presigned(&creds, "import-b", 25),
        presigned(&creds, "import-a", 25),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.jsonl");
    std::fs::write(&file, format!("{trade}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["import", "alipay-trade", file.to_str().unwrap()])
        .args(["--database-url", &db_url, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::time::Instant::now();
    let import_delay = v3_sees(&http, &b, queries_b, written, "coherence-import").await;
    // And node A, which wrote nothing of it, too.
    v3_sees(&http, &a, queries_a, written, "coherence-import").await;
    eprintln!("node B answered the PUT after {put_delay:?}, the import after {import_delay:?}");
    drop(a);
    drop(b);
    drop(db);
}
