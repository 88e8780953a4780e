//! The Alipay OpenAPI v2 gateway client (`POST /gateway.do`).
//!
//! Requests: the common parameters (`app_id`, `method`, `format`, `charset`, `sign_type`,
//! `timestamp` in GMT+8, `version`, `app_auth_token`, `encrypt_type`, in certificate mode
//! `app_cert_sn` and `alipay_root_cert_sn`, `sign`) travel in the URL query and `biz_content` in
//! a form body, as the official SDKs send them; the signature covers all of them
//! (docs/protocol/alipay-v2.md §2).
//!
//! Answers: the raw body is decoded in its charset, the signed `…_response` object located in
//! the raw text by [`extract_signed_response`] (which refuses a repeated response key and anything
//! between the object and `sign`), and the signature verified over exactly those bytes before
//! anything is parsed.

use std::sync::Arc;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use tradeq_wire::alipay::aes::{aes_decrypt, aes_encrypt};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, v2_sign_content, SignType};
use tradeq_wire::alipay::v2::{extract_signed_response, response_key, ExtractError, ResponseKind};
use tradeq_wire::params::{encode_form, Charset};
use tradeq_wire::time::format_gmt8;

use super::{load_keys, AlipayConfig, AlipayKeys};
use crate::error::{
    Authenticity, ConfigError, Error, PlatformError, Protocol, TransportError, VerificationError,
};
use crate::model::{
    AlipayTradeQueryRequest, AlipayTradeQueryResponse, KoubeiTradeItemorderQueryRequest,
    KoubeiTradeItemorderQueryResponse,
};
use crate::options::{exchange, gateway_url, ClientOptions, RawAnswer};

/// Parameters that travel in the URL query (the official Python SDK's common set).
const URL_PARAMS: &[&str] = &[
    "app_id",
    "method",
    "format",
    "charset",
    "sign_type",
    "timestamp",
    "version",
    "app_auth_token",
    "encrypt_type",
    "app_cert_sn",
    "alipay_root_cert_sn",
    "sign",
];

/// The method that fetches a platform certificate by SN (certificate mode).
const CERT_DOWNLOAD_METHOD: &str = "alipay.open.app.alipaycert.download";

/// A verified v2 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Response {
    /// The method called.
    pub method: String,
    /// The verified inner object's JSON text, exactly as signed (decrypted when the answer was
    /// encrypted): `{"code":"10000","msg":"Success",…}`.
    pub raw: String,
    /// The `trace_id` response header, when sent.
    pub trace_id: Option<String>,
}

impl V2Response {
    /// The answer as a JSON value.
    pub fn value(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.raw).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The answer as a typed response.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        crate::model::lenient::from_text(&self.raw).map_err(Error::Decode)
    }
}

/// A signed v2 request before it is sent: what goes in the URL, what in the body, and the
/// string that was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2SignedRequest {
    /// URL query parameters, `sign` last.
    pub query: Vec<(String, String)>,
    /// Form body parameters (`biz_content` and any extra parameters).
    pub body: Vec<(String, String)>,
    /// The string-to-sign (docs/protocol/alipay-v2.md §2), before encoding in the charset.
    pub sign_content: String,
}

impl V2SignedRequest {
    /// The value of a parameter, wherever it travels.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(self.body.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct Inner {
    config: AlipayConfig,
    keys: AlipayKeys,
    url: reqwest::Url,
    http: reqwest::Client,
}

/// An Alipay OpenAPI v2 client. Cheap to clone (shared state behind an `Arc`).
///
/// ```no_run
/// # async fn demo() -> Result<(), tradeq_client::Error> {
/// use tradeq_client::{AlipayConfig, AlipayV2Client, model::AlipayTradeQueryRequest};
/// let config = AlipayConfig::new(
///     "http://127.0.0.1:8080",
///     "2021000000000001",
///     "-----BEGIN RSA PRIVATE KEY-----\n…",
///     "-----BEGIN PUBLIC KEY-----\n…",
/// );
/// let client = AlipayV2Client::new(config)?;
/// let trade = client
///     .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("6823789339978248"))
///     .await?;
/// println!("{} {}", trade.trade_status, trade.total_amount);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AlipayV2Client {
    inner: Arc<Inner>,
}

impl AlipayV2Client {
    /// Builds a client, reading and cross-checking the keys.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the bad setting: an unreadable key, the app's own public key
    /// given as the Alipay public key, a bad gateway URL or AES key.
    pub fn new(config: AlipayConfig) -> Result<AlipayV2Client, Error> {
        let keys = load_keys(&config)?;
        let url = gateway_url(&config.gateway_url, "/gateway.do")?;
        let http = config.options.http_client()?;
        if config.app_id.trim().is_empty() {
            return Err(ConfigError::Invalid("app_id is empty".into()).into());
        }
        Ok(AlipayV2Client {
            inner: Arc::new(Inner {
                config,
                keys,
                url,
                http,
            }),
        })
    }

    /// A client over already-read keys (the v3 client fetches rotated certificates through it).
    pub(crate) fn from_keys(
        config: AlipayConfig,
        keys: AlipayKeys,
        http: reqwest::Client,
    ) -> Result<AlipayV2Client, Error> {
        let url = gateway_url(&config.gateway_url, "/gateway.do")?;
        Ok(AlipayV2Client {
            inner: Arc::new(Inner {
                config,
                keys,
                url,
                http,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AlipayConfig {
        &self.inner.config
    }

    /// Certificate mode: the SNs the client sends and expects (computed from the certificates).
    pub fn cert_sns(&self) -> Option<&super::CertSns> {
        self.inner.keys.cert_sns.as_ref()
    }

    /// The same client acting for another merchant through its app auth token (`None`: the
    /// app's owner).
    pub fn with_app_auth_token(&self, token: Option<String>) -> Result<AlipayV2Client, Error> {
        let mut config = self.inner.config.clone();
        config.app_auth_token = token;
        Ok(AlipayV2Client {
            inner: Arc::new(Inner {
                config,
                keys: self.inner.keys.clone(),
                url: self.inner.url.clone(),
                http: self.inner.http.clone(),
            }),
        })
    }

    /// `alipay.trade.query`.
    ///
    /// # Errors
    ///
    /// [`Error::Business`] with `sub_code` `ACQ.TRADE_NOT_EXIST` when the trade is unknown,
    /// `ACQ.INVALID_PARAMETER` for a bad request; see [`AlipayV2Client::call`] for the rest.
    pub async fn trade_query(
        &self,
        request: &AlipayTradeQueryRequest,
    ) -> Result<AlipayTradeQueryResponse, Error> {
        self.call_typed("alipay.trade.query", request).await
    }

    /// `koubei.trade.itemorder.query`.
    ///
    /// # Errors
    ///
    /// [`Error::Business`] with `sub_code` `INVALID_PARAMETER` for an unknown or malformed
    /// `order_no`; see [`AlipayV2Client::call`] for the rest.
    pub async fn koubei_trade_itemorder_query(
        &self,
        request: &KoubeiTradeItemorderQueryRequest,
    ) -> Result<KoubeiTradeItemorderQueryResponse, Error> {
        self.call_typed("koubei.trade.itemorder.query", request)
            .await
    }

    async fn call_typed<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, Error> {
        let biz =
            serde_json::to_value(request).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.call(method, &biz).await?.parse()
    }

    /// Calls any method with a `biz_content` object, verifying the answer; retries temporary
    /// failures per [`ClientOptions::retry`].
    ///
    /// # Errors
    ///
    /// [`Error::Gateway`] for gateway refusals (`20000`, `20001`, `40001`, `40002`, `40003`,
    /// `40006`, and any unsigned error answer), [`Error::Business`] for `40004`,
    /// [`Error::Verification`] for an answer that is unsigned, tampered, signed with another key
    /// or shaped to mislead, [`Error::Transport`] for network failures and non-200 statuses.
    pub async fn call(&self, method: &str, biz_content: &Value) -> Result<V2Response, Error> {
        if !biz_content.is_object() {
            return Err(Error::InvalidRequest(
                "biz_content must be a JSON object".into(),
            ));
        }
        let text =
            serde_json::to_string(biz_content).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.call_raw(method, Some(&text), &[]).await
    }

    /// Calls any method with `biz_content` given as JSON text (sent exactly as given) and extra
    /// top-level parameters (sent in the body, signed).
    ///
    /// # Errors
    ///
    /// As [`AlipayV2Client::call`].
    pub async fn call_raw(
        &self,
        method: &str,
        biz_content: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<V2Response, Error> {
        let options: &ClientOptions = &self.inner.config.options;
        options
            .retry
            .run(|| async {
                let timestamp = format_gmt8(Utc::now());
                let request = self.sign_request(method, biz_content, extra, &timestamp)?;
                self.send(method, &request).await
            })
            .await
    }

    /// Builds and signs a request without sending it (the timestamp is given, so the result is
    /// deterministic; `sign` is PKCS#1 v1.5, deterministic too).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when AES encryption or signing fails.
    pub fn sign_request(
        &self,
        method: &str,
        biz_content: Option<&str>,
        extra: &[(&str, &str)],
        timestamp: &str,
    ) -> Result<V2SignedRequest, Error> {
        let c = &self.inner.config;
        let mut params: Vec<(String, String)> = vec![
            ("app_id".into(), c.app_id.clone()),
            ("method".into(), method.to_string()),
            ("format".into(), "json".into()),
            ("charset".into(), c.charset.label().to_string()),
            ("sign_type".into(), c.sign_type.as_str().to_string()),
            ("timestamp".into(), timestamp.to_string()),
            ("version".into(), "1.0".into()),
        ];
        if let Some(token) = c.app_auth_token.as_deref().filter(|t| !t.is_empty()) {
            params.push(("app_auth_token".into(), token.to_string()));
        }
        if let Some(sns) = &self.inner.keys.cert_sns {
            params.push(("app_cert_sn".into(), sns.app_cert_sn.clone()));
            params.push((
                "alipay_root_cert_sn".into(),
                sns.alipay_root_cert_sn.clone(),
            ));
        }
        if let Some(biz) = biz_content {
            let value = match &c.aes_key {
                Some(key) => {
                    params.push(("encrypt_type".into(), "AES".into()));
                    aes_encrypt(key, &c.charset.encode(biz))
                        .map_err(|e| Error::InvalidRequest(format!("AES encryption: {e}")))?
                }
                None => biz.to_string(),
            };
            params.push(("biz_content".into(), value));
        }
        for (k, v) in extra {
            if v.is_empty() {
                continue;
            }
            if *k == "sign" || params.iter().any(|(p, _)| p == k) {
                return Err(Error::InvalidRequest(format!(
                    "parameter `{k}` is set by the client itself"
                )));
            }
            params.push((k.to_string(), v.to_string()));
        }
        let sign_content =
            v2_sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), false);
        let sign = rsa_sign(
            &self.inner.keys.app_private,
            c.sign_type,
            &c.charset.encode(&sign_content),
        )
        .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        params.push(("sign".into(), sign));
        let (query, body) = params
            .into_iter()
            .partition(|(k, _)| URL_PARAMS.contains(&k.as_str()));
        Ok(V2SignedRequest {
            query,
            body,
            sign_content,
        })
    }

    async fn send(&self, method: &str, request: &V2SignedRequest) -> Result<V2Response, Error> {
        let c = &self.inner.config;
        let mut url = self.inner.url.clone();
        let query = encode_form(
            request.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            c.charset,
        );
        url.set_query(Some(&query));
        let body = encode_form(
            request.body.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            c.charset,
        );
        let builder = self
            .inner
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!(
                    "application/x-www-form-urlencoded;charset={}",
                    c.charset.label()
                ),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        let answer = exchange(builder, c.options.max_response_bytes).await?;
        let verify = |keys: &AlipayKeys| {
            verify_answer(
                &answer,
                method,
                keys,
                c.sign_type,
                c.charset,
                c.aes_key.as_deref(),
            )
        };
        match verify(&self.inner.keys) {
            Err(Error::Verification(VerificationError::AlipayCertSnMismatch { got, .. }))
                if c.follow_alipay_cert_rotation && method != CERT_DOWNLOAD_METHOD =>
            {
                let key = self.platform_cert_key(&got).await?;
                verify(&self.inner.keys.for_platform_cert(&got, key))
            }
            other => other,
        }
    }

    /// Certificate mode: the key of the platform certificate `sn`, learnt earlier or fetched
    /// now with `alipay.open.app.alipaycert.download` and checked against the root bundle.
    pub(crate) async fn platform_cert_key(
        &self,
        sn: &str,
    ) -> Result<openssl::pkey::PKey<openssl::pkey::Public>, Error> {
        if let Some(key) = self.inner.keys.learnt.get(sn) {
            return Ok(key);
        }
        let Some(certs) = &self.inner.config.certificates else {
            return Err(VerificationError::Malformed("not in certificate mode".into()).into());
        };
        let biz = serde_json::json!({ "alipay_cert_sn": sn }).to_string();
        let timestamp = format_gmt8(Utc::now());
        let request = self.sign_request(CERT_DOWNLOAD_METHOD, Some(&biz), &[], &timestamp)?;
        let c = &self.inner.config;
        let mut url = self.inner.url.clone();
        url.set_query(Some(&encode_form(
            request.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            c.charset,
        )));
        let body = encode_form(
            request.body.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            c.charset,
        );
        let builder = self
            .inner
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!(
                    "application/x-www-form-urlencoded;charset={}",
                    c.charset.label()
                ),
            )
            .body(body);
        let answer = exchange(builder, c.options.max_response_bytes).await?;
        // The official Java SDK does not verify this answer's signature: the certificate it
        // carries is trusted only if it chains to the configured root bundle.
        let value: Value = serde_json::from_slice(&answer.body).map_err(|_| {
            VerificationError::Malformed("the certificate download answer is not JSON".into())
        })?;
        let inner = &value[response_key(CERT_DOWNLOAD_METHOD)];
        let content = match (
            inner["code"].as_str(),
            inner["alipay_cert_content"].as_str(),
        ) {
            (Some("10000"), Some(content)) => content,
            _ => {
                return Err(VerificationError::Malformed(format!(
                    "the platform certificate {sn} could not be downloaded: {}",
                    answer.body_excerpt()
                ))
                .into())
            }
        };
        let key = super::cert::accept_downloaded(content, sn, certs)?;
        self.inner.keys.learnt.insert(sn.to_string(), key.clone());
        Ok(key)
    }
}

/// Checks a v2 answer and turns it into a response or a typed error.
fn verify_answer(
    answer: &RawAnswer,
    method: &str,
    keys: &AlipayKeys,
    sign_type: SignType,
    request_charset: Charset,
    aes_key: Option<&str>,
) -> Result<V2Response, Error> {
    if answer.status != 200 {
        return Err(TransportError::Status {
            status: answer.status,
            body: answer.body_excerpt(),
        }
        .into());
    }
    let trace_id = answer.header("trace_id").map(str::to_string);
    let charset = answer
        .content_type_charset()
        .and_then(Charset::from_label)
        .unwrap_or(request_charset);
    let body = charset
        .decode(&answer.body)
        .map_err(|_| VerificationError::Charset(charset.label()))?;
    let cert_sns = keys.cert_sns.as_ref();
    let signed = match extract_signed_response(&body, method, cert_sns.is_some()) {
        Ok(s) => s,
        Err(ExtractError::MissingSign { content }) => {
            return Err(unsigned_answer(method, &content, trace_id));
        }
        Err(e) => return Err(VerificationError::V2Shape(e).into()),
    };
    // Certificate mode: the answer names the certificate whose key signed it; another one than
    // ours (a rotated platform certificate) is reported as such rather than as a bad signature.
    if let (Some(sns), Some(got)) = (cert_sns, &signed.alipay_cert_sn) {
        if *got != sns.alipay_cert_sn {
            return Err(VerificationError::AlipayCertSnMismatch {
                expected: sns.alipay_cert_sn.clone(),
                got: got.clone(),
            }
            .into());
        }
    }
    if !rsa_verify(
        &keys.alipay_public,
        sign_type,
        &charset.encode(signed.content),
        &signed.sign,
    ) {
        return Err(VerificationError::BadSignature.into());
    }
    let inner = if signed.encrypted {
        let Some(key) = aes_key else {
            return Err(VerificationError::Malformed(
                "the answer is AES-encrypted but no AES key is configured".into(),
            )
            .into());
        };
        let ciphertext = signed.ciphertext().ok_or_else(|| {
            VerificationError::Malformed("the encrypted answer is not a JSON string".into())
        })?;
        let plain = aes_decrypt(key, &ciphertext)
            .map_err(|e| VerificationError::Malformed(format!("AES decryption: {e}")))?;
        charset
            .decode(&plain)
            .map_err(|_| VerificationError::Charset(charset.label()))?
    } else {
        signed.content.to_string()
    };
    let fields = match serde_json::from_str::<Value>(&inner) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(
                VerificationError::Malformed("the answer is not a JSON object".into()).into(),
            )
        }
    };
    let code = text_field(&fields, "code");
    let sub_code = text_field(&fields, "sub_code");
    let success = signed.kind == ResponseKind::Method
        && sub_code.is_none()
        && code.as_deref().is_none_or(|c| c == "10000");
    if success && cert_sns.is_some() && signed.alipay_cert_sn.is_none() {
        // As the official Java SDK: a success must say which certificate signed it.
        return Err(VerificationError::MissingAlipayCertSn.into());
    }
    if success {
        return Ok(V2Response {
            method: method.to_string(),
            raw: inner,
            trace_id,
        });
    }
    let code = code.unwrap_or_default();
    let err = PlatformError {
        protocol: Protocol::AlipayV2,
        method: method.to_string(),
        msg: text_field(&fields, "msg").unwrap_or_default(),
        sub_code,
        sub_msg: text_field(&fields, "sub_msg"),
        http_status: None,
        authenticity: Authenticity::Verified,
        trace_id,
        body: inner,
        code,
    };
    if err.code == "40004" {
        Err(Error::Business(Box::new(err)))
    } else {
        Err(Error::Gateway(Box::new(err)))
    }
}

/// An answer without `sign`: an error (e.g. an unknown `app_id`, which the gateway cannot sign)
/// is reported as an unverified gateway error; anything else is refused.
fn unsigned_answer(method: &str, content: &str, trace_id: Option<String>) -> Error {
    let fields = match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(map)) => map,
        _ => return VerificationError::Unsigned.into(),
    };
    let code = text_field(&fields, "code");
    let sub_code = text_field(&fields, "sub_code");
    match code {
        Some(code) if code != "10000" => Error::Gateway(Box::new(PlatformError {
            protocol: Protocol::AlipayV2,
            method: method.to_string(),
            code,
            msg: text_field(&fields, "msg").unwrap_or_default(),
            sub_code,
            sub_msg: text_field(&fields, "sub_msg"),
            http_status: None,
            authenticity: Authenticity::Unsigned,
            trace_id,
            body: content.to_string(),
        })),
        _ => VerificationError::Unsigned.into(),
    }
}

fn text_field(fields: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
