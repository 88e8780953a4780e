//! RSA key parsing and writing in every form Alipay users paste: PEM (SPKI, PKCS#1, PKCS#8,
//! certificates), PEM without its header lines, and the console's bare one-line base64.
//!
//! Errors name the mistake (a private key where a public one belongs, a certificate, garbage) and
//! never echo key material.

use base64::Engine;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use thiserror::Error;

/// Why a key could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The text is empty or only blanks.
    #[error("the key text is empty")]
    Empty,
    /// The key body is not base64.
    #[error("the key is not valid base64 (PEM or the console's one-line form expected)")]
    NotBase64,
    /// A PEM block with an unknown label.
    #[error("unsupported PEM block `{0}` (expected PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE, PRIVATE KEY or RSA PRIVATE KEY)")]
    UnsupportedPem(String),
    /// A `-----BEGIN` line without its `-----END` line, or the reverse order.
    #[error("the PEM block is not terminated by a matching -----END line")]
    UnterminatedPem,
    /// A private key was given where a public key belongs.
    #[error("a private key was given where a public key is expected; give the public key (never share the private one)")]
    PrivateKeyGiven,
    /// A public key or certificate was given where a private key belongs.
    #[error("a public key was given where a private key is expected")]
    PublicKeyGiven,
    /// A password-protected private key.
    #[error("the private key is encrypted; give it unencrypted (PKCS#1 or PKCS#8)")]
    EncryptedPrivateKey,
    /// Valid base64 that is not a DER key or certificate of the expected kind.
    #[error("the data is not a DER-encoded {0}")]
    Malformed(&'static str),
    /// A key of another algorithm (EC, Ed25519, …).
    #[error("the key is not an RSA key (Alipay uses RSA)")]
    NotRsaKey,
    /// An RSA private key whose components are inconsistent.
    #[error("the RSA private key is inconsistent (corrupted)")]
    InconsistentPrivateKey,
    /// OpenSSL failed to write or generate a key.
    #[error("OpenSSL failed: {0}")]
    OpenSsl(String),
}

impl From<openssl::error::ErrorStack> for KeyError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        // OpenSSL error strings name the failing routine, never the key bytes.
        KeyError::OpenSsl(e.to_string())
    }
}

/// What a piece of key text turned out to be, before interpreting its DER.
enum KeyText {
    /// A PEM block with its label (`PUBLIC KEY`, …).
    Pem { label: String, der: Vec<u8> },
    /// Bare base64 (one line or wrapped), or a PEM body whose header lines were lost.
    Bare(Vec<u8>),
}

/// Base64 that tolerates missing padding; whitespace is stripped before decoding.
const LENIENT_B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn decode_b64_body(body: &str) -> Result<Vec<u8>, KeyError> {
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyError::Empty);
    }
    LENIENT_B64
        .decode(compact.as_bytes())
        .map_err(|_| KeyError::NotBase64)
}

/// Splits key text into its label (if PEM) and DER bytes.
fn read_key_text(text: &str) -> Result<KeyText, KeyError> {
    // Keys copied out of JSON or environment variables often carry literal `\n` escapes;
    // backslashes never occur in base64 or PEM, so turning them back into newlines is safe.
    let text = text.replace("\\r\\n", "\n").replace("\\n", "\n");
    let text = text.trim().trim_start_matches('\u{feff}');
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if let Some(begin) = text.find("-----BEGIN ") {
        let after_begin = &text[begin + "-----BEGIN ".len()..];
        let label_end = after_begin.find("-----").ok_or(KeyError::UnterminatedPem)?;
        let label = after_begin[..label_end].trim().to_string();
        let body_and_rest = &after_begin[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body_and_rest
            .find(&end_marker)
            .ok_or(KeyError::UnterminatedPem)?;
        let body = &body_and_rest[..end];
        // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) mark legacy encrypted PEM.
        if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
            return Err(KeyError::EncryptedPrivateKey);
        }
        if label.len() > 40
            || !label
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ')
        {
            return Err(KeyError::UnsupportedPem(String::from("(unreadable label)")));
        }
        let der = decode_b64_body(body)?;
        return Ok(KeyText::Pem { label, der });
    }
    // No BEGIN line: drop any stray `-----…-----` lines (a lone END line) and read the rest.
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(KeyText::Bare(decode_b64_body(&body)?))
}

fn require_rsa_public(key: PKey<Public>) -> Result<PKey<Public>, KeyError> {
    if key.id() == Id::RSA {
        Ok(key)
    } else {
        Err(KeyError::NotRsaKey)
    }
}

fn require_rsa_private(key: PKey<Private>) -> Result<PKey<Private>, KeyError> {
    if key.id() != Id::RSA {
        return Err(KeyError::NotRsaKey);
    }
    let rsa = key.rsa().map_err(|_| KeyError::NotRsaKey)?;
    if !rsa.check_key().unwrap_or(false) {
        return Err(KeyError::InconsistentPrivateKey);
    }
    Ok(key)
}

fn public_from_pkcs1_der(der: &[u8]) -> Option<PKey<Public>> {
    Rsa::public_key_from_der_pkcs1(der)
        .ok()
        .and_then(|r| PKey::from_rsa(r).ok())
}

fn public_from_cert_der(der: &[u8]) -> Result<PKey<Public>, KeyError> {
    let cert = X509::from_der(der).map_err(|_| KeyError::Malformed("certificate"))?;
    cert.public_key()
        .map_err(|_| KeyError::Malformed("certificate public key"))
}

fn private_from_pkcs1_der(der: &[u8]) -> Option<PKey<Private>> {
    Rsa::private_key_from_der(der)
        .ok()
        .and_then(|r| PKey::from_rsa(r).ok())
}

/// Whether DER bytes parse as some private key (used only to name the mistake).
fn looks_private(der: &[u8]) -> bool {
    PKey::private_key_from_der(der).is_ok() || Rsa::private_key_from_der(der).is_ok()
}

/// Whether DER bytes parse as some public key or certificate (used only to name the mistake).
fn looks_public(der: &[u8]) -> bool {
    PKey::public_key_from_der(der).is_ok()
        || Rsa::public_key_from_der_pkcs1(der).is_ok()
        || X509::from_der(der).is_ok()
}

/// Reads an RSA public key: SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM, a
/// certificate (`BEGIN CERTIFICATE`, as in Alipay's certificate mode: its public key is used),
/// or bare base64 of any of these DER forms, including a PEM body whose header lines are missing.
///
/// Any RSA key size is accepted (legacy 1024-bit keys still exist).
pub fn parse_public_key(text: &str) -> Result<PKey<Public>, KeyError> {
    match read_key_text(text)? {
        KeyText::Pem { label, der } => match label.as_str() {
            "PUBLIC KEY" => PKey::public_key_from_der(&der)
                .map_err(|_| KeyError::Malformed("SubjectPublicKeyInfo"))
                .and_then(require_rsa_public),
            "RSA PUBLIC KEY" => {
                public_from_pkcs1_der(&der).ok_or(KeyError::Malformed("PKCS#1 RSA public key"))
            }
            "CERTIFICATE" | "X509 CERTIFICATE" => {
                public_from_cert_der(&der).and_then(require_rsa_public)
            }
            "RSA PRIVATE KEY" | "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                Err(KeyError::PrivateKeyGiven)
            }
            _ => Err(KeyError::UnsupportedPem(label)),
        },
        KeyText::Bare(der) => {
            if let Ok(k) = PKey::public_key_from_der(&der) {
                return require_rsa_public(k);
            }
            if let Some(k) = public_from_pkcs1_der(&der) {
                return Ok(k);
            }
            if let Ok(k) = public_from_cert_der(&der) {
                return require_rsa_public(k);
            }
            if looks_private(&der) {
                return Err(KeyError::PrivateKeyGiven);
            }
            Err(KeyError::Malformed("public key"))
        }
    }
}

/// Reads an RSA private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`)
/// PEM, or bare base64 of either DER form (what the Alipay key tool writes).
///
/// The key's consistency is checked, so a corrupted paste fails here rather than producing
/// signatures nobody can verify.
pub fn parse_private_key(text: &str) -> Result<PKey<Private>, KeyError> {
    match read_key_text(text)? {
        KeyText::Pem { label, der } => match label.as_str() {
            "RSA PRIVATE KEY" => private_from_pkcs1_der(&der)
                .ok_or(KeyError::Malformed("PKCS#1 RSA private key"))
                .and_then(require_rsa_private),
            "PRIVATE KEY" => PKey::private_key_from_pkcs8(&der)
                .map_err(|_| KeyError::Malformed("PKCS#8 private key"))
                .and_then(require_rsa_private),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::EncryptedPrivateKey),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" | "X509 CERTIFICATE" => {
                Err(KeyError::PublicKeyGiven)
            }
            _ => Err(KeyError::UnsupportedPem(label)),
        },
        KeyText::Bare(der) => {
            if let Ok(k) = PKey::private_key_from_pkcs8(&der) {
                return require_rsa_private(k);
            }
            if let Some(k) = private_from_pkcs1_der(&der) {
                return require_rsa_private(k);
            }
            if looks_public(&der) {
                return Err(KeyError::PublicKeyGiven);
            }
            if PKey::private_key_from_der(&der).is_ok() {
                // Some other algorithm's private key in a form PKCS#8 did not catch.
                return Err(KeyError::NotRsaKey);
            }
            Err(KeyError::Malformed("private key"))
        }
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, KeyError> {
    String::from_utf8(bytes).map_err(|_| KeyError::OpenSsl("PEM output is not UTF-8".into()))
}

/// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form the server stores.
pub fn public_key_to_spki_pem(key: &PKey<Public>) -> Result<String, KeyError> {
    utf8(key.public_key_to_pem()?)
}

/// The public key as one line of base64 SPKI DER without headers: the form the Alipay console
/// shows and the Java SDK expects.
pub fn public_key_to_spki_base64(key: &PKey<Public>) -> Result<String, KeyError> {
    Ok(base64::engine::general_purpose::STANDARD.encode(key.public_key_to_der()?))
}

/// The private key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), the only form the official
/// Python SDK loads.
pub fn private_key_to_pkcs1_pem(key: &PKey<Private>) -> Result<String, KeyError> {
    utf8(key.rsa()?.private_key_to_pem()?)
}

/// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), what Java expects.
pub fn private_key_to_pkcs8_pem(key: &PKey<Private>) -> Result<String, KeyError> {
    utf8(key.private_key_to_pem_pkcs8()?)
}

/// The public half of a private key.
pub fn public_from_private(key: &PKey<Private>) -> Result<PKey<Public>, KeyError> {
    Ok(PKey::public_key_from_der(&key.public_key_to_der()?)?)
}

/// Whether two public keys are the same key (DER comparison). The client uses it to spot the app's
/// own public key configured where Alipay's belongs, a frequent mistake.
pub fn same_public_key(a: &PKey<Public>, b: &PKey<Public>) -> bool {
    match (a.public_key_to_der(), b.public_key_to_der()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A fresh RSA-2048 key pair from OpenSSL's RNG (for `tradeq keys gen` and demo credentials).
pub fn generate_rsa_2048() -> Result<PKey<Private>, KeyError> {
    Ok(PKey::from_rsa(Rsa::generate(2048)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::test_vectors::A2_APP_PUBLIC_PEM;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn private_key_round_trips() {
        let key = generate_rsa_2048().unwrap();
        let der_pub = key.public_key_to_der().unwrap();
        let pkcs1 = private_key_to_pkcs1_pem(&key).unwrap();
        let pkcs8 = private_key_to_pkcs8_pem(&key).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let pkcs1_der = key.rsa().unwrap().private_key_to_der().unwrap();
        let pkcs8_der = key.private_key_to_pkcs8().unwrap();
        let pkcs1_body: String = pkcs1.lines().filter(|l| !l.starts_with("-----")).collect();
        let forms = [
            pkcs1.clone(),
            pkcs8.clone(),
            b64(&pkcs1_der),
            b64(&pkcs8_der),
            // Wrapped body with its header lines lost, CRLF line ends.
            pkcs1_body.clone(),
            pkcs8.lines().skip(1).collect::<Vec<_>>().join("\r\n"),
            // Literal `\n` escapes, as in a JSON string or an env var.
            pkcs1.replace('\n', "\\n"),
        ];
        for f in &forms {
            let k = parse_private_key(f).unwrap();
            assert_eq!(k.public_key_to_der().unwrap(), der_pub);
        }
        let public = public_from_private(&key).unwrap();
        let spki_pem = public_key_to_spki_pem(&public).unwrap();
        let spki_b64 = public_key_to_spki_base64(&public).unwrap();
        assert!(!spki_b64.contains('\n'));
        let pkcs1_pub_pem =
            String::from_utf8(key.rsa().unwrap().public_key_to_pem_pkcs1().unwrap()).unwrap();
        assert!(pkcs1_pub_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        let pkcs1_pub_b64 = b64(&key.rsa().unwrap().public_key_to_der_pkcs1().unwrap());
        for f in [&spki_pem, &spki_b64, &pkcs1_pub_pem, &pkcs1_pub_b64] {
            let k = parse_public_key(f).unwrap();
            assert!(same_public_key(&k, &public));
        }
        let other = public_from_private(&generate_rsa_2048().unwrap()).unwrap();
        assert!(!same_public_key(&other, &public));

        // Mistakes are named.
        for f in [&spki_pem, &spki_b64, &pkcs1_pub_pem, &pkcs1_pub_b64] {
            assert_eq!(parse_private_key(f).unwrap_err(), KeyError::PublicKeyGiven);
        }
        for f in &forms {
            assert_eq!(parse_public_key(f).unwrap_err(), KeyError::PrivateKeyGiven);
        }
    }

    #[test]
    fn certificates_give_their_key() {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::x509::{X509Builder, X509NameBuilder};
        let key = generate_rsa_2048().unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "tradeq test").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
        let public = public_from_private(&key).unwrap();
        assert!(same_public_key(&parse_public_key(&pem).unwrap(), &public));
        assert!(same_public_key(
            &parse_public_key(&b64(&cert.to_der().unwrap())).unwrap(),
            &public
        ));
        assert_eq!(
            parse_private_key(&pem).unwrap_err(),
            KeyError::PublicKeyGiven
        );
    }

    #[test]
    fn document_key_parses() {
        let k = parse_public_key(A2_APP_PUBLIC_PEM).unwrap();
        assert_eq!(k.bits(), 2048);
        // Single-line PEM (header, body and footer on one line) also reads.
        let one_line = A2_APP_PUBLIC_PEM.replace('\n', "");
        assert!(parse_public_key(&one_line).is_ok());
    }

    #[test]
    fn garbage_is_named_and_not_echoed() {
        assert_eq!(parse_public_key("  \n").unwrap_err(), KeyError::Empty);
        assert_eq!(
            parse_public_key("not base64 !!!").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            parse_public_key("QUJDREVGRw==").unwrap_err(),
            KeyError::Malformed("public key")
        );
        assert_eq!(
            parse_private_key("QUJDREVGRw==").unwrap_err(),
            KeyError::Malformed("private key")
        );
        assert_eq!(
            parse_public_key("-----BEGIN PUBLIC KEY-----\nQUJD\n").unwrap_err(),
            KeyError::UnterminatedPem
        );
        assert!(matches!(
            parse_public_key("-----BEGIN EC PRIVATE KEY-----\nQUJD\n-----END EC PRIVATE KEY-----")
                .unwrap_err(),
            KeyError::UnsupportedPem(_)
        ));
        assert_eq!(
            parse_private_key(
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nQUJD\n-----END RSA PRIVATE KEY-----"
            )
            .unwrap_err(),
            KeyError::EncryptedPrivateKey
        );
        // An EC key is refused as not RSA.
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let ec = PKey::from_ec_key(ec).unwrap();
        let ec_pub = String::from_utf8(ec.public_key_to_pem().unwrap()).unwrap();
        assert_eq!(parse_public_key(&ec_pub).unwrap_err(), KeyError::NotRsaKey);
        let ec_priv = String::from_utf8(ec.private_key_to_pem_pkcs8().unwrap()).unwrap();
        assert_eq!(
            parse_private_key(&ec_priv).unwrap_err(),
            KeyError::NotRsaKey
        );
        // No error message repeats the input.
        let secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        let msg = parse_private_key(secret).unwrap_err().to_string();
        assert!(!msg.contains("MIIE"));
    }
}
