//! The Rust client (`tradeq-client`) and `tradeq query` against a real `tradeq serve --demo`:
//! all five methods over their protocols, success and error paths, every key encoding, GBK, AES,
//! RSA (SHA-1), the three TOP digests and answer styles; plus cross-checks of the client's
//! signatures with the official SDKs' own code when the conformance toolchain is installed.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use support::TestServer;
use tradeq_client::model::{
    AlipayTradeQueryRequest, KoubeiTradeItemorderQueryRequest, OmniOrderQueryRequest,
    XlifeOnsiteTradeQueryRequest,
};
use tradeq_client::{
    AlipayConfig, AlipayV2Client, AlipayV3Client, Authenticity, Charset, Credentials, Error,
    RetryPolicy, SignMethod, SignType, TopClient, TopConfig, TopFormat, VerificationError,
};

const TRADE_NO: &str = "2013112011001004330000121536";
const OUT_TRADE_NO: &str = "6823789339978248";
const ORDER_NO: &str = "20160831001040010900010000000001";

fn creds(server: &TestServer) -> Credentials {
    Credentials::load(server.credentials_path()).expect("demo credentials")
}

fn no_retry(mut c: AlipayConfig) -> AlipayConfig {
    c.options.retry = RetryPolicy::none();
    c.options.timeout = Duration::from_secs(20);
    c
}

fn alipay(server: &TestServer) -> AlipayConfig {
    let mut c = no_retry(creds(server).alipay_config().expect("alipay config"));
    c.gateway_url = server.base_url();
    c
}

fn top(server: &TestServer) -> TopConfig {
    let mut c = creds(server).top_config().expect("top config");
    c.gateway_url = server.base_url();
    c.options.retry = RetryPolicy::none();
    c.options.timeout = Duration::from_secs(20);
    c
}

fn business(r: Result<impl std::fmt::Debug, Error>) -> Box<tradeq_client::PlatformError> {
    match r {
        Err(Error::Business(e)) => e,
        other => panic!("expected a business error, got {other:?}"),
    }
}

fn gateway(r: Result<impl std::fmt::Debug, Error>) -> Box<tradeq_client::PlatformError> {
    match r {
        Err(Error::Gateway(e)) => e,
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alipay_v2_both_methods_success_and_errors() {
    let server = TestServer::start_demo(None, &[]);
    let client = AlipayV2Client::new(alipay(&server)).unwrap();

    // alipay.trade.query, by either key, with an optional block.
    let t = client
        .trade_query(
            &AlipayTradeQueryRequest::by_out_trade_no(OUT_TRADE_NO)
                .with_query_options(["fund_bill_list", "trade_settle_info"]),
        )
        .await
        .unwrap();
    assert_eq!(t.trade_no, TRADE_NO);
    assert_eq!(t.total_amount.as_str(), "88.88");
    assert_eq!(t.buyer_logon_id.as_deref(), Some("159****5620"));
    assert!(!t.fund_bill_list.is_empty());
    assert!(t.trade_settle_info.is_some());
    let t2 = client
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t2.out_trade_no, OUT_TRADE_NO);
    assert!(t2.fund_bill_list.is_empty(), "only when asked for");

    // Not found / bad request: signed business errors, not retried.
    let e = business(
        client
            .trade_query(&AlipayTradeQueryRequest::by_trade_no("1999"))
            .await,
    );
    assert_eq!(
        (e.code.as_str(), e.reason()),
        ("40004", "ACQ.TRADE_NOT_EXIST")
    );
    assert_eq!(e.authenticity, Authenticity::Verified);
    let e = business(
        client
            .trade_query(&AlipayTradeQueryRequest::default())
            .await,
    );
    assert_eq!(e.reason(), "ACQ.INVALID_PARAMETER");

    // Through another merchant's app auth token, the owner's trade is not found.
    let token = creds(&server).alipay.unwrap().app_auth_tokens[0]
        .token
        .clone();
    let other = client.with_app_auth_token(Some(token)).unwrap();
    let e = business(
        other
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");
    let bad_token = client.with_app_auth_token(Some("nope".into())).unwrap();
    let e = gateway(
        bad_token
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(
        (e.code.as_str(), e.reason()),
        ("20001", "aop.invalid-app-auth-token")
    );

    // koubei.trade.itemorder.query.
    let o = client
        .koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new(ORDER_NO))
        .await
        .unwrap();
    assert_eq!(o.order_no, ORDER_NO);
    assert_eq!(o.total_amount.as_str(), "25.00");
    assert_eq!(o.item_order_vo[0].quantity, 2);
    let e = business(
        client
            .koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new("nope"))
            .await,
    );
    assert_eq!(e.reason(), "INVALID_PARAMETER");

    // Generic call: an unknown method is a signed gateway error under error_response.
    let e = gateway(client.call("alipay.trade.nope", &json!({})).await);
    assert_eq!(e.reason(), "isv.invalid-method");
}

#[tokio::test(flavor = "multi_thread")]
async fn alipay_v2_keys_charsets_sign_types_and_encryption() {
    let server = TestServer::start_demo(None, &[]);
    let c = creds(&server);
    let a = c.alipay.clone().unwrap();
    let q = AlipayTradeQueryRequest::by_out_trade_no(OUT_TRADE_NO);

    // Every private key encoding, and the one-line base64 public key.
    let one_line =
        |pem: &str| -> String { pem.lines().filter(|l| !l.starts_with("-----")).collect() };
    for private in [
        a.private_key.app_private_key_pkcs1_pem.clone().unwrap(),
        a.private_key.app_private_key_pkcs8_pem.clone().unwrap(),
        one_line(a.private_key.app_private_key_pkcs1_pem.as_deref().unwrap()),
        one_line(a.private_key.app_private_key_pkcs8_pem.as_deref().unwrap()),
    ] {
        let mut cfg = alipay(&server);
        cfg.app_private_key = private;
        cfg.alipay_public_key = one_line(&a.alipay_public_key_pem);
        let t = AlipayV2Client::new(cfg)
            .unwrap()
            .trade_query(&q)
            .await
            .unwrap();
        assert_eq!(t.trade_no, TRADE_NO);
    }

    // GBK both ways (the demo trade carries Chinese text), legacy RSA (SHA-1), AES.
    let mut cfg = alipay(&server);
    cfg.charset = Charset::Gbk;
    let gbk = AlipayV2Client::new(cfg).unwrap();
    let t = gbk.trade_query(&q).await.unwrap();
    assert_eq!(t.store_name.as_deref(), Some("证大五道口店"));
    let e = business(
        gbk.trade_query(&AlipayTradeQueryRequest::by_out_trade_no("订单-中文"))
            .await,
    );
    assert_eq!(e.sub_msg.as_deref(), Some("交易不存在"));
    assert_eq!(e.authenticity, Authenticity::Verified);
    let mut cfg = alipay(&server);
    cfg.sign_type = SignType::Rsa;
    AlipayV2Client::new(cfg)
        .unwrap()
        .trade_query(&q)
        .await
        .unwrap();
    let mut cfg = alipay(&server);
    cfg.aes_key = a.aes_key.clone();
    let t = AlipayV2Client::new(cfg)
        .unwrap()
        .trade_query(&q)
        .await
        .unwrap();
    assert_eq!(t.total_amount.as_str(), "88.88");

    // The app public key where Alipay's belongs: refused at construction, naming the mistake.
    let mut cfg = alipay(&server);
    cfg.alipay_public_key = a.app_public_key_pem.clone().unwrap();
    let err = AlipayV2Client::new(cfg).unwrap_err();
    assert!(err.to_string().contains("app's own public key"), "{err}");

    // Signed with a key the gateway does not know: its signed refusal.
    let stranger = tradeq_wire::alipay::keys::generate_rsa_2048().unwrap();
    let mut cfg = alipay(&server);
    cfg.app_private_key = tradeq_wire::alipay::keys::private_key_to_pkcs8_pem(&stranger).unwrap();
    cfg.app_public_key = None;
    let e = gateway(AlipayV2Client::new(cfg).unwrap().trade_query(&q).await);
    assert_eq!(
        (e.code.as_str(), e.reason()),
        ("40002", "isv.invalid-signature")
    );
    assert_eq!(e.authenticity, Authenticity::Verified);

    // An unknown app: the gateway cannot sign, the client reports it unverified.
    let mut cfg = alipay(&server);
    cfg.app_id = "2021999999999999".into();
    let e = gateway(AlipayV2Client::new(cfg).unwrap().trade_query(&q).await);
    assert_eq!(e.reason(), "isv.invalid-app-id");
    assert_eq!(e.authenticity, Authenticity::Unsigned);

    // Verifying with the wrong platform key: never a parsed answer.
    let other = tradeq_wire::alipay::keys::generate_rsa_2048().unwrap();
    let other_pub = tradeq_wire::alipay::keys::public_from_private(&other).unwrap();
    let mut cfg = alipay(&server);
    cfg.alipay_public_key = tradeq_wire::alipay::keys::public_key_to_spki_pem(&other_pub).unwrap();
    let r = AlipayV2Client::new(cfg).unwrap().trade_query(&q).await;
    assert!(
        matches!(r, Err(Error::Verification(VerificationError::BadSignature))),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alipay_v3_success_and_errors() {
    let server = TestServer::start_demo(None, &[]);
    let client = AlipayV3Client::new(alipay(&server)).unwrap();
    let t = client
        .trade_query(
            &AlipayTradeQueryRequest::by_trade_no(TRADE_NO).with_query_options(["fund_bill_list"]),
        )
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);
    assert!(!t.fund_bill_list.is_empty());
    // Same nonce never reused: two calls in a row both succeed.
    client
        .trade_query(&AlipayTradeQueryRequest::by_out_trade_no(OUT_TRADE_NO))
        .await
        .unwrap();

    let e = business(
        client
            .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("nope"))
            .await,
    );
    assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");
    assert_eq!(e.http_status, Some(400));
    assert_eq!(e.authenticity, Authenticity::Verified);
    let token = creds(&server).alipay.unwrap().app_auth_tokens[0]
        .token
        .clone();
    let e = business(
        client
            .with_app_auth_token(Some(token))
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");

    let mut cfg = alipay(&server);
    cfg.app_id = "2021999999999999".into();
    let e = gateway(
        AlipayV3Client::new(cfg)
            .unwrap()
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.code, "invalid-app-id");
    assert_eq!(e.authenticity, Authenticity::Unsigned);

    let stranger = tradeq_wire::alipay::keys::generate_rsa_2048().unwrap();
    let mut cfg = alipay(&server);
    cfg.app_private_key = tradeq_wire::alipay::keys::private_key_to_pkcs1_pem(&stranger).unwrap();
    cfg.app_public_key = None;
    let e = gateway(
        AlipayV3Client::new(cfg)
            .unwrap()
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.code, "invalid-signature");
    assert_eq!(e.authenticity, Authenticity::Verified);

    // GET with query parameters (the older SDK generation's shape) through the generic call.
    let r = client
        .call_raw("GET", "alipay.trade.query", &[("trade_no", TRADE_NO)], "")
        .await
        .unwrap();
    assert_eq!(r.value().unwrap()["out_trade_no"], OUT_TRADE_NO);
}

#[tokio::test(flavor = "multi_thread")]
async fn top_three_methods_success_and_errors() {
    let server = TestServer::start_demo(None, &[]);
    let client = TopClient::new(top(&server)).unwrap();

    // alibaba.xlife.onsite.trade.query, in every format and with every digest.
    for (format, simplify) in [
        (TopFormat::Json, false),
        (TopFormat::Json, true),
        (TopFormat::Xml, false),
    ] {
        for m in [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256] {
            let mut cfg = top(&server);
            cfg.sign_method = m;
            cfg.format = format;
            cfg.simplify = simplify;
            let r = TopClient::new(cfg)
                .unwrap()
                .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_short_trade_no(
                    "77778888",
                ))
                .await
                .unwrap_or_else(|e| panic!("{format:?} {simplify} {m:?}: {e}"));
            let t = r.onsite_trade_query_response;
            assert_eq!(t.trade_no, TRADE_NO);
            let received: i64 = t
                .store_received_fund_bill_list
                .iter()
                .map(|b| b.amount)
                .sum();
            let pending: i64 = t
                .store_pending_fund_bill_list
                .iter()
                .map(|b| b.amount)
                .sum();
            assert_eq!(t.store_total_received_fee, Some(received));
            assert_eq!(t.store_total_pending_fee, Some(pending));
            assert_eq!(t.store_total_receivable_fee, Some(received + pending));
        }
    }
    let e = business(
        client
            .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no("nope"))
            .await,
    );
    assert_eq!(
        (e.code.as_str(), e.reason()),
        ("50", "isp.TRADE_ORDER_NOT_FOUND")
    );
    let e = business(
        client
            .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::default())
            .await,
    );
    assert_eq!(e.reason(), "isv.INVALID_PARAMETER");
    let e = gateway(
        client
            .with_session(None)
            .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.code, "26");

    // tmall.luxury.stage.edi.alipay.trade.query: the app's merchant, no session.
    let edi = client.with_session(None);
    let r = edi
        .edi_alipay_trade_query(
            &AlipayTradeQueryRequest::by_out_trade_no(OUT_TRADE_NO)
                .with_query_options(["fund_bill_list", "voucher_detail_list"]),
        )
        .await
        .unwrap();
    assert_eq!(r.data.trade_no, TRADE_NO);
    assert_eq!(r.data.total_amount.as_str(), "88.88");
    assert!(!r.data.fund_bill_list.is_empty());
    let xml = edi.with_format(TopFormat::Xml, false).unwrap();
    let rx = xml
        .edi_alipay_trade_query(
            &AlipayTradeQueryRequest::by_out_trade_no(OUT_TRADE_NO)
                .with_query_options(["fund_bill_list", "voucher_detail_list"]),
        )
        .await
        .unwrap();
    assert_eq!(rx, r, "XML and JSON read the same");
    let e = business(
        edi.edi_alipay_trade_query(&AlipayTradeQueryRequest::by_trade_no("nope"))
            .await,
    );
    assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");

    // alibaba.omni.order.query.
    let guide = "3031798632".to_string();
    let req = OmniOrderQueryRequest {
        user_id: guide.clone(),
        order_id: "108717674563804955".into(),
        out_order_id: "12348".into(),
    };
    let o = client.omni_order_query(&req).await.unwrap();
    assert_eq!(o.out_order_id, "12348");
    assert_eq!(o.o2o_guide_id.to_string(), guide);
    let mut wrong = req.clone();
    wrong.out_order_id = "1".into();
    let e = business(client.omni_order_query(&wrong).await);
    assert_eq!(e.reason(), "daogoubao.order-not-exist");
    let mut missing = req.clone();
    missing.out_order_id = String::new();
    let e = gateway(client.omni_order_query(&missing).await);
    assert_eq!(e.code, "40");
    // The other merchant's session does not see the order.
    let other_session = server.credentials()["top"]["other_merchant_session"]
        .as_str()
        .map(str::to_string);
    let e = business(
        client
            .with_session(other_session)
            .omni_order_query(&req)
            .await,
    );
    assert_eq!(e.reason(), "daogoubao.order-not-exist");

    // A wrong secret: the gateway's refusal.
    let mut cfg = top(&server);
    cfg.app_secret = "wrong".into();
    let e = gateway(TopClient::new(cfg).unwrap().omni_order_query(&req).await);
    assert_eq!(e.code, "25");
}

fn tradeq_query(server: &TestServer, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .arg("query")
        .args(args)
        .arg("--credentials")
        .arg(server.credentials_path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tradeq query");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tradeq_query_command() {
    let server = TestServer::start_demo(None, &[]);
    let json_of = |s: &str| -> Value { serde_json::from_str(s).expect("stdout is JSON") };

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "alipay.trade.query",
            "out_trade_no=6823789339978248",
            "query_options=fund_bill_list",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["trade_no"], TRADE_NO);
    assert!(v["fund_bill_list"].is_array());
    assert!(
        out.contains("\n  \"code\": \"10000\""),
        "pretty JSON in the answer's order: {out}"
    );

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "alipay.trade.query",
            "--protocol",
            "v3",
            "trade_no=2013112011001004330000121536",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["out_trade_no"], OUT_TRADE_NO);

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "koubei.trade.itemorder.query",
            &format!("order_no={ORDER_NO}"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"total_amount\": 25.00"),
        "amounts keep their text: {out}"
    );

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "alibaba.xlife.onsite.trade.query",
            "short_trade_no=77778888",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json_of(&out)["alibaba_xlife_onsite_trade_query_response"]["onsite_trade_query_response"]
            ["trade_no"],
        TRADE_NO
    );

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "alibaba.xlife.onsite.trade.query",
            "trade_no=2013112011001004330000121536",
            "--format",
            "xml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("<?xml"), "{out}");
    assert!(out.contains("<trade_no>2013112011001004330000121536</trade_no>"));

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "tmall.luxury.stage.edi.alipay.trade.query",
            "out_trade_no=6823789339978248",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json_of(&out)["tmall_luxury_stage_edi_alipay_trade_query_response"]["data"]["trade_no"],
        TRADE_NO
    );

    let (code, out, err) = tradeq_query(
        &server,
        &[
            "alibaba.omni.order.query",
            "user_id=3031798632",
            "order_id=108717674563804955",
            "out_order_id=12348",
            "--simplify",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["result"]["success"], true);

    // Errors: non-zero, with the platform's code and message.
    let (code, out, err) = tradeq_query(&server, &["alipay.trade.query", "trade_no=nope"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("40004") && err.contains("ACQ.TRADE_NOT_EXIST") && err.contains("交易不存在"),
        "{err}"
    );
    let (code, _, err) = tradeq_query(
        &server,
        &["alipay.trade.query", "--protocol", "v3", "trade_no=nope"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("ACQ.TRADE_NOT_EXIST") && err.contains("400"),
        "{err}"
    );
    let (code, _, err) = tradeq_query(
        &server,
        &[
            "alibaba.omni.order.query",
            "user_id=3031798632",
            "order_id=1",
            "out_order_id=12348",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("daogoubao.order-not-exist"), "{err}");
    let (code, _, err) = tradeq_query(
        &server,
        &["alibaba.xlife.onsite.trade.query", "trade_no=nope"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("50") && err.contains("isp.TRADE_ORDER_NOT_FOUND"),
        "{err}"
    );
    let (code, _, err) = tradeq_query(
        &server,
        &["alipay.trade.query", "--format", "xml", "trade_no=x"],
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = tradeq_query(&server, &["alipay.trade.query", "not-a-pair"]);
    assert_eq!(code, 2, "{err}");

    // Out of the box: TRADEQ_CREDENTIALS, no --credentials.
    let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args([
            "query",
            "alipay.trade.query",
            "out_trade_no=6823789339978248",
        ])
        .env("TRADEQ_CREDENTIALS", server.credentials_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And ./tradeq-data/demo-credentials.json from the working directory.
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("tradeq-data")).unwrap();
    std::fs::copy(
        server.credentials_path(),
        cwd.path().join("tradeq-data/demo-credentials.json"),
    )
    .unwrap();
    let run_in = |dir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_tradeq"))
            .args([
                "query",
                "alibaba.omni.order.query",
                "user_id=3031798632",
                "order_id=108717674563804955",
                "out_order_id=12348",
            ])
            .env_remove("TRADEQ_CREDENTIALS")
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let out = run_in(cwd.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without any credentials: exit 2 and a hint.
    let empty = tempfile::tempdir().unwrap();
    let out = run_in(empty.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tradeq serve --demo"));
}

/// The client's signatures checked by the official SDKs' own code: the official Python Alipay
/// SDK's `get_sign_content` and `verify_with_rsa`, and the official Python TOP SDK's `sign`.
#[test]
fn client_signatures_verify_in_the_official_sdks() {
    let tools = match support::toolchain() {
        Ok(t) => t,
        Err(reason) => skip_or_fail!("conformance toolchain: {reason}"),
    };
    let app = tradeq_wire::alipay::keys::generate_rsa_2048().unwrap();
    let platform = tradeq_wire::alipay::keys::generate_rsa_2048().unwrap();
    let app_pub = tradeq_wire::alipay::keys::public_from_private(&app).unwrap();
    let platform_pub = tradeq_wire::alipay::keys::public_from_private(&platform).unwrap();
    let config = AlipayConfig::new(
        "http://127.0.0.1:1",
        "2021000000000001",
        tradeq_wire::alipay::keys::private_key_to_pkcs8_pem(&app).unwrap(),
        tradeq_wire::alipay::keys::public_key_to_spki_pem(&platform_pub).unwrap(),
    );
    let v2 = AlipayV2Client::new(config.clone()).unwrap();
    let req = v2
        .sign_request(
            "alipay.trade.query",
            Some(r#"{"out_trade_no":"T1 中文","query_options":["fund_bill_list"]}"#),
            &[],
            "2024-01-01 12:00:00",
        )
        .unwrap();
    let params: serde_json::Map<String, Value> = req
        .query
        .iter()
        .chain(req.body.iter())
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let v3 = AlipayV3Client::new(config).unwrap();
    let v3_req = v3
        .sign_request(
            "POST",
            "alipay.trade.query",
            &[],
            r#"{"out_trade_no":"T1"}"#,
            "1704081600000",
            "n1",
        )
        .unwrap();
    let v3_sign = v3_req
        .authorization
        .rsplit(",sign=")
        .next()
        .unwrap()
        .to_string();
    let mut top_cfg = TopConfig::new("http://127.0.0.1:1", "12345678", "helloworld");
    top_cfg.sign_method = SignMethod::Md5;
    top_cfg.session = Some("test".into());
    let top_req = TopClient::new(top_cfg)
        .unwrap()
        .sign_request(
            "alibaba.omni.order.query",
            &[("user_id", "3031798632"), ("note", "测试")],
            "2024-01-01 12:00:00",
        )
        .unwrap();
    let top_params: serde_json::Map<String, Value> = top_req
        .query
        .iter()
        .chain(top_req.body.iter())
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let top_sign = top_req
        .query
        .iter()
        .find(|(k, _)| k == "sign")
        .unwrap()
        .1
        .clone();
    let input = json!({
        "app_public_key": tradeq_wire::alipay::keys::public_key_to_spki_base64(&app_pub).unwrap(),
        "params": params,
        "sign_content": req.sign_content,
        "sign": req.param("sign"),
        "v3_content": v3_req.sign_content,
        "v3_sign": v3_sign,
        "top_params": top_params,
        "top_sign": top_sign,
    });
    let script = r#"
import json, sys
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from top.api.base import sign as top_sign
d = json.load(sys.stdin)
out = {
  "sign_content_equal": get_sign_content(d["params"]) == d["sign_content"],
  "v2_verifies": verify_with_rsa(d["app_public_key"], d["sign_content"].encode("utf-8"), d["sign"]),
  "v3_verifies": verify_with_rsa(d["app_public_key"], d["v3_content"].encode("utf-8"), d["v3_sign"]),
  "top_sign_equal": top_sign("helloworld", d["top_params"]) == d["top_sign"],
}
print(json.dumps(out))
"#;
    use std::io::Write;
    let mut child = Command::new(&tools.python)
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        verdict,
        json!({"sign_content_equal": true, "v2_verifies": true, "v3_verifies": true, "top_sign_equal": true})
    );
}

/// The embedded store keeps decoded records between lookups. A `tradeq import` run next to the
/// server (another process writing the same SQLite file) must show in the very next answer.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_by_another_process_shows_in_the_next_answer() {
    let server = TestServer::start_demo(None, &[]);
    let edi = TopClient::new(top(&server)).unwrap().with_session(None);
    let ask = || async {
        edi.edi_alipay_trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await
            .unwrap()
            .data
    };
    // Asked twice, so the second answer comes from the cache.
    let before = ask().await;
    assert_eq!(ask().await, before);
    let new_status = if before.trade_status == "TRADE_FINISHED" {
        "TRADE_SUCCESS"
    } else {
        "TRADE_FINISHED"
    };

    // The stored document with another status, newer, loaded by a separate process.
    let creds = server.credentials();
    let token = creds["admin_token"].as_str().unwrap().to_string();
    let url = format!(
        "http://127.0.0.1:{}/v1/records/alipay-trade/{TRADE_NO}",
        server.admin_port
    );
    let mut doc: Value = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doc["trade_status"] = json!(new_status);
    doc["gmt_modified"] = json!("2030-01-01 00:00:00");
    let file = server.data_dir.path().join("updated.jsonl");
    std::fs::write(&file, format!("{doc}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["import", "alipay-trade"])
        .arg(&file)
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .env_remove("TRADEQ_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let after = ask().await;
    assert_eq!(after.trade_status, new_status);
    assert_eq!(after.trade_no, before.trade_no);
    server.stop();
}

// ---------------------------------------------------------------------------------------------
// Certificate mode: the demo's `alipay.cert_mode` app.

fn alipay_cert(server: &TestServer) -> AlipayConfig {
    let mut c = no_retry(
        creds(server)
            .alipay_cert_config()
            .expect("alipay.cert_mode config"),
    );
    c.gateway_url = server.base_url();
    c
}

/// The client in certificate mode against the server: the SNs it computes are the ones the
/// demo states; both methods over v2 and v3 succeed and fail as in public-key mode; AES works;
/// a wrong root bundle and an unknown app certificate get the platform's refusals; a rotated
/// platform certificate is named until the client is given the new one.
#[tokio::test(flavor = "multi_thread")]
async fn alipay_cert_mode_v2_v3_refusals_and_rotation() {
    use tradeq_client::AlipayCertificates;

    let server = TestServer::start_demo(None, &[]);
    let file = creds(&server);
    let cm = file.alipay.as_ref().unwrap().cert_mode.clone().unwrap();
    let v2 = AlipayV2Client::new(alipay_cert(&server)).unwrap();
    let sns = v2.cert_sns().unwrap().clone();
    file.check_cert_sns(&sns).unwrap();
    assert_eq!(Some(&sns.alipay_cert_sn), cm.alipay_cert_sn.as_ref());

    // Both methods, success and not found, over v2.
    let t = v2
        .trade_query(
            &AlipayTradeQueryRequest::by_trade_no(TRADE_NO).with_query_options(["fund_bill_list"]),
        )
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);
    assert!(!t.fund_bill_list.is_empty());
    let e = business(
        v2.trade_query(&AlipayTradeQueryRequest::by_out_trade_no("nope"))
            .await,
    );
    assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");
    assert_eq!(e.authenticity, Authenticity::Verified);
    let k = v2
        .koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new(ORDER_NO))
        .await
        .unwrap();
    assert_eq!(k.order_no, ORDER_NO);
    let e = business(
        v2.koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new(
            "20990101000000001000000001",
        ))
        .await,
    );
    assert_eq!(e.reason(), "INVALID_PARAMETER");

    // AES (the demo's two Alipay apps share one key).
    let mut aes = alipay_cert(&server);
    aes.aes_key = file.alipay.as_ref().unwrap().aes_key.clone();
    let t = AlipayV2Client::new(aes)
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);

    // v3.
    let v3 = AlipayV3Client::new(alipay_cert(&server)).unwrap();
    let t = v3
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);
    let e = business(
        v3.trade_query(&AlipayTradeQueryRequest::by_out_trade_no("nope"))
            .await,
    );
    assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");

    // The answer bytes: `alipay_cert_sn` between the answer object and `sign`.
    let signed = v2
        .sign_request(
            "alipay.trade.query",
            Some(&format!(r#"{{"trade_no":"{TRADE_NO}"}}"#)),
            &[],
            &tradeq_wire::time::format_gmt8(chrono::Utc::now()),
        )
        .unwrap();
    let body = reqwest::Client::new()
        .post(format!("{}/gateway.do", server.base_url()))
        .query(&signed.query)
        .form(&signed.body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = format!(r#"}},"alipay_cert_sn":"{}","sign":""#, sns.alipay_cert_sn);
    assert!(
        body.starts_with(r#"{"alipay_trade_query_response":{"#) && body.contains(&marker),
        "{body}"
    );
    assert_eq!(body.matches("alipay_cert_sn").count(), 1);

    // A root bundle with one more RSA root: the Alipay certificate still chains to it, but its
    // root SN is not the app's.
    let mut other_root = alipay_cert(&server);
    let extra =
        std::fs::read_to_string(support::root().join("tests/conformance/alipay_root_cert.pem"))
            .unwrap();
    other_root.certificates.as_mut().unwrap().alipay_root_cert =
        format!("{}\n{extra}", cm.alipay_root_cert_pem);
    let wrong_root = AlipayV2Client::new(other_root.clone()).unwrap();
    assert_ne!(
        wrong_root.cert_sns().unwrap().alipay_root_cert_sn,
        sns.alipay_root_cert_sn
    );
    let e = gateway(
        wrong_root
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.reason(), "isv.invalid-alipay-root-cert-sn");
    let e = gateway(
        AlipayV3Client::new(other_root)
            .unwrap()
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.code, "invalid-alipay-root-cert-sn");

    // An app certificate the server never issued for this app (same key, self-signed).
    let key = tradeq_wire::alipay::keys::parse_private_key(
        cm.private_key.app_private_key_pkcs8_pem.as_deref().unwrap(),
    )
    .unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "self-made").unwrap();
    let name = name.build();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    let self_made = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    let mut unknown_app_cert = alipay_cert(&server);
    unknown_app_cert.certificates.as_mut().unwrap().app_cert = self_made;
    let e = gateway(
        AlipayV2Client::new(unknown_app_cert)
            .unwrap()
            .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await,
    );
    assert_eq!(e.reason(), "isv.app-cert-not-exist");

    // Rotation: the old configuration is told which certificate signs now; the new one works.
    let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["keys", "rotate-platform", "--app", &cm.app_id, "--data-dir"])
        .arg(server.data_dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("new certificate printed");
    let new_cert = text[start..].to_string();
    let new_sn = tradeq_wire::alipay::cert::cert_sn_from_pem(&new_cert).unwrap();
    assert_ne!(new_sn, sns.alipay_cert_sn);
    // The running server sees a change made by another process within its credential cache's
    // lifetime (2 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while v2
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotation never showed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for r in [
        v2.trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await
            .map(|_| ()),
        v3.trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
            .await
            .map(|_| ()),
    ] {
        match r {
            Err(Error::Verification(VerificationError::AlipayCertSnMismatch { expected, got })) => {
                assert_eq!(expected, sns.alipay_cert_sn);
                assert_eq!(got, new_sn);
            }
            other => panic!("expected the rotated SN to be named, got {other:?}"),
        }
    }
    // Asked to follow rotations, the old configuration fetches the new certificate from the
    // server, checks it against the root bundle and carries on.
    let mut follow = alipay_cert(&server);
    follow.follow_alipay_cert_rotation = true;
    let t = AlipayV2Client::new(follow.clone())
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);
    let t = AlipayV3Client::new(follow)
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);

    let mut rotated = alipay_cert(&server);
    rotated.certificates = Some(AlipayCertificates {
        alipay_public_cert: new_cert,
        ..rotated.certificates.unwrap()
    });
    let t = AlipayV2Client::new(rotated.clone())
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);
    let t = AlipayV3Client::new(rotated)
        .unwrap()
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(TRADE_NO))
        .await
        .unwrap();
    assert_eq!(t.out_trade_no, OUT_TRADE_NO);
}

/// `tradeq query --cert-mode` calls as the `alipay.cert_mode` app over v2 and v3.
#[test]
fn tradeq_query_cert_mode() {
    let server = TestServer::start_demo(None, &[]);
    for protocol in ["v2", "v3"] {
        let (code, out, err) = tradeq_query(
            &server,
            &[
                "alipay.trade.query",
                "--cert-mode",
                "--protocol",
                protocol,
                &format!("trade_no={TRADE_NO}"),
            ],
        );
        assert_eq!(code, 0, "{protocol}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["out_trade_no"], OUT_TRADE_NO);
    }
    let (code, _, err) = tradeq_query(
        &server,
        &[
            "koubei.trade.itemorder.query",
            "--cert-mode",
            &format!("order_no={ORDER_NO}"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tradeq_query(
        &server,
        &[
            "alipay.trade.query",
            "--cert-mode",
            "--encrypt",
            "trade_no=nope",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ACQ.TRADE_NOT_EXIST"), "{err}");

    // A credentials file whose SNs disagree with its certificates is a configuration error.
    let mut file = server.credentials();
    file["alipay"]["cert_mode"]["app_cert_sn"] = json!("0123456789abcdef0123456789abcdef");
    let edited = server.data_dir.path().join("edited-credentials.json");
    std::fs::write(&edited, file.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args([
            "query",
            "alipay.trade.query",
            "--cert-mode",
            "trade_no=x",
            "--credentials",
        ])
        .arg(&edited)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("app_cert_sn"));
}
