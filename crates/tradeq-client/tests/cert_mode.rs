//! Certificate mode (公钥证书模式) against an in-process HTTP mock: the SNs the client computes
//! and sends (v2 parameters, v3 auth string and header), answers that name the configured Alipay
//! certificate verified with its key, and every mismatch refused with a named error.

use std::time::Duration;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Name, X509NameBuilder, X509};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use tradeq_client::model::AlipayTradeQueryRequest;
use tradeq_client::{
    AlipayCertificates, AlipayConfig, AlipayV2Client, AlipayV3Client, Authenticity, Charset,
    ConfigError, Error, RetryPolicy, VerificationError,
};
use tradeq_wire::alipay::cert::{cert_sn_from_pem, root_cert_sn};
use tradeq_wire::alipay::keys::{generate_rsa_2048, private_key_to_pkcs1_pem, public_from_private};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, v2_verify_request, SignType};
use tradeq_wire::alipay::v2::envelope_with_cert_sn;
use tradeq_wire::alipay::v3::{parse_authorization, request_sign_content, response_sign_content};
use tradeq_wire::params::parse_form;

const APP_ID: &str = "2021000000000009";
const INNER: &str = r#"{"code":"10000","msg":"Success","trade_no":"2024010122001446880500000001","out_trade_no":"T1","buyer_logon_id":"abc***@example.com","trade_status":"TRADE_SUCCESS","total_amount":"88.88"}"#;
const V3_BODY: &str = r#"{"trade_no":"2024010122001446880500000001","out_trade_no":"T1","trade_status":"TRADE_SUCCESS","total_amount":"88.88"}"#;

struct Issued {
    cert: X509,
    key: PKey<Private>,
}

impl Issued {
    fn pem(&self) -> String {
        String::from_utf8(self.cert.to_pem().unwrap()).unwrap()
    }
}

fn name(cn: &str) -> X509Name {
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_nid(Nid::COUNTRYNAME, "CN").unwrap();
    n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Mock CA")
        .unwrap();
    n.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, "Certification Authority")
        .unwrap();
    n.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    n.build()
}

fn issue(cn: &str, key: PKey<Private>, serial: u32, issuer: Option<&Issued>) -> Issued {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(serial).unwrap()).unwrap())
        .unwrap();
    let subject = name(cn);
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(issuer.map_or(&*subject, |i| i.cert.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if issuer.is_none() {
        // Self-signed roots are CAs; OpenSSL's issuer check wants that said.
        let bc = openssl::x509::extension::BasicConstraints::new()
            .critical()
            .ca()
            .build()
            .unwrap();
        b.append_extension(bc).unwrap();
    }
    b.sign(issuer.map_or(&key, |i| &i.key), MessageDigest::sha256())
        .unwrap();
    Issued {
        cert: b.build(),
        key,
    }
}

/// A sandbox PKI like the platform's: an RSA root and an ECDSA root in the bundle, the app's
/// certificate and the platform's, plus a platform certificate issued by a stranger root.
struct Pki {
    app: Issued,
    alipay: Issued,
    root_bundle: String,
    stranger_alipay: Issued,
}

fn pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let root = issue("Mock Root R1", generate_rsa_2048().unwrap(), 1, None);
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let ec_root = issue("Mock Root E1", ec, 2, None);
        let stranger = issue("Stranger Root", generate_rsa_2048().unwrap(), 3, None);
        Pki {
            app: issue(APP_ID, generate_rsa_2048().unwrap(), 1001, Some(&root)),
            alipay: issue("Alipay", generate_rsa_2048().unwrap(), 1002, Some(&root)),
            root_bundle: format!("{}\n{}", ec_root.pem(), root.pem()),
            stranger_alipay: issue(
                "Alipay",
                generate_rsa_2048().unwrap(),
                1002,
                Some(&stranger),
            ),
        }
    })
}

fn certificates() -> AlipayCertificates {
    let p = pki();
    AlipayCertificates {
        app_cert: p.app.pem(),
        alipay_public_cert: p.alipay.pem(),
        alipay_root_cert: p.root_bundle.clone(),
    }
}

fn config(server: &MockServer) -> AlipayConfig {
    let mut c = AlipayConfig::with_certificates(
        server.uri(),
        APP_ID,
        private_key_to_pkcs1_pem(&pki().app.key).unwrap(),
        certificates(),
    );
    c.options.retry = RetryPolicy {
        max_retries: 0,
        interval: Duration::from_millis(10),
        retry_transport: false,
    };
    c.options.timeout = Duration::from_secs(5);
    c
}

fn alipay_sn() -> String {
    cert_sn_from_pem(&pki().alipay.pem()).unwrap()
}

fn v2_answer(inner: &str, sn: Option<&str>, key: &PKey<Private>) -> String {
    let sign = rsa_sign(key, SignType::Rsa2, inner.as_bytes()).unwrap();
    envelope_with_cert_sn("alipay_trade_query_response", inner, sn, Some(&sign))
}

async fn mount_v2(server: &MockServer, body: String) {
    Mock::given(method("POST"))
        .and(path("/gateway.do"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(body.into_bytes(), "application/json;charset=utf-8"),
        )
        .mount(server)
        .await;
}

fn query() -> AlipayTradeQueryRequest {
    AlipayTradeQueryRequest::by_trade_no("2024010122001446880500000001")
}

type Pairs = Vec<(String, String)>;

/// The decoded URL query and form body of a v2 request.
fn params(req: &Request) -> (Pairs, Pairs) {
    let url = parse_form(req.url.query().unwrap_or("").as_bytes(), Charset::Utf8).unwrap();
    let body = parse_form(&req.body, Charset::Utf8).unwrap();
    (url, body)
}

fn verification(r: Result<impl std::fmt::Debug, Error>) -> VerificationError {
    match r {
        Err(Error::Verification(v)) => v,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn sns_are_the_certificates() {
    let server_uri = "http://127.0.0.1:9";
    let mut c = AlipayConfig::with_certificates(
        server_uri,
        APP_ID,
        private_key_to_pkcs1_pem(&pki().app.key).unwrap(),
        certificates(),
    );
    let client = AlipayV2Client::new(c.clone()).unwrap();
    let sns = client.cert_sns().unwrap();
    assert_eq!(sns.app_cert_sn, cert_sn_from_pem(&pki().app.pem()).unwrap());
    assert_eq!(sns.alipay_cert_sn, alipay_sn());
    assert_eq!(
        sns.alipay_root_cert_sn,
        root_cert_sn(&pki().root_bundle).unwrap()
    );
    // The ECDSA root does not count: one RSA root, one SN.
    assert_eq!(sns.alipay_root_cert_sn.len(), 32);
    assert_eq!(
        AlipayV3Client::new(c.clone()).unwrap().cert_sns(),
        Some(sns)
    );
    // Public-key mode has none.
    c.certificates = None;
    c.alipay_public_key = tradeq_wire::alipay::keys::public_key_to_spki_pem(
        &public_from_private(&pki().alipay.key).unwrap(),
    )
    .unwrap();
    assert!(AlipayV2Client::new(c).unwrap().cert_sns().is_none());
}

#[test]
fn certificates_that_do_not_belong_together_are_named() {
    let p = pki();
    let build = |app_key: &PKey<Private>, certs: AlipayCertificates| {
        AlipayV2Client::new(AlipayConfig::with_certificates(
            "http://127.0.0.1:9",
            APP_ID,
            private_key_to_pkcs1_pem(app_key).unwrap(),
            certs,
        ))
    };
    let config_err = |r: Result<AlipayV2Client, Error>| match r {
        Err(Error::Config(e)) => e,
        other => panic!("expected a configuration error, got {other:?}"),
    };
    // The app certificate of another key.
    let e = config_err(build(&p.alipay.key, certificates()));
    assert!(matches!(e, ConfigError::AppCertKeyMismatch), "{e}");
    // The app certificate where the Alipay certificate belongs.
    let mut certs = certificates();
    certs.alipay_public_cert = p.app.pem();
    let e = config_err(build(&p.app.key, certs));
    assert!(matches!(e, ConfigError::AppKeyAsAlipayKey), "{e}");
    // An Alipay certificate from another PKI (the wrong root file, or another environment).
    let mut certs = certificates();
    certs.alipay_public_cert = p.stranger_alipay.pem();
    let e = config_err(build(&p.app.key, certs));
    assert!(matches!(e, ConfigError::AlipayCertNotFromRoot), "{e}");
    // Not a certificate at all.
    let mut certs = certificates();
    certs.alipay_root_cert = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into();
    let e = config_err(build(&p.app.key, certs));
    assert!(
        matches!(
            e,
            ConfigError::Certificate {
                which: "Alipay root certificate",
                ..
            }
        ),
        "{e}"
    );
    // The bundle without its RSA root: the Alipay certificate no longer chains to it.
    let mut certs = certificates();
    let ec_only = p
        .root_bundle
        .split("\n-----BEGIN")
        .next()
        .unwrap()
        .to_string();
    assert!(ec_only.contains("-----END CERTIFICATE-----"));
    certs.alipay_root_cert = ec_only;
    let e = config_err(build(&p.app.key, certs));
    assert!(matches!(e, ConfigError::AlipayCertNotFromRoot), "{e}");
}

#[test]
fn an_alipay_certificate_file_with_its_intermediate_chains_to_the_root() {
    // The console's alipayCertPublicKey_RSA2.crt holds the platform certificate and the
    // intermediate that issued it; only the root is in alipayRootCert.crt.
    let root = issue("Chain Root", generate_rsa_2048().unwrap(), 10, None);
    let mut inter = issue(
        "Chain Class 2",
        generate_rsa_2048().unwrap(),
        11,
        Some(&root),
    );
    // An intermediate must be a CA for OpenSSL's issuer check.
    {
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(11).unwrap()).unwrap())
            .unwrap();
        b.set_subject_name(inter.cert.subject_name()).unwrap();
        b.set_issuer_name(root.cert.subject_name()).unwrap();
        b.set_pubkey(&inter.key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.append_extension(
            openssl::x509::extension::BasicConstraints::new()
                .critical()
                .ca()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.sign(&root.key, MessageDigest::sha256()).unwrap();
        inter.cert = b.build();
    }
    let leaf = issue("Alipay", generate_rsa_2048().unwrap(), 12, Some(&inter));
    let app = issue(APP_ID, generate_rsa_2048().unwrap(), 13, Some(&inter));
    let certs = |alipay: String| AlipayCertificates {
        app_cert: app.pem(),
        alipay_public_cert: alipay,
        alipay_root_cert: root.pem(),
    };
    let build = |c| {
        AlipayV2Client::new(AlipayConfig::with_certificates(
            "http://127.0.0.1:9",
            APP_ID,
            private_key_to_pkcs1_pem(&app.key).unwrap(),
            c,
        ))
    };
    let client = build(certs(format!("{}{}", leaf.pem(), inter.pem()))).unwrap();
    assert_eq!(
        client.cert_sns().unwrap().alipay_cert_sn,
        cert_sn_from_pem(&leaf.pem()).unwrap()
    );
    // Without the intermediate the chain is broken.
    assert!(matches!(
        build(certs(leaf.pem())),
        Err(Error::Config(ConfigError::AlipayCertNotFromRoot))
    ));
}

#[tokio::test]
async fn v2_sends_the_sns_signed_and_accepts_an_answer_naming_its_certificate() {
    let server = MockServer::start().await;
    let sn = alipay_sn();
    mount_v2(&server, v2_answer(INNER, Some(&sn), &pki().alipay.key)).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    let trade = client.trade_query(&query()).await.unwrap();
    assert_eq!(trade.trade_status, "TRADE_SUCCESS");
    assert_eq!(trade.out_trade_no, "T1");

    let reqs = server.received_requests().await.unwrap();
    let (url, body) = params(&reqs[0]);
    let get = |k: &str| url.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let sns = client.cert_sns().unwrap();
    // In the URL, as the official SDKs send them.
    assert_eq!(
        get("app_cert_sn").as_deref(),
        Some(sns.app_cert_sn.as_str())
    );
    assert_eq!(
        get("alipay_root_cert_sn").as_deref(),
        Some(sns.alipay_root_cert_sn.as_str())
    );
    assert!(body.iter().all(|(k, _)| k != "app_cert_sn"));
    // Signed: the server verifies the request over every parameter, SNs included.
    let sign = get("sign").unwrap();
    let all: Vec<(&str, &str)> = url
        .iter()
        .chain(body.iter())
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app_public = public_from_private(&pki().app.key).unwrap();
    v2_verify_request(
        &app_public,
        SignType::Rsa2,
        all.iter().copied(),
        &sign,
        Charset::Utf8,
    )
    .unwrap();
    let without_sns = all
        .iter()
        .copied()
        .filter(|(k, _)| *k != "app_cert_sn" && *k != "alipay_root_cert_sn");
    assert!(v2_verify_request(
        &app_public,
        SignType::Rsa2,
        without_sns,
        &sign,
        Charset::Utf8
    )
    .is_err());
}

#[tokio::test]
async fn v2_refuses_another_certificate_a_missing_sn_and_a_wrong_key() {
    let sn = alipay_sn();
    // A rotated platform certificate: named, both SNs given.
    let server = MockServer::start().await;
    let rotated = "0123456789abcdef0123456789abcdef";
    mount_v2(&server, v2_answer(INNER, Some(rotated), &pki().alipay.key)).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    match verification(client.trade_query(&query()).await) {
        VerificationError::AlipayCertSnMismatch { expected, got } => {
            assert_eq!(expected, sn);
            assert_eq!(got, rotated);
        }
        other => panic!("{other:?}"),
    }
    // A success that names no certificate.
    let server = MockServer::start().await;
    mount_v2(&server, v2_answer(INNER, None, &pki().alipay.key)).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    assert!(matches!(
        verification(client.trade_query(&query()).await),
        VerificationError::MissingAlipayCertSn
    ));
    // The right SN, signed by another key.
    let server = MockServer::start().await;
    mount_v2(&server, v2_answer(INNER, Some(&sn), &pki().app.key)).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    assert!(matches!(
        verification(client.trade_query(&query()).await),
        VerificationError::BadSignature
    ));
    // `alipay_cert_sn` after `sign` is not the certificate-mode shape.
    let server = MockServer::start().await;
    let sign = rsa_sign(&pki().alipay.key, SignType::Rsa2, INNER.as_bytes()).unwrap();
    let body = format!(
        r#"{{"alipay_trade_query_response":{INNER},"sign":"{sign}","alipay_cert_sn":"{sn}"}}"#
    );
    mount_v2(&server, body).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    assert!(matches!(
        verification(client.trade_query(&query()).await),
        VerificationError::V2Shape(_)
    ));
}

#[tokio::test]
async fn v2_signed_errors_in_cert_mode_are_typed() {
    let sn = alipay_sn();
    let server = MockServer::start().await;
    let inner = r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-alipay-root-cert-sn","sub_msg":"无效支付宝根证书序列号"}"#;
    mount_v2(&server, v2_answer(inner, Some(&sn), &pki().alipay.key)).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    match client.trade_query(&query()).await {
        Err(Error::Gateway(e)) => {
            assert_eq!(e.reason(), "isv.invalid-alipay-root-cert-sn");
            assert_eq!(e.authenticity, Authenticity::Verified);
        }
        other => panic!("{other:?}"),
    }
    // A business failure without the SN is still a verified business failure: only successes
    // must name their certificate.
    let server = MockServer::start().await;
    let inner = r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#;
    mount_v2(&server, v2_answer(inner, None, &pki().alipay.key)).await;
    let client = AlipayV2Client::new(config(&server)).unwrap();
    match client.trade_query(&query()).await {
        Err(Error::Business(e)) => assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST"),
        other => panic!("{other:?}"),
    }
}

fn v3_answer(body: &str, sn: Option<&str>, key: &PKey<Private>) -> ResponseTemplate {
    let ts = "1717756911576";
    let nonce = "n0nce";
    let sig = rsa_sign(
        key,
        SignType::Rsa2,
        &response_sign_content(ts, nonce, body.as_bytes()),
    )
    .unwrap();
    let mut t = ResponseTemplate::new(200)
        .set_body_raw(body.as_bytes().to_vec(), "application/json;charset=utf-8")
        .insert_header("alipay-timestamp", ts)
        .insert_header("alipay-nonce", nonce)
        .insert_header("alipay-signature", sig.as_str());
    if let Some(sn) = sn {
        t = t.insert_header("alipay-sn", sn);
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

#[tokio::test]
async fn v3_puts_the_sns_in_the_auth_string_and_header_and_checks_alipay_sn() {
    let sn = alipay_sn();
    let server = MockServer::start().await;
    mount_v3(&server, v3_answer(V3_BODY, Some(&sn), &pki().alipay.key)).await;
    let mut c = config(&server);
    c.app_auth_token = Some("tok-9".into());
    let client = AlipayV3Client::new(c).unwrap();
    let trade = client.trade_query(&query()).await.unwrap();
    assert_eq!(trade.trade_status, "TRADE_SUCCESS");

    let reqs = server.received_requests().await.unwrap();
    let req = &reqs[0];
    let header = |k: &str| {
        req.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let sns = client.cert_sns().unwrap();
    assert_eq!(header("alipay-root-cert-sn"), sns.alipay_root_cert_sn);
    let auth = parse_authorization(header("authorization")).unwrap();
    assert_eq!(auth.app_cert_sn.as_deref(), Some(sns.app_cert_sn.as_str()));
    // The Node SDK's order: app_cert_sn right after app_id.
    assert!(
        auth.auth_string.starts_with(&format!(
            "app_id={APP_ID},app_cert_sn={},nonce=",
            sns.app_cert_sn
        )),
        "{}",
        auth.auth_string
    );
    let content = request_sign_content(
        &auth.auth_string,
        "POST",
        req.url.path(),
        &req.body,
        Some("tok-9"),
    );
    assert!(rsa_verify(
        &public_from_private(&pki().app.key).unwrap(),
        SignType::Rsa2,
        &content,
        &auth.sign
    ));

    // No `alipay-sn` (allowed: the official SDKs then use the configured certificate).
    let server = MockServer::start().await;
    mount_v3(&server, v3_answer(V3_BODY, None, &pki().alipay.key)).await;
    let client = AlipayV3Client::new(config(&server)).unwrap();
    assert!(client.trade_query(&query()).await.is_ok());

    // Another certificate's SN: named, before the signature is even tried.
    let server = MockServer::start().await;
    let rotated = "fedcba9876543210fedcba9876543210";
    mount_v3(
        &server,
        v3_answer(V3_BODY, Some(rotated), &pki().alipay.key),
    )
    .await;
    let client = AlipayV3Client::new(config(&server)).unwrap();
    match verification(client.trade_query(&query()).await) {
        VerificationError::AlipayCertSnMismatch { expected, got } => {
            assert_eq!(expected, sn);
            assert_eq!(got, rotated);
        }
        other => panic!("{other:?}"),
    }

    // The right SN, signed with another key.
    let server = MockServer::start().await;
    mount_v3(&server, v3_answer(V3_BODY, Some(&sn), &pki().app.key)).await;
    let client = AlipayV3Client::new(config(&server)).unwrap();
    assert!(matches!(
        verification(client.trade_query(&query()).await),
        VerificationError::BadSignature
    ));
}

/// The rotation-following setup: a root, its bundle, the configured platform certificate and a
/// rotated one, both issued by that root.
struct RotationPki {
    certs: AlipayCertificates,
    app_key: PKey<Private>,
    rotated: Issued,
    stranger: Issued,
    expired: Issued,
}

fn rotation_pki() -> RotationPki {
    let root = issue("Rotation Root", generate_rsa_2048().unwrap(), 20, None);
    let app = issue(APP_ID, generate_rsa_2048().unwrap(), 21, Some(&root));
    let first = issue("Alipay", generate_rsa_2048().unwrap(), 22, Some(&root));
    let rotated = issue("Alipay", generate_rsa_2048().unwrap(), 23, Some(&root));
    let other_root = issue("Rotation Root", generate_rsa_2048().unwrap(), 20, None);
    let stranger = issue(
        "Alipay",
        generate_rsa_2048().unwrap(),
        23,
        Some(&other_root),
    );
    // The right root, the right SN, but out of its validity period.
    let expired = {
        let key = generate_rsa_2048().unwrap();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(23).unwrap()).unwrap())
            .unwrap();
        b.set_subject_name(&name("Alipay")).unwrap();
        b.set_issuer_name(root.cert.subject_name()).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(1_500_000_000).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(1_600_000_000).unwrap())
            .unwrap();
        b.sign(&root.key, MessageDigest::sha256()).unwrap();
        Issued {
            cert: b.build(),
            key,
        }
    };
    RotationPki {
        certs: AlipayCertificates {
            app_cert: app.pem(),
            alipay_public_cert: first.pem(),
            alipay_root_cert: root.pem(),
        },
        app_key: app.key,
        rotated,
        stranger,
        expired,
    }
}

async fn mount_download(server: &MockServer, cert: &Issued) {
    use base64::Engine;
    let content = base64::engine::general_purpose::STANDARD.encode(cert.pem());
    let body = format!(
        r#"{{"alipay_open_app_alipaycert_download_response":{{"code":"10000","msg":"Success","alipay_cert_content":"{content}"}}}}"#
    );
    Mock::given(method("POST"))
        .and(path("/gateway.do"))
        .and(wiremock::matchers::query_param(
            "method",
            "alipay.open.app.alipaycert.download",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(body.into_bytes(), "application/json;charset=utf-8"),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_rotated_certificate_is_followed_when_asked_and_checked_against_the_root() {
    let p = rotation_pki();
    let rotated_sn = cert_sn_from_pem(&p.rotated.pem()).unwrap();
    let server = MockServer::start().await;
    mount_download(&server, &p.rotated).await;
    Mock::given(method("POST"))
        .and(path("/gateway.do"))
        .and(wiremock::matchers::query_param(
            "method",
            "alipay.trade.query",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            v2_answer(INNER, Some(&rotated_sn), &p.rotated.key).into_bytes(),
            "application/json;charset=utf-8",
        ))
        .mount(&server)
        .await;
    mount_v3(
        &server,
        v3_answer(V3_BODY, Some(&rotated_sn), &p.rotated.key),
    )
    .await;
    let config = |follow: bool| {
        let mut c = AlipayConfig::with_certificates(
            server.uri(),
            APP_ID,
            private_key_to_pkcs1_pem(&p.app_key).unwrap(),
            p.certs.clone(),
        );
        c.follow_alipay_cert_rotation = follow;
        c.options.retry = RetryPolicy::none();
        c
    };

    // Off (the default): the rotation is named.
    assert!(!AlipayConfig::new("u", "a", "k", "p").follow_alipay_cert_rotation);
    assert!(matches!(
        verification(
            AlipayV2Client::new(config(false))
                .unwrap()
                .trade_query(&query())
                .await
        ),
        VerificationError::AlipayCertSnMismatch { .. }
    ));
    // On: fetched once, checked, remembered; v2 and v3 answers verify with the new key.
    let v2 = AlipayV2Client::new(config(true)).unwrap();
    for _ in 0..2 {
        assert_eq!(
            v2.trade_query(&query()).await.unwrap().trade_status,
            "TRADE_SUCCESS"
        );
    }
    let downloads = |reqs: &[Request]| {
        reqs.iter()
            .filter(|r| {
                r.url
                    .query_pairs()
                    .any(|(k, v)| k == "method" && v == "alipay.open.app.alipaycert.download")
            })
            .count()
    };
    assert_eq!(downloads(&server.received_requests().await.unwrap()), 1);
    let v3 = AlipayV3Client::new(config(true)).unwrap();
    assert_eq!(
        v3.trade_query(&query()).await.unwrap().trade_status,
        "TRADE_SUCCESS"
    );
    assert_eq!(downloads(&server.received_requests().await.unwrap()), 2);
    // The download request itself is a certificate-mode request naming the SN.
    let reqs = server.received_requests().await.unwrap();
    let dl = reqs
        .iter()
        .find(|r| downloads(std::slice::from_ref(r)) == 1)
        .unwrap();
    let (url, body) = params(dl);
    assert!(url.iter().any(|(k, _)| k == "app_cert_sn"));
    let biz = body.iter().find(|(k, _)| k == "biz_content").unwrap();
    assert_eq!(biz.1, format!(r#"{{"alipay_cert_sn":"{rotated_sn}"}}"#));

    // A downloaded certificate from another root (same names, same SN) is refused.
    let server = MockServer::start().await;
    mount_download(&server, &p.stranger).await;
    mount_v2(
        &server,
        v2_answer(INNER, Some(&rotated_sn), &p.stranger.key),
    )
    .await;
    let mut c = config(true);
    c.gateway_url = server.uri();
    match verification(AlipayV2Client::new(c).unwrap().trade_query(&query()).await) {
        VerificationError::Malformed(m) => assert!(m.contains("does not chain"), "{m}"),
        other => panic!("{other:?}"),
    }

    // An expired certificate from the right root is refused too.
    let server = MockServer::start().await;
    mount_download(&server, &p.expired).await;
    mount_v2(&server, v2_answer(INNER, Some(&rotated_sn), &p.expired.key)).await;
    let mut c = config(true);
    c.gateway_url = server.uri();
    match verification(AlipayV2Client::new(c).unwrap().trade_query(&query()).await) {
        VerificationError::Malformed(m) => assert!(m.contains("not valid now"), "{m}"),
        other => panic!("{other:?}"),
    }
}
