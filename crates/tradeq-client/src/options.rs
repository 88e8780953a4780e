//! Transport settings shared by the three clients: timeouts, retries, size limits.

use std::future::Future;
use std::time::Duration;

use crate::error::{ConfigError, Error, TransportError};

/// How failures the platforms call temporary are retried.
///
/// The default follows the documents' advice (docs/methods.md §3: "ISV需要间隔2秒重试不超过10次"): retry
/// every 2 seconds, at most 10 times. Only errors for which [`Error::is_retryable`] holds are
/// retried, never business or signature errors. Every attempt is signed afresh (new timestamp,
/// new v3 nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Pause between attempts.
    pub interval: Duration,
    /// Also retry transport failures (connection refused, timeout). Off by default: the
    /// documents do not call them retryable, although every method here is a read-only query.
    pub retry_transport: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            interval: Duration::from_secs(2),
            retry_transport: false,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Whether `err` qualifies for another attempt under this policy.
    pub fn should_retry(&self, err: &Error) -> bool {
        err.is_retryable() || (self.retry_transport && matches!(err, Error::Transport(_)))
    }

    /// Runs `attempt` until it succeeds, fails with an error this policy does not retry, or the
    /// retries are used up; the last error is returned.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut retries = 0u32;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) if retries < self.max_retries && self.should_retry(&e) => {
                    retries += 1;
                    tokio::time::sleep(self.interval).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Settings of the HTTP exchange.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (connect, send, receive), per attempt. Default 15 s.
    pub timeout: Duration,
    /// Connection timeout. Default 5 s.
    pub connect_timeout: Duration,
    /// Retries of temporary failures.
    pub retry: RetryPolicy,
    /// Largest answer accepted, in bytes. Default 8 MiB.
    pub max_response_bytes: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            max_response_bytes: 8 * 1024 * 1024,
            user_agent: concat!("tradeq-client/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl ClientOptions {
    /// The HTTP client for these options. Redirects are not followed: a signed request is
    /// meant for the URL it was signed for.
    pub(crate) fn http_client(&self) -> Result<reqwest::Client, ConfigError> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent.clone())
            .build()
            .map_err(ConfigError::HttpClient)
    }
}

/// An HTTP answer read in full (within the size limit).
#[derive(Debug)]
pub(crate) struct RawAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// A header's value as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The charset parameter of the Content-Type, when present.
    pub fn content_type_charset(&self) -> Option<&str> {
        let ct = self.header("content-type")?;
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"'))
        })
    }

    /// The start of the body as text, for error messages.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(512).collect()
    }
}

/// Sends a request and reads its answer, refusing bodies over `limit` bytes.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<RawAnswer, TransportError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|source| TransportError::http("(unbuilt request)", source))?;
    let url = request.url();
    let origin = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let mut response = client
        .execute(request)
        .await
        .map_err(|source| TransportError::http(&origin, source))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if let Some(len) = response.content_length() {
        if len > limit as u64 {
            return Err(TransportError::TooLarge(limit));
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| TransportError::http(&origin, source))?
    {
        if body.len() + chunk.len() > limit {
            return Err(TransportError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(RawAnswer {
        status,
        headers,
        body,
    })
}

/// Parses a gateway URL, appending `default_path` when the URL has no path (so both
/// `http://127.0.0.1:8080` and `https://openapi.alipay.com/gateway.do` work).
pub(crate) fn gateway_url(url: &str, default_path: &str) -> Result<reqwest::Url, ConfigError> {
    let bad = |reason: &str| ConfigError::GatewayUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let mut parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("the URL must not carry a query or a fragment"));
    }
    if parsed.path().is_empty() || parsed.path() == "/" {
        parsed.set_path(default_path);
    }
    Ok(parsed)
}

/// A random lower-case hex string of `bytes` random bytes (OpenSSL's CSPRNG).
pub(crate) fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)
        .map_err(|e| Error::InvalidRequest(format!("random number generator failed: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls() {
        let u = gateway_url("http://127.0.0.1:8080", "/gateway.do").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8080/gateway.do");
        let u = gateway_url("https://openapi.alipay.com/gateway.do", "/x").unwrap();
        assert_eq!(u.as_str(), "https://openapi.alipay.com/gateway.do");
        assert!(gateway_url("ftp://x", "/").is_err());
        assert!(gateway_url("http://x/gateway.do?charset=utf-8", "/").is_err());
        assert!(gateway_url("not a url", "/").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_policy_stops_at_the_limit_and_on_non_retryable() {
        use crate::error::{Authenticity, PlatformError, Protocol};
        let retryable = || {
            Error::Gateway(Box::new(PlatformError {
                protocol: Protocol::AlipayV2,
                method: "m".into(),
                code: "20000".into(),
                msg: "Service Currently Unavailable".into(),
                sub_code: Some("isp.unknow-error".into()),
                sub_msg: None,
                http_status: None,
                authenticity: Authenticity::Verified,
                trace_id: None,
                body: String::new(),
            }))
        };
        let policy = RetryPolicy::default();
        let mut calls = 0;
        let r: Result<(), Error> = policy
            .run(|| {
                calls += 1;
                let e = retryable();
                async move { Err(e) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 11);

        let mut calls = 0;
        let r: Result<(), Error> = policy
            .run(|| {
                calls += 1;
                async { Err(Error::Verification(crate::VerificationError::BadSignature)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);

        let mut calls = 0;
        let r = policy
            .run(|| {
                calls += 1;
                let out = if calls < 3 { Err(retryable()) } else { Ok(7) };
                async move { out }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls, 3);
    }
}
