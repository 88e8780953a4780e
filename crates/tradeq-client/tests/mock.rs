//! The client against an in-process HTTP mock (wiremock): genuine answers are accepted, and
//! tampered bodies, a duplicate response key, text between the object and `sign`, unsigned
//! answers, wrong-key signatures and GBK bodies each yield the right typed error and never a
//! parsed answer. Plus the protocol documents' vectors.

// The protocol document's vectors, shared with tradeq-wire's own tests.
#[allow(dead_code)]
#[path = "../../tradeq-wire/src/alipay/test_vectors.rs"]
mod vectors;

use std::time::Duration;

use openssl::pkey::{PKey, Private};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use tradeq_client::model::{
    AlipayTradeQueryRequest, KoubeiTradeItemorderQueryRequest, OmniOrderQueryRequest,
    XlifeOnsiteTradeQueryRequest,
};
use tradeq_client::{
    AlipayConfig, AlipayV2Client, AlipayV3Client, Authenticity, Charset, ConfigError, Error,
    RetryPolicy, SignMethod, TopClient, TopConfig, TopFormat, TransportError, VerificationError,
};
use tradeq_wire::alipay::keys::{
    generate_rsa_2048, parse_public_key, private_key_to_pkcs1_pem, private_key_to_pkcs8_pem,
    public_from_private, public_key_to_spki_base64, public_key_to_spki_pem,
};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, v2_verify_request, SignType};
use tradeq_wire::alipay::v2::envelope;
use tradeq_wire::alipay::v3::{parse_authorization, request_sign_content, response_sign_content};
use tradeq_wire::params::parse_form;

const APP_ID: &str = "2021000000000001";
const SUCCESS_INNER: &str = r#"{"code":"10000","msg":"Success","trade_no":"2013112011001004330000121536","out_trade_no":"6823789339978248","buyer_logon_id":"159****5620","trade_status":"TRADE_SUCCESS","total_amount":"88.88","fund_bill_list":[{"fund_channel":"ALIPAYACCOUNT","amount":"88.88"}]}"#;

struct Keys {
    app: PKey<Private>,
    platform: PKey<Private>,
    other: PKey<Private>,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| Keys {
        app: generate_rsa_2048().unwrap(),
        platform: generate_rsa_2048().unwrap(),
        other: generate_rsa_2048().unwrap(),
    })
}

fn platform_public_pem() -> String {
    public_key_to_spki_pem(&public_from_private(&keys().platform).unwrap()).unwrap()
}

fn fast_retry(max: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries: max,
        interval: Duration::from_millis(10),
        retry_transport: false,
    }
}

fn alipay_config(server: &MockServer) -> AlipayConfig {
    let mut c = AlipayConfig::new(
        server.uri(),
        APP_ID,
        private_key_to_pkcs1_pem(&keys().app).unwrap(),
        platform_public_pem(),
    );
    c.options.retry = fast_retry(3);
    c.options.timeout = Duration::from_secs(5);
    c
}

fn v2_client(server: &MockServer) -> AlipayV2Client {
    AlipayV2Client::new(alipay_config(server)).unwrap()
}

fn sign_v2(key: &PKey<Private>, content: &[u8]) -> String {
    rsa_sign(key, SignType::Rsa2, content).unwrap()
}

/// `{"alipay_trade_query_response":<inner>,"sign":"…"}` signed by `key` over `inner`.
fn v2_body(inner: &str, key: &PKey<Private>) -> String {
    envelope(
        "alipay_trade_query_response",
        inner,
        Some(&sign_v2(key, inner.as_bytes())),
    )
}

async fn mount_v2(server: &MockServer, body: impl Into<Vec<u8>>, content_type: &str) {
    Mock::given(method("POST"))
        .and(path("/gateway.do"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.into(), content_type))
        .mount(server)
        .await;
}

fn query() -> AlipayTradeQueryRequest {
    AlipayTradeQueryRequest::by_out_trade_no("6823789339978248")
}

fn expect_verification(r: Result<impl std::fmt::Debug, Error>) -> VerificationError {
    match r {
        Err(Error::Verification(v)) => v,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

/// The merged, decoded parameters of a v2/TOP request as a server sees them.
fn request_params(req: &Request, charset: Charset) -> Vec<(String, String)> {
    let mut pairs = parse_form(req.url.query().unwrap_or("").as_bytes(), charset).unwrap();
    pairs.extend(parse_form(&req.body, charset).unwrap());
    pairs
}

// ---------------------------------------------------------------------------------------------
// v2
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn v2_genuine_answer_is_verified_parsed_and_the_request_verifies_server_side() {
    let server = MockServer::start().await;
    mount_v2(
        &server,
        v2_body(SUCCESS_INNER, &keys().platform),
        "application/json;charset=utf-8",
    )
    .await;
    let trade = v2_client(&server)
        .trade_query(&query().with_query_options(["fund_bill_list"]))
        .await
        .unwrap();
    assert_eq!(trade.trade_status, "TRADE_SUCCESS");
    assert_eq!(trade.total_amount.as_str(), "88.88");
    assert_eq!(trade.fund_bill_list[0].fund_channel, "ALIPAYACCOUNT");

    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    let q = req.url.query().unwrap();
    for name in [
        "app_id=",
        "method=",
        "charset=",
        "sign_type=",
        "timestamp=",
        "sign=",
    ] {
        assert!(q.contains(name), "{name} not in the URL: {q}");
    }
    assert!(!q.contains("biz_content"));
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert!(body.starts_with("biz_content="), "{body}");
    let params = request_params(req, Charset::Utf8);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("biz_content").unwrap(),
        r#"{"out_trade_no":"6823789339978248","query_options":["fund_bill_list"]}"#
    );
    let ts = get("timestamp").unwrap();
    assert!(tradeq_wire::time::parse_gmt8(&ts).is_some(), "{ts}");
    let app_public = public_from_private(&keys().app).unwrap();
    v2_verify_request(
        &app_public,
        SignType::Rsa2,
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &get("sign").unwrap(),
        Charset::Utf8,
    )
    .expect("the gateway's verifier accepts the client's signature");
}

#[tokio::test]
async fn v2_tampered_body_is_refused() {
    let server = MockServer::start().await;
    let body = v2_body(SUCCESS_INNER, &keys().platform).replace("88.88", "0.01");
    mount_v2(&server, body, "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature), "{v}");
}

#[tokio::test]
async fn v2_duplicate_response_key_is_refused() {
    let server = MockServer::start().await;
    let forged = r#"{"code":"10000","msg":"Success","trade_no":"X","out_trade_no":"Y","trade_status":"TRADE_SUCCESS","total_amount":"0.01"}"#;
    let genuine = v2_body(SUCCESS_INNER, &keys().platform);
    // A second answer appended under the same key, where a lenient parser would read it.
    let body = genuine.replacen(
        ",\"sign\":",
        &format!(",\"alipay_trade_query_response\":{forged},\"sign\":"),
        1,
    );
    mount_v2(&server, body, "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(
        matches!(
            v,
            VerificationError::V2Shape(tradeq_wire::alipay::v2::ExtractError::DuplicateKey(_))
        ),
        "{v}"
    );
}

#[tokio::test]
async fn v2_text_between_object_and_sign_is_refused() {
    let server = MockServer::start().await;
    let body = v2_body(SUCCESS_INNER, &keys().platform).replacen(
        ",\"sign\":",
        ",\"alipay_cert_sn\":\"abc\",\"sign\":",
        1,
    );
    mount_v2(&server, body, "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::V2Shape(_)), "{v}");

    let server = MockServer::start().await;
    let body = format!("{} ", v2_body(SUCCESS_INNER, &keys().platform)) + "trailing";
    mount_v2(&server, body, "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::V2Shape(_)), "{v}");
}

#[tokio::test]
async fn v2_unsigned_error_is_an_unverified_gateway_error_and_unsigned_success_is_refused() {
    let server = MockServer::start().await;
    let body = r#"{"alipay_trade_query_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}"#;
    mount_v2(&server, body, "application/json;charset=utf-8").await;
    match v2_client(&server).trade_query(&query()).await {
        Err(Error::Gateway(e)) => {
            assert_eq!(e.authenticity, Authenticity::Unsigned);
            assert_eq!(e.code, "40002");
            assert_eq!(e.sub_code.as_deref(), Some("isv.invalid-app-id"));
            assert!(e.to_string().contains("not verified"));
        }
        other => panic!("{other:?}"),
    }
    // An unsigned *business* answer is still only an unverified gateway error.
    let server = MockServer::start().await;
    let body = r#"{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}}"#;
    mount_v2(&server, body, "application/json").await;
    let r = v2_client(&server).trade_query(&query()).await;
    assert!(
        matches!(&r, Err(Error::Gateway(e)) if e.authenticity == Authenticity::Unsigned),
        "{r:?}"
    );

    let server = MockServer::start().await;
    let body = format!("{{\"alipay_trade_query_response\":{SUCCESS_INNER}}}");
    mount_v2(&server, body, "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::Unsigned), "{v}");
}

#[tokio::test]
async fn v2_wrong_key_signature_is_refused() {
    let server = MockServer::start().await;
    mount_v2(
        &server,
        v2_body(SUCCESS_INNER, &keys().other),
        "application/json",
    )
    .await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));

    // A signed *error* with the wrong key is refused too, not reported as an error answer.
    let server = MockServer::start().await;
    let inner = r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#;
    mount_v2(&server, v2_body(inner, &keys().other), "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));

    // A SHA-1 signature while RSA2 was asked for (the official Python SDK would accept it).
    let server = MockServer::start().await;
    let sig = rsa_sign(&keys().platform, SignType::Rsa, SUCCESS_INNER.as_bytes()).unwrap();
    let body = envelope("alipay_trade_query_response", SUCCESS_INNER, Some(&sig));
    mount_v2(&server, body, "application/json").await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));
}

#[tokio::test]
async fn v2_signed_errors_are_typed() {
    let server = MockServer::start().await;
    let inner = r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在","out_trade_no":"X"}"#;
    mount_v2(
        &server,
        v2_body(inner, &keys().platform),
        "application/json",
    )
    .await;
    match v2_client(&server).trade_query(&query()).await {
        Err(Error::Business(e)) => {
            assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");
            assert_eq!(e.sub_msg.as_deref(), Some("交易不存在"));
            assert_eq!(e.authenticity, Authenticity::Verified);
            assert!(e.body.contains("\"out_trade_no\":\"X\""));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "never retried"
    );

    for (code, sub) in [
        ("40002", "isv.invalid-signature"),
        ("40001", "isv.missing-signature"),
        ("20001", "aop.invalid-app-auth-token"),
        ("40006", "isv.insufficient-isv-permissions"),
    ] {
        let server = MockServer::start().await;
        let inner = format!(r#"{{"code":"{code}","msg":"m","sub_code":"{sub}","sub_msg":"s"}}"#);
        mount_v2(
            &server,
            v2_body(&inner, &keys().platform),
            "application/json",
        )
        .await;
        match v2_client(&server).trade_query(&query()).await {
            Err(Error::Gateway(e)) => {
                assert_eq!((e.code.as_str(), e.reason()), (code, sub));
                assert_eq!(e.authenticity, Authenticity::Verified);
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    // `error_response` (unknown method), signed.
    let server = MockServer::start().await;
    let inner = r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-method","sub_msg":"不存在的方法名"}"#;
    let body = envelope(
        "error_response",
        inner,
        Some(&sign_v2(&keys().platform, inner.as_bytes())),
    );
    mount_v2(&server, body, "application/json").await;
    let r = v2_client(&server).call("alipay.no.such", &json!({})).await;
    assert!(
        matches!(&r, Err(Error::Gateway(e)) if e.reason() == "isv.invalid-method"),
        "{r:?}"
    );
}

#[tokio::test]
async fn v2_gbk_bodies() {
    let inner = r#"{"code":"10000","msg":"Success","trade_no":"T","out_trade_no":"O","trade_status":"TRADE_SUCCESS","total_amount":"1.00","store_name":"证大五道口店","subject":"€ 中文"}"#;
    let gbk = |s: &str| Charset::Gbk.encode(s);
    let gbk_client = |server: &MockServer| {
        let mut c = alipay_config(server);
        c.charset = Charset::Gbk;
        AlipayV2Client::new(c).unwrap()
    };

    // Signed over the GBK bytes, sent in GBK: accepted, decoded.
    let server = MockServer::start().await;
    let sig = sign_v2(&keys().platform, &gbk(inner));
    let body = gbk(&envelope("alipay_trade_query_response", inner, Some(&sig)));
    assert!(
        std::str::from_utf8(&body).is_err(),
        "the body really is GBK"
    );
    mount_v2(&server, body, "application/json;charset=gbk").await;
    let trade = gbk_client(&server).trade_query(&query()).await.unwrap();
    assert_eq!(trade.store_name.as_deref(), Some("证大五道口店"));
    assert_eq!(trade.subject.as_deref(), Some("€ 中文"));
    // The request went out in GBK, and its signature verifies over the GBK string.
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].url.query().unwrap().contains("charset=gbk"));
    let params = request_params(&reqs[0], Charset::Gbk);
    let sign = params.iter().find(|(k, _)| k == "sign").unwrap().1.clone();
    v2_verify_request(
        &public_from_private(&keys().app).unwrap(),
        SignType::Rsa2,
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &sign,
        Charset::Gbk,
    )
    .unwrap();

    // GBK body signed over the UTF-8 bytes of the text: refused.
    let server = MockServer::start().await;
    let sig = sign_v2(&keys().platform, inner.as_bytes());
    mount_v2(
        &server,
        gbk(&envelope("alipay_trade_query_response", inner, Some(&sig))),
        "application/json;charset=gbk",
    )
    .await;
    let v = expect_verification(gbk_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));

    // GBK bytes labelled UTF-8: refused as undecodable, never "repaired".
    let server = MockServer::start().await;
    let sig = sign_v2(&keys().platform, &gbk(inner));
    mount_v2(
        &server,
        gbk(&envelope("alipay_trade_query_response", inner, Some(&sig))),
        "application/json;charset=utf-8",
    )
    .await;
    let v = expect_verification(v2_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::Charset(_)), "{v}");

    // Bytes that are not GBK at all.
    let server = MockServer::start().await;
    let mut body = gbk(&envelope("alipay_trade_query_response", inner, Some(&sig)));
    body.insert(40, 0xFF);
    mount_v2(&server, body, "application/json;charset=gbk").await;
    let v = expect_verification(gbk_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::Charset(_)), "{v}");
}

#[tokio::test]
async fn v2_retries_temporary_failures_only() {
    let server = MockServer::start().await;
    let busy = r#"{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error","sub_msg":"系统繁忙"}"#;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(v2_body(busy, &keys().platform), "application/json"),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_v2(
        &server,
        v2_body(SUCCESS_INNER, &keys().platform),
        "application/json",
    )
    .await;
    let trade = v2_client(&server).trade_query(&query()).await.unwrap();
    assert_eq!(trade.trade_no, "2013112011001004330000121536");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    // Each attempt is signed afresh (the signature covers the timestamp, which may repeat
    // within a second, so only check each one verifies).
    for r in &reqs {
        let params = request_params(r, Charset::Utf8);
        let sign = params.iter().find(|(k, _)| k == "sign").unwrap().1.clone();
        v2_verify_request(
            &public_from_private(&keys().app).unwrap(),
            SignType::Rsa2,
            params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &sign,
            Charset::Utf8,
        )
        .unwrap();
    }

    // Exhausted: the last error comes back, after 1 + max_retries attempts.
    let server = MockServer::start().await;
    let sys = r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SYSTEM_ERROR","sub_msg":"系统错误"}"#;
    mount_v2(&server, v2_body(sys, &keys().platform), "application/json").await;
    let r = v2_client(&server).trade_query(&query()).await;
    assert!(
        matches!(&r, Err(Error::Business(e)) if e.reason() == "ACQ.SYSTEM_ERROR"),
        "{r:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 4);

    // A signature failure is never retried.
    let server = MockServer::start().await;
    mount_v2(&server, v2_body(busy, &keys().other), "application/json").await;
    let r = v2_client(&server).trade_query(&query()).await;
    assert!(matches!(r, Err(Error::Verification(_))));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn v2_transport_failures() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    let r = v2_client(&server).trade_query(&query()).await;
    assert!(
        matches!(
            &r,
            Err(Error::Transport(TransportError::Status { status: 502, .. }))
        ),
        "{r:?}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(v2_body(SUCCESS_INNER, &keys().platform), "application/json")
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;
    let mut c = alipay_config(&server);
    c.options.timeout = Duration::from_millis(300);
    let r = AlipayV2Client::new(c).unwrap().trade_query(&query()).await;
    match r {
        Err(Error::Transport(t)) => assert!(t.is_timeout(), "{t}"),
        other => panic!("{other:?}"),
    }

    let server = MockServer::start().await;
    mount_v2(&server, vec![b' '; 4096], "application/json").await;
    let mut c = alipay_config(&server);
    c.options.max_response_bytes = 1024;
    let r = AlipayV2Client::new(c).unwrap().trade_query(&query()).await;
    assert!(
        matches!(r, Err(Error::Transport(TransportError::TooLarge(1024)))),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_signed_url() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut c = AlipayConfig::new(
        format!("http://127.0.0.1:{port}"),
        APP_ID,
        private_key_to_pkcs1_pem(&keys().app).unwrap(),
        platform_public_pem(),
    );
    c.options.retry = fast_retry(0);
    let r = AlipayV2Client::new(c).unwrap().trade_query(&query()).await;
    let Err(err) = r else { panic!("{r:?}") };
    let text = err.to_string();
    assert!(
        text.contains(&format!("cannot connect to http://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    // The URL carries the signature (and, for TOP, the session): it must not be repeated.
    assert!(
        !text.contains("sign=") && !text.contains("gateway.do"),
        "{text}"
    );
    assert!(!format!("{err:?}").contains("sign="), "{err:?}");
}

#[tokio::test]
async fn v2_aes_round_trip() {
    let server = MockServer::start().await;
    let aes_key = "aGVsbG8td29ybGQtMTIzNA=="; // 16 bytes
    let ct = tradeq_wire::alipay::aes::aes_encrypt(aes_key, SUCCESS_INNER.as_bytes()).unwrap();
    let signed = tradeq_wire::alipay::v2::signed_content_for_encrypted(&ct);
    let body = tradeq_wire::alipay::v2::envelope_encrypted(
        "alipay_trade_query_response",
        &ct,
        Some(&sign_v2(&keys().platform, signed.as_bytes())),
    );
    mount_v2(&server, body, "application/json").await;
    let mut c = alipay_config(&server);
    c.aes_key = Some(aes_key.into());
    let trade = AlipayV2Client::new(c)
        .unwrap()
        .trade_query(&query())
        .await
        .unwrap();
    assert_eq!(trade.total_amount.as_str(), "88.88");
    let reqs = server.received_requests().await.unwrap();
    let params = request_params(&reqs[0], Charset::Utf8);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("encrypt_type").as_deref(), Some("AES"));
    let plain =
        tradeq_wire::alipay::aes::aes_decrypt(aes_key, &get("biz_content").unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        r#"{"out_trade_no":"6823789339978248"}"#
    );
}

#[tokio::test]
async fn v2_koubei_amounts_keep_their_text() {
    let server = MockServer::start().await;
    let inner = r#"{"code":"10000","msg":"Success","order_no":"1","out_order_no":"2","partner_id":"3","status":"SUCCESS","buyer_id":"4","biz_product":"ONLINE_TRADE_PAY","gmt_create":"2016-09-29 00:00:00","gmt_modified":"2016-09-29 00:00:00","total_amount":25.00,"real_pay_amount":20.00,"deliver_seller_real_amount":5.00,"item_order_vo":[{"item_order_no":"5","sku_id":"6","quantity":2,"price":10.00}]}"#;
    let body = envelope(
        "koubei_trade_itemorder_query_response",
        inner,
        Some(&sign_v2(&keys().platform, inner.as_bytes())),
    );
    mount_v2(&server, body, "application/json").await;
    let order = v2_client(&server)
        .koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new("1"))
        .await
        .unwrap();
    assert_eq!(order.total_amount.as_str(), "25.00");
    assert_eq!(order.item_order_vo[0].price.to_minor_units(2), Some(1000));
}

// ---------------------------------------------------------------------------------------------
// Configuration and the protocol documents' vectors
// ---------------------------------------------------------------------------------------------

#[test]
fn app_public_key_given_as_alipay_key_is_a_named_configuration_error() {
    let app_public = public_from_private(&keys().app).unwrap();
    for public in [
        public_key_to_spki_pem(&app_public).unwrap(),
        public_key_to_spki_base64(&app_public).unwrap(),
    ] {
        let c = AlipayConfig::new(
            "http://127.0.0.1:1",
            APP_ID,
            private_key_to_pkcs8_pem(&keys().app).unwrap(),
            public,
        );
        for err in [
            AlipayV2Client::new(c.clone()).unwrap_err(),
            AlipayV3Client::new(c).unwrap_err(),
        ] {
            assert!(
                matches!(err, Error::Config(ConfigError::AppKeyAsAlipayKey)),
                "{err}"
            );
            assert!(err.to_string().contains("Alipay public key"), "{err}");
        }
    }
}

/// A.2: the client's string-to-sign for the document's parameters is the document's string, and
/// the official SDK's signature of the document verifies over it; the body is what the official
/// Python SDK sends.
#[test]
fn a2_string_to_sign_matches_the_document() {
    let c = AlipayConfig::new(
        "http://127.0.0.1:1",
        APP_ID,
        private_key_to_pkcs1_pem(&keys().app).unwrap(),
        vectors::A3_ALIPAY_PUBLIC_PEM,
    );
    let client = AlipayV2Client::new(c).unwrap();
    let req = client
        .sign_request(
            "alipay.trade.query",
            Some(r#"{"out_trade_no":"T1 中文"}"#),
            &[],
            "2024-01-01 12:00:00",
        )
        .unwrap();
    assert_eq!(req.sign_content, vectors::A2_SIGN_CONTENT);
    let doc_key = parse_public_key(vectors::A2_APP_PUBLIC_PEM).unwrap();
    assert!(rsa_verify(
        &doc_key,
        SignType::Rsa2,
        req.sign_content.as_bytes(),
        vectors::A2_SIGN
    ));
    let body = tradeq_wire::params::encode_form(
        req.body.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        Charset::Utf8,
    );
    assert_eq!(body, vectors::A2_BODY);
    // Every parameter of the Python SDK's URL is in ours, with the same value.
    let pyo = parse_form(vectors::a2_query().as_bytes(), Charset::Utf8).unwrap();
    for (k, v) in pyo.iter().filter(|(k, _)| k != "sign") {
        assert_eq!(req.param(k), Some(v.as_str()), "{k}");
    }
}

/// A.3: the document's response (signed by the official tooling) verifies in the client.
#[tokio::test]
async fn a3_response_verifies() {
    let server = MockServer::start().await;
    mount_v2(
        &server,
        vectors::A3_RESPONSE,
        "application/json;charset=utf-8",
    )
    .await;
    let mut c = alipay_config(&server);
    c.alipay_public_key = vectors::A3_ALIPAY_PUBLIC_PEM.into();
    let trade = AlipayV2Client::new(c)
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("T1"))
        .await
        .unwrap();
    assert_eq!(trade.trade_no, "2024010122001446880500000001");
    assert_eq!(trade.buyer_pay_amount.unwrap().as_str(), "0.00");

    // One changed byte and it no longer does.
    let server = MockServer::start().await;
    mount_v2(
        &server,
        vectors::A3_RESPONSE.replace("88.88", "88.89"),
        "application/json",
    )
    .await;
    let mut c = alipay_config(&server);
    c.alipay_public_key = vectors::A3_ALIPAY_PUBLIC_PEM.into();
    let v = expect_verification(
        AlipayV2Client::new(c)
            .unwrap()
            .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("T1"))
            .await,
    );
    assert!(matches!(v, VerificationError::BadSignature));
}

/// B.1: the client's v3 string-to-sign for the document's request is the document's, and the
/// document's signature (Node SDK) verifies over it.
#[test]
fn b1_string_to_sign_matches_the_document() {
    let c = AlipayConfig::new(
        "http://127.0.0.1:1",
        APP_ID,
        private_key_to_pkcs1_pem(&keys().app).unwrap(),
        vectors::A3_ALIPAY_PUBLIC_PEM,
    );
    let client = AlipayV3Client::new(c).unwrap();
    let req = client
        .sign_request(
            "POST",
            "alipay.trade.query",
            &[],
            r#"{"out_trade_no":"T1"}"#,
            "1704081600000",
            "5f2b8c4e-1d3a-4b7e-9c11-0a1b2c3d4e5f",
        )
        .unwrap();
    assert_eq!(req.sign_content, vectors::B1_SIGN_CONTENT);
    let doc = parse_authorization(vectors::B1_AUTHORIZATION).unwrap();
    assert_eq!(req.auth_string, doc.auth_string);
    let doc_key = parse_public_key(vectors::A2_APP_PUBLIC_PEM).unwrap();
    assert!(rsa_verify(
        &doc_key,
        SignType::Rsa2,
        req.sign_content.as_bytes(),
        &doc.sign
    ));
    // The client's own header parses as the gateway parses it.
    let mine = parse_authorization(&req.authorization).unwrap();
    assert_eq!(mine.app_id, APP_ID);
    assert_eq!(mine.timestamp_ms, 1_704_081_600_000);
}

// ---------------------------------------------------------------------------------------------
// v3
// ---------------------------------------------------------------------------------------------

fn v3_client(server: &MockServer) -> AlipayV3Client {
    AlipayV3Client::new(alipay_config(server)).unwrap()
}

fn v3_answer(status: u16, body: &str, key: Option<&PKey<Private>>) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(status)
        .set_body_raw(body.as_bytes().to_vec(), "application/json;charset=utf-8")
        .insert_header("alipay-trace-id", "trace-1");
    if let Some(key) = key {
        let ts = "1717756911576";
        let nonce = "n0nce";
        let sig = rsa_sign(
            key,
            SignType::Rsa2,
            &response_sign_content(ts, nonce, body.as_bytes()),
        )
        .unwrap();
        t = t
            .insert_header("alipay-timestamp", ts)
            .insert_header("alipay-nonce", nonce)
            .insert_header("alipay-signature", sig.as_str());
    }
    t
}

async fn mount_v3(server: &MockServer, t: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v3/alipay/trade/query"))
        .respond_with(t)
        .mount(server)
        .await;
}

const V3_BODY: &str = r#"{"trade_no":"2013112011001004330000121536","out_trade_no":"6823789339978248","trade_status":"TRADE_CLOSED","total_amount":"88.88"}"#;

#[tokio::test]
async fn v3_genuine_answer_and_request_signature() {
    let server = MockServer::start().await;
    mount_v3(&server, v3_answer(200, V3_BODY, Some(&keys().platform))).await;
    let mut c = alipay_config(&server);
    c.app_auth_token = Some("tok123".into());
    let trade = AlipayV3Client::new(c)
        .unwrap()
        .trade_query(&query())
        .await
        .unwrap();
    assert_eq!(trade.trade_status, "TRADE_CLOSED");

    let reqs = server.received_requests().await.unwrap();
    let req = &reqs[0];
    let header = |k: &str| {
        req.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("alipay-app-auth-token"), "tok123");
    let auth = parse_authorization(header("authorization")).unwrap();
    let target = match req.url.query() {
        Some(q) => format!("{}?{q}", req.url.path()),
        None => req.url.path().to_string(),
    };
    let content = request_sign_content(
        &auth.auth_string,
        "POST",
        &target,
        &req.body,
        Some("tok123"),
    );
    assert!(rsa_verify(
        &public_from_private(&keys().app).unwrap(),
        SignType::Rsa2,
        &content,
        &auth.sign
    ));
    assert_eq!(req.body, br#"{"out_trade_no":"6823789339978248"}"#);
}

#[tokio::test]
async fn v3_tampered_unsigned_and_wrong_key_answers_are_refused() {
    // Tampered: signed over one body, another sent.
    let server = MockServer::start().await;
    let t = v3_answer(200, V3_BODY, Some(&keys().platform));
    let t = t.set_body_raw(
        V3_BODY.replace("88.88", "0.01").into_bytes(),
        "application/json",
    );
    mount_v3(&server, t).await;
    let v = expect_verification(v3_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));

    // No signature headers on a success.
    let server = MockServer::start().await;
    mount_v3(&server, v3_answer(200, V3_BODY, None)).await;
    let v = expect_verification(v3_client(&server).trade_query(&query()).await);
    assert!(
        matches!(v, VerificationError::MissingHeader("alipay-signature")),
        "{v}"
    );

    // Signature without its timestamp header.
    let server = MockServer::start().await;
    let t = ResponseTemplate::new(200)
        .set_body_raw(V3_BODY.as_bytes().to_vec(), "application/json")
        .insert_header("alipay-signature", "abc")
        .insert_header("alipay-nonce", "n");
    mount_v3(&server, t).await;
    let v = expect_verification(v3_client(&server).trade_query(&query()).await);
    assert!(
        matches!(v, VerificationError::MissingHeader("alipay-timestamp")),
        "{v}"
    );

    // Another key.
    let server = MockServer::start().await;
    mount_v3(&server, v3_answer(200, V3_BODY, Some(&keys().other))).await;
    let v = expect_verification(v3_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));

    // An error signed with another key.
    let server = MockServer::start().await;
    let err = r#"{"code":"ACQ.TRADE_NOT_EXIST","message":"交易不存在","links":[]}"#;
    mount_v3(&server, v3_answer(400, err, Some(&keys().other))).await;
    let v = expect_verification(v3_client(&server).trade_query(&query()).await);
    assert!(matches!(v, VerificationError::BadSignature));
}

#[tokio::test]
async fn v3_errors_are_typed() {
    let server = MockServer::start().await;
    let err = r#"{"code":"ACQ.TRADE_NOT_EXIST","message":"交易不存在","links":[{"link":"https://open.alipay.com/api/errCheck?traceId=t","desc":"解决方案"}]}"#;
    mount_v3(&server, v3_answer(400, err, Some(&keys().platform))).await;
    match v3_client(&server).trade_query(&query()).await {
        Err(Error::Business(e)) => {
            assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");
            assert_eq!(e.http_status, Some(400));
            assert_eq!(e.authenticity, Authenticity::Verified);
            assert_eq!(e.trace_id.as_deref(), Some("trace-1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    let server = MockServer::start().await;
    let err = r#"{"code":"invalid-app-id","message":"无效的AppID参数","links":[]}"#;
    mount_v3(&server, v3_answer(401, err, None)).await;
    match v3_client(&server).trade_query(&query()).await {
        Err(Error::Gateway(e)) => {
            assert_eq!(e.code, "invalid-app-id");
            assert_eq!(e.authenticity, Authenticity::Unsigned);
        }
        other => panic!("{other:?}"),
    }

    // Unsigned business error: only an unverified gateway error.
    let server = MockServer::start().await;
    let err = r#"{"code":"ACQ.TRADE_NOT_EXIST","message":"交易不存在"}"#;
    mount_v3(&server, v3_answer(400, err, None)).await;
    let r = v3_client(&server).trade_query(&query()).await;
    assert!(
        matches!(&r, Err(Error::Gateway(e)) if e.authenticity == Authenticity::Unsigned),
        "{r:?}"
    );

    // A proxy's HTML error page.
    let server = MockServer::start().await;
    mount_v3(
        &server,
        ResponseTemplate::new(503).set_body_string("<html>busy</html>"),
    )
    .await;
    let r = v3_client(&server).trade_query(&query()).await;
    assert!(matches!(
        r,
        Err(Error::Transport(TransportError::Status { status: 503, .. }))
    ));
}

#[tokio::test]
async fn v3_retries_system_errors_with_fresh_nonces() {
    let server = MockServer::start().await;
    let sys = r#"{"code":"ACQ.SYSTEM_ERROR","message":"系统错误"}"#;
    Mock::given(method("POST"))
        .respond_with(v3_answer(500, sys, Some(&keys().platform)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_v3(&server, v3_answer(200, V3_BODY, Some(&keys().platform))).await;
    v3_client(&server).trade_query(&query()).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    let nonce = |r: &Request| {
        parse_authorization(r.headers.get("authorization").unwrap().to_str().unwrap())
            .unwrap()
            .nonce
    };
    assert_ne!(nonce(&reqs[0]), nonce(&reqs[1]));
}

/// B.2: the document's v3 response verifies in the client.
#[tokio::test]
async fn b2_response_verifies() {
    let server = MockServer::start().await;
    let t = ResponseTemplate::new(200)
        .set_body_raw(vectors::B2_BODY.as_bytes().to_vec(), "application/json")
        .insert_header("alipay-timestamp", vectors::B2_TIMESTAMP)
        .insert_header("alipay-nonce", vectors::B2_NONCE)
        .insert_header("alipay-signature", vectors::B2_SIGN);
    mount_v3(&server, t).await;
    let mut c = alipay_config(&server);
    c.alipay_public_key = vectors::A3_ALIPAY_PUBLIC_PEM.into();
    let trade = AlipayV3Client::new(c)
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("T1"))
        .await
        .unwrap();
    assert_eq!(trade.total_amount.as_str(), "88.88");
    assert_eq!(trade.trade_status, "TRADE_SUCCESS");
}

// ---------------------------------------------------------------------------------------------
// TOP
// ---------------------------------------------------------------------------------------------

fn top_client(server: &MockServer, format: TopFormat) -> TopClient {
    let mut c = TopConfig::new(server.uri(), "12345678", "helloworld");
    c.session = Some("sess".into());
    c.format = format;
    c.options.retry = fast_retry(3);
    TopClient::new(c).unwrap()
}

async fn mount_top(server: &MockServer, body: &str, content_type: &str) {
    Mock::given(method("POST"))
        .and(path("/router/rest"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), content_type),
        )
        .mount(server)
        .await;
}

const ONSITE_JSON: &str = r#"{"alibaba_xlife_onsite_trade_query_response":{"onsite_trade_query_response":{"buyer_id":"2088102122524333","buyer_nick":"59****5620","out_trade_no":"6823789339978248","gmt_query":"2015-11-27 15:50:53","store_name":"炉鱼城西银泰店","store_received_fund_bill_list":{"fund_bill":[{"amount":9000,"sub_fund_channel":"alipay_financeaccount","fund_channel":"alipay"}]},"store_pending_fund_bill_list":{},"total_amount":88888,"trade_no":"2013112011001004330000121536","trade_status":"TRADE_SUCCESS"},"request_id":"zzp0c5fj10y3"}}"#;

#[tokio::test]
async fn top_json_answer_and_request_signature() {
    let server = MockServer::start().await;
    mount_top(&server, ONSITE_JSON, "text/javascript;charset=UTF-8").await;
    let r = top_client(&server, TopFormat::Json)
        .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_short_trade_no("77778888"))
        .await
        .unwrap();
    let t = r.onsite_trade_query_response;
    assert_eq!(t.total_amount, 88888);
    assert_eq!(t.store_received_fund_bill_list[0].amount, 9000);
    assert!(t.store_pending_fund_bill_list.is_empty());

    let reqs = server.received_requests().await.unwrap();
    let params = request_params(&reqs[0], Charset::Utf8);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("v").as_deref(), Some("2.0"));
    assert_eq!(get("format").as_deref(), Some("json"));
    assert_eq!(get("session").as_deref(), Some("sess"));
    assert_eq!(get("sign_method").as_deref(), Some("hmac-sha256"));
    assert!(tradeq_wire::time::parse_gmt8(&get("timestamp").unwrap()).is_some());
    assert!(reqs[0].url.query().unwrap().contains("sign="));
    assert_eq!(
        String::from_utf8_lossy(&reqs[0].body),
        "short_trade_no=77778888"
    );
    assert!(tradeq_wire::top::verify(
        "helloworld",
        SignMethod::HmacSha256,
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &get("sign").unwrap()
    ));
}

#[tokio::test]
async fn top_xml_and_simplified_answers() {
    let xml = r#"<?xml version="1.0" encoding="utf-8" ?><alibaba_omni_order_query_response><result><model><order_id>108717674563804955</order_id><out_order_id>12348</out_order_id><o2o_guide_id>3031798632</o2o_guide_id><can_close>true</can_close><subpay_order_list list="true"><sub_pay_order_detail><step_no>1</step_no><subpay_order_id>2</subpay_order_id><pay_status>3</pay_status><pay_type>4</pay_type><total_fee>500</total_fee><disburse_status>DONE</disburse_status></sub_pay_order_detail></subpay_order_list></model><success>true</success></result><request_id>abc</request_id></alibaba_omni_order_query_response><!--top010179080184.s.et2-->"#;
    let server = MockServer::start().await;
    mount_top(&server, xml, "text/xml;charset=UTF-8").await;
    let req = OmniOrderQueryRequest {
        user_id: "3031798632".into(),
        order_id: "108717674563804955".into(),
        out_order_id: "12348".into(),
    };
    let order = top_client(&server, TopFormat::Xml)
        .omni_order_query(&req)
        .await
        .unwrap();
    assert_eq!(order.o2o_guide_id, 3_031_798_632);
    assert_eq!(order.can_close, Some(true));
    assert_eq!(order.subpay_order_list[0].total_fee, 500);

    let server = MockServer::start().await;
    let simple = r#"{"result":{"success":false,"msg_code":"daogoubao.order-not-exist","msg_info":"订单不存在"},"request_id":"x"}"#;
    mount_top(&server, simple, "text/javascript;charset=UTF-8").await;
    let client = top_client(&server, TopFormat::Json)
        .with_format(TopFormat::Json, true)
        .unwrap();
    match client.omni_order_query(&req).await {
        Err(Error::Business(e)) => {
            assert_eq!(e.reason(), "daogoubao.order-not-exist");
            assert_eq!(e.authenticity, Authenticity::NotSigned);
        }
        other => panic!("{other:?}"),
    }
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].url.query().unwrap().contains("simplify=true"));
}

#[tokio::test]
async fn top_errors_are_typed_and_bad_bodies_refused() {
    let server = MockServer::start().await;
    let body = r#"{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isp.TRADE_ORDER_NOT_FOUND","sub_msg":"交易订单未找到","request_id":"r1"}}"#;
    mount_top(&server, body, "text/javascript;charset=UTF-8").await;
    match top_client(&server, TopFormat::Json)
        .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no("x"))
        .await
    {
        Err(Error::Business(e)) => {
            assert_eq!(
                (e.code.as_str(), e.reason()),
                ("50", "isp.TRADE_ORDER_NOT_FOUND")
            );
            assert_eq!(e.trace_id.as_deref(), Some("r1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not-found is not retried"
    );

    let server = MockServer::start().await;
    let body = r#"<?xml version="1.0" encoding="utf-8" ?><error_response><code>25</code><msg>Invalid signature</msg><request_id>q</request_id></error_response>"#;
    mount_top(&server, body, "text/xml;charset=UTF-8").await;
    let r = top_client(&server, TopFormat::Xml)
        .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no("x"))
        .await;
    assert!(
        matches!(&r, Err(Error::Gateway(e)) if e.code == "25"),
        "{r:?}"
    );

    // Another method's answer, two roots, not JSON, a non-200 status.
    for body in [
        r#"{"alibaba_omni_order_query_response":{"result":{}}}"#,
        r#"{"alibaba_xlife_onsite_trade_query_response":{},"x":{}}"#,
        "<html>",
    ] {
        let server = MockServer::start().await;
        mount_top(&server, body, "text/javascript;charset=UTF-8").await;
        let v = expect_verification(
            top_client(&server, TopFormat::Json)
                .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no("x"))
                .await,
        );
        assert!(matches!(v, VerificationError::TopShape(_)), "{v}");
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string(ONSITE_JSON))
        .mount(&server)
        .await;
    let r = top_client(&server, TopFormat::Json)
        .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no("x"))
        .await;
    assert!(matches!(
        r,
        Err(Error::Transport(TransportError::Status { status: 500, .. }))
    ));
}

#[tokio::test]
async fn top_retries_isp_system_errors() {
    let server = MockServer::start().await;
    let busy = r#"{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isp.SYSTEM_ERROR","sub_msg":"系统异常"}}"#;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(busy.as_bytes().to_vec(), "text/javascript"),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_top(&server, ONSITE_JSON, "text/javascript;charset=UTF-8").await;
    let r = top_client(&server, TopFormat::Json)
        .call("alibaba.xlife.onsite.trade.query", &[("trade_no", "x")])
        .await
        .unwrap();
    assert_eq!(
        r.value["onsite_trade_query_response"]["total_amount"],
        Value::from(88888)
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}
