//! Public-key-certificate mode (公钥证书模式): reading certificates and computing the serial
//! numbers (SNs) the requests and answers carry.
//!
//! The SN of a certificate is `md5_hex(issuer + decimal(serial))`, where `issuer` is the issuer's
//! attributes in reverse order, written `SHORT=value` and joined with `,` — no RFC 2253 escaping,
//! and only `CN`, `C`, `L`, `ST`, `O`, `OU` and `E` (emailAddress) have a name; any other
//! attribute is written with an empty name (`=value`), as the official Node SDK does. The root SN
//! of a bundle is the `_`-joined SNs of its certificates signed with an RSA-family algorithm
//! (OID prefix `1.2.840.113549.1.1`), in bundle order; the others (SM2, ECDSA) are skipped.

use md5::{Digest, Md5};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::x509::{X509Ref, X509};
use thiserror::Error;

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertError {
    /// No `-----BEGIN CERTIFICATE-----` block in the text.
    #[error("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// A certificate block whose DER does not parse.
    #[error("the PEM certificate does not parse")]
    Malformed,
    /// A root bundle without any RSA-signed certificate: its root SN would be empty.
    #[error("the root bundle holds no RSA-signed certificate")]
    NoRsaRoot,
    /// OpenSSL failed on a well-formed certificate.
    #[error("OpenSSL failed: {0}")]
    OpenSsl(String),
}

impl From<openssl::error::ErrorStack> for CertError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        CertError::OpenSsl(e.to_string())
    }
}

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Every certificate of a PEM text, in order. Text around the blocks (comments, blank lines,
/// Windows line ends) is ignored.
pub fn parse_certificates(pem: &str) -> Result<Vec<X509>, CertError> {
    parse_some(pem, usize::MAX)
}

/// At most `limit` certificates of a PEM text.
fn parse_some(pem: &str, limit: usize) -> Result<Vec<X509>, CertError> {
    let mut certs = Vec::new();
    let mut rest = pem;
    while certs.len() < limit {
        let Some(start) = rest.find(BEGIN) else {
            break;
        };
        let after = &rest[start..];
        let Some(end) = after.find(END) else {
            return Err(CertError::Malformed);
        };
        let block = &after[..end + END.len()];
        certs.push(X509::from_pem(block.as_bytes()).map_err(|_| CertError::Malformed)?);
        rest = &after[end + END.len()..];
    }
    if certs.is_empty() {
        return Err(CertError::NoCertificate);
    }
    Ok(certs)
}

/// The first certificate of a PEM text (an app or Alipay public-key certificate).
pub fn parse_certificate(pem: &str) -> Result<X509, CertError> {
    parse_some(pem, 1)?
        .into_iter()
        .next()
        .ok_or(CertError::NoCertificate)
}

/// The name the SN string gives an issuer attribute; empty for attributes without one.
fn short_name(nid: Nid) -> &'static str {
    match nid {
        Nid::COMMONNAME => "CN",
        Nid::COUNTRYNAME => "C",
        Nid::LOCALITYNAME => "L",
        Nid::STATEORPROVINCENAME => "ST",
        Nid::ORGANIZATIONNAME => "O",
        Nid::ORGANIZATIONALUNITNAME => "OU",
        Nid::PKCS9_EMAILADDRESS => "E",
        _ => "",
    }
}

/// The issuer as the SN hashes it, e.g. `CN=Ant Financial Certification Authority Class 2 R1,OU=Certification Authority,O=Ant Financial,C=CN`.
pub fn issuer_string(cert: &X509Ref) -> String {
    let parts: Vec<String> = cert
        .issuer_name()
        .entries()
        .map(|e| {
            // The value's bytes as text, whatever the string type (the Node SDK does the same).
            let value = String::from_utf8_lossy(e.data().as_slice());
            format!("{}={}", short_name(e.object().nid()), value)
        })
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The serial number in decimal.
pub fn serial_decimal(cert: &X509Ref) -> Result<String, CertError> {
    Ok(cert.serial_number().to_bn()?.to_dec_str()?.to_string())
}

/// The SN of a certificate: 32 lowercase hex digits.
pub fn cert_sn(cert: &X509Ref) -> Result<String, CertError> {
    let text = format!("{}{}", issuer_string(cert), serial_decimal(cert)?);
    Ok(hex::encode(Md5::digest(text.as_bytes())))
}

/// The SN of the first certificate of a PEM text (`app_cert_sn`, `alipay_cert_sn`).
pub fn cert_sn_from_pem(pem: &str) -> Result<String, CertError> {
    let cert = parse_certificate(pem)?;
    cert_sn(&cert)
}

/// The signature algorithm OID in dotted form, e.g. `1.2.840.113549.1.1.11`.
pub fn signature_oid(cert: &X509Ref) -> String {
    let object = cert.signature_algorithm().object();
    // The borrowed object exposes only its name; an owned copy made from that name exposes the
    // DER arcs (OpenSSL prints unknown OIDs dotted, and reads dotted text back).
    match openssl::asn1::Asn1Object::from_str(&object.to_string()) {
        Ok(owned) => oid_dotted(owned.as_slice()),
        Err(_) => object.to_string(),
    }
}

/// Dotted text of an OID's DER content bytes.
fn oid_dotted(der: &[u8]) -> String {
    let mut arcs: Vec<u128> = Vec::new();
    let mut acc: u128 = 0;
    for &b in der {
        acc = (acc << 7) | u128::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u128::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether the certificate is signed with an RSA-family algorithm, the test the root SN applies.
pub fn is_rsa_signed(cert: &X509Ref) -> bool {
    // A string prefix test, exactly as the SDKs do it.
    signature_oid(cert).starts_with("1.2.840.113549.1.1")
}

/// The root SN of a root bundle (`alipay_root_cert_sn`).
pub fn root_cert_sn(bundle_pem: &str) -> Result<String, CertError> {
    let mut sns = Vec::new();
    for cert in parse_certificates(bundle_pem)? {
        if is_rsa_signed(&cert) {
            sns.push(cert_sn(&cert)?);
        }
    }
    if sns.is_empty() {
        return Err(CertError::NoRsaRoot);
    }
    Ok(sns.join("_"))
}

/// The public key a certificate carries.
pub fn public_key(cert: &X509Ref) -> Result<PKey<Public>, CertError> {
    Ok(cert.public_key()?)
}

/// The public key of the first certificate of a PEM text.
pub fn public_key_from_pem(pem: &str) -> Result<PKey<Public>, CertError> {
    let cert = parse_certificate(pem)?;
    public_key(&cert)
}

/// Whether `cert` was signed by one of the certificates of `bundle_pem` (its key verifies the
/// certificate's signature). Validity periods are not looked at.
pub fn issued_by_bundle(cert: &X509Ref, bundle_pem: &str) -> Result<bool, CertError> {
    for root in parse_certificates(bundle_pem)? {
        let key = root.public_key()?;
        if cert.verify(&key).unwrap_or(false) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why a certificate-mode request is refused before its signature is looked at. The codes are
/// the real gateway's (docs/protocol/alipay-v2.md §5.4 gives the evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRefusal {
    /// The app is in certificate mode and the request names no app certificate.
    MissingAppCertSn,
    /// The named app certificate is not the app's, was revoked, or the app has no certificate.
    AppCertNotExist,
    /// The request names no root bundle.
    MissingRootCertSn,
    /// The named root bundle is not the app's.
    InvalidRootCertSn,
}

impl CertRefusal {
    /// The sub_code without its `isv.` prefix (the v3 `code`).
    pub fn code(self) -> &'static str {
        match self {
            CertRefusal::MissingAppCertSn => "missing-app-cert-sn",
            CertRefusal::AppCertNotExist => "app-cert-not-exist",
            CertRefusal::MissingRootCertSn => "missing-alipay-root-cert-sn",
            CertRefusal::InvalidRootCertSn => "invalid-alipay-root-cert-sn",
        }
    }

    /// The gateway's text.
    pub fn message(self) -> &'static str {
        match self {
            CertRefusal::MissingAppCertSn => "缺少应用公钥证书序列号",
            CertRefusal::AppCertNotExist => "应用公钥证书不存在",
            CertRefusal::MissingRootCertSn => "缺少支付宝根证书序列号",
            CertRefusal::InvalidRootCertSn => "无效支付宝根证书序列号",
        }
    }

    /// Whether the value was absent (v2 `40001`) rather than wrong (`40002`).
    pub fn is_missing(self) -> bool {
        matches!(
            self,
            CertRefusal::MissingAppCertSn | CertRefusal::MissingRootCertSn
        )
    }
}

/// What an app in certificate mode accepts.
#[derive(Debug, Clone, Copy)]
pub struct CertExpectation<'a> {
    /// The app certificate's SN.
    pub app_cert_sn: &'a str,
    /// SNs refused even when they match.
    pub revoked: &'a [String],
    /// The root SN of the app's bundle.
    pub root_cert_sn: &'a str,
}

/// Checks a request's `app_cert_sn` and `alipay_root_cert_sn` (empty counts as absent).
/// `expected` is `None` for an app in public-key mode: a request naming a certificate is refused
/// (the app has none), one naming none passes. `Ok(true)` means the answer is in certificate mode.
pub fn check_request_sns(
    expected: Option<CertExpectation<'_>>,
    app_cert_sn: Option<&str>,
    root_cert_sn: Option<&str>,
) -> Result<bool, CertRefusal> {
    let app_cert_sn = app_cert_sn.filter(|s| !s.is_empty());
    let root_cert_sn = root_cert_sn.filter(|s| !s.is_empty());
    let Some(e) = expected else {
        return match app_cert_sn {
            Some(_) => Err(CertRefusal::AppCertNotExist),
            None => Ok(false),
        };
    };
    let sn = app_cert_sn.ok_or(CertRefusal::MissingAppCertSn)?;
    // Public values, but compared without early exit like every other credential.
    if !constant_eq(sn, e.app_cert_sn) || e.revoked.iter().any(|r| r == sn) {
        return Err(CertRefusal::AppCertNotExist);
    }
    let root = root_cert_sn.ok_or(CertRefusal::MissingRootCertSn)?;
    if !constant_eq(root, e.root_cert_sn) {
        return Err(CertRefusal::InvalidRootCertSn);
    }
    Ok(true)
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

#[cfg(test)]
mod tests;
