//! Fault injection and the business clock against a real `tradeq serve --demo`, on the embedded
//! store and on PostgreSQL (`TRADEQ_TEST_DATABASE_URL`): every admin endpoint and its refusals,
//! every fault action as the Rust client and a raw TCP client see it, `times`/`after`/seeded
//! `probability`, the rules file, the clock driving business time, and two nodes on one
//! PostgreSQL database behaving as one sandbox.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::{Database, TestServer};
use tradeq_client::model::{AlipayTradeQueryRequest, XlifeOnsiteTradeQueryRequest};
use tradeq_client::{
    AlipayConfig, AlipayV2Client, AlipayV3Client, Credentials, Error, RetryPolicy, TopClient,
    TopConfig,
};

const TRADE_NO: &str = "2013112011001004330000121536";
const OTHER_TRADE_NO: &str = "2014112611001004680073956707";

/// The demo server's admin API.
struct Admin {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    fn of(server: &TestServer) -> Admin {
        let creds = server.credentials();
        Admin {
            url: format!("http://127.0.0.1:{}", server.admin_port),
            token: creds["admin_token"].as_str().unwrap().to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value)
    }

    async fn add(&self, rule: Value) -> String {
        let (status, body) = self
            .send(reqwest::Method::POST, "/v1/faults", Some(rule))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    async fn refused(&self, rule: Value) -> String {
        let (status, body) = self
            .send(reqwest::Method::POST, "/v1/faults", Some(rule.clone()))
            .await;
        assert_eq!(status, 400, "{rule} → {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn clear(&self) {
        let (status, _) = self.send(reqwest::Method::DELETE, "/v1/faults", None).await;
        assert_eq!(status, 200);
    }

    async fn rule(&self, id: &str) -> Value {
        let (_, list) = self.send(reqwest::Method::GET, "/v1/faults", None).await;
        list["faults"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }

    async fn clock(&self, body: Value) -> Value {
        let (status, v) = self
            .send(reqwest::Method::PUT, "/v1/clock", Some(body))
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

fn alipay(server: &TestServer) -> AlipayConfig {
    let creds = Credentials::load(server.credentials_path()).unwrap();
    let mut c = creds.alipay_config().unwrap();
    c.gateway_url = server.base_url();
    c.options.retry = RetryPolicy::none();
    c.options.timeout = Duration::from_secs(5);
    c
}

fn top(server: &TestServer) -> TopConfig {
    let creds = Credentials::load(server.credentials_path()).unwrap();
    let mut c = creds.top_config().unwrap();
    c.gateway_url = server.base_url();
    c.options.retry = RetryPolicy::none();
    c.options.timeout = Duration::from_secs(5);
    c
}

fn platform(r: Result<impl std::fmt::Debug, Error>) -> tradeq_client::PlatformError {
    match r {
        Err(Error::Business(e)) | Err(Error::Gateway(e)) => *e,
        other => panic!("expected a platform error, got {other:?}"),
    }
}

/// A raw HTTP/1.1 exchange: what arrives before the server closes the connection.
fn raw_exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn form(pairs: &[(String, String)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

/// A signed v2 `alipay.trade.query` request as raw HTTP bytes, closing the connection after.
async fn raw_v2_request(server: &TestServer, trade_no: &str) -> Vec<u8> {
    let client = AlipayV2Client::new(alipay(server)).unwrap();
    let timestamp = tradeq_wire::time::format_gmt8(chrono::Utc::now());
    let signed = client
        .sign_request(
            "alipay.trade.query",
            Some(&json!({ "trade_no": trade_no }).to_string()),
            &[],
            &timestamp,
        )
        .unwrap();
    let body = form(&signed.body);
    format!(
        "POST /gateway.do?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded;charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        form(&signed.query),
        body.len()
    )
    .into_bytes()
}

fn config_file(dir: &std::path::Path, rules: &str) -> std::path::PathBuf {
    let rules_path = dir.join("faults.ndjson");
    std::fs::write(&rules_path, rules).unwrap();
    let path = dir.join("tradeq.toml");
    std::fs::write(
        &path,
        format!(
            "sandbox_refresh_ms = 200\nfault_max_timeout_ms = 5000\nfaults_file = {:?}\n",
            rules_path.display().to_string()
        ),
    )
    .unwrap();
    path
}

const FILE_RULES: &str = r#"# installed at start
{"match": {"key": "file-loaded-key"}, "action": {"type": "error", "code": "ACQ.TRADE_NOT_EXIST"}}
"#;

async fn admin_endpoints_and_refusals(admin: &Admin) {
    // The rule of the configured file is there, with its file id.
    let (status, list) = admin.send(reqwest::Method::GET, "/v1/faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["faults"][0]["id"], "file-1", "{list}");
    assert_eq!(list["faults"][0]["hits"], 0);

    for (rule, field) in [
        (json!({"action": {"type": "explode"}}), "action.type"),
        (json!({}), "action"),
        (json!({"action": {"type": "reset"}, "bogus": 1}), "bogus"),
        (
            json!({"match": {"colour": "red"}, "action": {"type": "reset"}}),
            "match.colour",
        ),
        (
            json!({"match": {"front_door": "soap"}, "action": {"type": "reset"}}),
            "match.front_door",
        ),
        (
            json!({"match": {"method": "no.such.method"}, "action": {"type": "reset"}}),
            "match.method",
        ),
        (
            json!({"probability": 2, "action": {"type": "reset"}}),
            "probability",
        ),
        (json!({"times": -3, "action": {"type": "reset"}}), "times"),
        (json!({"after": -1, "action": {"type": "reset"}}), "after"),
        (json!({"seed": -1, "action": {"type": "reset"}}), "seed"),
        (
            json!({"match": {"front_door": "top"},
                   "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}),
            "action.code",
        ),
        (
            json!({"match": {"front_door": "alipay_v2"}, "action": {"type": "error", "code": "7"}}),
            "action.code",
        ),
        (
            json!({"action": {"type": "error", "code": "NOT.A_CODE"}}),
            "action.code",
        ),
        (
            json!({"action": {"type": "timeout", "ms": 5001}}),
            "action.ms",
        ),
        (
            json!({"action": {"type": "delay", "min_ms": 10}}),
            "action.ms",
        ),
        (
            json!({"action": {"type": "http_status", "status": 700}}),
            "action.status",
        ),
        (json!({"action": {"type": "bad_signature"}}), "action.type"),
        (
            json!({"action": {"type": "truncate", "bytes": -1}}),
            "action.bytes",
        ),
    ] {
        assert_eq!(admin.refused(rule.clone()).await, field, "{rule}");
    }
    // Not JSON, not an object.
    let (status, body) = admin
        .send(reqwest::Method::POST, "/v1/faults", Some(json!([1, 2])))
        .await;
    assert_eq!(status, 400, "{body}");

    let id = admin
        .add(json!({"match": {"key": "nobody"}, "action": {"type": "reset"}}))
        .await;
    assert!(id.starts_with("flt_"), "{id}");
    let (status, _) = admin
        .send(reqwest::Method::DELETE, &format!("/v1/faults/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = admin
        .send(reqwest::Method::DELETE, &format!("/v1/faults/{id}"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    admin
        .add(json!({"match": {"key": "nobody"}, "action": {"type": "reset"}}))
        .await;
    let (status, body) = admin
        .send(reqwest::Method::DELETE, "/v1/faults", None)
        .await;
    assert_eq!((status, body["deleted"].as_u64()), (200, Some(2)));
    let (_, list) = admin.send(reqwest::Method::GET, "/v1/faults", None).await;
    assert_eq!(list["faults"], json!([]));
    // Without the token: 401.
    let res = reqwest::get(format!("{}/v1/faults", admin.url))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn error_faults(server: &TestServer, admin: &Admin) {
    let v2 = AlipayV2Client::new(alipay(server)).unwrap();
    let v3 = AlipayV3Client::new(alipay(server)).unwrap();
    let top = TopClient::new(top(server)).unwrap();
    let by_trade = AlipayTradeQueryRequest::by_trade_no(TRADE_NO);

    // One rule for every front door: each renders its own equivalent, signed.
    let id = admin
        .add(json!({"match": {"key": TRADE_NO}, "times": 3,
                    "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}))
        .await;
    let e = platform(v2.trade_query(&by_trade).await);
    assert_eq!((e.code.as_str(), e.reason()), ("40004", "ACQ.SYSTEM_ERROR"));
    assert_eq!(e.authenticity, tradeq_client::Authenticity::Verified);
    let e = platform(v3.trade_query(&by_trade).await);
    assert_eq!((e.http_status, e.reason()), (Some(500), "ACQ.SYSTEM_ERROR"));
    assert_eq!(e.authenticity, tradeq_client::Authenticity::Verified);
    let e = platform(
        top.xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!((e.code.as_str(), e.reason()), ("50", "isp.SYSTEM_ERROR"));
    // `times` is used up: the fourth request is served (the node stopped counting at the third).
    assert_eq!(v2.trade_query(&by_trade).await.unwrap().trade_no, TRADE_NO);
    let rule = admin.rule(&id).await;
    assert_eq!(
        (rule["hits"].as_u64(), rule["matched"].as_u64()),
        (Some(3), Some(3))
    );
    admin.clear().await;

    // v2 20000 under its documented sub-code; TOP 7 and isp.* on TOP.
    admin
        .add(json!({"match": {"front_door": "alipay_v2"}, "times": 1,
                    "action": {"type": "error", "code": "isp.unknown-error"}}))
        .await;
    let e = platform(v2.trade_query(&by_trade).await);
    assert_eq!((e.code.as_str(), e.reason()), ("20000", "isp.unknow-error"));
    admin
        .add(json!({"match": {"front_door": "top"}, "times": 1,
                    "action": {"type": "error", "code": "7"}}))
        .await;
    admin
        .add(json!({"match": {"front_door": "top"}, "times": 1,
                    "action": {"type": "error", "code": "isp.top-remote-connection-timeout"}}))
        .await;
    let q = XlifeOnsiteTradeQueryRequest::by_trade_no(TRADE_NO);
    let e = platform(top.xlife_onsite_trade_query(&q).await);
    assert_eq!(e.code, "7");
    assert_eq!(
        e.sub_code.as_deref(),
        Some("accesscontrol.limited-by-app-access-count")
    );
    let e = platform(top.xlife_onsite_trade_query(&q).await);
    assert_eq!(
        (e.code.as_str(), e.reason()),
        ("15", "isp.top-remote-connection-timeout")
    );
    assert!(top.xlife_onsite_trade_query(&q).await.is_ok());
    admin.clear().await;
}

async fn wire_faults(server: &TestServer, admin: &Admin) {
    let v2 = AlipayV2Client::new(alipay(server)).unwrap();
    let v3 = AlipayV3Client::new(alipay(server)).unwrap();
    let by_trade = AlipayTradeQueryRequest::by_trade_no(TRADE_NO);

    // delay: answered, late.
    admin
        .add(json!({"match": {"front_door": "alipay_v2"}, "times": 1,
                    "action": {"type": "delay", "ms": 400}}))
        .await;
    let started = Instant::now();
    assert!(v2.trade_query(&by_trade).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(400));
    admin.clear().await;

    // timeout: held, then closed with nothing written; the client's timeout is longer.
    admin
        .add(json!({"match": {"front_door": "alipay_v2"}, "times": 1,
                    "action": {"type": "timeout", "ms": 700}}))
        .await;
    let started = Instant::now();
    let r = v2.trade_query(&by_trade).await;
    assert!(matches!(r, Err(Error::Transport(_))), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(700));
    admin.clear().await;

    // reset: the raw client gets zero bytes, not even a status line.
    admin
        .add(json!({"match": {"key": TRADE_NO}, "action": {"type": "reset"}}))
        .await;
    let raw = raw_exchange(server.port, &raw_v2_request(server, TRADE_NO).await);
    assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
    assert!(matches!(
        v3.trade_query(&by_trade).await,
        Err(Error::Transport(_))
    ));
    // Another key is served normally.
    let raw = raw_exchange(server.port, &raw_v2_request(server, OTHER_TRADE_NO).await);
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    admin.clear().await;

    // http_status: an empty answer with that status.
    admin
        .add(json!({"match": {"key": TRADE_NO}, "times": 1,
                    "action": {"type": "http_status", "status": 503}}))
        .await;
    let raw = raw_exchange(server.port, &raw_v2_request(server, TRADE_NO).await);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body: {text}");
    admin.clear().await;

    // truncate: the first bytes of the real answer.
    admin
        .add(json!({"match": {"key": TRADE_NO}, "times": 1,
                    "action": {"type": "truncate", "bytes": 25}}))
        .await;
    let raw = raw_exchange(server.port, &raw_v2_request(server, TRADE_NO).await);
    let text = String::from_utf8_lossy(&raw);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(body, r#"{"alipay_trade_query_resp"#, "{text}");
    admin.clear().await;

    // bad_signature: a well-formed answer whose signature fails, on v2 and v3.
    admin
        .add(
            json!({"match": {"method": "alipay.trade.query"}, "times": 2,
                    "action": {"type": "bad_signature"}}),
        )
        .await;
    let r = v2.trade_query(&by_trade).await;
    assert!(matches!(r, Err(Error::Verification(_))), "{r:?}");
    let r = v3.trade_query(&by_trade).await;
    assert!(matches!(r, Err(Error::Verification(_))), "{r:?}");
    assert!(v2.trade_query(&by_trade).await.is_ok());
    admin.clear().await;
}

async fn counting_and_draws(server: &TestServer, admin: &Admin) {
    let v2 = AlipayV2Client::new(alipay(server)).unwrap();
    let by_trade = AlipayTradeQueryRequest::by_trade_no(TRADE_NO);
    let failed = |r: &Result<_, Error>| matches!(r, Err(Error::Business(_)));

    // after 2, times 2: requests 3 and 4 fail; the 4th used `times` up, so this node stops
    // counting matches.
    let id = admin
        .add(json!({"match": {"key": TRADE_NO}, "after": 2, "times": 2,
                    "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}))
        .await;
    let mut pattern = Vec::new();
    for _ in 0..6 {
        pattern.push(failed(&v2.trade_query(&by_trade).await));
    }
    assert_eq!(pattern, [false, false, true, true, false, false]);
    let rule = admin.rule(&id).await;
    assert_eq!(
        (rule["matched"].as_u64(), rule["hits"].as_u64()),
        (Some(4), Some(2))
    );
    admin.clear().await;

    // probability with a seed: the n-th match fails exactly when its draw says so.
    admin
        .add(
            json!({"match": {"key": TRADE_NO}, "probability": 0.5, "seed": 7,
                    "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}),
        )
        .await;
    let mut seen = Vec::new();
    for _ in 0..16 {
        seen.push(failed(&v2.trade_query(&by_trade).await));
    }
    let expected: Vec<bool> = (1..=16)
        .map(|n| tradeq_server::sandbox::faults::draw(7, n, 0) < 0.5)
        .collect();
    assert_eq!(seen, expected);
    assert!(seen.contains(&true) && seen.contains(&false), "{seen:?}");
    admin.clear().await;
}

async fn the_clock(server: &TestServer, admin: &Admin) {
    let top = TopClient::new(top(server)).unwrap();
    let short = XlifeOnsiteTradeQueryRequest::by_short_trade_no("77778888");
    assert!(top.xlife_onsite_trade_query(&short).await.is_ok());

    let (status, clock) = admin.send(reqwest::Method::GET, "/v1/clock", None).await;
    assert_eq!(
        (status, clock["mode"].as_str()),
        (200, Some("real")),
        "{clock}"
    );

    // 31 days on, the short trade number (30 days) no longer resolves; the request itself,
    // stamped with real time, is still accepted.
    let (status, clock) = admin
        .send(
            reqwest::Method::POST,
            "/v1/clock/advance",
            Some(json!({"secs": 31 * 86_400})),
        )
        .await;
    assert_eq!(
        (status, clock["mode"].as_str()),
        (200, Some("offset")),
        "{clock}"
    );
    assert_eq!(clock["offset_secs"], 31 * 86_400);
    let e = platform(top.xlife_onsite_trade_query(&short).await);
    assert_eq!(e.reason(), "isp.TRADE_ORDER_NOT_FOUND");

    // Frozen: `now` is the instant, and advance moves it.
    let clock = admin
        .clock(json!({"mode": "frozen", "at": "2030-01-01T00:00:00Z"}))
        .await;
    assert_eq!(clock["now"], "2030-01-01T00:00:00Z");
    // The bill split of an xlife trade is computed at the business clock's now.
    let t = top
        .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(
        t.onsite_trade_query_response.gmt_query,
        "2030-01-01 08:00:00"
    );
    let (_, clock) = admin
        .send(
            reqwest::Method::POST,
            "/v1/clock/advance",
            Some(json!({"secs": 3600})),
        )
        .await;
    assert_eq!(
        (clock["mode"].as_str(), clock["now"].as_str()),
        (Some("frozen"), Some("2030-01-01T01:00:00Z"))
    );
    let (_, clock) = admin.send(reqwest::Method::GET, "/v1/clock", None).await;
    assert_eq!(clock["at"], "2030-01-01T01:00:00Z");

    admin.clock(json!({"mode": "real"})).await;
    expiry_follows_the_clock(server, admin).await;

    let clock = admin
        .clock(json!({"mode": "offset", "offset_secs": -60}))
        .await;
    assert_eq!(clock["offset_secs"], -60);
    let clock = admin.clock(json!({"mode": "real"})).await;
    assert_eq!(clock["mode"], "real");
    assert!(top.xlife_onsite_trade_query(&short).await.is_ok());

    for (body, field) in [
        (json!({"mode": "sideways"}), "mode"),
        (json!({}), "mode"),
        (json!({"mode": "frozen"}), "at"),
        (json!({"mode": "frozen", "at": "tomorrow"}), "at"),
        (json!({"mode": "offset", "offset_secs": "1"}), "offset_secs"),
        (
            json!({"mode": "offset", "offset_secs": 1e12}),
            "offset_secs",
        ),
        (json!({"mode": "real", "at": "2030-01-01T00:00:00Z"}), "at"),
    ] {
        let (status, v) = admin
            .send(reqwest::Method::PUT, "/v1/clock", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(v["error"]["field"], field, "{body} → {v}");
    }
    for (body, field) in [
        (json!({"secs": "1"}), "secs"),
        (json!({"secs": i64::MAX}), "secs"),
        (json!({"days": 1}), "days"),
    ] {
        let (status, v) = admin
            .send(
                reqwest::Method::POST,
                "/v1/clock/advance",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(v["error"]["field"], field, "{body} → {v}");
    }
}

/// `tradeq faults …` and `tradeq clock …` against the server's admin API.
fn command_line(server: &TestServer) {
    let admin_url = format!("http://127.0.0.1:{}", server.admin_port);
    let run = |args: &[&str]| -> (bool, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
            .args(args)
            .arg("--data-dir")
            .arg(server.data_dir.path())
            .env_remove("TRADEQ_ADMIN_TOKEN")
            .env("TRADEQ_ADMIN_URL", &admin_url)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.success(),
            serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stderr,
        )
    };
    let (ok, added, err) = run(&[
        "faults",
        "add",
        "--front-door",
        "top",
        "--times",
        "2",
        "--action",
        r#"{"type":"error","code":"7"}"#,
    ]);
    assert!(ok, "{err}");
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["times"], 2);
    assert_eq!(added["match"]["front_door"], "top");
    let (ok, _, err) = run(&["faults", "add", "--key", "k", "--action", "reset"]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "faults",
        "add",
        "--json",
        r#"{"match":{"front_door":"alipay_v3"},"probability":0.2,"seed":42,"action":{"type":"delay","min_ms":200,"max_ms":2000}}"#,
    ]);
    assert!(ok, "{err}");
    // A refused rule: the server's message, and a failure status.
    let (ok, _, err) = run(&["faults", "add", "--action", "explode"]);
    assert!(!ok);
    assert!(err.contains("action.type"), "{err}");
    let (_, list, _) = run(&["faults", "list"]);
    assert_eq!(list["faults"].as_array().map(Vec::len), Some(3), "{list}");
    let (ok, _, err) = run(&["faults", "remove", &id]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["faults", "remove", &id]);
    assert!(!ok && err.contains("404"), "{err}");
    let (_, cleared, _) = run(&["faults", "clear"]);
    assert_eq!(cleared["deleted"], 2);

    let (_, clock, _) = run(&["clock"]);
    assert_eq!(clock["mode"], "real");
    let (_, clock, _) = run(&["clock", "set", "frozen", "--at", "2031-02-03T04:05:06Z"]);
    assert_eq!(clock["now"], "2031-02-03T04:05:06Z");
    let (_, clock, _) = run(&["clock", "advance", "--days", "1", "-60"]);
    assert_eq!(clock["now"], "2031-02-04T04:04:06Z");
    let (_, clock, _) = run(&["clock", "set", "offset", "--secs", "-5"]);
    assert_eq!(clock["offset_secs"], -5);
    let (_, clock, _) = run(&["clock", "set", "real"]);
    assert_eq!(clock["mode"], "real");
}

/// An app auth token and a TOP session that expire in an hour stop working when the clock is two
/// hours on, and work again when it is back.
async fn expiry_follows_the_clock(server: &TestServer, admin: &Admin) {
    let creds = server.credentials();
    let in_an_hour =
        tradeq_wire::time::format_gmt8(chrono::Utc::now() + chrono::Duration::hours(1));
    let (status, token) = admin
        .send(
            reqwest::Method::POST,
            "/v1/app-auth-tokens",
            Some(
                json!({"app_id": creds["alipay"]["app_id"], "merchant_pid": "2088202146225246",
                        "expires_at": in_an_hour}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let (status, session) = admin
        .send(
            reqwest::Method::POST,
            "/v1/top-sessions",
            Some(json!({"app_key": creds["top"]["app_key"], "merchant_id": creds["top"]["merchant_id"],
                        "expires_at": in_an_hour})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let v2 = AlipayV2Client::new(alipay(server))
        .unwrap()
        .with_app_auth_token(token["token"].as_str().map(str::to_string))
        .unwrap();
    let top = TopClient::new(top(server))
        .unwrap()
        .with_session(session["session"].as_str().map(str::to_string));
    let merchant_b_trade = AlipayTradeQueryRequest::by_trade_no("2015042321001004720200028594");
    let onsite = XlifeOnsiteTradeQueryRequest::by_trade_no(TRADE_NO);
    assert!(v2.trade_query(&merchant_b_trade).await.is_ok());
    assert!(top.xlife_onsite_trade_query(&onsite).await.is_ok());

    admin
        .send(
            reqwest::Method::POST,
            "/v1/clock/advance",
            Some(json!({"secs": 7200})),
        )
        .await;
    let e = platform(v2.trade_query(&merchant_b_trade).await);
    assert_eq!(e.reason(), "aop.app-auth-token-time-out");
    let e = platform(top.xlife_onsite_trade_query(&onsite).await);
    assert_eq!(e.code, "27");

    admin.clock(json!({"mode": "real"})).await;
    assert!(v2.trade_query(&merchant_b_trade).await.is_ok());
    assert!(top.xlife_onsite_trade_query(&onsite).await.is_ok());
}

async fn everything(server: &TestServer) {
    let admin = Admin::of(server);
    admin_endpoints_and_refusals(&admin).await;
    error_faults(server, &admin).await;
    wire_faults(server, &admin).await;
    counting_and_draws(server, &admin).await;
    the_clock(server, &admin).await;
}

fn start(dir: &std::path::Path, database_url: Option<&str>) -> TestServer {
    let config = config_file(dir, FILE_RULES);
    let config = config.display().to_string();
    let mut args = vec!["--config", config.as_str()];
    if let Some(url) = database_url {
        args.extend(["--database-url", url]);
    }
    TestServer::start_demo(None, &args)
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_and_clock_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    everything(&server).await;
    command_line(&server);
}

fn postgres(tag: &str) -> Option<Database> {
    let url = std::env::var("TRADEQ_TEST_DATABASE_URL").ok()?;
    Command::new("psql").arg("--version").output().ok()?;
    Some(Database::create(&url, &format!("faults_{tag}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_and_clock_on_postgres() {
    let Some(db) = postgres("single") else {
        skip_or_fail!("TRADEQ_TEST_DATABASE_URL or psql is missing");
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Some(&db.url()));
    everything(&server).await;
    drop(server);
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_on_postgres_are_one_sandbox() {
    let Some(db) = postgres("two") else {
        skip_or_fail!("TRADEQ_TEST_DATABASE_URL or psql is missing");
    };
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = start(dir_a.path(), Some(&db.url()));
    let b = start(dir_b.path(), Some(&db.url()));
    let admin_a = Admin::of(&a);
    // The refresh bound of the configuration file, and some slack for a loaded machine.
    let refresh = Duration::from_millis(200 + 800);
    let v2_a = AlipayV2Client::new(alipay(&a)).unwrap();
    let v2_b = AlipayV2Client::new(alipay(&b)).unwrap();
    let top_b = TopClient::new(top(&b)).unwrap();
    let by_trade = AlipayTradeQueryRequest::by_trade_no(TRADE_NO);

    // Both started with the same rules file: the rule is installed once.
    let (_, list) = admin_a.send(reqwest::Method::GET, "/v1/faults", None).await;
    assert_eq!(list["faults"].as_array().map(Vec::len), Some(1), "{list}");
    admin_a.clear().await;

    // A rule added on A applies on B, and `times` counts across both.
    let id = admin_a
        .add(json!({"match": {"key": TRADE_NO}, "times": 3,
                    "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}))
        .await;
    tokio::time::sleep(refresh).await;
    let mut failures = 0;
    for i in 0..8 {
        let client = if i % 2 == 0 { &v2_b } else { &v2_a };
        if matches!(client.trade_query(&by_trade).await, Err(Error::Business(_))) {
            failures += 1;
        }
    }
    assert_eq!(failures, 3);
    // The node that used `times` up stops counting at once; the other counts at most one more
    // match before it learns.
    let rule = admin_a.rule(&id).await;
    assert_eq!(rule["hits"].as_u64(), Some(3));
    assert!(
        rule["matched"]
            .as_u64()
            .is_some_and(|m| (3..=4).contains(&m)),
        "{rule}"
    );

    // Cleared on A: gone on B.
    admin_a
        .add(json!({"match": {"key": TRADE_NO}, "action": {"type": "reset"}}))
        .await;
    tokio::time::sleep(refresh).await;
    assert!(matches!(
        v2_b.trade_query(&by_trade).await,
        Err(Error::Transport(_))
    ));
    admin_a.clear().await;
    tokio::time::sleep(refresh).await;
    assert!(v2_b.trade_query(&by_trade).await.is_ok());

    // The clock moved on A moves on B.
    let short = XlifeOnsiteTradeQueryRequest::by_short_trade_no("77778888");
    assert!(top_b.xlife_onsite_trade_query(&short).await.is_ok());
    admin_a
        .send(
            reqwest::Method::POST,
            "/v1/clock/advance",
            Some(json!({"secs": 40 * 86_400})),
        )
        .await;
    tokio::time::sleep(refresh).await;
    let e = platform(top_b.xlife_onsite_trade_query(&short).await);
    assert_eq!(e.reason(), "isp.TRADE_ORDER_NOT_FOUND");
    let (status, clock) = admin_a.send(reqwest::Method::GET, "/v1/clock", None).await;
    assert_eq!(status, 200, "{clock}");
    assert_eq!(clock["offset_secs"], 40 * 86_400);
    drop(a);
    drop(b);
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_timestamps_can_follow_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tradeq.toml");
    std::fs::write(&config, "request_timestamps_follow_clock = true\n").unwrap();
    let config = config.display().to_string();
    let server = TestServer::start_demo(None, &["--config", &config]);
    let admin = Admin::of(&server);
    let v2 = AlipayV2Client::new(alipay(&server)).unwrap();
    let top = TopClient::new(top(&server)).unwrap();
    let by_trade = AlipayTradeQueryRequest::by_trade_no(TRADE_NO);
    let onsite = XlifeOnsiteTradeQueryRequest::by_trade_no(TRADE_NO);
    assert!(v2.trade_query(&by_trade).await.is_ok());

    // A day on, requests stamped with the host's real time are outside the window.
    admin
        .clock(json!({"mode": "offset", "offset_secs": 86_400}))
        .await;
    let e = platform(v2.trade_query(&by_trade).await);
    assert_eq!(e.reason(), "isv.invalid-timestamp");
    let e = platform(top.xlife_onsite_trade_query(&onsite).await);
    assert_eq!(e.code, "31");
    let (_, clock) = admin.send(reqwest::Method::GET, "/v1/clock", None).await;
    assert_eq!(clock["request_timestamps_follow_clock"], true);

    // A minute on is within the windows.
    admin
        .clock(json!({"mode": "offset", "offset_secs": 60}))
        .await;
    assert!(v2.trade_query(&by_trade).await.is_ok());
    assert!(top.xlife_onsite_trade_query(&onsite).await.is_ok());
}
