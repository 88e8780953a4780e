//! The system-parameter stage of a TOP request (`docs/protocol/top.md` §2, §7) and the platform error
//! catalogue.

use chrono::{DateTime, Duration, Utc};

use super::envelope::{CONTENT_TYPE_JSON, CONTENT_TYPE_XML};
use super::sign::SignMethod;
use crate::time::{from_epoch_millis, parse_gmt8};

/// How far a request `timestamp` may be from the server clock, either way (DOC-CALL: 10 minutes).
pub const TIMESTAMP_WINDOW: Duration = Duration::minutes(10);

/// The only protocol version TOP serves.
pub const VERSION: &str = "2.0";

/// The system parameters: signed like every other parameter, but the gateway's, not the
/// method's. Clients send them in the URL query; the gateway keeps them out of the business
/// parameters it hands a method.
pub const SYSTEM_PARAMS: &[&str] = &[
    "method",
    "app_key",
    "session",
    "timestamp",
    "format",
    "v",
    "sign_method",
    "sign",
    "partner_id",
    "target_app_key",
    "simplify",
];

/// The response format a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopFormat {
    /// `xml`, the documented default when `format` is absent.
    #[default]
    Xml,
    /// `json`.
    Json,
}

impl TopFormat {
    /// Reads a `format` value, ignoring ASCII case.
    pub fn from_param(value: &str) -> Option<TopFormat> {
        if value.eq_ignore_ascii_case("xml") {
            Some(TopFormat::Xml)
        } else if value.eq_ignore_ascii_case("json") {
            Some(TopFormat::Json)
        } else {
            None
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TopFormat::Xml => "xml",
            TopFormat::Json => "json",
        }
    }

    /// The `Content-Type` real TOP answers with in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            TopFormat::Xml => CONTENT_TYPE_XML,
            TopFormat::Json => CONTENT_TYPE_JSON,
        }
    }
}

/// The system parameters of a request that passed the checks of [`read_common`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopCommon {
    /// API name, known to the caller's method table.
    pub method: String,
    /// The calling app; its existence is checked later (code 29).
    pub app_key: String,
    /// User authorisation token, when sent and not blank.
    pub session: Option<String>,
    /// The request time, within [`TIMESTAMP_WINDOW`] of `now`.
    pub timestamp: DateTime<Utc>,
    /// Response format.
    pub format: TopFormat,
    /// `simplify=true` (case-insensitive) was sent; it only matters with JSON, see
    /// [`TopCommon::simplify_json`].
    pub simplify: bool,
    /// Digest algorithm; [`SignMethod::Md5`] when `sign_method` was absent (legacy clients).
    pub sign_method: SignMethod,
    /// Whether `sign_method` was present; absent means a legacy client.
    pub sign_method_explicit: bool,
    /// The signature as sent (not yet verified).
    pub sign: String,
    /// Protocol version, always `2.0` here.
    pub v: String,
    /// Free-text partner identity; SDKs send their version string.
    pub partner_id: Option<String>,
    /// Target app key for third-party ISV APIs.
    pub target_app_key: Option<String>,
}

impl TopCommon {
    /// True when the answer must use the simplified JSON style (no root wrapper, bare arrays):
    /// the doc says `simplify` is honoured only with `format=json`.
    pub fn simplify_json(&self) -> bool {
        self.simplify && self.format == TopFormat::Json
    }
}

/// A TOP `error_response`: platform code, message and optional sub-code / sub-message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TOP error {code}: {msg}")]
pub struct TopError {
    /// Platform code (`21`…`50`).
    pub code: i64,
    /// Platform message, in the exact wording of the live gateway.
    pub msg: String,
    /// Machine-readable detail (`isv.…`, `isp.…`).
    pub sub_code: Option<String>,
    /// Human-readable detail.
    pub sub_msg: Option<String>,
}

impl TopError {
    /// An error with only a code and a message.
    pub fn new(code: i64, msg: impl Into<String>) -> TopError {
        TopError {
            code,
            msg: msg.into(),
            sub_code: None,
            sub_msg: None,
        }
    }

    /// Sets the sub-code.
    pub fn with_sub_code(mut self, sub_code: impl Into<String>) -> TopError {
        self.sub_code = Some(sub_code.into());
        self
    }

    /// Sets the sub-message.
    pub fn with_sub_msg(mut self, sub_msg: impl Into<String>) -> TopError {
        self.sub_msg = Some(sub_msg.into());
        self
    }

    /// 7 `App Call Limited` (flow control; sub-code `accesscontrol.…`).
    pub fn app_call_limited(sub_code: impl Into<String>, sub_msg: impl Into<String>) -> TopError {
        TopError::new(7, "App Call Limited")
            .with_sub_code(sub_code)
            .with_sub_msg(sub_msg)
    }

    /// 11 `Insufficient isv permissions`.
    pub fn insufficient_isv_permissions(
        sub_code: impl Into<String>,
        sub_msg: impl Into<String>,
    ) -> TopError {
        TopError::new(11, "Insufficient isv permissions")
            .with_sub_code(sub_code)
            .with_sub_msg(sub_msg)
    }

    /// 15 `Remote service error`, the code modern TOP uses for business failures. tradeq answers
    /// business failures with [`TopError::business`] (50) like the API documents (docs/protocol/top.md §7.2); this exists for clients
    /// and for configurable failure injection.
    pub fn remote_service_error(
        sub_code: impl Into<String>,
        sub_msg: impl Into<String>,
    ) -> TopError {
        TopError::new(15, "Remote service error")
            .with_sub_code(sub_code)
            .with_sub_msg(sub_msg)
    }

    /// 21 `Missing method`, with the sub-message seen in a live capture.
    pub fn missing_method() -> TopError {
        TopError::new(21, "Missing method").with_sub_msg("http传入的参数加入method字段")
    }

    /// 22 `Invalid method`.
    pub fn invalid_method() -> TopError {
        TopError::new(22, "Invalid method")
    }

    /// 23 `Invalid format` (wording inferred, `docs/protocol/top.md` §7.2).
    pub fn invalid_format() -> TopError {
        TopError::new(23, "Invalid format")
    }

    /// 24 `Missing signature` (wording inferred).
    pub fn missing_signature() -> TopError {
        TopError::new(24, "Missing signature")
    }

    /// 25 `Invalid signature`. `sign_string` is the string the server verified; when given it is
    /// echoed in `sub_msg` so integrators can diff it against their own (docs/protocol/top.md §5). It holds only
    /// the caller's own parameters, never a secret.
    pub fn invalid_signature(sign_string: Option<&str>) -> TopError {
        let err = TopError::new(25, "Invalid signature");
        match sign_string {
            Some(s) => err.with_sub_msg(format!(
                "Invalid signature. The string the server signed (without the secret) is: {s}"
            )),
            None => err,
        }
    }

    /// 25 `Invalid signature` for a `sign_method` other than `md5`, `hmac`, `hmac-sha256`: the
    /// signature cannot be checked, which is what 25 reports (older gateways silently fell back to
    /// another digest and then failed the comparison). The value is not echoed.
    pub fn unsupported_sign_method() -> TopError {
        TopError::new(25, "Invalid signature")
            .with_sub_msg("Invalid sign_method: use md5, hmac or hmac-sha256")
    }

    /// 26 `Missing session`.
    pub fn missing_session() -> TopError {
        TopError::new(26, "Missing session")
    }

    /// 27 `Invalid session`, sub-code `invalid-sessionkey`.
    pub fn invalid_session() -> TopError {
        TopError::new(27, "Invalid session")
            .with_sub_code("invalid-sessionkey")
            .with_sub_msg("SessionKey非法")
    }

    /// 28 `Missing app key`.
    pub fn missing_app_key() -> TopError {
        TopError::new(28, "Missing app key")
    }

    /// 29 `Invalid app Key` (capital K, as live), sub-code `isv.appkey-not-exists`.
    pub fn invalid_app_key() -> TopError {
        TopError::new(29, "Invalid app Key").with_sub_code("isv.appkey-not-exists")
    }

    /// 30 `Missing timestamp` (wording inferred).
    pub fn missing_timestamp() -> TopError {
        TopError::new(30, "Missing timestamp")
    }

    /// 31 `Invalid timestamp`: malformed or outside the ±10 minute window.
    pub fn invalid_timestamp() -> TopError {
        TopError::new(31, "Invalid timestamp")
    }

    /// 32 `Missing version` (wording inferred).
    pub fn missing_version() -> TopError {
        TopError::new(32, "Missing version")
    }

    /// 33 `Invalid version` (wording inferred).
    pub fn invalid_version() -> TopError {
        TopError::new(33, "Invalid version")
    }

    /// 40 `Missing required arguments:<name>`.
    pub fn missing_required_arguments(name: &str) -> TopError {
        TopError::new(40, format!("Missing required arguments:{name}"))
    }

    /// 41 `Invalid arguments:<name>`.
    pub fn invalid_arguments(name: &str) -> TopError {
        TopError::new(41, format!("Invalid arguments:{name}"))
    }

    /// 50 `Remote service error` with a business sub-code, as in the API documents' error examples
    /// (docs/protocol/top.md §7.2, docs/methods.md).
    pub fn business(sub_code: impl Into<String>, sub_msg: impl Into<String>) -> TopError {
        TopError::new(50, "Remote service error")
            .with_sub_code(sub_code)
            .with_sub_msg(sub_msg)
    }
}

/// The first value of `name`, treating a blank value as absent: the Java SDK never sends blank
/// parameters, so a blank one means "not given", not "given as nothing".
fn param<'p, K: AsRef<str>, V: AsRef<str>>(params: &'p [(K, V)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n.as_ref() == name)
        .map(|(_, v)| v.as_ref())
        .filter(|v| !v.trim().is_empty())
}

/// Reads a request timestamp: `yyyy-MM-dd HH:mm:ss` in GMT+8 (the doc, Java, PHP, .NET, Node) or
/// all ASCII digits as epoch milliseconds (the official Python SDK).
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<i64>().ok().and_then(from_epoch_millis);
    }
    parse_gmt8(value)
}

/// Checks and reads the system parameters of a request.
///
/// The checks run in this order and the first failure wins (the live order is unconfirmed,
/// `docs/protocol/top.md` §2; this one reports what identifies the call before what authenticates
/// it):
/// 1. `method` missing → 21; not accepted by `known_method` → 22;
/// 2. `app_key` missing → 28;
/// 3. `sign` missing → 24;
/// 4. `sign_method` not `md5` / `hmac` / `hmac-sha256` → 25 (see
///    [`TopError::unsupported_sign_method`]); absent is accepted as legacy md5;
/// 5. `timestamp` missing → 30; malformed or more than 10 minutes from `now` → 31;
/// 6. `v` missing → 32; not `2.0` → 33;
/// 7. `format` present and not `json` / `xml` → 23.
///
/// A parameter that is present more than once counts by its first occurrence; a blank value
/// counts as absent. App-key existence (29), the signature (25) and the session (26/27) are the
/// caller's next stage.
///
/// # Errors
///
/// The [`TopError`] of the first failed check, ready to render.
pub fn read_common<K: AsRef<str>, V: AsRef<str>>(
    params: &[(K, V)],
    now: DateTime<Utc>,
    known_method: impl Fn(&str) -> bool,
) -> Result<TopCommon, TopError> {
    read_common_within(params, now, TIMESTAMP_WINDOW, known_method)
}

/// [`read_common`] with a configured timestamp window instead of [`TIMESTAMP_WINDOW`].
///
/// # Errors
///
/// As [`read_common`].
pub fn read_common_within<K: AsRef<str>, V: AsRef<str>>(
    params: &[(K, V)],
    now: DateTime<Utc>,
    window: Duration,
    known_method: impl Fn(&str) -> bool,
) -> Result<TopCommon, TopError> {
    let method = param(params, "method").ok_or_else(TopError::missing_method)?;
    if !known_method(method) {
        return Err(TopError::invalid_method());
    }
    let app_key = param(params, "app_key").ok_or_else(TopError::missing_app_key)?;
    let sign = param(params, "sign").ok_or_else(TopError::missing_signature)?;
    let (sign_method, sign_method_explicit) = match param(params, "sign_method") {
        None => (SignMethod::Md5, false),
        Some(v) => (
            SignMethod::from_param(v).ok_or_else(TopError::unsupported_sign_method)?,
            true,
        ),
    };
    let timestamp = param(params, "timestamp").ok_or_else(TopError::missing_timestamp)?;
    let timestamp = parse_timestamp(timestamp)
        .filter(|t| (*t - now).abs() <= window)
        .ok_or_else(TopError::invalid_timestamp)?;
    let v = param(params, "v").ok_or_else(TopError::missing_version)?;
    if v != VERSION {
        return Err(TopError::invalid_version());
    }
    let format = match param(params, "format") {
        None => TopFormat::default(),
        Some(f) => TopFormat::from_param(f).ok_or_else(TopError::invalid_format)?,
    };
    let simplify = param(params, "simplify").is_some_and(|s| s.eq_ignore_ascii_case("true"));
    Ok(TopCommon {
        method: method.to_owned(),
        app_key: app_key.to_owned(),
        session: param(params, "session").map(str::to_owned),
        timestamp,
        format,
        simplify,
        sign_method,
        sign_method_explicit,
        sign: sign.to_owned(),
        v: v.to_owned(),
        partner_id: param(params, "partner_id").map(str::to_owned),
        target_app_key: param(params, "target_app_key").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // 2024-01-01 12:00:00 GMT+8.
        DateTime::<Utc>::from_timestamp_millis(1_704_081_600_000).unwrap()
    }

    fn base() -> Vec<(String, String)> {
        [
            ("method", "alibaba.omni.order.query"),
            ("app_key", "12345678"),
            ("sign", "66987CB115214E59E6EC978214934FB8"),
            ("sign_method", "md5"),
            ("timestamp", "2024-01-01 12:00:00"),
            ("v", "2.0"),
            ("format", "json"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn known(m: &str) -> bool {
        m == "alibaba.omni.order.query"
    }

    fn with(
        mut p: Vec<(String, String)>,
        name: &str,
        value: Option<&str>,
    ) -> Vec<(String, String)> {
        p.retain(|(n, _)| n != name);
        if let Some(v) = value {
            p.push((name.to_string(), v.to_string()));
        }
        p
    }

    fn code(p: &[(String, String)]) -> i64 {
        match read_common(p, now(), known) {
            Ok(_) => 0,
            Err(e) => e.code,
        }
    }

    #[test]
    fn reads_a_complete_request() {
        let p = with(base(), "session", Some("s1"));
        let p = with(p, "simplify", Some("TRUE"));
        let p = with(p, "partner_id", Some("top-sdk-java-20200706"));
        let c = read_common(&p, now(), known).unwrap();
        assert_eq!(c.method, "alibaba.omni.order.query");
        assert_eq!(c.app_key, "12345678");
        assert_eq!(c.session.as_deref(), Some("s1"));
        assert_eq!(c.timestamp, now());
        assert_eq!(c.format, TopFormat::Json);
        assert!(c.simplify && c.simplify_json());
        assert_eq!(c.sign_method, SignMethod::Md5);
        assert!(c.sign_method_explicit);
        assert_eq!(c.v, "2.0");
        assert_eq!(c.partner_id.as_deref(), Some("top-sdk-java-20200706"));
        assert_eq!(c.target_app_key, None);
    }

    #[test]
    fn defaults_xml_no_simplify_legacy_md5() {
        let p = with(base(), "format", None);
        let p = with(p, "sign_method", None);
        let p = with(p, "simplify", Some("1"));
        let c = read_common(&p, now(), known).unwrap();
        assert_eq!(c.format, TopFormat::Xml);
        assert!(!c.simplify);
        assert_eq!(c.sign_method, SignMethod::Md5);
        assert!(!c.sign_method_explicit);
        let c = read_common(&with(base(), "simplify", Some("true")), now(), known).unwrap();
        assert!(c.simplify);
        let c = read_common(
            &with(
                with(base(), "simplify", Some("true")),
                "format",
                Some("xml"),
            ),
            now(),
            known,
        )
        .unwrap();
        assert!(c.simplify && !c.simplify_json());
    }

    #[test]
    fn timestamp_window_and_forms() {
        for ok in [
            "2024-01-01 12:10:00",
            "2024-01-01 11:50:00",
            "1704081600000",
            "1704082200000",
        ] {
            assert_eq!(code(&with(base(), "timestamp", Some(ok))), 0, "{ok}");
        }
        for bad in [
            "2024-01-01 12:10:01",
            "2024-01-01 11:49:59",
            "2024-01-01 04:00:00", // the same wall time read as UTC instead of GMT+8
            "1704082200001",
            "garbage",
            "2024-01-01T12:00:00",
            "99999999999999999999999",
            "-1704081600000",
        ] {
            assert_eq!(code(&with(base(), "timestamp", Some(bad))), 31, "{bad}");
        }
        assert_eq!(code(&with(base(), "timestamp", None)), 30);
        assert_eq!(code(&with(base(), "timestamp", Some(""))), 30);
    }

    #[test]
    fn configured_window() {
        let p = with(base(), "timestamp", Some("2024-01-01 12:01:01"));
        let w = Duration::seconds(60);
        assert_eq!(
            read_common_within(&p, now(), w, known).map_err(|e| e.code),
            Err(31)
        );
        let p = with(base(), "timestamp", Some("2024-01-01 11:59:00"));
        assert!(read_common_within(&p, now(), w, known).is_ok());
        let p = with(base(), "timestamp", Some("2024-01-01 12:30:00"));
        assert!(read_common_within(&p, now(), Duration::minutes(30), known).is_ok());
    }

    #[test]
    fn check_order_and_codes() {
        assert_eq!(code(&base()), 0);
        assert_eq!(code(&with(base(), "method", None)), 21);
        assert_eq!(code(&with(base(), "method", Some("taobao.nope"))), 22);
        assert_eq!(code(&with(base(), "app_key", None)), 28);
        assert_eq!(code(&with(base(), "sign", None)), 24);
        assert_eq!(code(&with(base(), "sign_method", Some("sha1"))), 25);
        assert_eq!(code(&with(base(), "sign_method", Some("MD5"))), 25);
        assert_eq!(code(&with(base(), "v", None)), 32);
        assert_eq!(code(&with(base(), "v", Some("1.0"))), 33);
        assert_eq!(code(&with(base(), "format", Some("yaml"))), 23);
        // Several faults: the earliest check wins.
        let p = with(with(base(), "method", None), "app_key", None);
        assert_eq!(code(&p), 21);
        let p = with(with(base(), "sign", None), "timestamp", Some("bad"));
        assert_eq!(code(&p), 24);
        let p = with(with(base(), "timestamp", Some("bad")), "v", Some("9"));
        assert_eq!(code(&p), 31);
        assert_eq!(code(&[]), 21);
    }

    #[test]
    fn error_texts_match_the_live_gateway() {
        let e = TopError::invalid_session();
        assert_eq!((e.code, e.msg.as_str()), (27, "Invalid session"));
        assert_eq!(e.sub_code.as_deref(), Some("invalid-sessionkey"));
        assert_eq!(e.sub_msg.as_deref(), Some("SessionKey非法"));
        let e = TopError::invalid_app_key();
        assert_eq!((e.code, e.msg.as_str()), (29, "Invalid app Key"));
        assert_eq!(e.sub_code.as_deref(), Some("isv.appkey-not-exists"));
        assert_eq!(
            TopError::missing_required_arguments("nick").msg,
            "Missing required arguments:nick"
        );
        assert_eq!(
            TopError::invalid_arguments("cid").msg,
            "Invalid arguments:cid"
        );
        assert_eq!(TopError::missing_app_key().msg, "Missing app key");
        assert_eq!(TopError::invalid_method().msg, "Invalid method");
        assert_eq!(TopError::invalid_timestamp().msg, "Invalid timestamp");
        let e = TopError::business("isv.invalid-parameter", "非法参数");
        assert_eq!((e.code, e.msg.as_str()), (50, "Remote service error"));
        assert_eq!(TopError::invalid_signature(None).sub_msg, None);
        let hint = TopError::invalid_signature(Some("app_key1v2.0"))
            .sub_msg
            .unwrap();
        assert!(hint.ends_with("app_key1v2.0"));
    }
}
