//! The administration API driven in-process over a real in-memory SQLite store.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use support::Answer;
use tower::ServiceExt;

use tradeq_server::admin::{self, ROUTES};
use tradeq_server::ServerConfig;
use tradeq_wire::alipay::keys::{
    generate_rsa_2048, private_key_to_pkcs1_pem, private_key_to_pkcs8_pem, public_from_private,
    public_key_to_spki_pem,
};

const TOKEN: &str = "test-admin-token-0123456789";

const TRADE: &str = r#"{"trade_no":"2013112011001004330000121536","out_trade_no":"6823789339978248","seller_id":"2088101117952222","buyer_logon_id":"15901825620","trade_status":"TRADE_SUCCESS","total_amount":8888,"gmt_modified":"2014-11-27 15:45:57"}"#;
const TRADE_NO: &str = "2013112011001004330000121536";

async fn router_with(config: ServerConfig) -> Router {
    admin::router(support::state(support::memory_store().await, config, TOKEN))
}

async fn router() -> Router {
    router_with(ServerConfig::default()).await
}

async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Answer {
    support::send(
        router,
        support::admin_request(method, uri, token, content_type, body),
    )
    .await
}

async fn get(router: &Router, uri: &str) -> Answer {
    send(router, "GET", uri, Some(TOKEN), None, Body::empty()).await
}

async fn delete(router: &Router, uri: &str) -> Answer {
    send(router, "DELETE", uri, Some(TOKEN), None, Body::empty()).await
}

async fn put_json(router: &Router, uri: &str, body: &str) -> Answer {
    send(
        router,
        "PUT",
        uri,
        Some(TOKEN),
        Some("application/json"),
        body.to_string(),
    )
    .await
}

async fn post_json(router: &Router, uri: &str, body: &Value) -> Answer {
    send(
        router,
        "POST",
        uri,
        Some(TOKEN),
        Some("application/json"),
        body.to_string(),
    )
    .await
}

async fn post_ndjson(router: &Router, uri: &str, body: String) -> Answer {
    send(
        router,
        "POST",
        uri,
        Some(TOKEN),
        Some("application/x-ndjson"),
        body,
    )
    .await
}

fn trade(trade_no: &str, out_trade_no: &str, gmt_modified: &str, amount: i64) -> String {
    json!({
        "trade_no": trade_no, "out_trade_no": out_trade_no, "seller_id": "2088101117952222",
        "buyer_logon_id": "15901825620", "trade_status": "TRADE_SUCCESS",
        "total_amount": amount, "gmt_modified": gmt_modified
    })
    .to_string()
}

#[tokio::test]
async fn health_metrics_and_openapi_need_no_token() {
    let r = router().await;
    let a = send(&r, "GET", "/health", None, None, Body::empty()).await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["backend"], "sqlite");
    assert!(v.get("records").is_none(), "health stays cheap: no counts");
    let stats = get(&r, "/v1/stats").await;
    assert_eq!(stats.status, StatusCode::OK);
    let v = stats.json();
    for kind in ["alipay-trade", "koubei-order", "onsite-trade", "omni-order"] {
        assert_eq!(v["records"][kind], 0, "{kind}");
    }
    let anonymous = send(&r, "GET", "/v1/stats", None, None, Body::empty()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let a = send(&r, "GET", "/metrics", None, None, Body::empty()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );

    let a = send(&r, "GET", "/openapi.json", None, None, Body::empty()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["openapi"], "3.1.0");
}

#[tokio::test]
async fn everything_else_needs_the_token() {
    let r = router().await;
    // A missing token and a wrong one are told apart; both stay 401.
    for (token, code) in [
        (None, "unauthorized"),
        (Some(""), "unauthorized"),
        (Some("wrong"), "invalid_token"),
        (Some("test-admin-token-012345678X"), "invalid_token"),
    ] {
        let a = send(&r, "GET", "/v1/audit", token, None, Body::empty()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(a.error_code(), code, "{token:?}");
        assert!(a.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    // The token under another scheme is not accepted either.
    let req = Request::builder()
        .uri("/v1/alipay-apps")
        .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = r.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Writes too, before their body is even looked at.
    let a = send(
        &r,
        "PUT",
        &format!("/v1/records/alipay-trade/{TRADE_NO}"),
        None,
        Some("application/json"),
        TRADE,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&r, "/v1/audit").await.status, StatusCode::OK);
}

#[tokio::test]
async fn put_then_get_round_trips_a_trade() {
    let r = router().await;
    let uri = format!("/v1/records/alipay-trade/{TRADE_NO}");
    let a = put_json(&r, &uri, TRADE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json(), json!({"outcome": "inserted"}));

    let a = get(&r, &uri).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), serde_json::from_str::<Value>(TRADE).unwrap());

    let a = put_json(&r, &uri, TRADE).await;
    assert_eq!(a.json(), json!({"outcome": "unchanged"}));
    let newer = trade(TRADE_NO, "6823789339978248", "2014-11-28 09:00:00", 9999);
    let a = put_json(&r, &uri, &newer).await;
    assert_eq!(a.json(), json!({"outcome": "updated"}));
    assert_eq!(get(&r, &uri).await.json()["total_amount"], 9999);

    let health = get(&r, "/v1/stats").await.json();
    assert_eq!(health["records"]["alipay-trade"], 1);

    let audit = get(&r, "/v1/audit?after=0&limit=10").await;
    assert_eq!(audit.status, StatusCode::OK);
    let audit = audit.json();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!(entries[0]["action"], "inserted");
    assert_eq!(entries[1]["action"], "updated");
    assert_eq!(entries[1]["key"], TRADE_NO);
    assert_eq!(audit["next_after"], entries[1]["seq"]);
    let after = audit["next_after"].as_i64().unwrap();
    let rest = get(&r, &format!("/v1/audit?after={after}")).await.json();
    assert_eq!(rest["entries"], json!([]));
    assert_eq!(
        get(&r, "/v1/audit?limit=0").await.error_code(),
        "invalid_query"
    );
    assert_eq!(
        get(&r, "/v1/audit?limit=x").await.error_code(),
        "invalid_query"
    );
}

#[tokio::test]
async fn bad_record_requests_are_named() {
    let r = router().await;
    // The key in the path must be the record's primary key.
    let a = put_json(&r, "/v1/records/alipay-trade/999", TRADE).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "key_mismatch");
    assert_eq!(a.json()["error"]["field"], "trade_no");

    // An invalid record names the field.
    let bad = trade(TRADE_NO, "6823789339978248", "2014-11-27 15:45:57", -5);
    let a = put_json(&r, &format!("/v1/records/alipay-trade/{TRADE_NO}"), &bad).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "invalid_record");
    let v = a.json();
    assert_eq!(v["error"]["field"], "total_amount");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("total_amount: "),
        "{v}"
    );
    let missing = r#"{"trade_no":"1","out_trade_no":"2","seller_id":"3","trade_status":"TRADE_SUCCESS","total_amount":1}"#;
    let a = put_json(&r, "/v1/records/alipay-trade/1", missing).await;
    assert_eq!(a.error_code(), "invalid_record");
    assert!(a.text().contains("buyer_logon_id"), "{}", a.text());

    // Malformed JSON, wrong content type, unknown kind, empty-ish key.
    let a = put_json(&r, "/v1/records/alipay-trade/1", "{\"trade_no\":").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "invalid_json");
    let a = send(
        &r,
        "PUT",
        &format!("/v1/records/alipay-trade/{TRADE_NO}"),
        Some(TOKEN),
        Some("text/plain"),
        TRADE,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(a.error_code(), "unsupported_media_type");
    let a = send(
        &r,
        "PUT",
        &format!("/v1/records/alipay-trade/{TRADE_NO}"),
        Some(TOKEN),
        None,
        TRADE,
    )
    .await;
    assert_eq!(a.error_code(), "unsupported_media_type");
    let a = put_json(&r, &format!("/v1/records/alipay-trades/{TRADE_NO}"), TRADE).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "unknown_kind");
    assert_eq!(
        get(&r, "/v1/records/pizza/1").await.error_code(),
        "unknown_kind"
    );
    let long = "1".repeat(65);
    assert_eq!(
        get(&r, &format!("/v1/records/alipay-trade/{long}"))
            .await
            .error_code(),
        "invalid_key"
    );
    // Nothing was written.
    let health = get(&r, "/v1/stats").await.json();
    assert_eq!(health["records"]["alipay-trade"], 0);
}

#[tokio::test]
async fn stale_writes_are_refused_with_both_versions() {
    let r = router().await;
    let uri = format!("/v1/records/alipay-trade/{TRADE_NO}");
    let newer = trade(TRADE_NO, "6823789339978248", "2014-11-28 09:00:00", 9999);
    assert_eq!(put_json(&r, &uri, &newer).await.status, StatusCode::OK);
    let a = put_json(&r, &uri, TRADE).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.error_code(), "stale_write");
    let message = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("2014-11-27 15:45:57"), "{message}");
    assert!(message.contains("2014-11-28 09:00:00"), "{message}");
    assert_eq!(get(&r, &uri).await.json()["total_amount"], 9999);

    // Another trade claiming the same out_trade_no of the same seller is a key conflict.
    let twin = trade(
        "2013112011001004330000999999",
        "6823789339978248",
        "2014-11-29 09:00:00",
        1,
    );
    let a = put_json(
        &r,
        "/v1/records/alipay-trade/2013112011001004330000999999",
        &twin,
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.error_code(), "key_conflict");
}

#[tokio::test]
async fn batch_counts_and_names_broken_lines() {
    let r = router().await;
    let lines = [
        trade("T1", "O1", "2024-01-01 10:00:00", 100), // 1 inserted
        String::new(),                                 // 2 blank
        "{\"trade_no\": \"T2\", ".to_string(),         // 3 broken JSON
        trade("T3", "O3", "2024-01-01 10:00:00", 300), // 4 inserted
        trade("T4", "O4", "2024-01-01 10:00:00", -1),  // 5 invalid amount
        "   ".to_string(),                             // 6 blank
        trade("T1", "O1", "2023-01-01 10:00:00", 100), // 7 stale
        format!("{}\r", trade("T5", "O5", "2024-01-01 10:00:00", 500)), // 8 CRLF, inserted
        trade("T3", "O3", "2024-01-01 10:00:00", 300), // 9 unchanged
        trade("T1", "O1", "2024-02-01 10:00:00", 150), // 10 updated
    ];
    // No newline after the last line: it still counts.
    let a = post_ndjson(&r, "/v1/records/alipay-trade/_batch", lines.join("\n")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["inserted"], 3, "{v}");
    assert_eq!(v["updated"], 1, "{v}");
    assert_eq!(v["unchanged"], 1, "{v}");
    assert_eq!(v["rejected_count"], 3, "{v}");
    let rejected = v["rejected"].as_array().unwrap();
    let lines: Vec<i64> = rejected
        .iter()
        .map(|x| x["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 5, 7], "{v}");
    assert_eq!(rejected[0]["code"], "invalid_record");
    assert_eq!(rejected[1]["field"], "total_amount");
    assert!(rejected[1]["reason"].as_str().unwrap().contains("-1"));
    assert_eq!(rejected[2]["code"], "stale_write");
    assert_eq!(
        get(&r, "/v1/records/alipay-trade/T1").await.json()["total_amount"],
        150
    );
    assert_eq!(
        get(&r, "/v1/records/alipay-trade/T5").await.status,
        StatusCode::OK
    );

    // Wrong content type and unknown kind.
    let a = send(
        &r,
        "POST",
        "/v1/records/alipay-trade/_batch",
        Some(TOKEN),
        Some("application/json"),
        trade("T9", "O9", "2024-01-01 10:00:00", 1),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let a = post_ndjson(&r, "/v1/records/trades/_batch", String::new()).await;
    assert_eq!(a.error_code(), "unknown_kind");
}

#[tokio::test]
async fn batch_uploads_that_are_wrong_as_a_whole_get_one_answer() {
    let r = router().await;
    let t1 = trade("T1", "O1", "2024-01-01 10:00:00", 100);
    let t2 = trade("T2", "O2", "2024-01-01 10:00:00", 200);

    // A byte order mark before the first record is skipped: the record loads.
    let a = post_ndjson(
        &r,
        "/v1/records/alipay-trade/_batch",
        format!("\u{feff}{t1}\n"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["inserted"], 1, "{}", a.text());

    // A JSON array, on one line or pretty-printed: one error, nothing written.
    for body in [format!("[{t1},{t2}]"), format!("\n[\n  {t1},\n  {t2}\n]\n")] {
        let a = post_ndjson(&r, "/v1/records/alipay-trade/_batch", body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
        assert_eq!(a.error_code(), "invalid_body");
        let message = a.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("jq -c '.[]' file.json > file.jsonl"),
            "{message}"
        );
    }
    assert_eq!(
        get(&r, "/v1/records/alipay-trade/T2").await.status,
        StatusCode::NOT_FOUND
    );

    // Onsite trades sent as Alipay trades: after five lines, one question.
    let onsite = |i: usize| {
        json!({
            "trade_no": format!("ON{i}"), "out_trade_no": format!("ONOUT{i}"),
            "merchant_id": "2088101117952222", "gmt_create": "2024-01-01 10:00:00",
            "buyer_id": "2088102122524333", "buyer_nick": "n", "trade_status": "WAIT_BUYER_PAY",
            "total_amount": 100, "store_name": "s"
        })
        .to_string()
    };
    let body: Vec<String> = (1..=50).map(onsite).collect();
    let a = post_ndjson(&r, "/v1/records/alipay-trade/_batch", body.join("\n")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(a.error_code(), "invalid_body");
    let message = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(
            "its first 5 lines are not alipay-trade records but each reads as an onsite-trade \
             record: is this an `onsite-trade` upload? (POST it to \
             /v1/records/onsite-trade/_batch)"
        ),
        "{message}"
    );
    // The same lines under their own kind load.
    let a = post_ndjson(&r, "/v1/records/onsite-trade/_batch", body.join("\n")).await;
    assert_eq!(a.json()["inserted"], 50, "{}", a.text());

    // One stray line of another kind before good ones is only a bad line.
    let a = post_ndjson(
        &r,
        "/v1/records/alipay-trade/_batch",
        format!("{}\n{t2}\n", onsite(99)),
    )
    .await;
    let v = a.json();
    assert_eq!(
        (v["inserted"].as_i64(), v["rejected_count"].as_i64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["rejected"][0]["line"], 1, "{v}");

    // Every missing field at once.
    let a = post_ndjson(
        &r,
        "/v1/records/alipay-trade/_batch",
        r#"{"trade_no":"T7","total_amount":1}"#.to_string(),
    )
    .await;
    let v = a.json();
    assert_eq!(
        v["rejected"][0]["reason"],
        "missing fields: out_trade_no, seller_id, buyer_logon_id, trade_status",
        "{v}"
    );
}

#[tokio::test]
async fn batch_streams_in_chunks_and_keeps_line_numbers() {
    let r = router().await;
    let mut body = String::new();
    for i in 1..=2500 {
        if i == 1500 || i == 2400 {
            body.push_str("not json\n");
        } else {
            body.push_str(&trade(
                &format!("T{i}"),
                &format!("O{i}"),
                "2024-01-01 10:00:00",
                i,
            ));
            body.push('\n');
        }
    }
    let a = post_ndjson(&r, "/v1/records/alipay-trade/_batch", body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["inserted"], 2498);
    let lines: Vec<i64> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![1500, 2400]);
    let health = get(&r, "/v1/stats").await.json();
    assert_eq!(health["records"]["alipay-trade"], 2498);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let config = ServerConfig {
        max_admin_body_bytes: 600,
        ..ServerConfig::default()
    };
    let r = router_with(config).await;
    let big = format!(
        r#"{{"trade_no":"{TRADE_NO}","padding":"{}"}}"#,
        "x".repeat(1000)
    );
    let a = put_json(&r, &format!("/v1/records/alipay-trade/{TRADE_NO}"), &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.error_code(), "body_too_large");

    let mut ndjson = String::new();
    for i in 0..10 {
        ndjson.push_str(&trade(
            &format!("T{i}"),
            &format!("O{i}"),
            "2024-01-01 10:00:00",
            1,
        ));
        ndjson.push('\n');
    }
    // A declared length over the limit is refused before anything is read.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/records/alipay-trade/_batch")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CONTENT_LENGTH, ndjson.len())
        .body(Body::from(ndjson.clone()))
        .unwrap();
    let response = r.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        get(&r, "/v1/records/alipay-trade/T0").await.status,
        StatusCode::NOT_FOUND
    );

    // Streamed without a length, line by line: the lines received in full before the limit
    // are written and the answer says where to resume.
    let frames = ndjson.split_inclusive('\n').map(str::to_string).collect();
    let a = send(
        &r,
        "POST",
        "/v1/records/alipay-trade/_batch",
        Some(TOKEN),
        Some("application/x-ndjson"),
        Body::new(Frames(frames)),
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let message = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("send the rest from line"), "{message}");
    assert_eq!(
        get(&r, "/v1/records/alipay-trade/T0").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&r, "/v1/records/alipay-trade/T9").await.status,
        StatusCode::NOT_FOUND
    );
}

/// A body that arrives in several frames and declares no length, like a chunked upload.
struct Frames(std::collections::VecDeque<String>);

impl axum::body::HttpBody for Frames {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .pop_front()
                .map(|s| Ok(hyper::body::Frame::data(axum::body::Bytes::from(s)))),
        )
    }
}

#[tokio::test]
async fn records_can_be_deleted() {
    let r = router().await;
    let uri = format!("/v1/records/alipay-trade/{TRADE_NO}");
    assert_eq!(put_json(&r, &uri, TRADE).await.status, StatusCode::OK);
    let a = delete(&r, &uri).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(a.body.is_empty());
    let a = get(&r, &uri).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_code(), "not_found");
    assert_eq!(delete(&r, &uri).await.status, StatusCode::NOT_FOUND);
    let audit = get(&r, "/v1/audit").await.json();
    assert_eq!(audit["entries"][1]["action"], "deleted", "{audit}");
}

#[tokio::test]
async fn alipay_apps_never_show_private_keys() {
    let r = router().await;
    let app_key = generate_rsa_2048().unwrap();
    let app_public = public_from_private(&app_key).unwrap();
    // The PKCS#1 public key as one line of base64, normalised to SPKI PEM on the way in.
    let pkcs1_b64 = base64::engine::general_purpose::STANDARD
        .encode(app_key.rsa().unwrap().public_key_to_der_pkcs1().unwrap());
    let aes = base64::engine::general_purpose::STANDARD.encode([9u8; 16]);
    let a = post_json(
        &r,
        "/v1/alipay-apps",
        &json!({
            "app_id": "2021000000000001", "merchant_pid": "2088101117952222",
            "app_public_key": pkcs1_b64, "aes_key": aes, "sign_types": ["RSA2"]
        }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    assert_eq!(
        a.headers[header::LOCATION].to_str().unwrap(),
        "/v1/alipay-apps/2021000000000001"
    );
    let created = a.json();
    assert_eq!(
        created["app_public_key_pem"],
        public_key_to_spki_pem(&app_public).unwrap()
    );
    assert_eq!(created["sign_types"], json!(["RSA2"]));
    assert_eq!(created["has_aes_key"], true);
    assert_eq!(created["always_fund_bill_list"], false);
    let platform_public = created["platform_public_key_pem"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(platform_public.starts_with("-----BEGIN PUBLIC KEY-----"));
    for a in [
        &a,
        &get(&r, "/v1/alipay-apps").await,
        &get(&r, "/v1/alipay-apps/2021000000000001").await,
    ] {
        assert!(a.status.is_success(), "{}", a.status);
        let text = a.text();
        assert!(!text.contains("PRIVATE"), "{text}");
        assert!(!text.contains(&aes), "{text}");
        assert!(!text.contains("\"aes_key\""), "{text}");
    }
    let list = get(&r, "/v1/alipay-apps").await.json();
    assert_eq!(list["items"][0]["app_id"], "2021000000000001");

    // Again: 409. Replacing keeps the platform key pair and the AES key.
    let a = post_json(
        &r,
        "/v1/alipay-apps",
        &json!({"app_id": "2021000000000001", "merchant_pid": "2088", "app_public_key": public_key_to_spki_pem(&app_public).unwrap()}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.error_code(), "already_exists");
    let a = put_json(
        &r,
        "/v1/alipay-apps/2021000000000001",
        &json!({"merchant_pid": "2088000000000002", "app_public_key": public_key_to_spki_pem(&app_public).unwrap(), "always_fund_bill_list": true}).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let replaced = a.json();
    assert_eq!(
        replaced["platform_public_key_pem"],
        platform_public.as_str()
    );
    assert_eq!(replaced["merchant_pid"], "2088000000000002");
    assert_eq!(replaced["has_aes_key"], true);
    assert_eq!(replaced["always_fund_bill_list"], true);
    assert_eq!(replaced["sign_types"], json!(["RSA2", "RSA"]));

    // A given platform private key is used (its public half is shown) and never echoed.
    let platform = generate_rsa_2048().unwrap();
    let a = post_json(
        &r,
        "/v1/alipay-apps",
        &json!({
            "app_id": "2021000000000002", "merchant_pid": "2088101117952222",
            "app_public_key": public_key_to_spki_pem(&app_public).unwrap(),
            "platform_private_key": private_key_to_pkcs1_pem(&platform).unwrap()
        }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    assert_eq!(
        a.json()["platform_public_key_pem"],
        public_key_to_spki_pem(&public_from_private(&platform).unwrap()).unwrap()
    );
    assert!(!a.text().contains("PRIVATE"));

    assert_eq!(
        delete(&r, "/v1/alipay-apps/2021000000000002").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&r, "/v1/alipay-apps/2021000000000002").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&r, "/v1/alipay-apps/2021000000000002").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn alipay_app_mistakes_are_named() {
    let r = router().await;
    let key = generate_rsa_2048().unwrap();
    let public_pem = public_key_to_spki_pem(&public_from_private(&key).unwrap()).unwrap();
    let base = json!({"app_id": "2021000000000001", "merchant_pid": "2088101117952222", "app_public_key": public_pem});
    let with = |field: &str, value: Value| {
        let mut v = base.clone();
        v[field] = value;
        v
    };

    // A private key where the public key belongs.
    for private in [
        private_key_to_pkcs8_pem(&key).unwrap(),
        private_key_to_pkcs1_pem(&key).unwrap(),
    ] {
        let a = post_json(
            &r,
            "/v1/alipay-apps",
            &with("app_public_key", json!(private)),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.error_code(), "invalid_field");
        let v = a.json();
        assert_eq!(v["error"]["field"], "app_public_key");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("private key"), "{message}");
        assert!(!message.contains("MII"), "the key is not echoed: {message}");
    }
    let cases = [
        with("app_id", json!("bad id!")),
        with("app_id", json!("1".repeat(33))),
        with("merchant_pid", json!("")),
        with("merchant_pid", json!("2".repeat(33))),
        with("sign_types", json!(["SM2"])),
        with("sign_types", json!([])),
        with("aes_key", json!("c2hvcnQ=")),
        with("app_public_key", json!("garbage!")),
        with("always_fund_bill_list", json!("yes")),
        with("platform_private_key", json!(public_pem)),
        with("surprise", json!(1)),
    ];
    for body in cases {
        let a = post_json(&r, "/v1/alipay-apps", &body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.text());
        assert_eq!(a.error_code(), "invalid_field", "{body}");
    }
    let mut no_id = base.clone();
    no_id.as_object_mut().unwrap().remove("app_id");
    let a = post_json(&r, "/v1/alipay-apps", &no_id).await;
    assert_eq!(a.json()["error"]["field"], "app_id");
    // The app's own key pair as the platform's.
    let a = post_json(
        &r,
        "/v1/alipay-apps",
        &with(
            "platform_private_key",
            json!(private_key_to_pkcs8_pem(&key).unwrap()),
        ),
    )
    .await;
    assert_eq!(a.json()["error"]["field"], "platform_private_key");
    // Not an object; not JSON.
    assert_eq!(
        post_json(&r, "/v1/alipay-apps", &json!([1]))
            .await
            .error_code(),
        "invalid_json"
    );
    let a = send(
        &r,
        "POST",
        "/v1/alipay-apps",
        Some(TOKEN),
        Some("application/json"),
        "{",
    )
    .await;
    assert_eq!(a.error_code(), "invalid_json");
    assert_eq!(get(&r, "/v1/alipay-apps").await.json()["items"], json!([]));
    // PUT with another app_id in the body.
    let a = put_json(&r, "/v1/alipay-apps/2021000000000009", &base.to_string()).await;
    assert_eq!(a.error_code(), "key_mismatch");
}

#[tokio::test]
async fn app_auth_tokens_need_their_app() {
    let r = router().await;
    let a = post_json(
        &r,
        "/v1/app-auth-tokens",
        &json!({"app_id": "2021000000000001", "merchant_pid": "2088000000000009"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "unknown_app");

    let key = generate_rsa_2048().unwrap();
    let public_pem = public_key_to_spki_pem(&public_from_private(&key).unwrap()).unwrap();
    let a = post_json(
        &r,
        "/v1/alipay-apps",
        &json!({"app_id": "2021000000000001", "merchant_pid": "2088101117952222", "app_public_key": public_pem}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let a = post_json(
        &r,
        "/v1/app-auth-tokens",
        &json!({"app_id": "2021000000000001", "merchant_pid": "2088000000000009", "expires_at": "2099-01-01 00:00:00"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let token = a.json()["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(a.json()["expires_at"], "2099-01-01 00:00:00");

    let a = post_json(
        &r,
        "/v1/app-auth-tokens",
        &json!({"token": "chosen-token", "app_id": "2021000000000001", "merchant_pid": "2088000000000010"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = post_json(
        &r,
        "/v1/app-auth-tokens",
        &json!({"token": "chosen-token", "app_id": "2021000000000001", "merchant_pid": "2088000000000010"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = post_json(
        &r,
        "/v1/app-auth-tokens",
        &json!({"app_id": "2021000000000001", "merchant_pid": "2088", "expires_at": "tomorrow"}),
    )
    .await;
    assert_eq!(a.json()["error"]["field"], "expires_at");

    let list = get(&r, "/v1/app-auth-tokens").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let filtered = get(&r, "/v1/app-auth-tokens?app_id=nope").await.json();
    assert_eq!(filtered["items"], json!([]));
    let one = get(&r, &format!("/v1/app-auth-tokens/{token}")).await;
    assert_eq!(one.json()["merchant_pid"], "2088000000000009");
    assert_eq!(
        delete(&r, &format!("/v1/app-auth-tokens/{token}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&r, &format!("/v1/app-auth-tokens/{token}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Deleting the app takes its tokens with it.
    assert_eq!(
        delete(&r, "/v1/alipay-apps/2021000000000001").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&r, "/v1/app-auth-tokens").await.json()["items"],
        json!([])
    );
}

#[tokio::test]
async fn top_secrets_are_shown_once() {
    let r = router().await;
    let a = post_json(
        &r,
        "/v1/top-apps",
        &json!({"app_key": "12345678", "merchant_id": "m-1"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let v = a.json();
    let secret = v["app_secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(v["sign_methods"], json!(["md5", "hmac", "hmac-sha256"]));

    for a in [
        get(&r, "/v1/top-apps").await,
        get(&r, "/v1/top-apps/12345678").await,
    ] {
        assert_eq!(a.status, StatusCode::OK);
        assert!(!a.text().contains(&secret), "{}", a.text());
        assert!(
            a.text().contains("\"app_secret\":\"<redacted>\""),
            "{}",
            a.text()
        );
    }
    // Replacing without a secret keeps it, and does not show it.
    let a = put_json(
        &r,
        "/v1/top-apps/12345678",
        &json!({"merchant_id": "m-2", "sign_methods": ["HMAC-SHA256"]}).to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["app_secret"], "<redacted>");
    assert_eq!(a.json()["sign_methods"], json!(["hmac-sha256"]));
    // A given secret on creation is shown in that answer only.
    let a = post_json(
        &r,
        "/v1/top-apps",
        &json!({"app_key": "87654321", "app_secret": "my-secret", "merchant_id": "m-1", "sign_methods": ["md5"]}),
    )
    .await;
    assert_eq!(a.json()["app_secret"], "my-secret");
    assert!(!get(&r, "/v1/top-apps").await.text().contains("my-secret"));
    let a = post_json(
        &r,
        "/v1/top-apps",
        &json!({"app_key": "1", "merchant_id": "m", "sign_methods": ["sha1"]}),
    )
    .await;
    assert_eq!(a.json()["error"]["field"], "sign_methods[0]");

    // Sessions.
    let a = post_json(
        &r,
        "/v1/top-sessions",
        &json!({"app_key": "nope", "merchant_id": "m-1"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "unknown_app");
    let a = post_json(
        &r,
        "/v1/top-sessions",
        &json!({"app_key": "12345678", "merchant_id": "m-1"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let session = a.json()["session"].as_str().unwrap().to_string();
    assert_eq!(session.len(), 40);
    let list = get(&r, "/v1/top-sessions?app_key=12345678").await.json();
    assert_eq!(list["items"][0]["session"], session.as_str());
    assert_eq!(
        get(&r, &format!("/v1/top-sessions/{session}")).await.json()["merchant_id"],
        "m-1"
    );
    assert_eq!(
        delete(&r, &format!("/v1/top-sessions/{session}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&r, &format!("/v1/top-sessions/{session}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&r, "/v1/top-apps/12345678").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&r, "/v1/top-apps/12345678").await.status,
        StatusCode::NOT_FOUND
    );
}

/// Fills a route template with sample values.
fn concrete(path: &str) -> String {
    path.replace("{kind}", "alipay-trade")
        .replace("{key}", "T1")
        .replace("{app_id}", "2021000000000001")
        .replace("{app_key}", "12345678")
        .replace("{token}", "tok")
        .replace("{session}", "sess")
}

#[tokio::test]
async fn openapi_lists_every_route_the_router_serves() {
    let r = router().await;
    let doc = send(&r, "GET", "/openapi.json", None, None, Body::empty())
        .await
        .json();
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        ROUTES.len(),
        "documented paths: {:?}",
        paths.keys()
    );
    for (path, methods) in ROUTES {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for method in *methods {
            let op = item
                .get(method.to_ascii_lowercase())
                .unwrap_or_else(|| panic!("{method} {path} is not documented"));
            assert!(op["responses"].is_object(), "{method} {path}");
            // A live stream never ends: its status is all there is to check.
            if path.ends_with("/stream") {
                let res = r
                    .clone()
                    .oneshot(
                        Request::builder()
                            .method(*method)
                            .uri(concrete(path))
                            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{method} {path}");
                continue;
            }
            // The router serves it: neither the unknown-path nor the wrong-method answer.
            let a = send(
                &r,
                method,
                &concrete(path),
                Some(TOKEN),
                None,
                Body::empty(),
            )
            .await;
            assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            if a.status == StatusCode::NOT_FOUND {
                let message = a.json()["error"]["message"].as_str().unwrap().to_string();
                assert!(
                    !message.starts_with("no endpoint"),
                    "{method} {path}: {message}"
                );
            }
        }
        // Methods not listed are refused with the JSON shape.
        if !methods.contains(&"PATCH") {
            let a = send(
                &r,
                "PATCH",
                &concrete(path),
                Some(TOKEN),
                None,
                Body::empty(),
            )
            .await;
            assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "PATCH {path}");
            assert_eq!(a.error_code(), "method_not_allowed");
        }
    }
    // Every documented operation refers to schemas that exist.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "missing schema {name}");
    }
}

#[tokio::test]
async fn unknown_paths_get_json_404() {
    let r = router().await;
    for (method, uri, token) in [
        ("GET", "/nope", None),
        ("GET", "/v1/nope", Some(TOKEN)),
        ("POST", "/v2/records/alipay-trade/x", Some(TOKEN)),
        ("GET", "/", None),
    ] {
        let a = send(&r, method, uri, token, None, Body::empty()).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(a.error_code(), "not_found");
        assert!(a.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }
}
