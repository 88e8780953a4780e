//! The digest inside a PKCS#1 v1.5 signature, recovered with a public key.

use base64::Engine;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;

use crate::alipay::sign::SignType;

/// DER prefixes of the `DigestInfo` a PKCS#1 v1.5 signature holds.
const SHA256_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA1_PREFIX: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

/// What a signature carries: the hash it was made with and the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// `None` when the hash is neither SHA-256 nor SHA-1.
    pub sign_type: Option<SignType>,
    pub digest: Vec<u8>,
}

/// The signature's bytes, when it is base64 (whitespace and missing padding tolerated).
pub(crate) fn decode(sig_b64: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = sig_b64
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() || compact.len() > 4096 {
        return None;
    }
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    lenient.decode(&compact).ok()
}

/// The digest `sig` carries under `key`, or `None` when `key` did not make it.
pub(crate) fn recover(key: &PKey<Public>, sig: &[u8]) -> Option<Recovered> {
    let rsa = key.rsa().ok()?;
    if sig.len() != key.size() {
        return None;
    }
    let mut out = vec![0u8; key.size()];
    let n = rsa.public_decrypt(sig, &mut out, Padding::PKCS1).ok()?;
    out.truncate(n);
    for (prefix, t) in [
        (SHA256_PREFIX, SignType::Rsa2),
        (SHA1_PREFIX, SignType::Rsa),
    ] {
        if let Some(digest) = out.strip_prefix(prefix) {
            return Some(Recovered {
                sign_type: Some(t),
                digest: digest.to_vec(),
            });
        }
    }
    Some(Recovered {
        sign_type: None,
        digest: out,
    })
}

/// The digest of `data` with `t`'s hash.
pub(crate) fn digest(t: SignType, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    match t {
        SignType::Rsa2 => sha2::Sha256::digest(data).to_vec(),
        SignType::Rsa => openssl::sha::sha1(data).to_vec(),
    }
}

/// The hash's name as integrators know it.
pub(crate) fn describe(t: SignType) -> &'static str {
    match t {
        SignType::Rsa2 => "RSA2 (SHA256withRSA)",
        SignType::Rsa => "RSA (SHA1withRSA)",
    }
}
