//! The request journal and signature diagnosis, driven in-process: requests go through the
//! protocol service over the demo data (in-memory SQLite), the journal is read through the admin
//! router of the same state.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::Answer;
use tower::ServiceExt;

use tradeq_server::demo::DemoCredentials;
use tradeq_server::serve::{protocol_service, ProtocolService};
use tradeq_server::{admin, ServerConfig};
use tradeq_wire::alipay::keys::parse_private_key;
use tradeq_wire::alipay::sign::{rsa_sign, v2_sign_content, SignType};
use tradeq_wire::alipay::v3::request_sign_content;
use tradeq_wire::params::{encode_form, Charset};
use tradeq_wire::time::format_gmt8;
use tradeq_wire::top::sign::{sign, sign_string, SignMethod};

const TOKEN: &str = "journal-test-token";
const TRADE_NO: &str = "2013112011001004330000121536";

struct Harness {
    protocol: ProtocolService,
    admin: Router,
    creds: DemoCredentials,
}

async fn harness(config: ServerConfig) -> Harness {
    let (store, creds) = support::demo_store("", "", TOKEN).await;
    let state = support::state(store, config, TOKEN);
    Harness {
        protocol: protocol_service(state.clone()),
        admin: admin::router(state),
        creds,
    }
}

impl Harness {
    async fn call(&self, req: Request<Body>) -> Answer {
        support::send(&self.protocol, req).await
    }

    async fn admin(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        support::send(
            &self.admin,
            support::admin_json(method, uri, Some(TOKEN), body.as_ref()),
        )
        .await
    }

    async fn entry(&self, id: &str) -> Value {
        let a = self.admin("GET", &format!("/v1/journal/{id}"), None).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
        a.json()
    }

    /// A v2 `alipay.trade.query` form, signed with `sign_with` while declaring `declared`.
    fn v2_form(&self, biz: &str, declared: SignType, sign_with: SignType, ts: &str) -> String {
        let mut params = vec![
            ("app_id", self.creds.alipay.app_id.clone()),
            ("method", "alipay.trade.query".to_string()),
            ("charset", "utf-8".to_string()),
            ("format", "json".to_string()),
            ("sign_type", declared.as_str().to_string()),
            ("timestamp", ts.to_string()),
            ("version", "1.0".to_string()),
            ("biz_content", biz.to_string()),
        ];
        let content = v2_sign_content(params.iter().map(|(k, v)| (*k, v.as_str())), false);
        let key = parse_private_key(&self.creds.alipay.app_private_key_pkcs8_pem).expect("key");
        let sig = rsa_sign(&key, sign_with, content.as_bytes()).expect("signs");
        params.push(("sign", sig));
        encode_form(params.iter().map(|(k, v)| (*k, v.as_str())), Charset::Utf8)
    }

    async fn v2(&self, form: String) -> Answer {
        self.call(
            Request::post("/gateway.do")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .expect("request"),
        )
        .await
    }

    /// A TOP omni query, signed with md5 unless `sign_method` says otherwise.
    fn top_query(&self, ts: &str, signed_with: SignMethod, order_id: &str) -> String {
        let t = &self.creds.top;
        let mut p = vec![
            ("method", "alibaba.omni.order.query"),
            ("app_key", t.app_key.as_str()),
            ("session", t.session.as_str()),
            ("timestamp", ts),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "md5"),
            ("user_id", "3031798632"),
            ("order_id", order_id),
            ("out_order_id", "12348"),
        ];
        let s = sign(&t.app_secret, signed_with, &sign_string(p.clone(), false));
        p.push(("sign", &s));
        encode_form(p, Charset::Utf8)
    }

    async fn top(&self, query: &str) -> Answer {
        self.call(
            Request::get(format!("/router/rest?{query}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    async fn v3(&self, body: &str) -> Answer {
        let now = chrono::Utc::now().timestamp_millis();
        let auth = format!(
            "app_id={},nonce=n-{now}-{},timestamp={now}",
            self.creds.alipay.app_id,
            body.len()
        );
        let path = "/v3/alipay/trade/query";
        let content = request_sign_content(&auth, "POST", path, body.as_bytes(), None);
        let key = parse_private_key(&self.creds.alipay.app_private_key_pkcs8_pem).expect("key");
        let sig = rsa_sign(&key, SignType::Rsa2, &content).expect("signs");
        self.call(
            Request::post(path)
                .header(
                    header::AUTHORIZATION,
                    format!("ALIPAY-SHA256withRSA {auth},sign={sig}"),
                )
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await
    }
}

fn now_gmt8() -> String {
    format_gmt8(chrono::Utc::now())
}

fn biz(trade_no: &str) -> String {
    json!({ "trade_no": trade_no }).to_string()
}

#[tokio::test]
async fn each_front_door_records_under_the_id_its_answer_carries() {
    let h = harness(ServerConfig::default()).await;

    let v2 = h
        .v2(h.v2_form(&biz(TRADE_NO), SignType::Rsa2, SignType::Rsa2, &now_gmt8()))
        .await;
    assert_eq!(v2.json()["alipay_trade_query_response"]["code"], "10000");
    let e = h.entry(v2.header("trace_id")).await;
    assert_eq!(e["front_door"], "alipay_v2");
    assert_eq!(e["method"], "alipay.trade.query");
    assert_eq!(e["app"], h.creds.alipay.app_id.as_str());
    assert_eq!(e["merchant"], h.creds.alipay.merchant_pid.as_str());
    assert_eq!(e["record_key"], TRADE_NO);
    assert_eq!(e["outcome"], "ok");
    assert_eq!(e["verification"], "verified");
    assert_eq!(e["diagnosis"], json!([]));
    assert!(e["params"]["sign"].is_null(), "{e}");
    assert_eq!(e["params"]["sign_type"], "RSA2");
    let sign_string = e["sign_string"].as_str().unwrap_or_default();
    assert!(sign_string.starts_with("app_id="), "{sign_string}");
    assert!(sign_string.contains("&sign_type=RSA2&"), "{sign_string}");
    assert!(e["response"]
        .as_str()
        .unwrap_or_default()
        .contains(TRADE_NO));
    assert!(e["latency_ms"].as_f64().is_some());
    assert!(e["time"].as_str().unwrap_or_default().ends_with('Z'));

    let top = h
        .top(&h.top_query(&now_gmt8(), SignMethod::Md5, "108717674563804955"))
        .await;
    let answer = top.json();
    let id = answer["alibaba_omni_order_query_response"]["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let e = h.entry(&id).await;
    assert_eq!(e["front_door"], "top");
    assert_eq!(e["app"], h.creds.top.app_key.as_str());
    assert_eq!(e["record_key"], "108717674563804955");
    // The session is masked everywhere, the sign string included.
    let session = &h.creds.top.session;
    assert!(!e.to_string().contains(session.as_str()), "{e}");
    assert!(e["params"]["session"]
        .as_str()
        .unwrap_or_default()
        .contains("****"));
    assert!(e["sign_string"]
        .as_str()
        .unwrap_or_default()
        .contains("session"));

    let v3 = h.v3(&biz(TRADE_NO)).await;
    assert_eq!(v3.status, StatusCode::OK);
    let e = h.entry(v3.header("alipay-trace-id")).await;
    assert_eq!(e["front_door"], "alipay_v3");
    assert_eq!(e["params"]["trade_no"], TRADE_NO);
    assert_eq!(e["verification"], "verified");
    let lines = e["sign_string"].as_str().unwrap_or_default();
    assert!(
        lines.contains("\nPOST\n/v3/alipay/trade/query\n"),
        "{lines}"
    );
}

#[tokio::test]
async fn filters_and_cursor_paging() {
    let h = harness(ServerConfig::default()).await;
    let ts = now_gmt8();
    for _ in 0..3 {
        h.v2(h.v2_form(&biz(TRADE_NO), SignType::Rsa2, SignType::Rsa2, &ts))
            .await;
    }
    h.v2(h.v2_form(
        &biz("2099010122001446880599999999"),
        SignType::Rsa2,
        SignType::Rsa2,
        &ts,
    ))
    .await;
    h.top(&h.top_query(&ts, SignMethod::Md5, "108717674563804955"))
        .await;

    let all = h.admin("GET", "/v1/journal", None).await.json();
    assert_eq!(all["entries"].as_array().map(Vec::len), Some(5));
    assert_eq!(all["next_cursor"], Value::Null);
    // Newest first.
    assert_eq!(all["entries"][0]["front_door"], "top");

    let page = |q: &str| format!("/v1/journal?{q}");
    let by_method = h
        .admin("GET", &page("method=alipay.trade.query"), None)
        .await
        .json();
    assert_eq!(by_method["entries"].as_array().map(Vec::len), Some(4));
    let errors = h.admin("GET", &page("outcome=error"), None).await.json();
    assert_eq!(errors["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(errors["entries"][0]["sub_code"], "ACQ.TRADE_NOT_EXIST");
    assert_eq!(errors["entries"][0]["code"], "40004");
    let by_app = h
        .admin("GET", &page(&format!("app={}", h.creds.top.app_key)), None)
        .await
        .json();
    assert_eq!(by_app["entries"].as_array().map(Vec::len), Some(1));
    let by_key = h
        .admin("GET", &page(&format!("key={TRADE_NO}&outcome=ok")), None)
        .await
        .json();
    assert_eq!(by_key["entries"].as_array().map(Vec::len), Some(3));
    let by_merchant = h
        .admin(
            "GET",
            &page(&format!(
                "merchant={}&front_door=alipay_v2",
                h.creds.alipay.merchant_pid
            )),
            None,
        )
        .await
        .json();
    assert_eq!(by_merchant["entries"].as_array().map(Vec::len), Some(4));

    // Two pages of two, then the last one.
    let mut seen = Vec::new();
    let mut cursor: Option<u64> = None;
    loop {
        let q = match cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".to_string(),
        };
        let p = h.admin("GET", &page(&q), None).await.json();
        for e in p["entries"].as_array().into_iter().flatten() {
            seen.push(e["seq"].as_u64().unwrap_or_default());
        }
        match p["next_cursor"].as_u64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, vec![5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn bad_filters_unknown_ids_and_delete() {
    let h = harness(ServerConfig::default()).await;
    for (q, field) in [
        ("outcome=maybe", "outcome"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=abc", "cursor"),
        ("front_door=soap", "front_door"),
        ("method=", "method"),
        ("colour=red", "colour"),
        ("app=a&app=b", "app"),
    ] {
        let a = h.admin("GET", &format!("/v1/journal?{q}"), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}");
        let v = a.json();
        assert_eq!(v["error"]["code"], "invalid_field", "{q}: {v}");
        assert_eq!(v["error"]["field"], field, "{q}: {v}");
    }
    let a = h.admin("GET", "/v1/journal/stream?limit=5", None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    let a = h.admin("GET", "/v1/journal/nosuchid", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "not_found");

    h.top(&h.top_query(&now_gmt8(), SignMethod::Md5, "108717674563804955"))
        .await;
    let a = h.admin("DELETE", "/v1/journal", None).await;
    assert_eq!(a.json()["deleted"], 1);
    let all = h.admin("GET", "/v1/journal", None).await.json();
    assert_eq!(all["entries"], json!([]));

    // Without the token, nothing.
    let res = h
        .admin
        .clone()
        .oneshot(
            Request::get("/v1/journal")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_live_stream_delivers_a_new_entry() {
    let h = harness(ServerConfig::default()).await;
    let res = h
        .admin
        .clone()
        .oneshot(
            Request::get("/v1/journal/stream?front_door=top")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default(),
        "text/event-stream"
    );
    let mut body = res.into_body();
    // A v2 request does not pass the filter; the TOP one does.
    h.v2(h.v2_form(&biz(TRADE_NO), SignType::Rsa2, SignType::Rsa2, &now_gmt8()))
        .await;
    let top = h
        .top(&h.top_query(&now_gmt8(), SignMethod::Md5, "108717674563804955"))
        .await;
    let id = top.json()["alibaba_omni_order_query_response"]["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut text = String::new();
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                text.push_str(&String::from_utf8_lossy(data));
                if text.contains("\n\n") {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an event within 10 s");
    assert!(text.starts_with("event: entry\n"), "{text}");
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_default();
    let entry: Value = serde_json::from_str(data).expect("JSON data");
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["front_door"], "top");
}

#[tokio::test]
async fn refused_signatures_and_timestamps_are_diagnosed() {
    let h = harness(ServerConfig::default()).await;
    // v2 signed with SHA1 while declaring RSA2.
    let a = h
        .v2(h.v2_form(&biz(TRADE_NO), SignType::Rsa2, SignType::Rsa, &now_gmt8()))
        .await;
    let answer = a.json();
    let sub_msg = answer["alipay_trade_query_response"]["sub_msg"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!sub_msg.contains("tradeq:"), "{sub_msg}");
    let e = h.entry(a.header("trace_id")).await;
    assert_eq!(e["outcome"], "error");
    assert_eq!(e["sub_code"], "isv.invalid-signature");
    assert_eq!(e["verification"], "failed");
    let diagnosis = e["diagnosis"].to_string();
    assert!(diagnosis.contains("SHA1withRSA"), "{diagnosis}");

    // A client on a UTC host: eight hours behind Beijing time.
    let utc_stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let a = h
        .top(&h.top_query(&utc_stamp, SignMethod::Md5, "108717674563804955"))
        .await;
    assert_eq!(a.json()["error_response"]["code"], 31);
    let id = a.json()["error_response"]["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let e = h.entry(&id).await;
    let diagnosis = e["diagnosis"].to_string();
    assert!(diagnosis.contains("8 whole hours"), "{diagnosis}");
    assert!(diagnosis.contains("stamped UTC"), "{diagnosis}");
    assert!(diagnosis.contains("TZ=Asia/Shanghai"), "{diagnosis}");

    // TOP signed with hmac while declaring md5.
    let a = h
        .top(&h.top_query(&now_gmt8(), SignMethod::Hmac, "108717674563804955"))
        .await;
    let id = a.json()["error_response"]["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let diagnosis = h.entry(&id).await["diagnosis"].to_string();
    assert!(
        diagnosis.contains("signed with hmac but sign_method=md5"),
        "{diagnosis}"
    );
}

#[tokio::test]
async fn explain_in_errors_appends_a_hint() {
    let h = harness(ServerConfig {
        explain_in_errors: true,
        ..ServerConfig::default()
    })
    .await;
    let a = h
        .v2(h.v2_form(&biz(TRADE_NO), SignType::Rsa2, SignType::Rsa, &now_gmt8()))
        .await;
    let sub_msg = a.json()["alipay_trade_query_response"]["sub_msg"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        sub_msg.contains("(tradeq: The request was signed with RSA"),
        "{sub_msg}"
    );
    // A whole-hours offset: the hint names the zone mistake.
    let utc_stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let a = h
        .top(&h.top_query(&utc_stamp, SignMethod::Md5, "108717674563804955"))
        .await;
    let sub_msg = a.json()["error_response"]["sub_msg"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(sub_msg.contains("set TZ=Asia/Shanghai"), "{sub_msg}");
}

#[tokio::test]
async fn explain_analyses_a_raw_request_without_serving_it() {
    let h = harness(ServerConfig::default()).await;
    let good = h.top_query(&now_gmt8(), SignMethod::Md5, "108717674563804955");
    let a = h
        .admin(
            "POST",
            "/v1/explain",
            Some(json!({"method": "GET", "url": format!("/router/rest?{good}")})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["outcome"], "ok", "{v}");
    assert_eq!(v["front_door"], "top");
    assert_eq!(v["diagnosis"], json!([]));

    let bad = h.top_query(&now_gmt8(), SignMethod::HmacSha256, "108717674563804955");
    let v = h
        .admin(
            "POST",
            "/v1/explain",
            Some(json!({"url": format!("/router/rest?{bad}")})),
        )
        .await
        .json();
    assert_eq!(v["outcome"], "error", "{v}");
    assert_eq!(v["failed_check"], "signature");
    assert!(v["diagnosis"].to_string().contains("hmac-sha256"), "{v}");

    let form = h.v2_form(&biz(TRADE_NO), SignType::Rsa2, SignType::Rsa, &now_gmt8());
    let v = h
        .admin(
            "POST",
            "/v1/explain",
            Some(json!({
                "method": "POST",
                "url": "/gateway.do",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
                "body": form,
            })),
        )
        .await
        .json();
    assert_eq!(v["failed_check"], "signature", "{v}");
    assert!(v["diagnosis"].to_string().contains("SHA1withRSA"), "{v}");
    // Nothing was served: the journal is empty.
    let all = h.admin("GET", "/v1/journal", None).await.json();
    assert_eq!(all["entries"], json!([]));

    for (body, field) in [
        (json!({"url": "/elsewhere"}), "url"),
        (
            json!({"url": "/gateway.do", "headers": {"x": 1}}),
            "headers",
        ),
        (
            json!({"url": "/gateway.do", "method": "NOT A METHOD"}),
            "method",
        ),
        (json!({"url": "/gateway.do", "colour": "red"}), "colour"),
        (json!({}), "url"),
    ] {
        let a = h.admin("POST", "/v1/explain", Some(body.clone())).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.json()["error"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn a_journal_of_zero_entries_records_nothing() {
    let h = harness(ServerConfig {
        journal_max_entries: 0,
        ..ServerConfig::default()
    })
    .await;
    let a = h
        .top(&h.top_query(&now_gmt8(), SignMethod::Md5, "108717674563804955"))
        .await;
    assert!(a.json()["alibaba_omni_order_query_response"].is_object());
    let all = h.admin("GET", "/v1/journal", None).await.json();
    assert_eq!(all["entries"], json!([]));
}

#[tokio::test]
async fn a_flood_of_large_requests_stays_within_the_byte_bound() {
    let max_bytes = 2 << 20;
    let h = harness(ServerConfig {
        journal_max_bytes: max_bytes,
        journal_body_bytes: 1024,
        ..ServerConfig::default()
    })
    .await;
    let filler = "x".repeat(200_000);
    for i in 0..60 {
        let form = encode_form(
            [
                ("method", "alipay.trade.query"),
                ("app_id", h.creds.alipay.app_id.as_str()),
                ("filler", filler.as_str()),
                ("n", &i.to_string()),
            ],
            Charset::Utf8,
        );
        let a = h.v2(form).await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let all = h.admin("GET", "/v1/journal?limit=1000", None).await.json();
    let n = all["entries"].as_array().map(Vec::len).unwrap_or_default();
    // Each entry holds its 200 kB parameter: at most 2 MiB / 200 kB of them stay.
    assert!((1..=10).contains(&n), "{n} entries kept");
    assert_eq!(all["entries"][0]["params"]["n"], "59");
}

#[tokio::test]
async fn a_flood_of_bad_signatures_is_not_diagnosed_past_the_budget() {
    let h = harness(ServerConfig::default()).await;
    let mut skipped_at = None;
    for i in 0..200 {
        let a = h
            .top(&h.top_query(&now_gmt8(), SignMethod::Hmac, "108717674563804955"))
            .await;
        let id = a.json()["error_response"]["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let diagnosis = h.entry(&id).await["diagnosis"].to_string();
        if diagnosis.contains("Diagnosis skipped") {
            skipped_at = Some(i);
            break;
        }
        assert!(diagnosis.contains("signed with hmac"), "{diagnosis}");
    }
    let at = skipped_at.expect("the budget ran out");
    assert!(at >= 20, "skipped after {at}");
}
