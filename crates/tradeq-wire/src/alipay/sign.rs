//! RSA signatures as Alipay uses them (PKCS#1 v1.5, SHA-256 for `RSA2`, SHA-1 for `RSA`) and the
//! v2 request string-to-sign (docs/protocol/alipay-v2.md §2).

use base64::Engine;
use std::sync::Mutex;

use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::{PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};
use sha2::Digest;
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
    let Some(sig) = decode_signature(sig_b64, key.size()) else {
        return false;
    };
    let Ok(mut verifier) = Verifier::new(t.digest(), key) else {
        return false;
    };
    verifier.verify_oneshot(&sig, data).unwrap_or(false)
}

/// The raw bytes of a base64 signature for a key of `key_size` bytes.
fn decode_signature(sig_b64: &str, key_size: usize) -> Option<Vec<u8>> {
    let compact: Vec<u8> = sig_b64
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    // Bounded before decoding: a signature is at most a 16384-bit modulus.
    if compact.is_empty() || compact.len() > 4096 {
        return None;
    }
    let sig = LENIENT_B64.decode(&compact).ok()?;
    (sig.len() == key_size).then_some(sig)
}

/// A public key that verifies signatures, as [`rsa_verify`] does, through contexts it keeps for
/// reuse: setting up an OpenSSL 3 verification context (algorithm lookups, key export) costs about
/// a fifth of the RSA operation itself, and a server verifies with the same few keys all day.
pub struct RsaVerifier {
    key: PKey<Public>,
    idle: Mutex<Vec<(SignType, PkeyCtx<Public>)>>,
}

/// Contexts kept per key: more than the concurrent verifications of one app on a few cores.
const IDLE_CONTEXTS: usize = 16;

impl RsaVerifier {
    /// Wraps a public key.
    pub fn new(key: PKey<Public>) -> RsaVerifier {
        RsaVerifier {
            key,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The key.
    pub fn key(&self) -> &PKey<Public> {
        &self.key
    }

    /// Verifies a base64 PKCS#1 v1.5 signature; the same answers as [`rsa_verify`].
    pub fn verify(&self, t: SignType, data: &[u8], sig_b64: &str) -> bool {
        let Some(sig) = decode_signature(sig_b64, self.key.size()) else {
            return false;
        };
        let digest: Vec<u8> = match t {
            SignType::Rsa2 => sha2::Sha256::digest(data).to_vec(),
            SignType::Rsa => openssl::sha::sha1(data).to_vec(),
        };
        let reused = self.idle.lock().ok().and_then(|mut idle| {
            let at = idle.iter().position(|(kind, _)| *kind == t)?;
            Some(idle.swap_remove(at).1)
        });
        let mut ctx = match reused {
            Some(ctx) => ctx,
            None => match self.new_context(t) {
                Ok(ctx) => ctx,
                Err(_) => return false,
            },
        };
        let ok = ctx.verify(&digest, &sig).unwrap_or(false);
        // A failed verification leaves the context ready for the next one; OpenSSL's error queue
        // is the thread's and is cleared by the crate.
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_CONTEXTS {
                idle.push((t, ctx));
            }
        }
        ok
    }

    fn new_context(&self, t: SignType) -> Result<PkeyCtx<Public>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(&self.key)?;
        ctx.verify_init()?;
        ctx.set_rsa_padding(Padding::PKCS1)?;
        ctx.set_signature_md(match t {
            SignType::Rsa2 => Md::sha256(),
            SignType::Rsa => Md::sha1(),
        })?;
        Ok(ctx)
    }
}

impl std::fmt::Debug for RsaVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaVerifier")
            .field("bits", &self.key.bits())
            .finish_non_exhaustive()
    }
}

/// Something that verifies base64 PKCS#1 v1.5 signatures: a bare key or an [`RsaVerifier`].
pub trait VerifyKey {
    /// Whether `sig_b64` signs `data` with hash `t`.
    fn verify_b64(&self, t: SignType, data: &[u8], sig_b64: &str) -> bool;
}

impl VerifyKey for PKey<Public> {
    fn verify_b64(&self, t: SignType, data: &[u8], sig_b64: &str) -> bool {
        rsa_verify(self, t, data, sig_b64)
    }
}

impl VerifyKey for RsaVerifier {
    fn verify_b64(&self, t: SignType, data: &[u8], sig_b64: &str) -> bool {
        self.verify(t, data, sig_b64)
    }
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
pub fn v2_verify_request<'a, K: VerifyKey + ?Sized>(
    key: &K,
    t: SignType,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    sig: &str,
    charset: Charset,
) -> Result<(), V2SignMismatch> {
    let params: Vec<(&str, &str)> = params.into_iter().collect();
    let canonical = v2_sign_content(params.iter().copied(), false);
    let canonical_bytes = charset.encode(&canonical);
    if key.verify_b64(t, &canonical_bytes, sig) {
        return Ok(());
    }
    let has_empty = params
        .iter()
        .any(|(k, v)| !k.is_empty() && *k != "sign" && v.is_empty());
    let with_empty =
        has_empty.then(|| charset.encode(&v2_sign_content(params.iter().copied(), true)));
    if let Some(bytes) = &with_empty {
        if key.verify_b64(t, bytes, sig) {
            return Ok(());
        }
    }
    let other = t.other();
    let other_sign_type_matches = key.verify_b64(other, &canonical_bytes, sig)
        || with_empty
            .as_deref()
            .is_some_and(|b| key.verify_b64(other, b, sig));
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
    fn verifier_agrees_with_rsa_verify_and_survives_failures() {
        let verifier = RsaVerifier::new(parse_public_key(A2_APP_PUBLIC_PEM).unwrap());
        let content = A2_SIGN_CONTENT.as_bytes();
        let mut tampered_sig = A2_SIGN.to_string();
        tampered_sig.replace_range(10..11, if &A2_SIGN[10..11] == "A" { "B" } else { "A" });
        let wrapped = format!("{}\r\n{}", &A2_SIGN[..100], &A2_SIGN[100..]);
        let cases: [(SignType, &[u8], &str); 7] = [
            (SignType::Rsa2, content, A2_SIGN),
            (SignType::Rsa2, content, &wrapped),
            (SignType::Rsa2, b"other content", A2_SIGN),
            (SignType::Rsa2, content, &tampered_sig),
            (SignType::Rsa, content, A2_SIGN),
            (SignType::Rsa2, content, "not base64 !!"),
            (SignType::Rsa2, content, &A2_SIGN[..40]),
        ];
        // Twice over, so the second round runs on reused contexts, each after a failure.
        for round in 0..2 {
            for (t, data, sig) in &cases {
                assert_eq!(
                    verifier.verify(*t, data, sig),
                    rsa_verify(verifier.key(), *t, data, sig),
                    "round {round}: {t:?} {sig:.20}"
                );
            }
            assert!(
                verifier.verify(SignType::Rsa2, content, A2_SIGN),
                "round {round}"
            );
        }
        // SHA-1 (`sign_type=RSA`) through the verifier.
        let private = generate_rsa_2048().unwrap();
        let verifier = RsaVerifier::new(public_from_private(&private).unwrap());
        let sig = rsa_sign(&private, SignType::Rsa, b"legacy").unwrap();
        for _ in 0..2 {
            assert!(verifier.verify(SignType::Rsa, b"legacy", &sig));
            assert!(!verifier.verify(SignType::Rsa2, b"legacy", &sig));
            assert!(!verifier.verify(SignType::Rsa, b"legacy!", &sig));
        }
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
