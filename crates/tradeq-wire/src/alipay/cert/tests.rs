//! SN vectors. The three certificates were made once with the `openssl` command line; the
//! expected SNs are what the official Node SDK's `getSN` (alipay-sdk 4.14.0) printed for the same
//! files.

use super::*;

/// RSA root: issuer with every named attribute, a UTF-8 value, an attribute without a short name
/// (DC) and a 128-bit serial with the high bit set.
const RSA_ROOT: &str = include_str!("test_rsa_root.pem");
/// ECDSA (P-256) root: skipped by the root SN.
const EC_ROOT: &str = include_str!("test_ec_root.pem");
/// App certificate issued by the RSA root, serial 4096.
const APP: &str = include_str!("test_app.pem");

#[test]
fn issuer_string_is_reversed_unescaped_with_the_sdks_short_names() {
    let root = parse_certificate(RSA_ROOT).unwrap();
    assert_eq!(
        issuer_string(&root),
        "E=ca@example.com,CN=Tradeq Test Root RSA,=example,OU=Certification Authority,O=Tradeq 测试,L=Hangzhou,ST=浙江,C=CN"
    );
    assert_eq!(
        serial_decimal(&root).unwrap(),
        "323841988554248632570539704834581167759"
    );
}

#[test]
fn certificate_sns_match_the_node_sdk() {
    assert_eq!(
        cert_sn_from_pem(RSA_ROOT).unwrap(),
        "452f560af86030a6007b196a35bc0693"
    );
    assert_eq!(
        cert_sn_from_pem(EC_ROOT).unwrap(),
        "a506e9934ed94f456dc96fc6dca3b40f"
    );
    assert_eq!(
        cert_sn_from_pem(APP).unwrap(),
        "6253191474124c0985ce876086156951"
    );
}

#[test]
fn root_sn_skips_non_rsa_certificates_and_joins_in_bundle_order() {
    let bundle = format!("{EC_ROOT}\n{RSA_ROOT}");
    assert_eq!(
        root_cert_sn(&bundle).unwrap(),
        "452f560af86030a6007b196a35bc0693"
    );
    let three = format!("{RSA_ROOT}{EC_ROOT}{APP}");
    assert_eq!(
        root_cert_sn(&three).unwrap(),
        "452f560af86030a6007b196a35bc0693_6253191474124c0985ce876086156951"
    );
    assert_eq!(root_cert_sn(EC_ROOT), Err(CertError::NoRsaRoot));
}

#[test]
fn signature_oids_are_dotted() {
    assert_eq!(
        signature_oid(&parse_certificate(RSA_ROOT).unwrap()),
        "1.2.840.113549.1.1.11"
    );
    assert_eq!(
        signature_oid(&parse_certificate(EC_ROOT).unwrap()),
        "1.2.840.10045.4.3.2"
    );
    assert!(!is_rsa_signed(&parse_certificate(EC_ROOT).unwrap()));
}

#[test]
fn windows_line_ends_and_surrounding_text_are_tolerated() {
    let text = format!("subject=whatever\r\n{}\r\n", APP.replace('\n', "\r\n"));
    assert_eq!(
        cert_sn_from_pem(&text).unwrap(),
        "6253191474124c0985ce876086156951"
    );
}

#[test]
fn garbage_is_refused_without_panicking() {
    assert_eq!(cert_sn_from_pem(""), Err(CertError::NoCertificate));
    assert_eq!(
        cert_sn_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        Err(CertError::Malformed)
    );
    assert!(matches!(
        parse_certificates("-----BEGIN CERTIFICATE-----\nMIIB"),
        Err(CertError::Malformed)
    ));
}

#[test]
fn the_app_certificate_is_issued_by_the_rsa_root_and_carries_an_rsa_key() {
    let app = parse_certificate(APP).unwrap();
    assert!(issued_by_bundle(&app, &format!("{EC_ROOT}{RSA_ROOT}")).unwrap());
    assert!(!issued_by_bundle(&app, EC_ROOT).unwrap());
    let key = public_key_from_pem(APP).unwrap();
    assert_eq!(key.bits(), 2048);
    assert!(key.rsa().is_ok());
}

#[test]
fn request_sns_are_checked_in_the_gateways_order() {
    let revoked = vec!["bbbb".to_string()];
    let e = Some(CertExpectation {
        app_cert_sn: "aaaa",
        revoked: &revoked,
        root_cert_sn: "r1_r2",
    });
    assert_eq!(check_request_sns(e, Some("aaaa"), Some("r1_r2")), Ok(true));
    assert_eq!(
        check_request_sns(e, None, Some("r1_r2")),
        Err(CertRefusal::MissingAppCertSn)
    );
    assert_eq!(
        check_request_sns(e, Some(""), Some("r1_r2")),
        Err(CertRefusal::MissingAppCertSn)
    );
    assert_eq!(
        check_request_sns(e, Some("cccc"), Some("r1_r2")),
        Err(CertRefusal::AppCertNotExist)
    );
    assert_eq!(
        check_request_sns(e, Some("aaaa"), None),
        Err(CertRefusal::MissingRootCertSn)
    );
    assert_eq!(
        check_request_sns(e, Some("aaaa"), Some("r1")),
        Err(CertRefusal::InvalidRootCertSn)
    );
    // A revoked SN is refused even when it is the app's current certificate.
    let e2 = Some(CertExpectation {
        app_cert_sn: "bbbb",
        revoked: &revoked,
        root_cert_sn: "r1_r2",
    });
    assert_eq!(
        check_request_sns(e2, Some("bbbb"), Some("r1_r2")),
        Err(CertRefusal::AppCertNotExist)
    );
    // Public-key mode: nothing named passes, a named certificate does not exist.
    assert_eq!(check_request_sns(None, None, None), Ok(false));
    assert_eq!(check_request_sns(None, None, Some("r1")), Ok(false));
    assert_eq!(
        check_request_sns(None, Some("aaaa"), Some("r1_r2")),
        Err(CertRefusal::AppCertNotExist)
    );
}
