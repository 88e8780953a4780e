//! OpenAPI v3 (docs/protocol/alipay-v3.md): the `Authorization: ALIPAY-SHA256withRSA …` header, the
//! request and response strings-to-sign, path ↔ method mapping and the JSON error body.
//!
//! v3 always signs with SHA256withRSA ([`super::sign::SignType::Rsa2`]).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use thiserror::Error;

use crate::view::write_json_string;

/// The authentication scheme of the Authorization header.
pub const AUTH_SCHEME: &str = "ALIPAY-SHA256withRSA";

/// Longest Authorization header accepted, in bytes.
pub const MAX_AUTHORIZATION_LEN: usize = 4096;

/// A parsed v3 Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Auth {
    /// The literal text between the scheme and `,sign=`: the first line of the string-to-sign.
    pub auth_string: String,
    /// `app_id`.
    pub app_id: String,
    /// `nonce`.
    pub nonce: String,
    /// `timestamp`, milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// `expired_seconds`, when sent (a positive integer).
    pub expired_seconds: Option<i64>,
    /// `app_cert_sn`, in certificate mode.
    pub app_cert_sn: Option<String>,
    /// The base64 signature after the last `,sign=`.
    pub sign: String,
}

/// What is wrong with an Authorization header.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum V3AuthError {
    /// No header at all, or an empty one.
    #[error("the Authorization header is missing")]
    Missing,
    /// Longer than [`MAX_AUTHORIZATION_LEN`].
    #[error("the Authorization header is {0} bytes long (at most 4096)")]
    TooLong(usize),
    /// Not `ALIPAY-SHA256withRSA` followed by one space.
    #[error("the Authorization scheme is not `ALIPAY-SHA256withRSA ` (scheme, one space)")]
    BadScheme,
    /// No `,sign=` or an empty signature.
    #[error("the Authorization header has no `,sign=` value")]
    MissingSign,
    /// An element of the auth string without `=` or with an empty name.
    #[error("element {index} of the auth string is not `name=value`")]
    MalformedPair {
        /// Zero-based position of the element.
        index: usize,
    },
    /// A name given twice (or `sign` inside the auth string).
    #[error("`{0}` occurs more than once in the Authorization header")]
    DuplicateKey(String),
    /// A required element is missing or empty.
    #[error("the Authorization header lacks `{0}`")]
    MissingField(&'static str),
    /// `timestamp` is not milliseconds as digits.
    #[error("`timestamp` is not a millisecond count (digits only)")]
    BadTimestamp,
    /// `expired_seconds` is not a positive integer.
    #[error("`expired_seconds` is not a positive integer")]
    BadExpiredSeconds,
}

/// Reads an Authorization header.
///
/// The header is split at the **last** `,sign=` (a base64 signature never contains `,`), and
/// everything between the scheme and that point is kept verbatim as the auth string, since it is
/// what the client signed; clients order the pairs differently. Unknown pairs are allowed (they
/// are signed too); duplicate names are refused.
pub fn parse_authorization(header: &str) -> Result<V3Auth, V3AuthError> {
    if header.is_empty() {
        return Err(V3AuthError::Missing);
    }
    if header.len() > MAX_AUTHORIZATION_LEN {
        return Err(V3AuthError::TooLong(header.len()));
    }
    // Auth schemes are case-insensitive in HTTP; the rest is exact.
    let scheme = header
        .get(..AUTH_SCHEME.len())
        .filter(|s| s.eq_ignore_ascii_case(AUTH_SCHEME))
        .ok_or(V3AuthError::BadScheme)?;
    let rest = header[scheme.len()..]
        .strip_prefix(' ')
        .ok_or(V3AuthError::BadScheme)?;
    if rest.starts_with(' ') {
        return Err(V3AuthError::BadScheme);
    }
    let at = rest.rfind(",sign=").ok_or(V3AuthError::MissingSign)?;
    let auth_string = &rest[..at];
    let sign = &rest[at + ",sign=".len()..];
    if sign.is_empty() {
        return Err(V3AuthError::MissingSign);
    }

    let mut app_id = None;
    let mut nonce = None;
    let mut timestamp = None;
    let mut expired_seconds = None;
    let mut app_cert_sn = None;
    let mut seen: Vec<&str> = Vec::new();
    for (index, pair) in auth_string.split(',').enumerate() {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or(V3AuthError::MalformedPair { index })?;
        if k == "sign" || seen.contains(&k) {
            return Err(V3AuthError::DuplicateKey(k.chars().take(64).collect()));
        }
        seen.push(k);
        match k {
            "app_id" => app_id = Some(v),
            "nonce" => nonce = Some(v),
            "timestamp" => timestamp = Some(v),
            "expired_seconds" => expired_seconds = Some(v),
            "app_cert_sn" => app_cert_sn = Some(v),
            _ => {}
        }
    }
    let required = |v: Option<&str>, name: &'static str| {
        v.filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(V3AuthError::MissingField(name))
    };
    let app_id = required(app_id, "app_id")?;
    let nonce = required(nonce, "nonce")?;
    let timestamp = required(timestamp, "timestamp")?;
    let timestamp_ms = parse_digits(&timestamp).ok_or(V3AuthError::BadTimestamp)?;
    let expired_seconds = match expired_seconds {
        Some(v) => Some(
            parse_digits(v)
                .filter(|n| *n > 0)
                .ok_or(V3AuthError::BadExpiredSeconds)?,
        ),
        None => None,
    };
    Ok(V3Auth {
        auth_string: auth_string.to_string(),
        app_id,
        nonce,
        timestamp_ms,
        expired_seconds,
        app_cert_sn: app_cert_sn.filter(|s| !s.is_empty()).map(str::to_string),
        sign: sign.to_string(),
    })
}

/// Parses ASCII digits only (no sign, no blanks) into an `i64`.
fn parse_digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The request string-to-sign: auth string, HTTP method, the literal request target (path and
/// raw query, exactly as sent), body, and the `alipay-app-auth-token` header value when that
/// header was sent, each followed by `\n`.
pub fn request_sign_content(
    auth_string: &str,
    http_method: &str,
    request_target: &str,
    body: &[u8],
    app_auth_token: Option<&str>,
) -> Vec<u8> {
    let token_len = app_auth_token.map_or(0, |t| t.len() + 1);
    let mut out = Vec::with_capacity(
        auth_string.len() + http_method.len() + request_target.len() + body.len() + token_len + 4,
    );
    for part in [
        auth_string.as_bytes(),
        http_method.as_bytes(),
        request_target.as_bytes(),
        body,
    ] {
        out.extend_from_slice(part);
        out.push(b'\n');
    }
    if let Some(token) = app_auth_token {
        out.extend_from_slice(token.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The response string-to-sign: `<alipay-timestamp>\n<alipay-nonce>\n<body>\n`.
pub fn response_sign_content(timestamp_ms: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(timestamp_ms.len() + nonce.len() + body.len() + 3);
    for part in [timestamp_ms.as_bytes(), nonce.as_bytes(), body] {
        out.extend_from_slice(part);
        out.push(b'\n');
    }
    out
}

/// The v3 path of a method: `/v3/` + dots as slashes (`/v3/alipay/trade/query`).
pub fn v3_path_for(method: &str) -> String {
    format!("/v3/{}", method.replace('.', "/"))
}

/// The method of a v3 path (without query), if the path has the shape `/v3/a/b/c`: at least two
/// non-empty segments of ASCII letters, digits and `_`.
pub fn method_for_v3_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v3/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    let ok = segments.len() >= 2
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    ok.then(|| segments.join("."))
}

/// A v3 error answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("HTTP {status} {code}: {message}")]
pub struct V3Error {
    /// HTTP status.
    pub status: u16,
    /// `code`: a v2 sub_code without its `isv.`/`aop.`/`isp.` prefix, or a business code with
    /// its prefix (`ACQ.TRADE_NOT_EXIST`).
    pub code: String,
    /// `message`, human text.
    pub message: String,
}

impl V3Error {
    /// An error with any status and code.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> V3Error {
        V3Error {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// 401 `invalid-signature`, naming the string the server verified (newlines escaped by the
    /// JSON body) so the integrator can compare it with their own.
    pub fn invalid_signature(verified: &str) -> V3Error {
        V3Error::new(
            401,
            "invalid-signature",
            format!(
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{verified}"
            ),
        )
    }

    /// 401 `missing-signature` `缺少签名参数`: no Authorization header.
    pub fn missing_signature() -> V3Error {
        V3Error::new(401, "missing-signature", "缺少签名参数")
    }

    /// The answer to an Authorization header that could not be parsed; always 401, since the
    /// request is unauthenticated. The message adds the parser's (English) reason so the
    /// integrator can see what is wrong with the header.
    ///
    /// No scheme or signature → `missing-signature`; no `app_id` → `missing-app-id`; a missing or
    /// malformed `timestamp` / `expired_seconds` → `invalid-timestamp`; anything else (a
    /// malformed or duplicated pair, no `nonce`, an over-long header) → `invalid-parameter`.
    pub fn from_auth_error(err: &V3AuthError) -> V3Error {
        let (code, text) = match err {
            V3AuthError::Missing | V3AuthError::BadScheme | V3AuthError::MissingSign => {
                ("missing-signature", "缺少签名参数")
            }
            V3AuthError::MissingField("app_id") => ("missing-app-id", "缺少appId参数"),
            V3AuthError::MissingField("timestamp") => ("missing-timestamp", "缺少时间戳参数"),
            V3AuthError::BadTimestamp | V3AuthError::BadExpiredSeconds => {
                ("invalid-timestamp", "非法的时间戳参数")
            }
            V3AuthError::MissingField(_)
            | V3AuthError::TooLong(_)
            | V3AuthError::MalformedPair { .. }
            | V3AuthError::DuplicateKey(_) => ("invalid-parameter", "参数无效"),
        };
        V3Error::new(401, code, format!("{text}：{err}"))
    }

    /// 401 for a certificate-mode refusal (`app-cert-not-exist`, `invalid-alipay-root-cert-sn`,
    /// …): the request is not authenticated.
    pub fn cert(refusal: crate::alipay::cert::CertRefusal) -> V3Error {
        V3Error::new(401, refusal.code(), refusal.message())
    }

    /// 401 `invalid-app-id`.
    pub fn invalid_app_id() -> V3Error {
        V3Error::new(401, "invalid-app-id", "无效的AppID参数")
    }

    /// 401 `invalid-timestamp` (outside the window, or past `timestamp + expired_seconds`).
    pub fn invalid_timestamp() -> V3Error {
        V3Error::new(401, "invalid-timestamp", "非法的时间戳参数")
    }

    /// 401 `invalid-app-auth-token`.
    pub fn invalid_app_auth_token() -> V3Error {
        V3Error::new(401, "invalid-app-auth-token", "无效的应用授权令牌")
    }

    /// 401 `app-auth-token-time-out`.
    pub fn app_auth_token_time_out() -> V3Error {
        V3Error::new(401, "app-auth-token-time-out", "应用授权令牌已过期")
    }

    /// 400 `invalid-parameter` with a text naming the problem.
    pub fn invalid_parameter(message: impl Into<String>) -> V3Error {
        V3Error::new(400, "invalid-parameter", message)
    }

    /// 400 `invalid-method` `不存在的方法名` (what the real sandbox answers for an unknown path,
    /// rather than 404).
    pub fn invalid_method() -> V3Error {
        V3Error::new(400, "invalid-method", "不存在的方法名")
    }

    /// 500 `unknow-error` (sic).
    pub fn unknow_error() -> V3Error {
        V3Error::new(500, "unknow-error", "服务暂不可用（业务系统不可用）")
    }

    /// 400 with a business code, prefix kept (`ACQ.TRADE_NOT_EXIST`, `交易不存在`).
    pub fn business(code: &str, message: impl Into<String>) -> V3Error {
        V3Error::new(400, code, message)
    }
}

/// Characters escaped in the trace id of the error link (anything but unreserved URL characters).
const TRACE_ID_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The JSON error body:
/// `{"code":"…","message":"…","links":[{"link":"https://open.alipay.com/api/errCheck?traceId=<trace>","desc":"解决方案"}]}`.
pub fn error_body(err: &V3Error, trace_id: &str) -> String {
    let mut out = String::with_capacity(160 + err.message.len());
    out.push_str("{\"code\":");
    write_json_string(&err.code, &mut out);
    out.push_str(",\"message\":");
    write_json_string(&err.message, &mut out);
    out.push_str(",\"links\":[{\"link\":");
    let link = format!(
        "https://open.alipay.com/api/errCheck?traceId={}",
        utf8_percent_encode(trace_id, TRACE_ID_ESCAPE)
    );
    write_json_string(&link, &mut out);
    out.push_str(",\"desc\":\"解决方案\"}]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::keys::parse_public_key;
    use crate::alipay::sign::{rsa_verify, SignType};
    use crate::alipay::test_vectors::*;

    #[test]
    fn b1_request_verifies() {
        let auth = parse_authorization(B1_AUTHORIZATION).unwrap();
        assert_eq!(auth.app_id, "2021000000000001");
        assert_eq!(auth.nonce, "5f2b8c4e-1d3a-4b7e-9c11-0a1b2c3d4e5f");
        assert_eq!(auth.timestamp_ms, 1_704_081_600_000);
        assert_eq!(auth.expired_seconds, None);
        assert_eq!(auth.app_cert_sn, None);
        let content = request_sign_content(
            &auth.auth_string,
            "POST",
            "/v3/alipay/trade/query",
            br#"{"out_trade_no":"T1"}"#,
            None,
        );
        assert_eq!(content, B1_SIGN_CONTENT.as_bytes());
        let key = parse_public_key(A2_APP_PUBLIC_PEM).unwrap();
        assert!(rsa_verify(&key, SignType::Rsa2, &content, &auth.sign));
        // With the app auth token header the string gains a last line.
        let with_token = request_sign_content(
            &auth.auth_string,
            "POST",
            "/v3/alipay/trade/query",
            br#"{"out_trade_no":"T1"}"#,
            Some("tok123"),
        );
        assert_eq!(with_token, format!("{B1_SIGN_CONTENT}tok123\n").as_bytes());
        assert!(!rsa_verify(&key, SignType::Rsa2, &with_token, &auth.sign));
        // Another method or target fails.
        let get = request_sign_content(
            &auth.auth_string,
            "GET",
            "/v3/alipay/trade/query",
            br#"{"out_trade_no":"T1"}"#,
            None,
        );
        assert!(!rsa_verify(&key, SignType::Rsa2, &get, &auth.sign));
    }

    #[test]
    fn b2_response_verifies() {
        let key = parse_public_key(A3_ALIPAY_PUBLIC_PEM).unwrap();
        let content = response_sign_content(B2_TIMESTAMP, B2_NONCE, B2_BODY.as_bytes());
        assert_eq!(
            content,
            format!("{B2_TIMESTAMP}\n{B2_NONCE}\n{B2_BODY}\n").as_bytes()
        );
        assert!(rsa_verify(&key, SignType::Rsa2, &content, B2_SIGN));
        let other = response_sign_content("1704081600322", B2_NONCE, B2_BODY.as_bytes());
        assert!(!rsa_verify(&key, SignType::Rsa2, &other, B2_SIGN));
    }

    #[test]
    fn authorization_variants() {
        // Any order, extra pairs kept in the auth string, optional fields.
        let h = "ALIPAY-SHA256withRSA timestamp=1,app_cert_sn=abc,nonce=n,app_id=2021,expired_seconds=600,foo=b=ar,sign=c2ln";
        let a = parse_authorization(h).unwrap();
        assert_eq!(
            a.auth_string,
            "timestamp=1,app_cert_sn=abc,nonce=n,app_id=2021,expired_seconds=600,foo=b=ar"
        );
        assert_eq!(a.expired_seconds, Some(600));
        assert_eq!(a.app_cert_sn.as_deref(), Some("abc"));
        assert_eq!(a.sign, "c2ln");
        // The lower-cased scheme (docs/methods.md, decisions) is still recognised.
        assert!(
            parse_authorization("alipay-sha256withrsa app_id=1,nonce=n,timestamp=1,sign=x").is_ok()
        );
    }

    #[test]
    fn authorization_errors() {
        use V3AuthError::*;
        let p = parse_authorization;
        assert_eq!(p(""), Err(Missing));
        assert_eq!(p(&"A".repeat(4097)), Err(TooLong(4097)));
        assert_eq!(p("Bearer x"), Err(BadScheme));
        assert_eq!(p("ALIPAY-SHA256withRSAapp_id=1"), Err(BadScheme));
        assert_eq!(
            p("ALIPAY-SHA256withRSA  app_id=1,nonce=n,timestamp=1,sign=x"),
            Err(BadScheme)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=1"),
            Err(MissingSign)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=1,sign="),
            Err(MissingSign)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce,timestamp=1,sign=x"),
            Err(MalformedPair { index: 1 })
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,,nonce=n,timestamp=1,sign=x"),
            Err(MalformedPair { index: 1 })
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,=v,nonce=n,timestamp=1,sign=x"),
            Err(MalformedPair { index: 1 })
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,app_id=2,nonce=n,timestamp=1,sign=x"),
            Err(DuplicateKey("app_id".into()))
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,sign=y,nonce=n,timestamp=1,sign=x"),
            Err(DuplicateKey("sign".into()))
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA nonce=n,timestamp=1,sign=x"),
            Err(MissingField("app_id"))
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=,timestamp=1,sign=x"),
            Err(MissingField("nonce"))
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,sign=x"),
            Err(MissingField("timestamp"))
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=-1,sign=x"),
            Err(BadTimestamp)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=1.5,sign=x"),
            Err(BadTimestamp)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=99999999999999999999,sign=x"),
            Err(BadTimestamp)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=1,expired_seconds=0,sign=x"),
            Err(BadExpiredSeconds)
        );
        assert_eq!(
            p("ALIPAY-SHA256withRSA app_id=1,nonce=n,timestamp=1,expired_seconds=+5,sign=x"),
            Err(BadExpiredSeconds)
        );
        // Multi-byte text at the scheme boundary is not a panic.
        assert_eq!(p("ALIPAY-SHA256with中文 x"), Err(BadScheme));
    }

    #[test]
    fn paths() {
        assert_eq!(v3_path_for("alipay.trade.query"), "/v3/alipay/trade/query");
        assert_eq!(
            method_for_v3_path("/v3/alipay/trade/query").as_deref(),
            Some("alipay.trade.query")
        );
        for bad in [
            "/v3/",
            "/v3/alipay",
            "/v3/alipay//query",
            "/v3/alipay/trade/query/",
            "/v2/alipay/trade",
            "/v3/alipay/trade.query",
            "/v3/a/b%2e",
        ] {
            assert_eq!(method_for_v3_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_body(
                &V3Error::business("ACQ.TRADE_NOT_EXIST", "交易不存在"),
                "0b1c2d"
            ),
            r#"{"code":"ACQ.TRADE_NOT_EXIST","message":"交易不存在","links":[{"link":"https://open.alipay.com/api/errCheck?traceId=0b1c2d","desc":"解决方案"}]}"#
        );
        let e = V3Error::invalid_signature("a\nPOST\n/v3/x\n\n");
        assert_eq!((e.status, e.code.as_str()), (401, "invalid-signature"));
        let body = error_body(&e, "t\"&");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["links"][0]["link"],
            "https://open.alipay.com/api/errCheck?traceId=t%22%26"
        );
        assert!(v["message"]
            .as_str()
            .unwrap()
            .ends_with("a\nPOST\n/v3/x\n\n"));
        let e = V3Error::from_auth_error(&V3AuthError::MissingField("app_id"));
        assert_eq!((e.status, e.code.as_str()), (401, "missing-app-id"));
        let e = V3Error::from_auth_error(&V3AuthError::BadScheme);
        assert_eq!(e.code, "missing-signature");
        assert!(e
            .message
            .starts_with("缺少签名参数：the Authorization scheme"));
        assert_eq!(
            V3Error::from_auth_error(&V3AuthError::BadTimestamp).code,
            "invalid-timestamp"
        );
        assert_eq!(
            V3Error::from_auth_error(&V3AuthError::DuplicateKey("nonce".into())).code,
            "invalid-parameter"
        );
        assert_eq!(V3Error::invalid_method().status, 400);
        assert_eq!(V3Error::invalid_method().message, "不存在的方法名");
        assert_eq!(V3Error::unknow_error().status, 500);
        assert_eq!(V3Error::invalid_parameter("缺少out_trade_no").status, 400);
        for e in [
            V3Error::missing_signature(),
            V3Error::invalid_app_id(),
            V3Error::invalid_timestamp(),
            V3Error::invalid_app_auth_token(),
        ] {
            assert_eq!(e.status, 401);
        }
    }
}
