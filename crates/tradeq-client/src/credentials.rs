//! Reading a credentials file in the format of `tradeq serve --demo`'s `demo-credentials.json`.
//!
//! ```json
//! {
//!   "gateway_url": "http://127.0.0.1:8080",
//!   "alipay": { "app_id": "…", "sign_type": "RSA2", "app_private_key_pkcs1_pem": "…",
//!               "app_public_key_pem": "…", "alipay_public_key_pem": "…", "aes_key": "…",
//!               "app_auth_tokens": [{"token": "…", "merchant_pid": "2088…"}],
//!               "cert_mode": { "app_id": "…", "app_private_key_pkcs8_pem": "…",
//!                              "app_cert_pem": "…", "alipay_public_cert_pem": "…",
//!                              "alipay_root_cert_pem": "…", "app_cert_sn": "…",
//!                              "alipay_cert_sn": "…", "alipay_root_cert_sn": "…" } },
//!   "top": { "app_key": "…", "app_secret": "…", "session": "…" }
//! }
//! ```
//!
//! Unknown fields are ignored. Besides the demo's names, `alipay.app_private_key` and
//! `alipay.alipay_public_key` (keys in any encoding) are accepted.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use tradeq_wire::alipay::sign::SignType;

use crate::alipay::{AlipayCertificates, AlipayConfig};
use crate::error::ConfigError;
use crate::top::TopConfig;

/// The environment variable naming a credentials file.
pub const CREDENTIALS_ENV: &str = "TRADEQ_CREDENTIALS";
/// Where `tradeq serve --demo` writes its credentials by default.
pub const DEFAULT_CREDENTIALS_PATH: &str = "./tradeq-data/demo-credentials.json";

/// A credentials file.
#[derive(Debug, Clone, Deserialize)]
pub struct Credentials {
    /// The protocol listener (`http://127.0.0.1:8080`) or a platform gateway.
    pub gateway_url: String,
    /// The Alipay app, if any.
    #[serde(default)]
    pub alipay: Option<AlipayCredentials>,
    /// The TOP app, if any.
    #[serde(default)]
    pub top: Option<TopCredentials>,
}

/// The Alipay part of a credentials file.
#[derive(Debug, Clone, Deserialize)]
pub struct AlipayCredentials {
    /// The app id.
    pub app_id: String,
    /// `RSA2` (default) or `RSA`.
    #[serde(default)]
    pub sign_type: Option<String>,
    /// The app private key, under any of the names a file may give it.
    #[serde(flatten)]
    pub private_key: AppPrivateKey,
    /// The app's own public key (optional; checked against the private key).
    #[serde(default, alias = "app_public_key")]
    pub app_public_key_pem: Option<String>,
    /// The platform's public key.
    #[serde(alias = "alipay_public_key")]
    pub alipay_public_key_pem: String,
    /// The AES content-encryption key (base64), if the app has one.
    #[serde(default)]
    pub aes_key: Option<String>,
    /// App auth tokens granted to the app.
    #[serde(default)]
    pub app_auth_tokens: Vec<AppAuthToken>,
    /// A second app, in public-key-certificate mode, if any.
    #[serde(default)]
    pub cert_mode: Option<AlipayCertModeCredentials>,
}

/// An Alipay app in public-key-certificate mode (`alipay.cert_mode`).
#[derive(Debug, Clone, Deserialize)]
pub struct AlipayCertModeCredentials {
    /// The app id.
    pub app_id: String,
    /// The merchant that owns the app.
    #[serde(default)]
    pub merchant_pid: Option<String>,
    /// The app private key, under any of the names a file may give it.
    #[serde(flatten)]
    pub private_key: AppPrivateKey,
    /// The app public-key certificate (PEM).
    pub app_cert_pem: String,
    /// The Alipay public-key certificate (PEM).
    pub alipay_public_cert_pem: String,
    /// The Alipay root certificate bundle (PEM).
    pub alipay_root_cert_pem: String,
    /// The app certificate's SN, when the file states it (checked against the certificate).
    #[serde(default)]
    pub app_cert_sn: Option<String>,
    /// The Alipay certificate's SN, when the file states it (checked).
    #[serde(default)]
    pub alipay_cert_sn: Option<String>,
    /// The root bundle's SN, when the file states it (checked).
    #[serde(default)]
    pub alipay_root_cert_sn: Option<String>,
    /// The AES content-encryption key (base64), if the app has one.
    #[serde(default)]
    pub aes_key: Option<String>,
}

/// An app private key as a credentials file gives it: `app_private_key` (any encoding) or the
/// demo file's two PEM forms. The first present, in that order, is the key.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AppPrivateKey {
    /// The app private key in any encoding.
    #[serde(default)]
    pub app_private_key: Option<String>,
    /// The app private key, PKCS#1 PEM (demo file).
    #[serde(default)]
    pub app_private_key_pkcs1_pem: Option<String>,
    /// The app private key, PKCS#8 PEM (demo file).
    #[serde(default)]
    pub app_private_key_pkcs8_pem: Option<String>,
}

impl AppPrivateKey {
    /// The key to sign with, if the file gives one.
    pub fn pem(&self) -> Option<String> {
        self.app_private_key
            .clone()
            .or_else(|| self.app_private_key_pkcs8_pem.clone())
            .or_else(|| self.app_private_key_pkcs1_pem.clone())
    }
}

/// An app auth token and the merchant it acts for.
#[derive(Debug, Clone, Deserialize)]
pub struct AppAuthToken {
    /// The token.
    pub token: String,
    /// The merchant that granted it.
    #[serde(default)]
    pub merchant_pid: Option<String>,
}

/// The TOP part of a credentials file.
#[derive(Debug, Clone, Deserialize)]
pub struct TopCredentials {
    /// The app key.
    pub app_key: String,
    /// The app secret.
    pub app_secret: String,
    /// A session of the app's merchant.
    #[serde(default)]
    pub session: Option<String>,
}

impl Credentials {
    /// Reads a credentials file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Credentials`] when the file is unreadable or not in this format.
    pub fn load(path: impl AsRef<Path>) -> Result<Credentials, ConfigError> {
        let path = path.as_ref();
        let err = |reason: String| ConfigError::Credentials {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// The file named by `TRADEQ_CREDENTIALS`, else `./tradeq-data/demo-credentials.json`.
    pub fn default_path() -> PathBuf {
        std::env::var_os(CREDENTIALS_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CREDENTIALS_PATH))
    }

    /// Reads the file at [`Credentials::default_path`].
    ///
    /// # Errors
    ///
    /// As [`Credentials::load`].
    pub fn load_default() -> Result<Credentials, ConfigError> {
        Credentials::load(Credentials::default_path())
    }

    /// An Alipay configuration for the file's app and gateway.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the file has no Alipay app, no private key, or an unknown
    /// sign type.
    pub fn alipay_config(&self) -> Result<AlipayConfig, ConfigError> {
        let a = self.alipay.as_ref().ok_or_else(|| {
            ConfigError::Invalid("the credentials have no `alipay` section".into())
        })?;
        let private = a.private_key.pem().ok_or_else(|| {
            ConfigError::Invalid("the credentials have no Alipay app private key".into())
        })?;
        let mut config = AlipayConfig::new(
            self.gateway_url.clone(),
            a.app_id.clone(),
            private,
            a.alipay_public_key_pem.clone(),
        );
        config.app_public_key = a.app_public_key_pem.clone();
        if let Some(t) = &a.sign_type {
            config.sign_type = SignType::from_param(t)
                .ok_or_else(|| ConfigError::Invalid(format!("unknown sign_type `{t}`")))?;
        }
        Ok(config)
    }

    /// An Alipay configuration in certificate mode, for the file's `alipay.cert_mode` app. The
    /// SNs the file states, if any, are checked against the certificates when a client is built
    /// ([`Credentials::check_cert_sns`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the file has no `alipay.cert_mode` app or no private key.
    pub fn alipay_cert_config(&self) -> Result<AlipayConfig, ConfigError> {
        let a = self
            .alipay
            .as_ref()
            .and_then(|a| a.cert_mode.as_ref())
            .ok_or_else(|| {
                ConfigError::Invalid(
                    "the credentials have no `alipay.cert_mode` section (an app in certificate mode)"
                        .into(),
                )
            })?;
        let private = a.private_key.pem().ok_or_else(|| {
            ConfigError::Invalid("the `alipay.cert_mode` app has no private key".into())
        })?;
        let config = AlipayConfig::with_certificates(
            self.gateway_url.clone(),
            a.app_id.clone(),
            private,
            AlipayCertificates {
                app_cert: a.app_cert_pem.clone(),
                alipay_public_cert: a.alipay_public_cert_pem.clone(),
                alipay_root_cert: a.alipay_root_cert_pem.clone(),
            },
        );
        Ok(config)
    }

    /// Checks the SNs `alipay.cert_mode` states against `computed` (what a client computed
    /// from the certificates): a file whose SNs disagree with its certificates was edited
    /// inconsistently.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first SN that differs.
    pub fn check_cert_sns(&self, computed: &crate::alipay::CertSns) -> Result<(), ConfigError> {
        let Some(a) = self.alipay.as_ref().and_then(|a| a.cert_mode.as_ref()) else {
            return Ok(());
        };
        let pairs = [
            ("app_cert_sn", &a.app_cert_sn, &computed.app_cert_sn),
            (
                "alipay_cert_sn",
                &a.alipay_cert_sn,
                &computed.alipay_cert_sn,
            ),
            (
                "alipay_root_cert_sn",
                &a.alipay_root_cert_sn,
                &computed.alipay_root_cert_sn,
            ),
        ];
        for (name, stated, actual) in pairs {
            if let Some(stated) = stated {
                if stated != actual {
                    return Err(ConfigError::Invalid(format!(
                        "`alipay.cert_mode.{name}` is {stated}, but the certificates give {actual}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A TOP configuration for the file's app and gateway, with its session.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the file has no TOP app.
    pub fn top_config(&self) -> Result<TopConfig, ConfigError> {
        let t = self
            .top
            .as_ref()
            .ok_or_else(|| ConfigError::Invalid("the credentials have no `top` section".into()))?;
        let mut config = TopConfig::new(
            self.gateway_url.clone(),
            t.app_key.clone(),
            t.app_secret.clone(),
        );
        config.session = t.session.clone();
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_shape_reads() {
        let text = r#"{"gateway_url":"http://127.0.0.1:8080","admin_url":"x","admin_token":"y",
          "alipay":{"app_id":"2021000000000001","merchant_pid":"2088","sign_type":"RSA2",
            "app_private_key_pkcs1_pem":"P1","app_private_key_pkcs8_pem":"P8",
            "app_public_key_pem":"PUB","alipay_public_key_pem":"ALI","aes_key":"K",
            "app_auth_tokens":[{"token":"t","merchant_pid":"2088b"}]},
          "top":{"app_key":"12345678","app_secret":"s","session":"sess","merchant_id":"m",
            "guide_user_id":"g","other_merchant_session":"o"}}"#;
        let c: Credentials = serde_json::from_str(text).unwrap();
        let a = c.alipay_config().unwrap();
        assert_eq!(a.app_private_key, "P8");
        assert_eq!(a.alipay_public_key, "ALI");
        assert_eq!(a.app_public_key.as_deref(), Some("PUB"));
        assert!(a.aes_key.is_none(), "encryption stays opt-in");
        let t = c.top_config().unwrap();
        assert_eq!(t.session.as_deref(), Some("sess"));
        assert_eq!(t.gateway_url, "http://127.0.0.1:8080");
        let none: Credentials = serde_json::from_str(r#"{"gateway_url":"u"}"#).unwrap();
        assert!(none.alipay_config().is_err());
        assert!(none.top_config().is_err());
    }

    #[test]
    fn cert_mode_section_reads_and_its_sns_are_checked() {
        let text = r#"{"gateway_url":"http://127.0.0.1:8080",
          "alipay":{"app_id":"2021000000000001","alipay_public_key_pem":"ALI",
            "app_private_key_pkcs1_pem":"P1","aes_key":"K",
            "cert_mode":{"app_id":"2021000000000002","merchant_pid":"2088",
              "app_private_key_pkcs1_pem":"C1","app_private_key_pkcs8_pem":"C8",
              "app_cert_pem":"APPCERT","alipay_public_cert_pem":"ALICERT",
              "alipay_root_cert_pem":"ROOT","app_cert_sn":"a","alipay_cert_sn":"b",
              "alipay_root_cert_sn":"c"}}}"#;
        let c: Credentials = serde_json::from_str(text).unwrap();
        let a = c.alipay_cert_config().unwrap();
        assert_eq!(a.app_id, "2021000000000002");
        assert_eq!(a.app_private_key, "C8");
        assert!(a.alipay_public_key.is_empty());
        let certs = a.certificates.unwrap();
        assert_eq!(certs.app_cert, "APPCERT");
        assert_eq!(certs.alipay_public_cert, "ALICERT");
        assert_eq!(certs.alipay_root_cert, "ROOT");
        // The public-key-mode app is unchanged.
        assert_eq!(c.alipay_config().unwrap().app_id, "2021000000000001");

        let sns = |a: &str, b: &str, r: &str| crate::alipay::CertSns {
            app_cert_sn: a.into(),
            alipay_cert_sn: b.into(),
            alipay_root_cert_sn: r.into(),
        };
        assert!(c.check_cert_sns(&sns("a", "b", "c")).is_ok());
        let err = c.check_cert_sns(&sns("a", "x", "c")).unwrap_err();
        assert!(err.to_string().contains("alipay_cert_sn"), "{err}");
        let err = c.check_cert_sns(&sns("a", "b", "y")).unwrap_err();
        assert!(err.to_string().contains("alipay_root_cert_sn"), "{err}");

        let none: Credentials = serde_json::from_str(
            r#"{"gateway_url":"u","alipay":{"app_id":"1","alipay_public_key":"k"}}"#,
        )
        .unwrap();
        assert!(none.alipay_cert_config().is_err());
    }
}
