//! The web console's server side: its files and headers, and the admin endpoints it drives
//! (explorer/send, demo-credentials, record answers), in-process over the demo data.

mod support;

use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};
use support::Answer;

use tradeq_server::console::CONTENT_SECURITY_POLICY;
use tradeq_server::demo::DemoCredentials;
use tradeq_server::{admin, ServerConfig};
use tradeq_wire::alipay::keys::{parse_private_key, parse_public_key};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, v2_sign_content, SignType};
use tradeq_wire::alipay::v2::extract_signed_response;
use tradeq_wire::params::{encode_form, Charset};
use tradeq_wire::time::format_gmt8;
use tradeq_wire::top::sign::{sign, sign_string, SignMethod};

const TOKEN: &str = "console-test-token";
const TRADE_NO: &str = "2013112011001004330000121536";

struct Harness {
    admin: Router,
    creds: DemoCredentials,
}

async fn harness(with_demo: bool) -> Harness {
    let (store, creds) = support::demo_store("", "", TOKEN).await;
    let store = if with_demo {
        store
    } else {
        support::memory_store().await
    };
    Harness {
        admin: admin::router(support::state(store, ServerConfig::default(), TOKEN)),
        creds,
    }
}

impl Harness {
    async fn request(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        support::send(
            &self.admin,
            support::admin_json(method, uri, token, body.as_ref()),
        )
        .await
    }

    async fn admin(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        self.request(method, uri, Some(TOKEN), body).await
    }

    /// A signed TOP omni-order query, as the explorer sends it: system parameters in the query,
    /// business parameters in a form body.
    fn top_send(&self, order_id: &str) -> Value {
        let t = &self.creds.top;
        let ts = format_gmt8(chrono::Utc::now());
        let system = vec![
            ("method", "alibaba.omni.order.query"),
            ("app_key", t.app_key.as_str()),
            ("session", t.session.as_str()),
            ("timestamp", ts.as_str()),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "hmac-sha256"),
        ];
        let business = vec![
            ("user_id", "3031798632"),
            ("order_id", order_id),
            ("out_order_id", "12348"),
        ];
        let all: Vec<(&str, &str)> = system.iter().chain(business.iter()).copied().collect();
        let s = sign(
            &t.app_secret,
            SignMethod::HmacSha256,
            &sign_string(all, false),
        );
        let mut query = system.clone();
        query.push(("sign", &s));
        json!({
            "method": "POST",
            "target": format!("/router/rest?{}", encode_form(query, Charset::Utf8)),
            "headers": {"content-type": "application/x-www-form-urlencoded;charset=utf-8"},
            "body": encode_form(business, Charset::Utf8),
        })
    }

    fn v2_send(&self, out_trade_no: &str) -> Value {
        let ts = format_gmt8(chrono::Utc::now());
        let biz = json!({ "out_trade_no": out_trade_no }).to_string();
        let mut params = vec![
            ("app_id", self.creds.alipay.app_id.as_str()),
            ("method", "alipay.trade.query"),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", ts.as_str()),
            ("version", "1.0"),
            ("biz_content", biz.as_str()),
        ];
        let content = v2_sign_content(params.iter().copied(), false);
        let key = parse_private_key(&self.creds.alipay.app_private_key_pkcs8_pem).expect("key");
        let sig = rsa_sign(&key, SignType::Rsa2, content.as_bytes()).expect("signs");
        params.push(("sign", &sig));
        let query: Vec<(&str, &str)> = params
            .iter()
            .copied()
            .filter(|(k, _)| *k != "biz_content")
            .collect();
        json!({
            "method": "POST",
            "target": format!("/gateway.do?{}", encode_form(query, Charset::Utf8)),
            "headers": {"content-type": "application/x-www-form-urlencoded;charset=utf-8"},
            "body": encode_form([("biz_content", biz.as_str())], Charset::Utf8),
        })
    }
}

#[tokio::test]
async fn console_files_are_public_and_carry_the_security_headers() {
    let h = harness(true).await;
    let page = h.request("GET", "/console/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    assert_eq!(
        page.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(page.text().contains("src=\"js/main.js\""));

    let script = h.request("GET", "/console/js/main.js", None, None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert_eq!(
        script.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert!(script.text().contains("Sign in"));

    let css = h.request("GET", "/console/app.css", None, None).await;
    assert!(css.header("content-type").starts_with("text/css"));

    let bare = h.request("GET", "/console", None, None).await;
    assert!(bare.status.is_redirection());
    assert_eq!(bare.header("location"), "/console/");

    let missing = h.request("GET", "/console/js/nope.js", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(missing.header("x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_console_endpoints_need_the_token() {
    let h = harness(true).await;
    for (method, uri) in [
        ("GET", "/v1/demo-credentials"),
        ("POST", "/v1/explorer/send"),
        (
            "GET",
            "/v1/records/alipay-trade/2013112011001004330000121536/answers",
        ),
    ] {
        let none = h.request(method, uri, None, None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        let wrong = h.request(method, uri, Some("not-the-token"), None).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(wrong.json()["error"]["code"], "invalid_token");
    }
}

#[tokio::test]
async fn explorer_send_serves_a_top_request_and_journals_it() {
    let h = harness(true).await;
    let sent = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(h.top_send("108717674563804955")),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let answer = sent.json();
    assert_eq!(answer["status"], 200);
    let body: Value = serde_json::from_str(answer["body"].as_str().expect("body")).expect("JSON");
    let result = &body["alibaba_omni_order_query_response"]["result"];
    assert_eq!(result["success"], true, "{body}");
    assert_eq!(result["model"]["order_id"], "108717674563804955");

    // The same path as a network client: the journal holds it, under the answer's request id.
    let request_id = body["alibaba_omni_order_query_response"]["request_id"]
        .as_str()
        .expect("request_id");
    let entry = h
        .admin("GET", &format!("/v1/journal/{request_id}"), None)
        .await;
    assert_eq!(entry.status, StatusCode::OK, "{}", entry.text());
    let entry = entry.json();
    assert_eq!(entry["method"], "alibaba.omni.order.query");
    assert_eq!(entry["verification"], "verified");
    assert_eq!(entry["outcome"], "ok");
}

#[tokio::test]
async fn explorer_send_answers_carry_the_verifiable_v2_signature() {
    let h = harness(true).await;
    let sent = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(h.v2_send("6823789339978248")),
        )
        .await;
    let answer = sent.json();
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(answer["headers"]["trace_id"].is_string(), "{answer}");
    let body = answer["body"].as_str().expect("body");
    let signed = extract_signed_response(body, "alipay.trade.query", false).expect("signed");
    let platform = parse_public_key(&h.creds.alipay.alipay_public_key_pem).expect("key");
    assert!(rsa_verify(
        &platform,
        SignType::Rsa2,
        signed.content.as_bytes(),
        &signed.sign
    ));
    assert!(body.contains("\"trade_no\":\"2013112011001004330000121536\""));

    // A tampered request is refused by the front door, as for any client, and journaled so.
    let mut tampered = h.v2_send("6823789339978248");
    tampered["body"] = json!("biz_content=%7B%22out_trade_no%22%3A%22other%22%7D");
    let refused = h
        .admin("POST", "/v1/explorer/send", Some(tampered))
        .await
        .json();
    let body = refused["body"].as_str().expect("body");
    assert!(body.contains("isv.invalid-signature"), "{body}");
    let errors = h
        .admin("GET", "/v1/journal?outcome=error", None)
        .await
        .json();
    assert_eq!(errors["entries"][0]["verification"], "failed");
}

#[tokio::test]
async fn explorer_send_is_subject_to_fault_rules() {
    let h = harness(true).await;
    let rule = h
        .admin(
            "POST",
            "/v1/faults",
            Some(
                json!({"match": {"method": "alibaba.omni.order.query"}, "times": 1,
                        "action": {"type": "error", "code": "isp.SYSTEM_ERROR"}}),
            ),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text());
    let first = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(h.top_send("108717674563804955")),
        )
        .await
        .json();
    assert!(
        first["body"]
            .as_str()
            .unwrap_or_default()
            .contains("isp.SYSTEM_ERROR"),
        "{first}"
    );
    let second = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(h.top_send("108717674563804955")),
        )
        .await
        .json();
    assert!(
        second["body"]
            .as_str()
            .unwrap_or_default()
            .contains("\"success\":true"),
        "{second}"
    );

    // A reset leaves no status line: the answer says so.
    h.admin(
        "POST",
        "/v1/faults",
        Some(json!({"match": {"front_door": "top"}, "times": 1, "action": {"type": "reset"}})),
    )
    .await;
    let reset = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(h.top_send("108717674563804955")),
        )
        .await
        .json();
    assert_eq!(reset["status"], Value::Null, "{reset}");
    assert!(reset["error"]
        .as_str()
        .unwrap_or_default()
        .contains("closed"));
}

#[tokio::test]
async fn explorer_send_takes_protocol_paths_only() {
    let h = harness(true).await;
    let long = format!("/gateway.do?a={}", "b".repeat(70_000));
    for target in [
        long.as_str(),
        "/gateway.do#x",
        "/v1/stats",
        "/console/",
        "gateway.do",
        "http://elsewhere/gateway.do",
    ] {
        let a = h
            .admin("POST", "/v1/explorer/send", Some(json!({"target": target})))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{target}");
        assert_eq!(a.json()["error"]["field"], "target", "{target}");
    }
    let a = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(json!({"target": "/gateway.do", "method": "DELETE"})),
        )
        .await;
    assert_eq!(a.json()["error"]["field"], "method");
    let a = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(json!({"target": "/gateway.do", "colour": "red"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let big = "x".repeat(ServerConfig::default().max_body_bytes + 1);
    let a = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(json!({"target": "/gateway.do", "body": big})),
        )
        .await;
    assert_eq!(a.json()["error"]["field"], "body");
}

#[tokio::test]
async fn demo_credentials_leave_the_admin_token_out() {
    let h = harness(true).await;
    let a = h.admin("GET", "/v1/demo-credentials", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let doc = a.json();
    assert!(doc.get("admin_token").is_none());
    assert!(!a.text().contains(TOKEN));
    assert_eq!(doc["alipay"]["app_id"], h.creds.alipay.app_id);
    assert_eq!(
        doc["alipay"]["app_private_key_pkcs8_pem"],
        h.creds.alipay.app_private_key_pkcs8_pem
    );
    assert_eq!(doc["top"]["app_secret"], h.creds.top.app_secret);

    let empty = harness(false).await;
    let a = empty.admin("GET", "/v1/demo-credentials", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn record_answers_are_each_methods_view() {
    let h = harness(true).await;
    let a = h
        .admin(
            "GET",
            &format!("/v1/records/alipay-trade/{TRADE_NO}/answers"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let text = a.text();
    // Field order is the method's: the trade number leads the v2 answer.
    assert!(
        text.starts_with("{\"alipay.trade.query\":{\"trade_no\":"),
        "{text}"
    );
    let doc = a.json();
    let methods: Vec<&String> = doc.as_object().expect("object").keys().collect();
    assert_eq!(methods.len(), 2, "{methods:?}");
    assert_eq!(doc["alipay.trade.query"]["trade_no"], TRADE_NO);
    assert_eq!(
        doc["alipay.trade.query"]["out_trade_no"],
        "6823789339978248"
    );
    assert!(doc["alipay.trade.query"]["fund_bill_list"].is_array());
    assert_eq!(
        doc["tmall.luxury.stage.edi.alipay.trade.query"]["data"]["trade_no"],
        TRADE_NO
    );

    // What the answers show is what the method answers over the wire.
    let sent = h
        .admin(
            "POST",
            "/v1/explorer/send",
            Some(h.v2_send("6823789339978248")),
        )
        .await
        .json();
    let wire: Value = serde_json::from_str(sent["body"].as_str().expect("body")).expect("JSON");
    let wire = &wire["alipay_trade_query_response"];
    for field in [
        "trade_no",
        "out_trade_no",
        "trade_status",
        "total_amount",
        "buyer_logon_id",
    ] {
        assert_eq!(wire[field], doc["alipay.trade.query"][field], "{field}");
    }

    let omni = h
        .admin(
            "GET",
            "/v1/records/omni-order/108717674563804955/answers",
            None,
        )
        .await
        .json();
    assert_eq!(
        omni["alibaba.omni.order.query"]["result"]["model"]["out_order_id"],
        "12348"
    );
    let koubei = h
        .admin(
            "GET",
            "/v1/records/koubei-order/20160831001040010900010000000001/answers",
            None,
        )
        .await
        .json();
    assert!(
        koubei["koubei.trade.itemorder.query"].is_object(),
        "{koubei}"
    );
    let onsite = h
        .admin(
            "GET",
            &format!("/v1/records/onsite-trade/{TRADE_NO}/answers"),
            None,
        )
        .await
        .json();
    assert!(
        onsite["alibaba.xlife.onsite.trade.query"]["onsite_trade_query_response"].is_object(),
        "{onsite}"
    );

    let missing = h
        .admin("GET", "/v1/records/alipay-trade/nope/answers", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad_kind = h
        .admin("GET", "/v1/records/spaceship/x/answers", None)
        .await;
    assert_eq!(bad_kind.json()["error"]["code"], "unknown_kind");
}
