//! The Alipay front doors driven in-process over the demo data (in-memory SQLite): regressions
//! found by the SDK conformance suites (`tests/conformance_alipay.rs`).

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use support::Answer;

use tradeq_server::demo::DemoCredentials;
use tradeq_server::serve::protocol_router;
use tradeq_server::ServerConfig;
use tradeq_wire::alipay::aes::{aes_decrypt, aes_encrypt};
use tradeq_wire::alipay::keys::{parse_private_key, parse_public_key};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, v2_sign_content, SignType};
use tradeq_wire::alipay::v3::{request_sign_content, response_sign_content};
use tradeq_wire::params::Charset;
use tradeq_wire::time::format_gmt8;

const T1: &str = "2024010122001446880500000001";

async fn demo_router() -> (Router, DemoCredentials) {
    let (store, creds) = support::demo_store("http://gw", "http://admin", "token").await;
    let state = support::state(store, ServerConfig::default(), "token");
    (protocol_router(state), creds)
}

/// The v3 answer signature verifies with the demo's Alipay public key.
fn v3_signed(answer: &Answer, creds: &DemoCredentials) -> bool {
    let key = parse_public_key(&creds.alipay.alipay_public_key_pem).expect("public key");
    let content = response_sign_content(
        answer.header("alipay-timestamp"),
        answer.header("alipay-nonce"),
        &answer.body,
    );
    rsa_verify(
        &key,
        SignType::Rsa2,
        &content,
        answer.header("alipay-signature"),
    )
}

async fn send(router: &Router, req: Request<Body>) -> Answer {
    support::send(router, req).await
}

/// A v3 request signed with the demo app key; `extra` is appended to the auth string.
fn v3_request(creds: &DemoCredentials, extra: &str, body: &[u8], aes: bool) -> Request<Body> {
    let now = chrono::Utc::now().timestamp_millis();
    let nonce = format!("nonce-{now}-{}", body.len() + extra.len());
    let auth = format!(
        "app_id={},nonce={nonce},timestamp={now}{extra}",
        creds.alipay.app_id
    );
    let path = "/v3/alipay/trade/query";
    let content = request_sign_content(&auth, "POST", path, body, None);
    let key = parse_private_key(&creds.alipay.app_private_key_pkcs8_pem).expect("private key");
    let sign = rsa_sign(&key, SignType::Rsa2, &content).expect("signs");
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(
            header::AUTHORIZATION,
            format!("ALIPAY-SHA256withRSA {auth},sign={sign}"),
        )
        .header(
            header::CONTENT_TYPE,
            if aes {
                "text/plain"
            } else {
                "application/json"
            },
        );
    if aes {
        req = req.header("alipay-encrypt-type", "AES");
    }
    req.body(Body::from(body.to_vec())).expect("a request")
}

#[tokio::test]
async fn v3_absurd_expired_seconds_is_a_401_not_a_panic() {
    let (router, creds) = demo_router().await;
    let body = format!(r#"{{"trade_no":"{T1}"}}"#);
    for secs in ["9223372036854775807", "9223372036854775", "92233720368547"] {
        let extra = format!(",expired_seconds={secs}");
        let answer = send(&router, v3_request(&creds, &extra, body.as_bytes(), false)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text());
        assert_eq!(answer.json()["code"], "invalid-timestamp");
        assert!(v3_signed(&answer, &creds));
    }
    let ok = send(
        &router,
        v3_request(&creds, ",expired_seconds=300", body.as_bytes(), false),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn v3_aes_request_and_answer() {
    let (router, creds) = demo_router().await;
    let key = &creds.alipay.aes_key;
    let body = aes_encrypt(key, format!(r#"{{"trade_no":"{T1}"}}"#).as_bytes()).expect("enc");
    let answer = send(&router, v3_request(&creds, "", body.as_bytes(), true)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.header("content-type").starts_with("text/plain"));
    // Signed over the ciphertext, as sent.
    assert!(v3_signed(&answer, &creds));
    let plain = aes_decrypt(key, &answer.text()).expect("decrypts");
    let value: Value = serde_json::from_slice(&plain).expect("JSON inside");
    assert_eq!(value["trade_no"], T1);
    assert_eq!(value["total_amount"], "88.88");

    // Errors stay plain JSON.
    let missing = aes_encrypt(key, br#"{"trade_no":"2099010122001446880599999999"}"#).expect("enc");
    let answer = send(&router, v3_request(&creds, "", missing.as_bytes(), true)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["code"], "ACQ.TRADE_NOT_EXIST");
    let garbage = send(&router, v3_request(&creds, "", b"not base64!", true)).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.json()["code"], "decryption-error-unknown");
}

#[tokio::test]
async fn v2_unknown_method_of_a_known_app_is_a_signed_error_response() {
    let (router, creds) = demo_router().await;
    let timestamp = format_gmt8(chrono::Utc::now());
    let mut params = vec![
        ("app_id", creds.alipay.app_id.clone()),
        ("method", "alipay.trade.nosuch".to_string()),
        ("charset", "utf-8".to_string()),
        ("sign_type", "RSA2".to_string()),
        ("timestamp", timestamp),
        ("version", "1.0".to_string()),
        ("biz_content", format!(r#"{{"trade_no":"{T1}"}}"#)),
    ];
    let content = v2_sign_content(params.iter().map(|(k, v)| (*k, v.as_str())), false);
    let key = parse_private_key(&creds.alipay.app_private_key_pkcs8_pem).expect("private key");
    let sign = rsa_sign(&key, SignType::Rsa2, content.as_bytes()).expect("signs");
    params.push(("sign", sign));
    let form: String = params
        .iter()
        .map(|(k, v)| {
            let enc: String = url_encode(v);
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&");
    let req = Request::builder()
        .method("POST")
        .uri("/gateway.do")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("a request");
    let answer = send(&router, req).await;
    let text = answer.text();
    let inner_start = text.find(':').map_or(0, |i| i + 1);
    let inner_end = text.rfind(",\"sign\":\"").unwrap_or(text.len());
    let inner = &text[inner_start..inner_end];
    assert!(text.starts_with("{\"error_response\":{"), "{text}");
    assert!(
        inner.contains("\"sub_code\":\"isv.invalid-method\""),
        "{text}"
    );
    let sign = text[inner_end + ",\"sign\":\"".len()..]
        .trim_end_matches("\"}")
        .to_string();
    let platform = parse_public_key(&creds.alipay.alipay_public_key_pem).expect("public key");
    assert!(rsa_verify(
        &platform,
        SignType::Rsa2,
        &Charset::Utf8.encode(inner),
        &sign
    ));
}

/// `application/x-www-form-urlencoded` encoding of a value.
fn url_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[tokio::test]
async fn oversized_bodies_get_the_protocol_envelope() {
    let (router, creds) = demo_router().await;
    let big = format!("biz_content={}", "a".repeat(300 * 1024));
    let req = Request::builder()
        .method("POST")
        .uri("/gateway.do?method=alipay.trade.query&charset=utf-8")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(big.clone()))
        .expect("a request");
    let v2 = send(&router, req).await;
    assert_eq!(v2.status, StatusCode::OK, "v2 answers 200 whatever happens");
    assert_eq!(v2.json()["error_response"]["code"], "40002");
    assert_eq!(
        v2.json()["error_response"]["sub_code"],
        "isv.invalid-parameter"
    );

    let v3 = send(&router, v3_request(&creds, "", big.as_bytes(), false)).await;
    assert_eq!(v3.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v3.json()["code"], "invalid-parameter");
    assert!(v3.header("content-type").starts_with("application/json"));
}
