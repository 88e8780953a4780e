//! The Alipay clients: OpenAPI v2 ([`AlipayV2Client`]) and OpenAPI v3 ([`AlipayV3Client`]),
//! configured alike by an [`AlipayConfig`].

use openssl::pkey::{PKey, Private, Public};

use tradeq_wire::alipay::keys::{parse_private_key, parse_public_key, public_from_private};
use tradeq_wire::alipay::sign::SignType;
use tradeq_wire::params::Charset;

use crate::error::ConfigError;
use crate::options::ClientOptions;

pub mod cert;
pub mod v2;
pub mod v3;

pub use cert::{AlipayCertificates, CertSns};
pub use v2::{AlipayV2Client, V2Response, V2SignedRequest};
pub use v3::{AlipayV3Client, V3Response, V3SignedRequest};

/// The real v2 gateway.
pub const ALIPAY_V2_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
/// The real v3 endpoint (paths `/v3/…` are appended).
pub const ALIPAY_V3_ENDPOINT: &str = "https://openapi.alipay.com";
/// The sandbox v2 gateway.
pub const ALIPAY_SANDBOX_V2_GATEWAY: &str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";

/// Configuration of an Alipay app, shared by the v2 and v3 clients.
///
/// Keys are accepted in every common encoding: PEM (PKCS#1 `RSA PRIVATE KEY`, PKCS#8
/// `PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, a certificate), PEM without its
/// header lines, or the console's one-line base64.
#[derive(Debug, Clone)]
pub struct AlipayConfig {
    /// The gateway: tradeq's base URL (`http://127.0.0.1:8080`) or the platform's
    /// ([`ALIPAY_V2_GATEWAY`], [`ALIPAY_V3_ENDPOINT`]). v2 appends `/gateway.do` to a URL
    /// without a path; v3 uses the URL's origin (and any path prefix other than `/gateway.do`).
    pub gateway_url: String,
    /// The app id.
    pub app_id: String,
    /// The app private key (signs requests).
    pub app_private_key: String,
    /// The platform's ("Alipay") public key (verifies answers). Not the app's own public key.
    /// Empty in certificate mode, where the key comes from the Alipay public certificate.
    pub alipay_public_key: String,
    /// Certificate mode (公钥证书模式): the app, Alipay and root certificates. When set,
    /// requests carry the certificate SNs, answers must name the configured Alipay certificate,
    /// and they are verified with its key ([`cert`]).
    pub certificates: Option<AlipayCertificates>,
    /// Certificate mode: when an answer names an Alipay certificate other than the configured
    /// one (the platform rotated it), fetch it with `alipay.open.app.alipaycert.download`, accept
    /// it if it chains to the root bundle, and verify the answer with it — as the official Java
    /// SDK does. Off by default: such an answer is then refused with
    /// [`crate::VerificationError::AlipayCertSnMismatch`].
    pub follow_alipay_cert_rotation: bool,
    /// The app's own public key, optional: when given it is checked against the private key.
    pub app_public_key: Option<String>,
    /// v2 `sign_type`: [`SignType::Rsa2`] (default) or the legacy [`SignType::Rsa`]. v3 always
    /// signs with SHA256withRSA.
    pub sign_type: SignType,
    /// v2 `charset` of requests and expected answers: UTF-8 (default) or GBK.
    pub charset: Charset,
    /// An app auth token to act for an authorising merchant (`app_auth_token` in v2, header
    /// `alipay-app-auth-token` in v3).
    pub app_auth_token: Option<String>,
    /// v2 only: the AES content-encryption key (base64). When set, `biz_content` is sent
    /// encrypted (`encrypt_type=AES`) and encrypted answers are decrypted after verification.
    pub aes_key: Option<String>,
    /// Timeouts, retries and limits.
    pub options: ClientOptions,
}

impl AlipayConfig {
    /// A configuration with the defaults: RSA2, UTF-8, no token, no encryption.
    pub fn new(
        gateway_url: impl Into<String>,
        app_id: impl Into<String>,
        app_private_key: impl Into<String>,
        alipay_public_key: impl Into<String>,
    ) -> AlipayConfig {
        AlipayConfig {
            gateway_url: gateway_url.into(),
            app_id: app_id.into(),
            app_private_key: app_private_key.into(),
            alipay_public_key: alipay_public_key.into(),
            certificates: None,
            follow_alipay_cert_rotation: false,
            app_public_key: None,
            sign_type: SignType::Rsa2,
            charset: Charset::Utf8,
            app_auth_token: None,
            aes_key: None,
            options: ClientOptions::default(),
        }
    }

    /// A certificate-mode configuration: the app private key and the three certificates, with
    /// the defaults of [`AlipayConfig::new`].
    pub fn with_certificates(
        gateway_url: impl Into<String>,
        app_id: impl Into<String>,
        app_private_key: impl Into<String>,
        certificates: AlipayCertificates,
    ) -> AlipayConfig {
        let mut config = AlipayConfig::new(gateway_url, app_id, app_private_key, String::new());
        config.certificates = Some(certificates);
        config
    }
}

/// The parsed keys of an app.
#[derive(Clone)]
pub(crate) struct AlipayKeys {
    pub app_private: PKey<Private>,
    pub alipay_public: PKey<Public>,
    /// Certificate mode: the SNs to send and expect.
    pub cert_sns: Option<CertSns>,
    /// Certificate mode: platform certificates fetched after rotations.
    pub learnt: cert::LearntCerts,
}

impl AlipayKeys {
    /// The same keys expecting answers signed under the platform certificate `sn` with `key`.
    pub(crate) fn for_platform_cert(&self, sn: &str, key: PKey<Public>) -> AlipayKeys {
        let mut keys = self.clone();
        keys.alipay_public = key;
        if let Some(sns) = keys.cert_sns.as_mut() {
            sns.alipay_cert_sn = sn.to_string();
        }
        keys
    }
}

impl std::fmt::Debug for AlipayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlipayKeys { .. }")
    }
}

/// Reads the keys and catches the commonest integration mistake: the app's own public key
/// configured where Alipay's belongs.
pub(crate) fn load_keys(config: &AlipayConfig) -> Result<AlipayKeys, ConfigError> {
    let app_private =
        parse_private_key(&config.app_private_key).map_err(ConfigError::AppPrivateKey)?;
    let app_public = public_from_private(&app_private).map_err(ConfigError::AppPrivateKey)?;
    let (alipay_public, cert_sns) = match &config.certificates {
        Some(certs) => {
            let loaded = cert::load(certs, &app_public)?;
            // A public key given as well must be the certificate's.
            if !config.alipay_public_key.trim().is_empty() {
                let given = parse_public_key(&config.alipay_public_key)
                    .map_err(ConfigError::AlipayPublicKey)?;
                if !tradeq_wire::alipay::keys::same_public_key(&given, &loaded.alipay_public) {
                    return Err(ConfigError::Invalid(
                        "the Alipay public key differs from the Alipay public certificate's key; in certificate mode leave it empty".into(),
                    ));
                }
            }
            (loaded.alipay_public, Some(loaded.sns))
        }
        None => {
            let alipay_public = parse_public_key(&config.alipay_public_key)
                .map_err(ConfigError::AlipayPublicKey)?;
            (alipay_public, None)
        }
    };
    if tradeq_wire::alipay::keys::same_public_key(&app_public, &alipay_public) {
        return Err(ConfigError::AppKeyAsAlipayKey);
    }
    if let Some(text) = &config.app_public_key {
        let given = parse_public_key(text).map_err(ConfigError::AppPublicKey)?;
        if tradeq_wire::alipay::keys::same_public_key(&given, &alipay_public) {
            return Err(ConfigError::AppKeyAsAlipayKey);
        }
        if !tradeq_wire::alipay::keys::same_public_key(&given, &app_public) {
            return Err(ConfigError::AppKeyPairMismatch);
        }
    }
    if let Some(aes) = &config.aes_key {
        // Fail at construction, not on the first call.
        tradeq_wire::alipay::aes::aes_encrypt(aes, b"{}")
            .map_err(|e| ConfigError::AesKey(e.to_string()))?;
    }
    Ok(AlipayKeys {
        app_private,
        alipay_public,
        cert_sns,
        learnt: cert::LearntCerts::default(),
    })
}

/// Classifies a verified Alipay error: `40004` (v2) or an upper-case v3 code (`ACQ.…`) is a
/// business failure, anything else a gateway refusal.
pub(crate) fn is_business_code(code: &str) -> bool {
    code == "40004" || code.bytes().any(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradeq_wire::alipay::keys::{
        generate_rsa_2048, private_key_to_pkcs1_pem, private_key_to_pkcs8_pem,
        public_key_to_spki_base64, public_key_to_spki_pem,
    };

    struct Pair {
        pkcs1: String,
        pkcs8: String,
        spki_pem: String,
        spki_b64: String,
    }

    fn pair() -> Pair {
        let k = generate_rsa_2048().unwrap();
        let p = public_from_private(&k).unwrap();
        Pair {
            pkcs1: private_key_to_pkcs1_pem(&k).unwrap(),
            pkcs8: private_key_to_pkcs8_pem(&k).unwrap(),
            spki_pem: public_key_to_spki_pem(&p).unwrap(),
            spki_b64: public_key_to_spki_base64(&p).unwrap(),
        }
    }

    fn body_b64(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn keys_in_every_encoding() {
        let app = pair();
        let ali = pair();
        for private in [
            app.pkcs1.clone(),
            app.pkcs8.clone(),
            body_b64(&app.pkcs1),
            body_b64(&app.pkcs8),
        ] {
            for public in [ali.spki_pem.clone(), ali.spki_b64.clone()] {
                let c = AlipayConfig::new("http://x", "1", private.clone(), public);
                assert!(load_keys(&c).is_ok());
            }
        }
    }

    #[test]
    fn app_public_key_where_alipay_key_belongs_is_named() {
        let app = pair();
        let c = AlipayConfig::new("http://x", "1", app.pkcs8.clone(), app.spki_b64.clone());
        let err = load_keys(&c).unwrap_err();
        assert!(matches!(err, ConfigError::AppKeyAsAlipayKey));
        assert!(err.to_string().contains("app's own public key"));

        let ali = pair();
        let mut c = AlipayConfig::new("http://x", "1", app.pkcs1.clone(), ali.spki_pem.clone());
        c.app_public_key = Some(ali.spki_pem.clone());
        assert!(matches!(
            load_keys(&c).unwrap_err(),
            ConfigError::AppKeyAsAlipayKey
        ));
        c.app_public_key = Some(pair().spki_pem);
        assert!(matches!(
            load_keys(&c).unwrap_err(),
            ConfigError::AppKeyPairMismatch
        ));
        c.app_public_key = Some(app.spki_pem.clone());
        assert!(load_keys(&c).is_ok());
    }

    #[test]
    fn swapped_or_broken_keys_are_named() {
        let app = pair();
        let ali = pair();
        let c = AlipayConfig::new("http://x", "1", ali.spki_pem.clone(), app.pkcs1.clone());
        let err = load_keys(&c).unwrap_err();
        assert!(matches!(err, ConfigError::AppPrivateKey(_)), "{err}");
        let c = AlipayConfig::new("http://x", "1", app.pkcs1.clone(), app.pkcs8.clone());
        let err = load_keys(&c).unwrap_err();
        assert!(matches!(err, ConfigError::AlipayPublicKey(_)), "{err}");
        assert!(err.to_string().contains("private key was given"));
        let mut c = AlipayConfig::new("http://x", "1", app.pkcs1, ali.spki_pem);
        c.aes_key = Some("not base64!".into());
        assert!(matches!(load_keys(&c).unwrap_err(), ConfigError::AesKey(_)));
    }
}
