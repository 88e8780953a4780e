//! Credentials stored beside the data: who may call, for which merchant, with which keys.
//!
//! Keys are kept as PEM text normalised on entry (the app public key as SPKI, the platform
//! private key as PKCS#8); callers parse them once and cache the parsed form.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// An Alipay Open Platform application.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipayApp {
    /// `app_id`, e.g. `2021000000000001`.
    pub app_id: String,
    /// The merchant (PID) owning the app; its records are the app's by default.
    pub merchant_pid: String,
    /// The app's public key (SPKI PEM), which verifies its requests.
    pub app_public_key_pem: String,
    /// Sign types the app may use: `RSA2`, `RSA`.
    pub sign_types: Vec<String>,
    /// The platform private key (PKCS#8 PEM) that signs answers to this app. Secret.
    pub platform_private_key_pem: String,
    /// The matching platform public key (SPKI PEM), handed to the app's developers.
    pub platform_public_key_pem: String,
    /// Base64 AES key for `encrypt_type=AES` (16, 24 or 32 bytes). Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aes_key: Option<String>,
    /// Contract flag: always return `fund_bill_list`, asked for or not.
    #[serde(default)]
    pub always_fund_bill_list: bool,
    /// Public-key-certificate mode (公钥证书模式); absent for an app in public-key mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_mode: Option<AlipayCertMode>,
}

/// The certificates of an app in public-key-certificate mode. Requests must name the app's
/// certificate and the root bundle by SN; answers carry the SN of the platform certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipayCertMode {
    /// The app public-key certificate (PEM); its key is `app_public_key_pem`.
    pub app_cert_pem: String,
    /// SNs of app certificates that are no longer accepted, even if presented again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_app_cert_sns: Vec<String>,
    /// The platform ("Alipay") public-key certificate for `platform_public_key_pem` (PEM).
    pub alipay_cert_pem: String,
    /// Platform certificates replaced by a rotation, still downloadable by SN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_alipay_cert_pems: Vec<String>,
    /// The root bundle the app's developers configure (PEM, one or more certificates).
    pub alipay_root_cert_pem: String,
}

impl fmt::Debug for AlipayApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private or AES key, even in debug logs.
        f.debug_struct("AlipayApp")
            .field("app_id", &self.app_id)
            .field("merchant_pid", &self.merchant_pid)
            .field("sign_types", &self.sign_types)
            .field("aes_key", &self.aes_key.as_ref().map(|_| "<redacted>"))
            .field("always_fund_bill_list", &self.always_fund_bill_list)
            .finish_non_exhaustive()
    }
}

/// An `app_auth_token`: the app acts for the merchant that granted it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAuthToken {
    /// The token text.
    pub token: String,
    /// The app it was granted to.
    pub app_id: String,
    /// The authorising merchant: requests with the token act for it.
    pub merchant_pid: String,
    /// Expiry; absent means it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for AppAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppAuthToken")
            .field("token", &redact(&self.token))
            .field("app_id", &self.app_id)
            .field("merchant_pid", &self.merchant_pid)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A Taobao Open Platform application.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopApp {
    /// `app_key`.
    pub app_key: String,
    /// The shared secret. Secret.
    pub app_secret: String,
    /// Allowed `sign_method`s: `md5`, `hmac`, `hmac-sha256`.
    pub sign_methods: Vec<String>,
    /// The merchant owning the app; app-level methods act for it.
    pub merchant_id: String,
}

impl fmt::Debug for TopApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopApp")
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("sign_methods", &self.sign_methods)
            .field("merchant_id", &self.merchant_id)
            .finish()
    }
}

/// A TOP `session`: a user authorisation of an app, acting for one merchant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopSession {
    /// The session key.
    pub session: String,
    /// The app it belongs to.
    pub app_key: String,
    /// The merchant it acts for.
    pub merchant_id: String,
    /// Expiry; absent means it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for TopSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopSession")
            .field("session", &redact(&self.session))
            .field("app_key", &self.app_key)
            .field("merchant_id", &self.merchant_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Shows enough of a token to tell tokens apart in a log, not enough to use it.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…")
}
