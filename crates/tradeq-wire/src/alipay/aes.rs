//! v2 content encryption (docs/protocol/alipay-v2.md §5.3): AES-CBC with a zero IV and PKCS#7 padding,
//! base64 in and out. The key is the console's base64 "接口内容加密密钥" (16 bytes; 24- and
//! 32-byte keys select AES-192/256 as the Java SDK would).

use base64::Engine;
use openssl::symm::{Cipher, Crypter, Mode};
use thiserror::Error;

/// Why encryption or decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AesError {
    /// The key is not base64.
    #[error("the AES key is not valid base64")]
    KeyNotBase64,
    /// The key decodes to a length AES does not use.
    #[error("the AES key is {0} bytes long (16, 24 or 32 expected)")]
    BadKeyLength(usize),
    /// The ciphertext is not base64.
    #[error("the ciphertext is not valid base64")]
    CiphertextNotBase64,
    /// The ciphertext is empty or not a whole number of blocks.
    #[error("the ciphertext is {0} bytes long, not a positive multiple of 16")]
    BadCiphertextLength(usize),
    /// Decryption produced invalid padding: wrong key or corrupted data.
    #[error("decryption failed (wrong key or corrupted ciphertext)")]
    BadPadding,
    /// OpenSSL failed for another reason.
    #[error("AES failed: {0}")]
    OpenSsl(String),
}

/// The zero IV every Alipay SDK uses.
const ZERO_IV: [u8; 16] = [0u8; 16];

fn cipher_for(key_b64: &str) -> Result<(Cipher, Vec<u8>), AesError> {
    let compact: String = key_b64.chars().filter(|c| !c.is_whitespace()).collect();
    let key = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| AesError::KeyNotBase64)?;
    let cipher = match key.len() {
        16 => Cipher::aes_128_cbc(),
        24 => Cipher::aes_192_cbc(),
        32 => Cipher::aes_256_cbc(),
        n => return Err(AesError::BadKeyLength(n)),
    };
    Ok((cipher, key))
}

fn run(cipher: Cipher, mode: Mode, key: &[u8], data: &[u8]) -> Result<Vec<u8>, AesError> {
    let err = |e: openssl::error::ErrorStack| AesError::OpenSsl(e.to_string());
    let mut c = Crypter::new(cipher, mode, key, Some(&ZERO_IV)).map_err(err)?;
    c.pad(true);
    let mut out = vec![0u8; data.len() + cipher.block_size()];
    let mut n = c.update(data, &mut out).map_err(err)?;
    n += c.finalize(&mut out[n..]).map_err(|e| match mode {
        Mode::Decrypt => AesError::BadPadding,
        Mode::Encrypt => err(e),
    })?;
    out.truncate(n);
    Ok(out)
}

/// Encrypts `plaintext` and returns standard base64 of the ciphertext.
pub fn aes_encrypt(key_b64: &str, plaintext: &[u8]) -> Result<String, AesError> {
    let (cipher, key) = cipher_for(key_b64)?;
    let ct = run(cipher, Mode::Encrypt, &key, plaintext)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(ct))
}

/// Decrypts base64 ciphertext (whitespace tolerated) and returns the plaintext bytes.
pub fn aes_decrypt(key_b64: &str, ciphertext_b64: &str) -> Result<Vec<u8>, AesError> {
    let (cipher, key) = cipher_for(key_b64)?;
    let compact: String = ciphertext_b64
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let ct = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| AesError::CiphertextNotBase64)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return Err(AesError::BadCiphertextLength(ct.len()));
    }
    run(cipher, Mode::Decrypt, &key, &ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key bytes 00 01 … 0f.
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODw==";

    /// Known answers made with the OpenSSL CLI:
    /// `printf '%s' '{"out_trade_no":"T1 中文"}' | openssl enc -aes-128-cbc
    ///  -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 | base64 -w0`
    /// and the same with empty input.
    #[test]
    fn known_answers_from_openssl_cli() {
        let pt = r#"{"out_trade_no":"T1 中文"}"#;
        let ct = "G7PYcjyAquhKW/Z/PmtCC75xuvOC3ckb+IwqzyUTg4E=";
        assert_eq!(aes_encrypt(KEY, pt.as_bytes()).unwrap(), ct);
        assert_eq!(aes_decrypt(KEY, ct).unwrap(), pt.as_bytes());
        assert_eq!(aes_encrypt(KEY, b"").unwrap(), "lU9k8uTobp7ugtICFmhImQ==");
        assert_eq!(aes_decrypt(KEY, "lU9k8uTobp7ugtICFmhImQ==").unwrap(), b"");
    }

    #[test]
    fn round_trips_all_key_sizes() {
        for len in [16usize, 24, 32] {
            let key = base64::engine::general_purpose::STANDARD.encode(vec![7u8; len]);
            for n in [0usize, 1, 15, 16, 17, 1000] {
                let pt = vec![0xabu8; n];
                let ct = aes_encrypt(&key, &pt).unwrap();
                assert_eq!(aes_decrypt(&key, &ct).unwrap(), pt);
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(aes_encrypt("!!", b"x"), Err(AesError::KeyNotBase64));
        assert_eq!(aes_encrypt("QUJD", b"x"), Err(AesError::BadKeyLength(3)));
        assert_eq!(aes_decrypt(KEY, "***"), Err(AesError::CiphertextNotBase64));
        assert_eq!(aes_decrypt(KEY, ""), Err(AesError::BadCiphertextLength(0)));
        assert_eq!(
            aes_decrypt(KEY, "QUJD"),
            Err(AesError::BadCiphertextLength(3))
        );
        // Wrong key: the padding check fails (with overwhelming probability for this vector).
        let other = base64::engine::general_purpose::STANDARD.encode([9u8; 16]);
        assert_eq!(
            aes_decrypt(&other, "G7PYcjyAquhKW/Z/PmtCC75xuvOC3ckb+IwqzyUTg4E="),
            Err(AesError::BadPadding)
        );
    }
}
