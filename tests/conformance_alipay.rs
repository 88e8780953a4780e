//! Alipay conformance: the real SDKs, unmodified, against a running `tradeq serve --demo`
//! (issues #3 and #4). Each test starts its own demo server and runs one client's suite:
//! pytest files in `tests/conformance/alipay_*.py`, `node --test` files in
//! `tests/conformance/node/alipay_*.test.mjs`. The SDKs are installed from the registries by
//! `tests/conformance/setup.sh` on first use; without python3/node/npm or the registries the
//! tests skip, and fail under `TRADEQ_REQUIRE_ALL=1`.

#[macro_use]
mod support;

/// The suites compare answers byte for byte with the platform's, so the demo's English hints in
/// `sub_msg` are off.
const PLATFORM_BYTES: &[&str] = &["--explain-in-errors", "false"];

use std::net::TcpListener;
use std::path::Path;

use support::{root, run_suite, toolchain, TestServer};

fn pytest(file: &str, server: &TestServer, python: &Path) {
    run_suite(
        python,
        &[
            "-B",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            file,
        ],
        server,
        &root().join("tests/conformance"),
    );
}

fn node_test(file: &str, server: &TestServer, node_dir: &Path) {
    run_suite(Path::new("node"), &["--test", file], server, node_dir);
}

/// The official `alipay-sdk-python`: it only ever connects to port 80 and sends absolute-form
/// request lines, so this server listens on 127.0.0.1:80.
#[test]
fn official_python_sdk() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("official_python_sdk: {e}"),
    };
    match TcpListener::bind("127.0.0.1:80") {
        Ok(probe) => drop(probe),
        Err(e) => skip_or_fail!(
            "official_python_sdk: alipay-sdk-python can only reach port 80, which cannot be bound here ({e}); run as root with port 80 free"
        ),
    }
    let server = TestServer::start_demo(Some(80), PLATFORM_BYTES);
    pytest("alipay_official_sdk.py", &server, &tools.python);
}

/// The community `python-alipay-sdk` (GET, everything in the URL).
#[test]
fn community_python_sdk() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("community_python_sdk: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    pytest("alipay_community_sdk.py", &server, &tools.python);
}

/// The official Node `alipay-sdk`, OpenAPI v2 `exec` with `validateSign: true`.
#[test]
fn node_sdk_v2_exec() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_sdk_v2_exec: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    node_test("alipay_v2_exec.test.mjs", &server, &tools.node_dir);
}

/// The official Node `alipay-sdk`, OpenAPI v3 `curl`.
#[test]
fn node_sdk_v3_curl() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_sdk_v3_curl: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    node_test("alipay_v3_curl.test.mjs", &server, &tools.node_dir);
}

/// OpenAPI v3 over raw HTTP with our own signing: replays, timestamps, `expired_seconds`,
/// mangled headers, GET and POST, unknown paths, AES, and the signature of every answer.
#[test]
fn v3_raw_http() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("v3_raw_http: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    pytest("alipay_v3_raw.py", &server, &tools.python);
}

/// The official Node `alipay-sdk` in certificate mode (appCertContent, alipayPublicCertContent,
/// alipayRootCertContent): v2 `exec` with `validateSign: true` and v3 `curl`, both methods, a
/// wrong root bundle, an unknown app certificate, and a platform certificate rotation.
#[test]
fn node_sdk_cert_mode() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_sdk_cert_mode: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    node_test("alipay_cert_mode.test.mjs", &server, &tools.node_dir);
}

/// The community `python-alipay-sdk`'s certificate-mode client `DCAliPay`.
#[test]
fn community_python_sdk_cert_mode() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("community_python_sdk_cert_mode: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    pytest("alipay_cert_mode.py", &server, &tools.python);
}

// ---------------------------------------------------------------------------------------------
// Certificate SNs: the SDKs' own computation against tradeq-wire's, on certificates of every
// shape the SN rules care about.

/// Certificates for the SN cross-check, made with OpenSSL.
mod sn_certs {
    use openssl::asn1::{Asn1Integer, Asn1Time, Asn1Type};
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Name, X509NameBuilder, X509};

    pub struct Issued {
        pub cert: X509,
        pub key: PKey<Private>,
    }

    impl Issued {
        pub fn pem(&self) -> String {
            String::from_utf8(self.cert.to_pem().unwrap()).unwrap()
        }
    }

    pub fn rsa() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    pub fn ec() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    pub fn ed25519() -> PKey<Private> {
        PKey::generate_ed25519().unwrap()
    }

    /// The issuer shape of the real Alipay certificates: C, O, OU, CN.
    pub fn ca_name(cn: &str) -> X509Name {
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_nid(Nid::COUNTRYNAME, "CN").unwrap();
        n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Tradeq Sandbox")
            .unwrap();
        n.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, "Certification Authority")
            .unwrap();
        n.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        n.build()
    }

    /// Every attribute the SN string names, non-ASCII values, string types other than
    /// UTF8String, and an attribute the SDK has no short name for (DC).
    pub fn odd_name() -> X509Name {
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_nid(Nid::COUNTRYNAME, "CN").unwrap();
        n.append_entry_by_nid(Nid::STATEORPROVINCENAME, "浙江")
            .unwrap();
        n.append_entry_by_nid_with_type(Nid::LOCALITYNAME, "Hangzhou", Asn1Type::T61STRING)
            .unwrap();
        n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "蚂蚁 Sandbox")
            .unwrap();
        n.append_entry_by_nid_with_type(
            Nid::ORGANIZATIONALUNITNAME,
            "Certification Authority",
            Asn1Type::PRINTABLESTRING,
        )
        .unwrap();
        n.append_entry_by_nid(Nid::DOMAINCOMPONENT, "example")
            .unwrap();
        n.append_entry_by_nid(Nid::COMMONNAME, "Odd Root").unwrap();
        n.append_entry_by_nid_with_type(
            Nid::PKCS9_EMAILADDRESS,
            "ca@example.com",
            Asn1Type::IA5STRING,
        )
        .unwrap();
        n.build()
    }

    /// A certificate for `key` named `subject`, signed by `issuer` (self-signed when `None`).
    pub fn issue(
        subject: &X509Name,
        key: PKey<Private>,
        serial_hex: &str,
        issuer: Option<&Issued>,
        digest: Option<MessageDigest>,
    ) -> Issued {
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_hex_str(serial_hex).unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
            .unwrap();
        b.set_subject_name(subject).unwrap();
        b.set_issuer_name(issuer.map_or(subject, |i| i.cert.subject_name()))
            .unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        let signer = issuer.map_or(&key, |i| &i.key);
        // Ed25519 signs without a separate digest.
        let md = digest.unwrap_or_else(|| {
            if signer.id() == openssl::pkey::Id::ED25519 {
                MessageDigest::null()
            } else {
                MessageDigest::sha256()
            }
        });
        b.sign(signer, md).unwrap();
        Issued {
            cert: b.build(),
            key,
        }
    }
}

/// Runs a helper script and parses the JSON object it prints.
fn sns_from(program: &Path, script: &str, cwd: &Path, files: &[String]) -> serde_json::Value {
    let out = std::process::Command::new(program)
        .arg(script)
        .args(files)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the SN script")
}

/// The official Node SDK's `getSN` (cert and root SN) and python-alipay-sdk's `DCAliPay` agree
/// with tradeq-wire on certificates of every shape: serials that take the SDK's small-number and
/// big-number paths, odd issuer attributes, non-RSA roots (ECDSA, Ed25519, and the SM2 root of
/// the real Alipay bundle) that the root SN skips, PEM text with or without blank lines and with
/// CRLF line ends. DCAliPay only knows the C/O/OU/CN issuer shape (it hashes `OU=None` for a
/// missing OU, as in the real bundle's SM2 root) and blank-line-separated bundles, so it is
/// compared where those hold.
#[test]
fn sdk_cert_sns_match_tradeq_wire() {
    use openssl::hash::MessageDigest;
    use sn_certs::*;
    use tradeq_wire::alipay::cert::{cert_sn_from_pem, root_cert_sn, CertError};

    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("sdk_cert_sns_match_tradeq_wire: {e}"),
    };
    // Serials: 1 byte; the largest 6-byte one (the Node parser's number path); 0x80… needing a
    // leading zero byte, at 6 and at 7 DER bytes (its hex path); 20 bytes with the top bit set.
    let ca = issue(&ca_name("Tradeq Sandbox Root R1"), rsa(), "01", None, None);
    let odd = issue(
        &odd_name(),
        rsa(),
        "F3A5C1D2E4B6978812345678900AABBCCDDEEFF1",
        None,
        None,
    );
    let ec_root = issue(
        &ca_name("Tradeq Sandbox Root E1"),
        ec(),
        "7FFFFFFFFFFF",
        None,
        None,
    );
    let ed_root = issue(
        &ca_name("Tradeq Sandbox Root Ed"),
        ed25519(),
        "8000000000",
        None,
        None,
    );
    let app = issue(
        &ca_name("2021000000000002"),
        rsa(),
        "800000000000",
        Some(&ca),
        None,
    );
    let app_sha1 = issue(
        &ca_name("2021000000000003"),
        rsa(),
        "0A0B0C",
        Some(&ca),
        Some(MessageDigest::sha1()),
    );
    let app_by_odd = issue(&ca_name("by odd"), rsa(), "2A", Some(&odd), None);
    let ec_signed = issue(&ca_name("by ec"), rsa(), "2B", Some(&ec_root), None);

    let real_bundle =
        std::fs::read_to_string(root().join("tests/conformance/alipay_root_cert.pem"))
            .expect("the real Alipay root bundle");
    let blank_lines =
        |certs: &[&Issued]| certs.iter().map(|c| c.pem()).collect::<Vec<_>>().join("\n");
    let bundle_ca_shape = blank_lines(&[&ec_root, &ca, &ed_root, &app_sha1]);
    let bundle_tight_crlf = [&ed_root, &odd, &ec_root, &ca]
        .iter()
        .map(|c| c.pem())
        .collect::<String>()
        .replace('\n', "\r\n");
    let bundle_no_rsa = blank_lines(&[&ec_root, &ed_root]);

    // (name, text, whether DCAliPay is expected to agree on the cert SN, on the root SN)
    let cases: Vec<(&str, String, bool, bool)> = vec![
        ("ca_root", ca.pem(), true, true),
        ("odd_root", odd.pem(), false, false),
        ("ec_root", ec_root.pem(), true, true),
        ("ed25519_root", ed_root.pem(), true, true),
        ("app", app.pem(), true, true),
        ("app_sha1", app_sha1.pem(), true, true),
        ("app_by_odd", app_by_odd.pem(), false, false),
        ("ec_signed", ec_signed.pem(), true, true),
        ("bundle_ca_shape", bundle_ca_shape, true, true),
        ("bundle_tight_crlf", bundle_tight_crlf, false, false),
        ("bundle_no_rsa", bundle_no_rsa, true, true),
        ("real_alipay_root_bundle", real_bundle, false, true),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, text, _, _) in &cases {
        let path = dir.path().join(format!("{name}.pem"));
        std::fs::write(&path, text).unwrap();
        files.push(path.display().to_string());
    }
    let node = sns_from(Path::new("node"), "cert_sn.mjs", &tools.node_dir, &files);
    let python = sns_from(
        &tools.python,
        "cert_sn.py",
        &root().join("tests/conformance"),
        &files,
    );

    for ((name, text, python_sn, python_root), file) in cases.iter().zip(&files) {
        let ours_sn = cert_sn_from_pem(text).unwrap();
        let ours_root = match root_cert_sn(text) {
            Ok(sn) => sn,
            Err(CertError::NoRsaRoot) => String::new(),
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(ours_sn.len(), 32, "{name}");
        assert_eq!(
            node[file]["sn"],
            ours_sn.as_str(),
            "{name}: Node SDK cert SN"
        );
        assert_eq!(
            node[file]["root_sn"],
            ours_root.as_str(),
            "{name}: Node SDK root SN"
        );
        if *python_sn {
            assert_eq!(
                python[file]["sn"],
                ours_sn.as_str(),
                "{name}: DCAliPay cert SN"
            );
        }
        if *python_root {
            assert_eq!(
                python[file]["root_sn"],
                ours_root.as_str(),
                "{name}: DCAliPay root SN"
            );
        }
    }
    // The bundles' root SNs are the RSA-signed certificates' SNs, in bundle order.
    let sn = |c: &Issued| cert_sn_from_pem(&c.pem()).unwrap();
    assert_eq!(
        root_cert_sn(&cases[8].1).unwrap(),
        format!("{}_{}", sn(&ca), sn(&app_sha1))
    );
    assert_eq!(
        root_cert_sn(&cases[9].1).unwrap(),
        format!("{}_{}", sn(&odd), sn(&ca))
    );
    // The real Alipay bundle: SM2 root skipped, then the RSA root R1, the ECDSA root E1 skipped,
    // then the SHA-1 RSA root — the SN every Alipay integrator sends.
    assert_eq!(
        root_cert_sn(&cases[11].1).unwrap(),
        "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6"
    );
}
