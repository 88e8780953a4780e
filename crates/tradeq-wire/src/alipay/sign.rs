//! RSA signatures as Alipay uses them (PKCS#1 v1.5, SHA-256 for `RSA2`, SHA-1 for `RSA`) and the
//! v2 request string-to-sign (PROTOCOL-ALIPAY A.2).

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use thiserror::Error;

use crate::params::Charset;

/// The `sign_type` of a v2 request, which also selects the response signature's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignType {
    /// `RSA2`: SHA256withRSA.
    Rsa2,
    /// `RSA`: SHA1withRSA, legacy.
    Rsa,
}

impl SignType {
    /// Reads the `sign_type` parameter; exact and case-sensitive, as the SDKs send it.
    pub fn from_param(s: &str) -> Option<SignType> {
        match s {
            "RSA2" => Some(SignType::Rsa2),
            "RSA" => Some(SignType::Rsa),
            _ => None,
        }
    }

    /// The parameter value (`RSA2` or `RSA`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SignType::Rsa2 => "RSA2",
            SignType::Rsa => "RSA",
        }
    }

    fn digest(&self) -> MessageDigest {
        match self {
            SignType::Rsa2 => MessageDigest::sha256(),
            SignType::Rsa => MessageDigest::sha1(),
        }
    }

    /// The other sign type, for diagnosing a signature made with the wrong hash.
    fn other(&self) -> SignType {
        match self {
            SignType::Rsa2 => SignType::Rsa,
            SignType::Rsa => SignType::Rsa2,
        }
    }
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignError {
    /// OpenSSL refused (e.g. a key too small for the digest).
    #[error("RSA signing failed: {0}")]
    OpenSsl(String),
}

/// Signs `data` with PKCS#1 v1.5 and returns standard base64 (with padding).
pub fn rsa_sign(key: &PKey<Private>, t: SignType, data: &[u8]) -> Result<String, SignError> {
    let err = |e: openssl::error::ErrorStack| SignError::OpenSsl(e.to_string());
    let mut signer = Signer::new(t.digest(), key).map_err(err)?;
    let sig = signer.sign_oneshot_to_vec(data).map_err(err)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sig))
}

/// Base64 that tolerates missing padding, for signatures clients trimmed.
const LENIENT_B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Verifies a base64 PKCS#1 v1.5 signature. Stray whitespace and line breaks in the base64 are
/// ignored (some clients wrap it); anything malformed, or of the wrong length for the key, is
/// simply `false`.
pub fn rsa_verify(key: &PKey<Public>, t: SignType, data: &[u8], sig_b64: &str) -> bool {
    let compact: Vec<u8> = sig_b64
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    // Bounded before decoding: a signature is at most a 16384-bit modulus.
    if compact.is_empty() || compact.len() > 4096 {
        return false;
    }
    let Ok(sig) = LENIENT_B64.decode(&compact) else {
        return false;
    };
    if sig.len() != key.size() {
        return false;
    }
    let Ok(mut verifier) = Verifier::new(t.digest(), key) else {
        return false;
    };
    verifier.verify_oneshot(&sig, data).unwrap_or(false)
}

/// The v2 request string-to-sign: every parameter except `sign` (`sign_type` IS included),
/// sorted by name in byte order, `name=value` joined with `&`, decoded values.
///
/// With `include_empty == false` parameters with an empty value are dropped (the documented rule,
/// and what Java does); with `true` they stay (`foo=`), as the Python and Node SDKs sign them.
/// File parts never reach this function: they are not in the parameter set.
pub fn v2_sign_content<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    include_empty: bool,
) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| !k.is_empty() && *k != "sign" && (include_empty || !v.is_empty()))
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let len = kept.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(len);
    for (i, (k, v)) in kept.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A v2 request signature that did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the request signature does not match the string-to-sign")]
pub struct V2SignMismatch {
    /// The canonical string the gateway verified (empty values dropped), echoed to the client
    /// in `isv.invalid-signature` as the real gateway does.
    pub canonical: String,
    /// Whether the signature does verify with the other hash: the client signed with `RSA` while
    /// declaring `RSA2`, or the reverse (the real gateway has a message for that).
    pub other_sign_type_matches: bool,
}

/// Verifies a v2 request signature over the canonical string encoded in the request charset.
///
/// If that fails and empty-valued parameters were received, it retries with them included,
/// because the Python and Node SDKs sign `foo=` while Java and the documentation drop it.
pub fn v2_verify_request<'a>(
    key: &PKey<Public>,
    t: SignType,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    sig: &str,
    charset: Charset,
) -> Result<(), V2SignMismatch> {
    let params: Vec<(&str, &str)> = params.into_iter().collect();
    let canonical = v2_sign_content(params.iter().copied(), false);
    let canonical_bytes = charset.encode(&canonical);
    if rsa_verify(key, t, &canonical_bytes, sig) {
        return Ok(());
    }
    let has_empty = params
        .iter()
        .any(|(k, v)| !k.is_empty() && *k != "sign" && v.is_empty());
    let with_empty =
        has_empty.then(|| charset.encode(&v2_sign_content(params.iter().copied(), true)));
    if let Some(bytes) = &with_empty {
        if rsa_verify(key, t, bytes, sig) {
            return Ok(());
        }
    }
    let other = t.other();
    let other_sign_type_matches = rsa_verify(key, other, &canonical_bytes, sig)
        || with_empty
            .as_deref()
            .is_some_and(|b| rsa_verify(key, other, b, sig));
    Err(V2SignMismatch {
        canonical,
        other_sign_type_matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::keys::{generate_rsa_2048, parse_public_key, public_from_private};
    use crate::alipay::test_vectors::*;
    use crate::params::{parse_form, Limits, ParamSet};

    fn a2_params() -> Vec<(&'static str, &'static str)> {
        vec![
            ("app_id", "2021000000000001"),
            ("method", "alipay.trade.query"),
            ("charset", "utf-8"),
            ("format", "json"),
            ("sign_type", "RSA2"),
            ("timestamp", "2024-01-01 12:00:00"),
            ("version", "1.0"),
            ("biz_content", r#"{"out_trade_no":"T1 中文"}"#),
            ("sign", A2_SIGN),
        ]
    }

    #[test]
    fn a2_string_to_sign() {
        let s = v2_sign_content(a2_params(), false);
        assert_eq!(s, A2_SIGN_CONTENT);
        assert_eq!(s.len(), 173);
        let digest = openssl::sha::sha256(s.as_bytes());
        assert_eq!(hex::encode(digest), A2_SIGN_CONTENT_SHA256);
    }

    #[test]
    fn a2_signature_verifies() {
        let key = parse_public_key(A2_APP_PUBLIC_PEM).unwrap();
        assert!(rsa_verify(
            &key,
            SignType::Rsa2,
            A2_SIGN_CONTENT.as_bytes(),
            A2_SIGN
        ));
        // Wrapped base64 still verifies.
        let wrapped = format!("{}\r\n{}", &A2_SIGN[..100], &A2_SIGN[100..]);
        assert!(rsa_verify(
            &key,
            SignType::Rsa2,
            A2_SIGN_CONTENT.as_bytes(),
            &wrapped
        ));
        // The wrong hash does not.
        assert!(!rsa_verify(
            &key,
            SignType::Rsa,
            A2_SIGN_CONTENT.as_bytes(),
            A2_SIGN
        ));
        // One flipped byte of data fails.
        let mut data = A2_SIGN_CONTENT.as_bytes().to_vec();
        data[10] ^= 1;
        assert!(!rsa_verify(&key, SignType::Rsa2, &data, A2_SIGN));
        // One flipped byte of signature fails.
        let mut sig = base64::engine::general_purpose::STANDARD
            .decode(A2_SIGN)
            .unwrap();
        sig[100] ^= 1;
        let sig = base64::engine::general_purpose::STANDARD.encode(sig);
        assert!(!rsa_verify(
            &key,
            SignType::Rsa2,
            A2_SIGN_CONTENT.as_bytes(),
            &sig
        ));
        // The string without sign_type (the notification variant) fails.
        let without: Vec<_> = a2_params()
            .into_iter()
            .filter(|(k, _)| *k != "sign_type")
            .collect();
        let s = v2_sign_content(without, false);
        assert!(!rsa_verify(&key, SignType::Rsa2, s.as_bytes(), A2_SIGN));
        // Garbage signatures are false, not panics.
        for bad in ["", "!!!", "QUJD", &"A".repeat(5000), "wFWI h9hD ==="] {
            assert!(!rsa_verify(&key, SignType::Rsa2, b"x", bad));
        }
    }

    #[test]
    fn a2_wire_form_round_trips() {
        let mut pairs = parse_form(a2_query().as_bytes(), Charset::Utf8).unwrap();
        pairs.extend(parse_form(A2_BODY.as_bytes(), Charset::Utf8).unwrap());
        let set = ParamSet::from_pairs(pairs, &Limits::default()).unwrap();
        assert_eq!(set.get("sign"), Some(A2_SIGN));
        assert_eq!(v2_sign_content(set.iter(), false), A2_SIGN_CONTENT);
        let key = parse_public_key(A2_APP_PUBLIC_PEM).unwrap();
        assert_eq!(
            v2_verify_request(&key, SignType::Rsa2, set.iter(), A2_SIGN, Charset::Utf8),
            Ok(())
        );
    }

    #[test]
    fn empty_values_dropped_then_included() {
        let key = generate_rsa_2048().unwrap();
        let public = public_from_private(&key).unwrap();
        let params = [("a", "1"), ("foo", ""), ("b", "2"), ("sign_type", "RSA2")];
        assert_eq!(v2_sign_content(params, false), "a=1&b=2&sign_type=RSA2");
        assert_eq!(v2_sign_content(params, true), "a=1&b=2&foo=&sign_type=RSA2");
        // Java style (dropped) and Python style (kept) both verify.
        for include in [false, true] {
            let sig = rsa_sign(
                &key,
                SignType::Rsa2,
                v2_sign_content(params, include).as_bytes(),
            )
            .unwrap();
            assert_eq!(
                v2_verify_request(&public, SignType::Rsa2, params, &sig, Charset::Utf8),
                Ok(())
            );
        }
        // A bad one reports the canonical string; a SHA-1 signature under RSA2 is diagnosed.
        let sha1 = rsa_sign(&key, SignType::Rsa, b"a=1&b=2&sign_type=RSA2").unwrap();
        let err =
            v2_verify_request(&public, SignType::Rsa2, params, &sha1, Charset::Utf8).unwrap_err();
        assert_eq!(err.canonical, "a=1&b=2&sign_type=RSA2");
        assert!(err.other_sign_type_matches);
        let err =
            v2_verify_request(&public, SignType::Rsa2, params, "QUJD", Charset::Utf8).unwrap_err();
        assert!(!err.other_sign_type_matches);
    }

    #[test]
    fn gbk_canonical_string_signs_and_verifies() {
        let key = generate_rsa_2048().unwrap();
        let public = public_from_private(&key).unwrap();
        // A GBK form body as PYO sends it with charset=gbk.
        let body =
            b"charset=gbk&biz_content=%7B%22subject%22%3A%22%D6%D0%CE%C4%22%7D&sign_type=RSA";
        let set = ParamSet::from_pairs(parse_form(body, Charset::Gbk).unwrap(), &Limits::default())
            .unwrap();
        let canonical = v2_sign_content(set.iter(), false);
        assert_eq!(
            canonical,
            r#"biz_content={"subject":"中文"}&charset=gbk&sign_type=RSA"#
        );
        // The client signs the GBK bytes of that string.
        let gbk_bytes = b"biz_content={\"subject\":\"\xd6\xd0\xce\xc4\"}&charset=gbk&sign_type=RSA";
        assert_eq!(Charset::Gbk.encode(&canonical), gbk_bytes.to_vec());
        let sig = rsa_sign(&key, SignType::Rsa, gbk_bytes).unwrap();
        assert_eq!(
            v2_verify_request(&public, SignType::Rsa, set.iter(), &sig, Charset::Gbk),
            Ok(())
        );
        // Verified as UTF-8 it fails.
        assert!(
            v2_verify_request(&public, SignType::Rsa, set.iter(), &sig, Charset::Utf8).is_err()
        );
    }

    #[test]
    fn sign_type_params() {
        assert_eq!(SignType::from_param("RSA2"), Some(SignType::Rsa2));
        assert_eq!(SignType::from_param("RSA"), Some(SignType::Rsa));
        assert_eq!(SignType::from_param("rsa2"), None);
        assert_eq!(SignType::from_param("SM2"), None);
        assert_eq!(SignType::Rsa2.as_str(), "RSA2");
    }

    #[test]
    fn sign_is_deterministic_and_344_chars() {
        let key = generate_rsa_2048().unwrap();
        let a = rsa_sign(&key, SignType::Rsa2, b"x").unwrap();
        let b = rsa_sign(&key, SignType::Rsa2, b"x").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 344);
    }
}
