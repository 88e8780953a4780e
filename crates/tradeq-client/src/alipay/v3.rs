//! The Alipay OpenAPI v3 client (`POST /v3/<method with / for .>`, JSON body).
//!
//! Requests carry `Authorization: ALIPAY-SHA256withRSA app_id=…,nonce=…,timestamp=…,sign=…`
//! signed over the auth string, HTTP method, request target, body and app auth token
//! (docs/protocol/alipay-v3.md §2). In certificate mode the auth string is
//! `app_id=…,app_cert_sn=…,nonce=…,timestamp=…` and the root SN travels in the
//! `alipay-root-cert-sn` header; an answer whose `alipay-sn` names another certificate is refused. Answers are verified over `alipay-timestamp`, `alipay-nonce` and the
//! raw body bytes before they are parsed (B.2); a success without those headers is refused, and
//! an error answer is verified when signed and reported as unverified when not.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, SignType};
use tradeq_wire::alipay::v3::{
    request_sign_content, response_sign_content, v3_path_for, AUTH_SCHEME,
};
use tradeq_wire::params::{encode_form, Charset};

use super::{is_business_code, load_keys, AlipayConfig, AlipayKeys};
use crate::error::{
    Authenticity, ConfigError, Error, PlatformError, Protocol, TransportError, VerificationError,
};
use crate::model::{AlipayTradeQueryRequest, AlipayTradeQueryResponse};
use crate::options::{exchange, random_hex, RawAnswer};

/// A verified v3 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Response {
    /// The method called.
    pub method: String,
    /// The HTTP status (2xx).
    pub status: u16,
    /// The verified body, exactly as received.
    pub raw: String,
    /// The `alipay-trace-id` header, when sent.
    pub trace_id: Option<String>,
}

impl V3Response {
    /// The answer as a JSON value.
    pub fn value(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.raw).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The answer as a typed response.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        crate::model::lenient::from_text(&self.raw).map_err(Error::Decode)
    }
}

/// A signed v3 request before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3SignedRequest {
    /// `POST` or `GET`.
    pub http_method: String,
    /// The request target as signed and sent: path and raw query.
    pub target: String,
    /// The body (empty for GET).
    pub body: String,
    /// The auth string (`app_id=…,nonce=…,timestamp=…`).
    pub auth_string: String,
    /// The complete string-to-sign (B.1).
    pub sign_content: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

#[derive(Debug)]
struct Inner {
    config: AlipayConfig,
    keys: AlipayKeys,
    base: reqwest::Url,
    http: reqwest::Client,
}

/// An Alipay OpenAPI v3 client. Cheap to clone.
///
/// ```no_run
/// # async fn demo(config: tradeq_client::AlipayConfig) -> Result<(), tradeq_client::Error> {
/// use tradeq_client::{AlipayV3Client, model::AlipayTradeQueryRequest};
/// let client = AlipayV3Client::new(config)?;
/// let trade = client
///     .trade_query(&AlipayTradeQueryRequest::by_trade_no("2013112011001004330000121536"))
///     .await?;
/// println!("{}", trade.trade_status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AlipayV3Client {
    inner: Arc<Inner>,
}

impl AlipayV3Client {
    /// Builds a client, reading and cross-checking the keys.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the bad setting.
    pub fn new(config: AlipayConfig) -> Result<AlipayV3Client, Error> {
        let keys = load_keys(&config)?;
        let base = v3_base(&config.gateway_url)?;
        let http = config.options.http_client()?;
        if config.app_id.trim().is_empty() || config.app_id.contains([',', '=']) {
            return Err(ConfigError::Invalid("app_id is empty or contains `,`/`=`".into()).into());
        }
        Ok(AlipayV3Client {
            inner: Arc::new(Inner {
                config,
                keys,
                base,
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

    /// The same client acting for another merchant through its app auth token.
    pub fn with_app_auth_token(&self, token: Option<String>) -> AlipayV3Client {
        let mut config = self.inner.config.clone();
        config.app_auth_token = token;
        AlipayV3Client {
            inner: Arc::new(Inner {
                config,
                keys: self.inner.keys.clone(),
                base: self.inner.base.clone(),
                http: self.inner.http.clone(),
            }),
        }
    }

    /// `alipay.trade.query` (`POST /v3/alipay/trade/query`).
    ///
    /// # Errors
    ///
    /// [`Error::Business`] with `sub_code` `ACQ.TRADE_NOT_EXIST` (HTTP 400) for an unknown
    /// trade; see [`AlipayV3Client::call`] for the rest.
    pub async fn trade_query(
        &self,
        request: &AlipayTradeQueryRequest,
    ) -> Result<AlipayTradeQueryResponse, Error> {
        self.call_typed("alipay.trade.query", request).await
    }

    async fn call_typed<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, Error> {
        let body =
            serde_json::to_value(request).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.call(method, &body).await?.parse()
    }

    /// Calls any method with a JSON body (`POST`), verifying the answer; retries temporary
    /// failures per the configured policy.
    ///
    /// # Errors
    ///
    /// [`Error::Gateway`] for gateway refusals (`invalid-signature`, `invalid-app-id`, … and any
    /// unsigned error answer), [`Error::Business`] for the method's upper-case codes
    /// (`ACQ.TRADE_NOT_EXIST`), [`Error::Verification`] for a success without a valid
    /// signature, [`Error::Transport`] for network failures and non-JSON error statuses.
    pub async fn call(&self, method: &str, body: &Value) -> Result<V3Response, Error> {
        let text = serde_json::to_string(body).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.call_raw("POST", method, &[], &text).await
    }

    /// Calls any method with an explicit HTTP method (`GET` or `POST`), query parameters and
    /// body text (sent exactly as given).
    ///
    /// # Errors
    ///
    /// As [`AlipayV3Client::call`].
    pub async fn call_raw(
        &self,
        http_method: &str,
        method: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> Result<V3Response, Error> {
        self.inner
            .config
            .options
            .retry
            .run(|| async {
                let timestamp_ms = chrono::Utc::now().timestamp_millis().to_string();
                let nonce = random_hex(16)?;
                let request =
                    self.sign_request(http_method, method, query, body, &timestamp_ms, &nonce)?;
                self.send(method, &request).await
            })
            .await
    }

    /// Builds and signs a request without sending it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an HTTP method other than GET/POST or a failed signature.
    pub fn sign_request(
        &self,
        http_method: &str,
        method: &str,
        query: &[(&str, &str)],
        body: &str,
        timestamp_ms: &str,
        nonce: &str,
    ) -> Result<V3SignedRequest, Error> {
        if http_method != "GET" && http_method != "POST" {
            return Err(Error::InvalidRequest(format!(
                "HTTP method `{http_method}` (GET or POST expected)"
            )));
        }
        let body = if http_method == "GET" { "" } else { body };
        let mut target = format!(
            "{}{}",
            self.inner.base.path().trim_end_matches('/'),
            v3_path_for(method)
        );
        if !query.is_empty() {
            target.push('?');
            target.push_str(&encode_form(query.iter().copied(), Charset::Utf8));
        }
        let c = &self.inner.config;
        // The official Node SDK's order: app_cert_sn right after app_id.
        let cert_part = match &self.inner.keys.cert_sns {
            Some(sns) => format!(",app_cert_sn={}", sns.app_cert_sn),
            None => String::new(),
        };
        let auth_string = format!(
            "app_id={}{cert_part},nonce={nonce},timestamp={timestamp_ms}",
            c.app_id
        );
        let token = c.app_auth_token.as_deref().filter(|t| !t.is_empty());
        let content =
            request_sign_content(&auth_string, http_method, &target, body.as_bytes(), token);
        let sign = rsa_sign(&self.inner.keys.app_private, SignType::Rsa2, &content)
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        Ok(V3SignedRequest {
            http_method: http_method.to_string(),
            authorization: format!("{AUTH_SCHEME} {auth_string},sign={sign}"),
            sign_content: String::from_utf8_lossy(&content).into_owned(),
            target,
            body: body.to_string(),
            auth_string,
        })
    }

    async fn send(&self, method: &str, request: &V3SignedRequest) -> Result<V3Response, Error> {
        let c = &self.inner.config;
        let mut url = self.inner.base.clone();
        let (path, query) = match request.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (request.target.as_str(), None),
        };
        url.set_path(path);
        url.set_query(query);
        let mut builder = if request.http_method == "GET" {
            self.inner.http.get(url)
        } else {
            self.inner
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(request.body.clone())
        };
        builder = builder
            .header(reqwest::header::AUTHORIZATION, &request.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("alipay-request-id", random_hex(16)?);
        if let Some(token) = c.app_auth_token.as_deref().filter(|t| !t.is_empty()) {
            builder = builder.header("alipay-app-auth-token", token);
        }
        if let Some(sns) = &self.inner.keys.cert_sns {
            builder = builder.header("alipay-root-cert-sn", &sns.alipay_root_cert_sn);
        }
        let answer = exchange(builder, c.options.max_response_bytes).await?;
        match verify_answer(&answer, method, &self.inner.keys) {
            Err(Error::Verification(VerificationError::AlipayCertSnMismatch { got, .. }))
                if c.follow_alipay_cert_rotation =>
            {
                // The certificate is fetched over the v2 gateway, as the SDKs do.
                let v2 = super::AlipayV2Client::from_keys(
                    c.clone(),
                    self.inner.keys.clone(),
                    self.inner.http.clone(),
                )?;
                let key = v2.platform_cert_key(&got).await?;
                verify_answer(
                    &answer,
                    method,
                    &self.inner.keys.for_platform_cert(&got, key),
                )
            }
            other => other,
        }
    }
}

/// The v3 base: the gateway URL without a trailing `/gateway.do` (so the v2 URL works too).
fn v3_base(url: &str) -> Result<reqwest::Url, ConfigError> {
    let mut base = crate::options::gateway_url(url, "/")?;
    let trimmed = base
        .path()
        .trim_end_matches('/')
        .trim_end_matches("/gateway.do")
        .to_string();
    base.set_path(if trimmed.is_empty() { "/" } else { &trimmed });
    Ok(base)
}

/// Checks a v3 answer and turns it into a response or a typed error.
fn verify_answer(answer: &RawAnswer, method: &str, keys: &AlipayKeys) -> Result<V3Response, Error> {
    let trace_id = answer.header("alipay-trace-id").map(str::to_string);
    let signature = answer
        .header("alipay-signature")
        .filter(|s| !s.is_empty() && *s != "null");
    let verified = match signature {
        Some(sig) => {
            // Certificate mode: a signature under another certificate (a rotated platform
            // certificate) is named as such, as the official Node SDK does.
            if let (Some(sns), Some(got)) = (&keys.cert_sns, answer.header("alipay-sn")) {
                if got != sns.alipay_cert_sn {
                    return Err(VerificationError::AlipayCertSnMismatch {
                        expected: sns.alipay_cert_sn.clone(),
                        got: got.to_string(),
                    }
                    .into());
                }
            }
            let timestamp = answer
                .header("alipay-timestamp")
                .ok_or(VerificationError::MissingHeader("alipay-timestamp"))?;
            let nonce = answer
                .header("alipay-nonce")
                .ok_or(VerificationError::MissingHeader("alipay-nonce"))?;
            let content = response_sign_content(timestamp, nonce, &answer.body);
            if !rsa_verify(&keys.alipay_public, SignType::Rsa2, &content, sig) {
                return Err(VerificationError::BadSignature.into());
            }
            true
        }
        None => false,
    };
    let status = answer.status;
    if (200..300).contains(&status) {
        if !verified {
            return Err(VerificationError::MissingHeader("alipay-signature").into());
        }
        let raw = String::from_utf8(answer.body.clone())
            .map_err(|_| VerificationError::Charset("utf-8"))?;
        if serde_json::from_str::<serde::de::IgnoredAny>(&raw).is_err() {
            return Err(VerificationError::Malformed("the body is not JSON".into()).into());
        }
        return Ok(V3Response {
            method: method.to_string(),
            status,
            raw,
            trace_id,
        });
    }
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    let parsed = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(map)) if (400..600).contains(&status) => map,
        _ if verified => {
            return Err(VerificationError::Malformed(format!(
                "HTTP {status} with a body that is not a v3 error object"
            ))
            .into())
        }
        _ => {
            return Err(TransportError::Status {
                status,
                body: answer.body_excerpt(),
            }
            .into())
        }
    };
    let text = |k: &str| match parsed.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let Some(code) = text("code") else {
        return Err(TransportError::Status {
            status,
            body: answer.body_excerpt(),
        }
        .into());
    };
    let message = text("message").unwrap_or_default();
    let err = PlatformError {
        protocol: Protocol::AlipayV3,
        method: method.to_string(),
        sub_code: Some(code.clone()),
        sub_msg: Some(message.clone()),
        code,
        msg: message,
        http_status: Some(status),
        authenticity: if verified {
            Authenticity::Verified
        } else {
            Authenticity::Unsigned
        },
        trace_id,
        body,
    };
    if verified && is_business_code(&err.code) {
        Err(Error::Business(Box::new(err)))
    } else {
        Err(Error::Gateway(Box::new(err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_bases() {
        let b = |u| v3_base(u).unwrap().to_string();
        assert_eq!(b("http://127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(
            b("https://openapi.alipay.com/gateway.do"),
            "https://openapi.alipay.com/"
        );
        assert_eq!(
            b("https://proxy.example/alipay/"),
            "https://proxy.example/alipay"
        );
    }
}
