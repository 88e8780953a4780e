//! The client's typed errors.
//!
//! Every call ends in exactly one of: a verified answer, or an [`Error`](enum@Error) saying which party failed —
//! the caller's configuration ([`Error::Config`], [`Error::InvalidRequest`]), the network
//! ([`Error::Transport`]), the answer's authenticity or shape ([`Error::Verification`]), or the
//! platform, which answered with an error ([`Error::Gateway`] for the gateway's own checks,
//! [`Error::Business`] for the method's business outcome). An answer that failed verification is
//! never parsed into a success.

use std::fmt;

use thiserror::Error;

use tradeq_wire::alipay::keys::KeyError;
use tradeq_wire::alipay::v2::ExtractError;
use tradeq_wire::top::TopParseError;

/// The protocol that carried a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Alipay OpenAPI v2 gateway (`/gateway.do`).
    AlipayV2,
    /// Alipay OpenAPI v3 (`/v3/…`).
    AlipayV3,
    /// Taobao Open Platform router (`/router/rest`).
    Top,
}

impl Protocol {
    /// A short name: `v2`, `v3` or `top`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::AlipayV2 => "v2",
            Protocol::AlipayV3 => "v3",
            Protocol::Top => "top",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an error answer was authenticated by the platform's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authenticity {
    /// The answer was signed and the signature verified with the platform's public key.
    Verified,
    /// The answer carried no signature although the protocol signs answers (Alipay answers an
    /// unknown `app_id` unsigned, since it has no key to sign with). Its content is unproven:
    /// such an error is always reported as [`Error::Gateway`], never as a business outcome.
    Unsigned,
    /// The protocol does not sign answers at all (TOP).
    NotSigned,
}

/// An error answer of a platform: its code, message and detail, as the protocol reports them.
///
/// - Alipay v2: `code` is the public code (`40004`), `msg` its text (`Business Failed`),
///   `sub_code`/`sub_msg` the reason (`ACQ.TRADE_NOT_EXIST`, `交易不存在`).
/// - Alipay v3: `code`/`msg` are the body's `code`/`message`; `sub_code`/`sub_msg` repeat them,
///   so `sub_code` names the reason in v2 and v3 alike (`ACQ.TRADE_NOT_EXIST`); `http_status`
///   is set.
/// - TOP: `code` is the platform code as text (`50`), `msg` its message (`Remote service error`),
///   `sub_code`/`sub_msg` the detail when present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformError {
    /// The protocol that answered.
    pub protocol: Protocol,
    /// The method called.
    pub method: String,
    /// The platform's code.
    pub code: String,
    /// The platform's message for `code`.
    pub msg: String,
    /// The specific reason, when given.
    pub sub_code: Option<String>,
    /// Its text, when given.
    pub sub_msg: Option<String>,
    /// The HTTP status (v3 only; v2 and TOP always answer 200).
    pub http_status: Option<u16>,
    /// Whether the error answer was authenticated.
    pub authenticity: Authenticity,
    /// The answer's trace or request id, when the platform sent one.
    pub trace_id: Option<String>,
    /// The error answer's JSON (or XML) text: the v2 inner object, the v3 body, the TOP body.
    /// A method's not-found answer may carry fields besides the codes.
    pub body: String,
}

impl PlatformError {
    /// `sub_code` when present, else `code`: the most specific reason.
    pub fn reason(&self) -> &str {
        self.sub_code.as_deref().unwrap_or(&self.code)
    }
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.msg)?;
        match (&self.sub_code, &self.sub_msg) {
            (Some(c), Some(m)) if *c != self.code || *m != self.msg => write!(f, " ({c}: {m})")?,
            (Some(c), None) if *c != self.code => write!(f, " ({c})")?,
            (None, Some(m)) => write!(f, " ({m})")?,
            _ => {}
        }
        if let Some(status) = self.http_status {
            write!(f, " [HTTP {status}]")?;
        }
        if self.authenticity == Authenticity::Unsigned {
            f.write_str(" [unsigned answer: not verified]")?;
        }
        Ok(())
    }
}

/// A mistake in the client's configuration.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The gateway URL does not parse or is not http(s).
    #[error("invalid gateway URL `{url}`: {reason}")]
    GatewayUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The app private key could not be read.
    #[error("app private key: {0}")]
    AppPrivateKey(#[source] KeyError),
    /// The platform (Alipay) public key could not be read.
    #[error("Alipay public key: {0}")]
    AlipayPublicKey(#[source] KeyError),
    /// The app public key (optional, used only for the check below) could not be read.
    #[error("app public key: {0}")]
    AppPublicKey(#[source] KeyError),
    /// The app's own public key was configured where the platform's (Alipay's) public key
    /// belongs: answers would never verify. The commonest integration mistake.
    #[error("the key configured as the Alipay public key is the app's own public key (the public half of the app private key); configure the Alipay (platform) public key shown in the console under \"支付宝公钥\", not the app public key (\"应用公钥\")")]
    AppKeyAsAlipayKey,
    /// The app public key given does not belong to the app private key.
    #[error("the app public key does not match the app private key")]
    AppKeyPairMismatch,
    /// Certificate mode: a certificate could not be read.
    #[error("{which}: {reason}")]
    Certificate {
        /// Which certificate: `app certificate`, `Alipay public certificate`, `Alipay root
        /// certificate`.
        which: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Certificate mode: the app certificate does not hold the public half of the app private
    /// key (the certificate of another app, or of an older key).
    #[error("the app certificate is not the certificate of the app private key (its public key differs); configure the certificate issued for this key pair")]
    AppCertKeyMismatch,
    /// Certificate mode: the Alipay public certificate was not issued under the configured root
    /// bundle, so its SN or key cannot be trusted (the wrong root file, or a certificate from
    /// another environment, e.g. sandbox against production).
    #[error(
        "the Alipay public certificate does not chain to the configured Alipay root certificate"
    )]
    AlipayCertNotFromRoot,
    /// The AES content-encryption key is not base64 of 16, 24 or 32 bytes.
    #[error("AES key: {0}")]
    AesKey(String),
    /// The HTTP client could not be built (TLS backend).
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// A credentials file could not be read.
    #[error("credentials file {path}: {reason}")]
    Credentials {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Another invalid setting.
    #[error("{0}")]
    Invalid(String),
}

/// Why an answer was not accepted as authentic or well-formed.
#[derive(Debug, Error)]
pub enum VerificationError {
    /// The signature does not verify with the configured platform public key over the exact
    /// signed bytes (a tampered body, or the wrong key configured).
    #[error("the answer's signature does not verify with the configured Alipay public key (tampered answer, or wrong public key configured)")]
    BadSignature,
    /// A success answer without a signature.
    #[error("the answer is not signed")]
    Unsigned,
    /// v3: a header of the response signature is missing (`alipay-timestamp`, `alipay-nonce` or
    /// `alipay-signature`).
    #[error("the v3 answer lacks the `{0}` header")]
    MissingHeader(&'static str),
    /// v2: the body's shape was refused before verification (a repeated response key, anything
    /// between the object and `sign`, trailing text, malformed JSON, …).
    #[error("v2 answer refused: {0}")]
    V2Shape(#[source] ExtractError),
    /// The body is not valid text in its charset.
    #[error("the answer is not valid {0} text")]
    Charset(&'static str),
    /// TOP: the body is not a well-formed answer of the method.
    #[error("TOP answer refused: {0}")]
    TopShape(#[source] TopParseError),
    /// Certificate mode: the answer names a platform certificate (`alipay_cert_sn` in v2, the
    /// `alipay-sn` header in v3) other than the configured one. After a rotation of the
    /// platform certificate, configure the new Alipay public certificate.
    #[error("the answer is signed under Alipay certificate SN {got}, but the configured Alipay public certificate has SN {expected} (was the platform certificate rotated? configure the new one)")]
    AlipayCertSnMismatch {
        /// The configured certificate's SN.
        expected: String,
        /// The SN the answer names.
        got: String,
    },
    /// Certificate mode, v2: a success answer without `alipay_cert_sn`.
    #[error("the answer does not name its Alipay certificate (no `alipay_cert_sn`), which certificate mode requires")]
    MissingAlipayCertSn,
    /// The verified answer is not the JSON the protocol promises.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// A failure to exchange the request and its answer.
#[derive(Debug, Error)]
pub enum TransportError {
    /// Connecting, sending or receiving failed, or the timeout expired. The message names the
    /// server, never the request's URL: it carries the signature, sessions and tokens.
    #[error("{}", describe_http(origin, source))]
    Http {
        /// `scheme://host:port` of the server.
        origin: String,
        /// The underlying error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP status the protocol never uses for answers (v2 and TOP answer 200; v3 answers
    /// 2xx or a JSON error); `body` is the start of what came back.
    #[error("unexpected HTTP status {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// At most 512 characters of the body.
        body: String,
    },
    /// The answer is larger than [`crate::ClientOptions::max_response_bytes`].
    #[error("the answer exceeds {0} bytes")]
    TooLarge(usize),
}

impl TransportError {
    /// Whether the failure was a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, TransportError::Http { source, .. } if source.is_timeout())
    }

    /// A transport failure talking to `origin`, with the URL taken out of `source`.
    pub(crate) fn http(origin: &str, source: reqwest::Error) -> TransportError {
        TransportError::Http {
            origin: origin.to_string(),
            source: source.without_url(),
        }
    }
}

fn describe_http(origin: &str, source: &reqwest::Error) -> String {
    // The innermost cause says what happened ("Connection refused (os error 111)").
    let mut cause: &dyn std::error::Error = source;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if source.is_timeout() {
        format!("no answer from {origin} within the timeout")
    } else if source.is_connect() {
        format!("cannot connect to {origin}: {cause} (is the server running there?)")
    } else {
        format!("HTTP exchange with {origin} failed: {cause}")
    }
}

/// Any failure of a call.
#[derive(Debug, Error)]
pub enum Error {
    /// The client is misconfigured.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The request could not be built (e.g. business parameters that are not a JSON object).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The exchange failed.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The answer failed verification or is malformed; it was not parsed.
    #[error("verification failed: {0}")]
    Verification(#[from] VerificationError),
    /// The gateway refused the call (signature, app, permissions, parameters, availability).
    #[error("gateway error: {0}")]
    Gateway(Box<PlatformError>),
    /// The method answered with a business failure (`ACQ.TRADE_NOT_EXIST`, …).
    #[error("business error: {0}")]
    Business(Box<PlatformError>),
    /// The verified answer does not fit the typed response.
    #[error("the verified answer does not match the typed response: {0}")]
    Decode(String),
}

impl Error {
    /// The platform's error answer, for [`Error::Gateway`] and [`Error::Business`].
    pub fn platform(&self) -> Option<&PlatformError> {
        match self {
            Error::Gateway(e) | Error::Business(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the platform documents this failure as temporary, so that the same call may be
    /// retried: `isp.*` sub-codes (except the not-found ones such as `isp.TRADE_ORDER_NOT_FOUND`),
    /// v2 code `20000`, `ACQ.SYSTEM_ERROR`, `SYSTEM_ERROR`, v3 `unknow-error`. Only authenticated
    /// answers qualify (a TOP answer, which is never signed, counts). Signature and
    /// verification failures, other business failures and configuration errors never do;
    /// transport failures are retried only when [`crate::RetryPolicy::retry_transport`] says so.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Gateway(e) | Error::Business(e) => {
                e.authenticity != Authenticity::Unsigned && is_retryable_answer(e)
            }
            _ => false,
        }
    }
}

/// Sub-codes of the `isp.` family that are business outcomes, not platform faults.
const ISP_BUSINESS: &[&str] = &["isp.TRADE_ORDER_NOT_FOUND"];

fn is_retryable_answer(e: &PlatformError) -> bool {
    let codes = [Some(e.code.as_str()), e.sub_code.as_deref()];
    codes.into_iter().flatten().any(|c| {
        (c.starts_with("isp.") && !ISP_BUSINESS.contains(&c))
            || c == "20000"
            || c == "ACQ.SYSTEM_ERROR"
            || c == "SYSTEM_ERROR"
            || c == "unknow-error"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, sub: Option<&str>, auth: Authenticity) -> PlatformError {
        PlatformError {
            protocol: Protocol::AlipayV2,
            method: "alipay.trade.query".into(),
            code: code.into(),
            msg: "m".into(),
            sub_code: sub.map(str::to_string),
            sub_msg: None,
            http_status: None,
            authenticity: auth,
            trace_id: None,
            body: String::new(),
        }
    }

    #[test]
    fn retryable_classification() {
        use Authenticity::*;
        let gw = |c, s, a| Error::Gateway(Box::new(err(c, s, a)));
        let biz = |c, s, a| Error::Business(Box::new(err(c, s, a)));
        assert!(gw("20000", Some("isp.unknow-error"), Verified).is_retryable());
        assert!(biz("40004", Some("ACQ.SYSTEM_ERROR"), Verified).is_retryable());
        assert!(biz("40004", Some("SYSTEM_ERROR"), Verified).is_retryable());
        assert!(biz("50", Some("isp.SYSTEM_ERROR"), NotSigned).is_retryable());
        assert!(gw("15", Some("isp.top-remote-connection-timeout"), NotSigned).is_retryable());
        assert!(gw("unknow-error", Some("unknow-error"), Verified).is_retryable());
        assert!(!biz("50", Some("isp.TRADE_ORDER_NOT_FOUND"), NotSigned).is_retryable());
        assert!(!biz("40004", Some("ACQ.TRADE_NOT_EXIST"), Verified).is_retryable());
        assert!(!gw("40002", Some("isv.invalid-signature"), Verified).is_retryable());
        assert!(!gw("20000", Some("isp.unknow-error"), Unsigned).is_retryable());
        assert!(!Error::Verification(VerificationError::BadSignature).is_retryable());
    }

    #[test]
    fn display_names_codes() {
        let mut e = err("40004", Some("ACQ.TRADE_NOT_EXIST"), Authenticity::Verified);
        e.msg = "Business Failed".into();
        e.sub_msg = Some("交易不存在".into());
        assert_eq!(
            e.to_string(),
            "40004 Business Failed (ACQ.TRADE_NOT_EXIST: 交易不存在)"
        );
        assert_eq!(e.reason(), "ACQ.TRADE_NOT_EXIST");
    }
}
