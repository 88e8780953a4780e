//! `tradeq serve --demo` end to end: the credentials file, the admin API, a record written and
//! read back, a restart on the same data dir, and a clean SIGTERM.

mod support;

use std::time::{Duration, Instant};

use support::TestServer;

/// GETs a JSON document, with the admin token when given.
async fn get_json(http: &reqwest::Client, url: String, token: Option<&str>) -> serde_json::Value {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_serves_credentials_admin_api_and_stops_cleanly() {
    let server = TestServer::start_demo(None, &[]);
    let creds = server.credentials();
    for key in ["gateway_url", "admin_url", "admin_token", "alipay", "top"] {
        assert!(
            creds.get(key).is_some(),
            "demo-credentials.json lacks {key}"
        );
    }
    for key in [
        "app_id",
        "merchant_pid",
        "sign_type",
        "app_private_key_pkcs1_pem",
        "app_private_key_pkcs8_pem",
        "app_public_key_pem",
        "alipay_public_key_pem",
        "app_auth_tokens",
    ] {
        assert!(creds["alipay"].get(key).is_some(), "alipay.{key} missing");
    }
    for key in [
        "app_key",
        "app_secret",
        "session",
        "merchant_id",
        "guide_user_id",
    ] {
        assert!(creds["top"].get(key).is_some(), "top.{key} missing");
    }
    assert!(creds["alipay"]["app_private_key_pkcs1_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(creds["alipay"]["app_private_key_pkcs8_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(creds["gateway_url"], server.base_url());

    let admin = format!("http://127.0.0.1:{}", server.admin_port);
    let token = creds["admin_token"].as_str().unwrap().to_string();
    let http = client();

    let health = get_json(&http, format!("{admin}/health"), None).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "sqlite");
    let stats = get_json(&http, format!("{admin}/v1/stats"), Some(&token)).await;
    assert!(stats["records"]["alipay-trade"].as_u64().unwrap() >= 5);

    let openapi = get_json(&http, format!("{admin}/openapi.json"), None).await;
    assert!(openapi["paths"].as_object().unwrap().len() > 5);

    let record = serde_json::json!({
        "trade_no": "2099010122001446880500000042", "out_trade_no": "E2E-1",
        "seller_id": creds["alipay"]["merchant_pid"], "buyer_logon_id": "13800138042",
        "trade_status": "TRADE_SUCCESS", "total_amount": 4242, "gmt_modified": "2099-01-01 00:00:00"
    });
    let put = http
        .put(format!(
            "{admin}/v1/records/alipay-trade/2099010122001446880500000042"
        ))
        .bearer_auth(&token)
        .json(&record)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let got = get_json(
        &http,
        format!("{admin}/v1/records/alipay-trade/2099010122001446880500000042"),
        Some(&token),
    )
    .await;
    assert_eq!(got["total_amount"], 4242);
    assert_eq!(got["out_trade_no"], "E2E-1");

    // A request counted on the protocol side shows up in the metrics.
    let _ = http
        .post(format!("{}/router/rest", server.base_url()))
        .body("method=nope")
        .send()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tradeq_requests_total"), "{metrics}");

    let status = server.stop();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_on_existing_data_keeps_demo_and_is_fast() {
    let first = TestServer::start_demo(None, &[]);
    let creds_before = first.credentials();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("data");
    assert!(first.stop_keep_dir(&copy).success());

    let port = support::free_port();
    let admin_port = support::free_port();
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["serve", "--demo", "--data-dir"])
        .arg(&copy)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--admin-listen")
        .arg(format!("127.0.0.1:{admin_port}"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "no restart");
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = started.elapsed();
    eprintln!("restart on an existing data dir took {took:?}");
    let text = std::fs::read_to_string(copy.join("demo-credentials.json")).unwrap();
    let creds_after: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        creds_before["alipay"]["app_private_key_pkcs1_pem"],
        creds_after["alipay"]["app_private_key_pkcs1_pem"],
        "demo credentials must be kept across restarts"
    );
    assert_eq!(
        creds_before["top"]["session"],
        creds_after["top"]["session"]
    );
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_busy_port_is_named_and_nothing_is_written() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["serve", "--demo", "--data-dir"])
        .arg(&data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", "127.0.0.1:0"])
        .env_remove("TRADEQ_DATABASE_URL")
        .output()
        .expect("run tradeq serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} (the protocol listener)"))
            && stderr.contains("another process holds the port"),
        "{stderr}"
    );
    // No store, no admin token, no credentials: a failed start leaves nothing half-made.
    assert!(
        !data_dir.exists(),
        "{:?}",
        std::fs::read_dir(&data_dir).ok()
    );
    drop(held);
}
