//! Public-key-certificate mode against `tradeq serve --demo`: the v2 gateway and v3 with the
//! demo's certificate-mode app, the SN checks and their error codes, `alipay_cert_sn` placement,
//! AES and app_auth_token, revocation, the certificate download, and platform rotation.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use support::TestServer;
use tradeq_wire::alipay::cert;
use tradeq_wire::alipay::keys::parse_private_key;
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, v2_sign_content, SignType};
use tradeq_wire::alipay::v2::extract_signed_response;
use tradeq_wire::alipay::v3::{request_sign_content, response_sign_content};

const QUERY: &str = "alipay.trade.query";

/// A parameter to replace or add (`Some`) or leave out (`None`).
type Override<'a> = (&'a str, Option<&'a str>);
const DOWNLOAD: &str = "alipay.open.app.alipaycert.download";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A signed v2 request from the app in `app` (a `cert_mode` or `alipay` credentials object):
/// `overrides` replace or add parameters, a `None` value leaves one out.
async fn v2(
    server: &TestServer,
    app: &Value,
    method: &str,
    biz: &str,
    overrides: &[Override<'_>],
) -> String {
    let key = parse_private_key(app["app_private_key_pkcs8_pem"].as_str().unwrap()).unwrap();
    let ts = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut params: Vec<(String, String)> = vec![
        ("app_id".into(), app["app_id"].as_str().unwrap().into()),
        ("method".into(), method.into()),
        ("charset".into(), "utf-8".into()),
        ("sign_type".into(), "RSA2".into()),
        ("timestamp".into(), ts),
        ("version".into(), "1.0".into()),
        ("biz_content".into(), biz.into()),
    ];
    if let Some(sn) = app["app_cert_sn"].as_str() {
        params.push(("app_cert_sn".into(), sn.into()));
        params.push((
            "alipay_root_cert_sn".into(),
            app["alipay_root_cert_sn"].as_str().unwrap().into(),
        ));
    }
    for (k, v) in overrides {
        params.retain(|(name, _)| name != k);
        if let Some(v) = v {
            params.push((k.to_string(), v.to_string()));
        }
    }
    let content = v2_sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), false);
    let sign = rsa_sign(&key, SignType::Rsa2, content.as_bytes()).unwrap();
    params.push(("sign".into(), sign));
    http()
        .post(format!("{}/gateway.do", server.base_url()))
        .form(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn inner(body: &str, method: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v[format!("{}_response", method.replace('.', "_"))].clone()
}

/// Checks the answer's signature with the key of the platform certificate `cert_pem`.
fn verify_v2(body: &str, method: &str, cert_pem: &str) -> Option<String> {
    let signed = extract_signed_response(body, method, true).unwrap();
    let key = cert::public_key_from_pem(cert_pem).unwrap();
    assert!(
        rsa_verify(
            &key,
            SignType::Rsa2,
            signed.content.as_bytes(),
            &signed.sign
        ),
        "answer signature does not verify with the platform certificate: {body}"
    );
    signed.alipay_cert_sn
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_certificate_mode_end_to_end() {
    let server = TestServer::start_demo(None, &[]);
    let creds = server.credentials();
    let c = creds["alipay"]["cert_mode"].clone();
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alipay_cert_sn",
            "alipay_public_cert_pem",
            "alipay_root_cert_pem",
            "alipay_root_cert_sn",
            "app_cert_pem",
            "app_cert_sn",
            "app_id",
            "app_private_key_pkcs1_pem",
            "app_private_key_pkcs8_pem",
            "merchant_pid"
        ]
    );
    // The SNs in the file are the ones computed from the certificates in it.
    let sn = c["alipay_cert_sn"].as_str().unwrap();
    assert_eq!(
        cert::cert_sn_from_pem(c["alipay_public_cert_pem"].as_str().unwrap()).unwrap(),
        sn
    );
    assert_eq!(
        cert::cert_sn_from_pem(c["app_cert_pem"].as_str().unwrap()).unwrap(),
        c["app_cert_sn"].as_str().unwrap()
    );
    assert_eq!(
        cert::root_cert_sn(c["alipay_root_cert_pem"].as_str().unwrap()).unwrap(),
        c["alipay_root_cert_sn"].as_str().unwrap()
    );
    let cert_pem = c["alipay_public_cert_pem"].as_str().unwrap();
    let biz = r#"{"out_trade_no":"6823789339978248"}"#;

    // Success: alipay_cert_sn sits between the answer object and sign, byte for byte.
    let body = v2(&server, &c, QUERY, biz, &[]).await;
    assert_eq!(inner(&body, QUERY)["code"], "10000", "{body}");
    assert!(
        body.contains(&format!("}},\"alipay_cert_sn\":\"{sn}\",\"sign\":\"")),
        "{body}"
    );
    assert!(
        body.starts_with("{\"alipay_trade_query_response\":{"),
        "{body}"
    );
    assert_eq!(verify_v2(&body, QUERY, cert_pem).as_deref(), Some(sn));

    // The other Alipay method too.
    const KOUBEI: &str = "koubei.trade.itemorder.query";
    let body = v2(
        &server,
        &c,
        KOUBEI,
        r#"{"order_no":"20160831001040010900010000000001"}"#,
        &[],
    )
    .await;
    assert_eq!(inner(&body, KOUBEI)["code"], "10000", "{body}");
    assert_eq!(verify_v2(&body, KOUBEI, cert_pem).as_deref(), Some(sn));

    // Public-key mode never carries it.
    let plain = v2(&server, &creds["alipay"], QUERY, biz, &[]).await;
    assert_eq!(inner(&plain, QUERY)["code"], "10000", "{plain}");
    assert!(!plain.contains("alipay_cert_sn"), "{plain}");

    // The gateway's refusals.
    let refused = |body: &str| {
        let i = inner(body, QUERY);
        (
            i["code"].as_str().unwrap_or("").to_string(),
            i["sub_code"].as_str().unwrap_or("").to_string(),
        )
    };
    let cases: [(&[Override], (&str, &str)); 4] = [
        (
            &[(
                "alipay_root_cert_sn",
                Some("687b59193f3f462dd5336e5abf83c5d8"),
            )],
            ("40002", "isv.invalid-alipay-root-cert-sn"),
        ),
        (
            &[("alipay_root_cert_sn", None)],
            ("40001", "isv.missing-alipay-root-cert-sn"),
        ),
        (
            &[("app_cert_sn", Some("0123456789abcdef0123456789abcdef"))],
            ("40002", "isv.app-cert-not-exist"),
        ),
        (
            &[("app_cert_sn", None), ("alipay_root_cert_sn", None)],
            ("40001", "isv.missing-app-cert-sn"),
        ),
    ];
    for (overrides, want) in cases {
        let body = v2(&server, &c, QUERY, biz, overrides).await;
        assert_eq!(refused(&body), (want.0.into(), want.1.into()), "{body}");
        assert!(!body.contains("alipay_cert_sn"), "{body}");
    }
    // A public-key-mode app naming a certificate: it has none.
    let mut with_sn = creds["alipay"].clone();
    with_sn["app_cert_sn"] = c["app_cert_sn"].clone();
    with_sn["alipay_root_cert_sn"] = c["alipay_root_cert_sn"].clone();
    let body = v2(&server, &with_sn, QUERY, biz, &[]).await;
    assert_eq!(refused(&body).1, "isv.app-cert-not-exist", "{body}");
    // The certificate's key verifies: the public-key app's private key does not.
    let mut wrong_key = c.clone();
    wrong_key["app_private_key_pkcs8_pem"] = creds["alipay"]["app_private_key_pkcs8_pem"].clone();
    let body = v2(&server, &wrong_key, QUERY, biz, &[]).await;
    assert_eq!(refused(&body).1, "isv.invalid-signature", "{body}");

    // AES and app_auth_token in certificate mode: the token grants the second merchant.
    let admin = format!("http://127.0.0.1:{}", server.admin_port);
    let token = creds["admin_token"].as_str().unwrap();
    let made = http()
        .post(format!("{admin}/v1/app-auth-tokens"))
        .bearer_auth(token)
        .json(&serde_json::json!({"app_id": c["app_id"], "merchant_pid": "2088202146225246"}))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.text().await.unwrap());
    let granted: Value = made.json().await.unwrap();
    let app_auth_token = granted["token"].as_str().unwrap();
    let aes = creds["alipay"]["aes_key"].as_str().unwrap();
    let ct = tradeq_wire::alipay::aes::aes_encrypt(aes, biz.as_bytes()).unwrap();
    let body = v2(
        &server,
        &c,
        QUERY,
        &ct,
        &[
            ("encrypt_type", Some("AES")),
            ("app_auth_token", Some(app_auth_token)),
        ],
    )
    .await;
    assert!(
        body.contains(&format!("\",\"alipay_cert_sn\":\"{sn}\",\"sign\":\"")),
        "{body}"
    );
    let signed = extract_signed_response(&body, QUERY, true).unwrap();
    assert!(signed.encrypted);
    assert_eq!(verify_v2(&body, QUERY, cert_pem).as_deref(), Some(sn));
    let plain = tradeq_wire::alipay::aes::aes_decrypt(aes, &signed.ciphertext().unwrap()).unwrap();
    let answer: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(answer["code"], "10000");
    assert_eq!(answer["trade_no"], "2015042321001004720200028594");

    // The certificate download: the PEM of the named SN, base64, unsigned.
    let body = v2(
        &server,
        &c,
        DOWNLOAD,
        &format!(r#"{{"alipay_cert_sn":"{sn}"}}"#),
        &[],
    )
    .await;
    let i = inner(&body, DOWNLOAD);
    assert_eq!(i["code"], "10000", "{body}");
    let pem = base64::engine::general_purpose::STANDARD
        .decode(i["alipay_cert_content"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(pem).unwrap(), cert_pem);
    assert!(!body.contains("\"sign\""), "{body}");
    let body = v2(
        &server,
        &c,
        DOWNLOAD,
        r#"{"alipay_cert_sn":"00000000000000000000000000000000"}"#,
        &[],
    )
    .await;
    assert_eq!(
        inner(&body, DOWNLOAD)["sub_code"],
        "isv.alipay-cert-not-exist",
        "{body}"
    );

    // Revocation through the admin API: the certificate's SN is refused from then on.
    let put = http()
        .put(format!(
            "{admin}/v1/alipay-apps/{}",
            c["app_id"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "merchant_pid": c["merchant_pid"],
            "revoked_app_cert_sns": [c["app_cert_sn"]],
        }))
        .send()
        .await
        .unwrap();
    let status = put.status();
    let view: Value = put.json().await.unwrap();
    assert!(status.is_success(), "{view}");
    assert_eq!(
        view["cert_mode"]["revoked_app_cert_sns"][0],
        c["app_cert_sn"]
    );
    assert_eq!(
        view["cert_mode"]["alipay_cert_sn"], sn,
        "unchanged keys keep their certificates"
    );
    let body = v2(&server, &c, QUERY, biz, &[]).await;
    assert_eq!(refused(&body).1, "isv.app-cert-not-exist", "{body}");
    server.stop();
}

/// A signed v3 query from the certificate-mode app; `root_sn` is the header value, if any.
async fn v3(server: &TestServer, c: &Value, root_sn: Option<&str>) -> reqwest::Response {
    v3_with(
        server,
        c,
        root_sn,
        r#"{"trade_no":"2013112011001004330000121536"}"#,
        None,
        None,
    )
    .await
}

/// [`v3`] with a body of its own, an app auth token, and AES with `aes_key` (the body is
/// encrypted and signed as ciphertext).
async fn v3_with(
    server: &TestServer,
    c: &Value,
    root_sn: Option<&str>,
    body: &str,
    token: Option<&str>,
    aes_key: Option<&str>,
) -> reqwest::Response {
    let key = parse_private_key(c["app_private_key_pkcs8_pem"].as_str().unwrap()).unwrap();
    let auth = format!(
        "app_id={},app_cert_sn={},nonce={},timestamp={}",
        c["app_id"].as_str().unwrap(),
        c["app_cert_sn"].as_str().unwrap(),
        uuid_like(),
        chrono::Utc::now().timestamp_millis()
    );
    let body = match aes_key {
        Some(k) => tradeq_wire::alipay::aes::aes_encrypt(k, body.as_bytes()).unwrap(),
        None => body.to_string(),
    };
    let content = request_sign_content(
        &auth,
        "POST",
        "/v3/alipay/trade/query",
        body.as_bytes(),
        token,
    );
    let sign = rsa_sign(&key, SignType::Rsa2, &content).unwrap();
    let mut req = http()
        .post(format!("{}/v3/alipay/trade/query", server.base_url()))
        .header(
            "authorization",
            format!("ALIPAY-SHA256withRSA {auth},sign={sign}"),
        )
        .body(body);
    req = match aes_key {
        Some(_) => req
            .header("content-type", "text/plain")
            .header("alipay-encrypt-type", "AES"),
        None => req.header("content-type", "application/json"),
    };
    if let Some(t) = token {
        req = req.header("alipay-app-auth-token", t);
    }
    if let Some(sn) = root_sn {
        req = req.header("alipay-root-cert-sn", sn);
    }
    req.send().await.unwrap()
}

fn uuid_like() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn v3_certificate_mode_and_platform_rotation() {
    let server = TestServer::start_demo(None, &[]);
    let creds = server.credentials();
    let c = creds["alipay"]["cert_mode"].clone();
    let sn = c["alipay_cert_sn"].as_str().unwrap().to_string();
    let root = c["alipay_root_cert_sn"].as_str().unwrap();

    let res = v3(&server, &c, Some(root)).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let header = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header("alipay-sn"), sn);
    let body = res.bytes().await.unwrap();
    let key = cert::public_key_from_pem(c["alipay_public_cert_pem"].as_str().unwrap()).unwrap();
    let signed = response_sign_content(&header("alipay-timestamp"), &header("alipay-nonce"), &body);
    assert!(rsa_verify(
        &key,
        SignType::Rsa2,
        &signed,
        &header("alipay-signature")
    ));

    let res = v3(&server, &c, Some("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("alipay-sn").is_none());
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["code"], "invalid-alipay-root-cert-sn");
    let res = v3(&server, &c, None).await;
    assert_eq!(res.status(), 401);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["code"], "missing-alipay-root-cert-sn");

    // AES and an app auth token in certificate mode: the second merchant's trade, encrypted.
    let admin = format!("http://127.0.0.1:{}", server.admin_port);
    let granted: Value = http()
        .post(format!("{admin}/v1/app-auth-tokens"))
        .bearer_auth(creds["admin_token"].as_str().unwrap())
        .json(&serde_json::json!({"app_id": c["app_id"], "merchant_pid": "2088202146225246"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let aes = creds["alipay"]["aes_key"].as_str().unwrap();
    let res = v3_with(
        &server,
        &c,
        Some(root),
        r#"{"out_trade_no":"6823789339978248"}"#,
        granted["token"].as_str(),
        Some(aes),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("alipay-sn").unwrap().to_str().unwrap(),
        sn
    );
    let ct = res.text().await.unwrap();
    let plain = tradeq_wire::alipay::aes::aes_decrypt(aes, &ct).unwrap();
    let answer: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(
        answer["trade_no"], "2015042321001004720200028594",
        "{answer}"
    );

    // Public-key mode answers carry no alipay-sn.
    let (auth, body) = support::signed_v3_request(&creds, &uuid_like());
    let res = http()
        .post(format!("{}/v3/alipay/trade/query", server.base_url()))
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("alipay-sn").is_none());

    // Rotation: a new platform certificate signs the answers; the old one stays downloadable.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["keys", "rotate-platform", "--app"])
        .arg(c["app_id"].as_str().unwrap())
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .env_remove("TRADEQ_DATABASE_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_sn = text
        .lines()
        .find_map(|l| l.strip_prefix("alipay_cert_sn: "))
        .unwrap()
        .to_string();
    assert_ne!(new_sn, sn);
    let new_pem = &text[text.find("-----BEGIN CERTIFICATE-----").unwrap()..];
    assert_eq!(cert::cert_sn_from_pem(new_pem).unwrap(), new_sn);
    // A running node picks the change up within its credential cache time.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let res = v3(&server, &c, Some(root)).await;
        let got = res
            .headers()
            .get("alipay-sn")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if got == new_sn {
            let h = res.headers().clone();
            let header = |n: &str| {
                h.get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let body = res.bytes().await.unwrap();
            let signed =
                response_sign_content(&header("alipay-timestamp"), &header("alipay-nonce"), &body);
            let new_key = cert::public_key_from_pem(new_pem).unwrap();
            assert!(rsa_verify(
                &new_key,
                SignType::Rsa2,
                &signed,
                &header("alipay-signature")
            ));
            assert!(!rsa_verify(
                &key,
                SignType::Rsa2,
                &signed,
                &header("alipay-signature")
            ));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated certificate never signed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = v2(
        &server,
        &c,
        QUERY,
        r#"{"out_trade_no":"6823789339978248"}"#,
        &[],
    )
    .await;
    assert_eq!(
        verify_v2(&body, QUERY, new_pem).as_deref(),
        Some(new_sn.as_str())
    );
    let old = v2(
        &server,
        &c,
        DOWNLOAD,
        &format!(r#"{{"alipay_cert_sn":"{sn}"}}"#),
        &[],
    )
    .await;
    assert_eq!(inner(&old, DOWNLOAD)["code"], "10000", "{old}");
    server.stop();
}
