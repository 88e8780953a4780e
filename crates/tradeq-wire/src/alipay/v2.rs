//! The OpenAPI v2 gateway protocol (docs/protocol/alipay-v2.md): common-parameter checks, the public
//! error catalogue with its exact wire texts, response envelopes, and the client-side extraction
//! of the signed part of a response.

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::sign::SignType;
use crate::params::{Charset, ParamSet};
use crate::time::parse_gmt8;
use crate::view::{write_json_string, Node};

/// The response key of a method: dots become underscores, plus `_response`
/// (`alipay.trade.query` → `alipay_trade_query_response`).
pub fn response_key(method: &str) -> String {
    let mut key = method.replace('.', "_");
    key.push_str("_response");
    key
}

/// The response key used when the method is missing or unknown.
pub const ERROR_RESPONSE_KEY: &str = "error_response";

/// A v2 error answer: the four strings of the inner object.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{code} {msg}: {sub_code} {sub_msg}")]
pub struct V2Error {
    /// Public code (`40002`).
    pub code: &'static str,
    /// Its English message (`Invalid Arguments`).
    pub msg: &'static str,
    /// The specific reason (`isv.invalid-signature`, `ACQ.TRADE_NOT_EXIST`).
    pub sub_code: String,
    /// Its Chinese text, as the real gateway writes it.
    pub sub_msg: String,
}

const MISSING: (&str, &str) = ("40001", "Missing Required Arguments");
const INVALID: (&str, &str) = ("40002", "Invalid Arguments");
const CONDITIONS: (&str, &str) = ("40003", "Insufficient Conditions");
const BUSINESS: (&str, &str) = ("40004", "Business Failed");
const PERMISSIONS: (&str, &str) = ("40006", "Insufficient Permissions");
const TOKEN: (&str, &str) = ("20001", "Insufficient Token Permissions");
const UNAVAILABLE: (&str, &str) = ("20000", "Service Currently Unavailable");

/// The sub_msg prefix of a signature mismatch, followed by the gateway's string-to-sign.
pub const INVALID_SIGNATURE_PREFIX: &str =
    "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：";

impl V2Error {
    fn new(
        (code, msg): (&'static str, &'static str),
        sub_code: &str,
        sub_msg: impl Into<String>,
    ) -> V2Error {
        V2Error {
            code,
            msg,
            sub_code: sub_code.to_string(),
            sub_msg: sub_msg.into(),
        }
    }

    /// `40001 isv.missing-method 缺少方法名参数`.
    pub fn missing_method() -> V2Error {
        V2Error::new(MISSING, "isv.missing-method", "缺少方法名参数")
    }

    /// `40001 isv.missing-signature 缺少签名参数`.
    pub fn missing_signature() -> V2Error {
        V2Error::new(MISSING, "isv.missing-signature", "缺少签名参数")
    }

    /// `40001 isv.missing-signature-type 缺少签名类型参数`.
    pub fn missing_signature_type() -> V2Error {
        V2Error::new(MISSING, "isv.missing-signature-type", "缺少签名类型参数")
    }

    /// `40001 isv.missing-app-id 缺少appId参数`.
    pub fn missing_app_id() -> V2Error {
        V2Error::new(MISSING, "isv.missing-app-id", "缺少appId参数")
    }

    /// `40001 isv.missing-timestamp 缺少时间戳参数`.
    pub fn missing_timestamp() -> V2Error {
        V2Error::new(MISSING, "isv.missing-timestamp", "缺少时间戳参数")
    }

    /// `40001 isv.missing-version 缺少版本参数`.
    pub fn missing_version() -> V2Error {
        V2Error::new(MISSING, "isv.missing-version", "缺少版本参数")
    }

    /// `40001 isv.missing-encrypt-key`: `encrypt_type=AES` but the app has no AES key.
    ///
    /// The protocol document lists the sub_code without a text; `缺少加密配置` is our wording.
    pub fn missing_encrypt_key() -> V2Error {
        V2Error::new(MISSING, "isv.missing-encrypt-key", "缺少加密配置")
    }

    /// `40001 isv.decryption-error-missing-encrypt-type 解密出错, 未指定加密算法`.
    pub fn decryption_error_missing_encrypt_type() -> V2Error {
        V2Error::new(
            MISSING,
            "isv.decryption-error-missing-encrypt-type",
            "解密出错, 未指定加密算法",
        )
    }

    /// A certificate-mode refusal: `40001` when the SN is missing, `40002` when it is wrong
    /// (`isv.app-cert-not-exist 应用公钥证书不存在`, `isv.invalid-alipay-root-cert-sn 无效支付宝根证书序列号`, …).
    pub fn cert(refusal: crate::alipay::cert::CertRefusal) -> V2Error {
        let kind = if refusal.is_missing() {
            MISSING
        } else {
            INVALID
        };
        V2Error::new(kind, &format!("isv.{}", refusal.code()), refusal.message())
    }

    /// `40002 isv.alipay-cert-not-exist 支付宝公钥证书不存在`: the certificate download names an
    /// SN the app never had.
    pub fn alipay_cert_not_exist() -> V2Error {
        V2Error::new(INVALID, "isv.alipay-cert-not-exist", "支付宝公钥证书不存在")
    }

    /// `40002 isv.invalid-method 不存在的方法名`.
    pub fn invalid_method() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-method", "不存在的方法名")
    }

    /// `40002 isv.invalid-format 无效的数据格式`.
    pub fn invalid_format() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-format", "无效的数据格式")
    }

    /// `40002 isv.invalid-signature-type 无效的签名类型`.
    pub fn invalid_signature_type() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-signature-type", "无效的签名类型")
    }

    /// `40002 isv.invalid-signature` with the real gateway's text and the string it verified,
    /// every `&` written `&amp;` as the real gateway does.
    pub fn invalid_signature(canonical: &str) -> V2Error {
        let mut sub_msg = String::with_capacity(
            INVALID_SIGNATURE_PREFIX.len() + canonical.len() + canonical.len() / 4,
        );
        sub_msg.push_str(INVALID_SIGNATURE_PREFIX);
        sub_msg.push_str(&canonical.replace('&', "&amp;"));
        V2Error::new(INVALID, "isv.invalid-signature", sub_msg)
    }

    /// `40002 isv.invalid-signature` for a signature made with the other hash than `sign_type`
    /// declares (real gateway text, Yurunsoft/PaySDK#28).
    pub fn invalid_signature_type_mismatch(declared: SignType) -> V2Error {
        let actual = match declared {
            SignType::Rsa2 => SignType::Rsa,
            SignType::Rsa => SignType::Rsa2,
        };
        V2Error::new(
            INVALID,
            "isv.invalid-signature",
            format!(
                "验签出错，sign值与sign_type参数指定的签名类型不一致：sign_type参数值为{}，您实际用的签名类型可能是{}",
                declared.as_str(),
                actual.as_str()
            ),
        )
    }

    /// `40002 isv.invalid-signature` for values that are not valid in the declared charset
    /// (real gateway text, quoted in docs/protocol/alipay-v2.md §1).
    pub fn invalid_signature_charset() -> V2Error {
        V2Error::new(
            INVALID,
            "isv.invalid-signature",
            "验签出错，请确认charset参数放在了URL查询字符串中且各参数值使用charset参数指示的字符集编码",
        )
    }

    /// `40002 isv.missing-signature-config 验签出错, 未配置对应签名算法的公钥或者证书`: the app
    /// is not set up for the declared `sign_type`.
    pub fn missing_signature_config() -> V2Error {
        V2Error::new(
            INVALID,
            "isv.missing-signature-config",
            "验签出错, 未配置对应签名算法的公钥或者证书",
        )
    }

    /// `40002 isv.invalid-app-id 无效的AppID参数` (sent unsigned: there is no key to sign with).
    pub fn invalid_app_id() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-app-id", "无效的AppID参数")
    }

    /// `40002 isv.invalid-timestamp 非法的时间戳参数`, for a malformed timestamp and for a
    /// well-formed one outside the window alike.
    pub fn invalid_timestamp() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-timestamp", "非法的时间戳参数")
    }

    /// `40002 isv.invalid-charset 字符集错误`.
    pub fn invalid_charset() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-charset", "字符集错误")
    }

    /// `40002 isv.invalid-parameter 参数无效`.
    pub fn invalid_parameter() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-parameter", "参数无效")
    }

    /// `40002 isv.invalid-parameter` naming the parameter: `参数无效：<name>`.
    pub fn invalid_parameter_named(name: &str) -> V2Error {
        V2Error::new(
            INVALID,
            "isv.invalid-parameter",
            format!("参数无效：{name}"),
        )
    }

    /// `40002 isv.invalid-parameter` with a free text (e.g. a parameter-parsing error).
    pub fn invalid_parameter_msg(sub_msg: impl Into<String>) -> V2Error {
        V2Error::new(INVALID, "isv.invalid-parameter", sub_msg)
    }

    /// An unsupported `version`.
    ///
    /// The public catalogue has no `isv.invalid-version`; the API documents state `version` is
    /// fixed at `1.0`, so another value is an invalid parameter, and the sub_msg names it so the
    /// integrator knows which one.
    pub fn invalid_version() -> V2Error {
        V2Error::invalid_parameter_named("version")
    }

    /// `40002 isv.invalid-encrypt-type 无效的加密类型`.
    pub fn invalid_encrypt_type() -> V2Error {
        V2Error::new(INVALID, "isv.invalid-encrypt-type", "无效的加密类型")
    }

    /// `40002 isv.decryption-error-not-valid-encrypt-type` (the document gives no text;
    /// `解密出错, 不支持的加密算法` follows the style of its siblings).
    pub fn decryption_error_not_valid_encrypt_type() -> V2Error {
        V2Error::new(
            INVALID,
            "isv.decryption-error-not-valid-encrypt-type",
            "解密出错, 不支持的加密算法",
        )
    }

    /// `40003 Insufficient Conditions isv.decryption-error-unknown 解密出错, 未知错误` (as
    /// observed from the real sandbox).
    pub fn decryption_error_unknown() -> V2Error {
        V2Error::new(
            CONDITIONS,
            "isv.decryption-error-unknown",
            "解密出错, 未知错误",
        )
    }

    /// `40006 isv.insufficient-isv-permissions ISV权限不足`: the app may not call this method.
    pub fn insufficient_isv_permissions() -> V2Error {
        V2Error::new(
            PERMISSIONS,
            "isv.insufficient-isv-permissions",
            "ISV权限不足",
        )
    }

    /// `20001 aop.invalid-app-auth-token 无效的应用授权令牌`.
    pub fn invalid_app_auth_token() -> V2Error {
        V2Error::new(TOKEN, "aop.invalid-app-auth-token", "无效的应用授权令牌")
    }

    /// `20001 aop.app-auth-token-time-out 应用授权令牌已过期`.
    pub fn app_auth_token_time_out() -> V2Error {
        V2Error::new(TOKEN, "aop.app-auth-token-time-out", "应用授权令牌已过期")
    }

    /// `20001 aop.invalid-app-auth-token-no-api 商户未授权当前接口`.
    pub fn invalid_app_auth_token_no_api() -> V2Error {
        V2Error::new(
            TOKEN,
            "aop.invalid-app-auth-token-no-api",
            "商户未授权当前接口",
        )
    }

    /// `20000 isp.unknow-error 服务暂不可用（业务系统不可用）` (sic: `unknow`).
    pub fn system_error() -> V2Error {
        V2Error::new(
            UNAVAILABLE,
            "isp.unknow-error",
            "服务暂不可用（业务系统不可用）",
        )
    }

    /// `40004 Business Failed` with the API's own sub_code (`ACQ.TRADE_NOT_EXIST`, …).
    pub fn business(sub_code: &str, sub_msg: impl Into<String>) -> V2Error {
        V2Error::new(BUSINESS, sub_code, sub_msg)
    }
}

/// The inner object of an error: `{"code":"…","msg":"…","sub_code":"…","sub_msg":"…"}`,
/// compact, raw UTF-8.
pub fn error_inner_json(err: &V2Error) -> String {
    error_inner_json_with_fields(err, &Node::obj())
}

/// An error's inner object followed by extra fields (historically `alipay.trade.query`'s
/// not-found answer also carried `out_trade_no` and zero amounts).
pub fn error_inner_json_with_fields(err: &V2Error, extra: &Node) -> String {
    let mut out = String::with_capacity(96 + err.sub_msg.len());
    out.push_str("{\"code\":");
    write_json_string(err.code, &mut out);
    out.push_str(",\"msg\":");
    write_json_string(err.msg, &mut out);
    out.push_str(",\"sub_code\":");
    write_json_string(&err.sub_code, &mut out);
    out.push_str(",\"sub_msg\":");
    write_json_string(&err.sub_msg, &mut out);
    write_fields(extra, &mut out);
    out.push('}');
    out
}

/// Appends `,"k":v` for each field of an object node; other nodes add nothing.
fn write_fields(fields: &Node, out: &mut String) {
    if let Node::Obj(fields) = fields {
        for (k, v) in fields {
            out.push(',');
            write_json_string(k, out);
            out.push(':');
            v.write_json_ordered(out);
        }
    }
}

/// A success inner object: `{"code":"10000","msg":"Success",<fields in order>}`. `fields` is an
/// object node; any other node contributes no fields.
pub fn success_inner_json(fields: &Node) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("{\"code\":\"10000\",\"msg\":\"Success\"");
    write_fields(fields, &mut out);
    out.push('}');
    out
}

/// The response body `{"<key>":<inner>,"sign":"…"}`; without `sign` when there is no key to sign
/// with (unknown app). `response_key` is [`response_key`] of the method or `error_response`.
pub fn envelope(response_key: &str, inner: &str, sign: Option<&str>) -> String {
    envelope_with_cert_sn(response_key, inner, None, sign)
}

/// The certificate-mode response body `{"<key>":<inner>,"alipay_cert_sn":"…","sign":"…"}`.
/// Only for requests that came with `app_cert_sn`: the official Python SDK rejects a body with
/// anything between the object and `sign`.
pub fn envelope_with_cert_sn(
    response_key: &str,
    inner: &str,
    alipay_cert_sn: Option<&str>,
    sign: Option<&str>,
) -> String {
    let mut out = String::with_capacity(inner.len() + response_key.len() + 400);
    out.push('{');
    write_json_string(response_key, &mut out);
    out.push(':');
    out.push_str(inner);
    if let Some(sn) = alipay_cert_sn {
        out.push_str(",\"alipay_cert_sn\":");
        write_json_string(sn, &mut out);
    }
    if let Some(sign) = sign {
        out.push_str(",\"sign\":");
        write_json_string(sign, &mut out);
    }
    out.push('}');
    out
}

/// The string an encrypted response's signature covers: the ciphertext as a JSON string literal,
/// quotes included (docs/protocol/alipay-v2.md §5.3).
pub fn signed_content_for_encrypted(ciphertext_b64: &str) -> String {
    let mut out = String::with_capacity(ciphertext_b64.len() + 2);
    write_json_string(ciphertext_b64, &mut out);
    out
}

/// The body of an AES-encrypted answer: `{"<key>":"<ciphertext>","sign":"…"}`; `sign` must cover
/// [`signed_content_for_encrypted`].
pub fn envelope_encrypted(response_key: &str, ciphertext_b64: &str, sign: Option<&str>) -> String {
    envelope(
        response_key,
        &signed_content_for_encrypted(ciphertext_b64),
        sign,
    )
}

/// The common parameters of a v2 request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Common {
    /// `app_id`.
    pub app_id: String,
    /// `method`, known to the gateway.
    pub method: String,
    /// `format` if sent (always `json`, in any case).
    pub format: Option<String>,
    /// `charset`, UTF-8 when absent.
    pub charset: Charset,
    /// `sign_type`.
    pub sign_type: SignType,
    /// `sign`, as received (base64).
    pub sign: String,
    /// `timestamp`, read as GMT+8.
    pub timestamp: DateTime<Utc>,
    /// `version` (`1.0`).
    pub version: String,
    /// `app_auth_token`, when sent non-empty.
    pub app_auth_token: Option<String>,
    /// `biz_content`, when sent non-empty (ciphertext when `encrypt_type` is set).
    pub biz_content: Option<String>,
    /// `encrypt_type` (`AES`), when sent non-empty.
    pub encrypt_type: Option<String>,
}

/// A parameter that counts as present: sent and not empty (the gateway treats `sign=` as no sign).
fn present<'a>(params: &'a ParamSet, name: &str) -> Option<&'a str> {
    params.get(name).filter(|v| !v.is_empty())
}

/// Checks the common parameters, in this order (the first failure is the answer):
///
/// 1. `method` missing → `isv.missing-method`; unknown (per `known_method`) → `isv.invalid-method`
///    (the server answers these two under `error_response`);
/// 2. `app_id` missing → `isv.missing-app-id`;
/// 3. `sign` missing → `isv.missing-signature`;
/// 4. `sign_type` missing → `isv.missing-signature-type`; not `RSA2`/`RSA` →
///    `isv.invalid-signature-type`;
/// 5. `timestamp` missing → `isv.missing-timestamp`; not `yyyy-MM-dd HH:mm:ss` or further than
///    `window` from `now` (either way) → `isv.invalid-timestamp`;
/// 6. `version` missing → `isv.missing-version`; not `1.0` → [`V2Error::invalid_version`];
/// 7. `format`, if sent, not `json` (ASCII case-insensitive) → `isv.invalid-format`;
/// 8. `charset`, if sent, not a known label → `isv.invalid-charset`;
/// 9. `encrypt_type`, if sent, not `AES` → `isv.invalid-encrypt-type`.
///
/// Parameters sent with an empty value count as missing. App lookup, signature verification
/// and `app_auth_token` resolution are the server's next stages.
pub fn read_common(
    params: &ParamSet,
    now: DateTime<Utc>,
    window: chrono::Duration,
    known_method: impl Fn(&str) -> bool,
) -> Result<V2Common, V2Error> {
    let method = present(params, "method").ok_or_else(V2Error::missing_method)?;
    if !known_method(method) {
        return Err(V2Error::invalid_method());
    }
    let app_id = present(params, "app_id").ok_or_else(V2Error::missing_app_id)?;
    let sign = present(params, "sign").ok_or_else(V2Error::missing_signature)?;
    let sign_type = present(params, "sign_type").ok_or_else(V2Error::missing_signature_type)?;
    let sign_type = SignType::from_param(sign_type).ok_or_else(V2Error::invalid_signature_type)?;
    let timestamp = present(params, "timestamp").ok_or_else(V2Error::missing_timestamp)?;
    let timestamp = parse_gmt8(timestamp).ok_or_else(V2Error::invalid_timestamp)?;
    if now.signed_duration_since(timestamp).abs() > window {
        return Err(V2Error::invalid_timestamp());
    }
    let version = present(params, "version").ok_or_else(V2Error::missing_version)?;
    if version != "1.0" {
        return Err(V2Error::invalid_version());
    }
    let format = present(params, "format");
    if let Some(f) = format {
        if !f.eq_ignore_ascii_case("json") {
            return Err(V2Error::invalid_format());
        }
    }
    let charset = match present(params, "charset") {
        Some(label) => Charset::from_label(label).ok_or_else(V2Error::invalid_charset)?,
        None => Charset::Utf8,
    };
    let encrypt_type = present(params, "encrypt_type");
    if let Some(e) = encrypt_type {
        if e != "AES" {
            return Err(V2Error::invalid_encrypt_type());
        }
    }
    Ok(V2Common {
        app_id: app_id.to_string(),
        method: method.to_string(),
        format: format.map(str::to_string),
        charset,
        sign_type,
        sign: sign.to_string(),
        timestamp,
        version: version.to_string(),
        app_auth_token: present(params, "app_auth_token").map(str::to_string),
        biz_content: present(params, "biz_content").map(str::to_string),
        encrypt_type: encrypt_type.map(str::to_string),
    })
}

// ---------------------------------------------------------------------------------------------
// Client side: finding the signed part of a response.
// ---------------------------------------------------------------------------------------------

/// Which top-level key carried the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// `<method>_response`.
    Method,
    /// `error_response` (method missing or unknown, some legacy errors).
    Error,
}

/// The signed part of a v2 response, located in the raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedV2<'a> {
    /// Which key held the answer.
    pub kind: ResponseKind,
    /// The exact text the signature covers: the object from `{` to its `}`, or for an encrypted
    /// answer the string literal including its quotes.
    pub content: &'a str,
    /// Whether the answer is an AES-encrypted string rather than an object.
    pub encrypted: bool,
    /// `alipay_cert_sn` (certificate mode only).
    pub alipay_cert_sn: Option<String>,
    /// The `sign` value, JSON-unescaped.
    pub sign: String,
}

impl SignedV2<'_> {
    /// The ciphertext of an encrypted answer, JSON-unescaped (`\/` → `/`); `None` for objects.
    pub fn ciphertext(&self) -> Option<String> {
        if !self.encrypted {
            return None;
        }
        serde_json::from_str::<String>(self.content).ok()
    }
}

/// Why a v2 response body was refused before verification.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtractError {
    /// The body is not a JSON object.
    #[error("the response body is not a JSON object")]
    NotObject,
    /// The body is not well-formed JSON.
    #[error("malformed JSON at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the problem.
        offset: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// Nesting deeper than the scanner allows.
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
    /// Text after the closing `}` of the body.
    #[error("unexpected text after the response object at byte {offset}")]
    TrailingGarbage {
        /// Byte offset of the first unexpected character.
        offset: usize,
    },
    /// A top-level key occurring twice: a forged body may hide a second answer where a lenient
    /// parser would read it.
    #[error("top-level key `{0}` occurs more than once")]
    DuplicateKey(String),
    /// Neither `<method>_response` nor `error_response` is present.
    #[error("the response has neither `{expected}` nor `error_response`")]
    ResponseKeyMissing {
        /// The key that was looked for.
        expected: String,
    },
    /// Both the method's key and `error_response` are present.
    #[error("the response carries both `{0}` and `error_response`")]
    AmbiguousResponse(String),
    /// A top-level key other than the answer, `sign` and (certificate mode) `alipay_cert_sn`, or
    /// one of those out of place.
    #[error("unexpected top-level key `{key}` at byte {offset}")]
    UnexpectedKey {
        /// The key (possibly truncated).
        key: String,
        /// Byte offset of the key.
        offset: usize,
    },
    /// The answer's value is neither an object nor (encrypted) a string.
    #[error("the response value is not a JSON object or an encrypted string")]
    BadResponseValue,
    /// No `sign`: the answer is unauthenticated. `content` is the unverified answer, for
    /// diagnostics only (an unknown `app_id` is answered unsigned).
    #[error("the response is not signed")]
    MissingSign {
        /// The unverified answer text.
        content: String,
    },
    /// `sign` or `alipay_cert_sn` is not a non-empty string.
    #[error("`{0}` is not a non-empty JSON string")]
    BadStringField(&'static str),
}

/// Deepest nesting the scanner follows; real answers nest a few levels.
const MAX_DEPTH: usize = 128;
/// Longest key kept verbatim in an error.
const ERR_KEY_MAX: usize = 64;

fn truncate(s: &str) -> String {
    if s.len() <= ERR_KEY_MAX {
        return s.to_string();
    }
    let mut end = ERR_KEY_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// One top-level member: decoded key, key offset, raw value span.
struct Member {
    key: String,
    key_offset: usize,
    value: (usize, usize),
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn err(&self, reason: &'static str) -> ExtractError {
        ExtractError::Malformed {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.b.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8, reason: &'static str) -> Result<(), ExtractError> {
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    /// Scans a string literal starting at `pos` (a `"`), returning its decoded text when
    /// `decode` is set. Validates escapes and refuses raw control characters.
    fn string(&mut self, decode: bool) -> Result<String, ExtractError> {
        self.expect(b'"', "a string")?;
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(self.err("a closing quote"));
            };
            match c {
                b'"' => {
                    if decode {
                        out.push_str(self.slice(run_start, self.pos));
                    }
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    if decode {
                        out.push_str(self.slice(run_start, self.pos));
                    }
                    self.pos += 1;
                    let e = self.b.get(self.pos).copied();
                    self.pos += 1;
                    let ch = match e {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("a valid escape"));
                        }
                    };
                    if decode {
                        out.push(ch);
                    }
                    run_start = self.pos;
                }
                c if c < 0x20 => return Err(self.err("no raw control character in a string")),
                _ => self.pos += 1,
            }
        }
    }

    /// The text between two offsets that lie on ASCII delimiters of a `&str`, so always on char
    /// boundaries.
    fn slice(&self, from: usize, to: usize) -> &'a str {
        std::str::from_utf8(&self.b[from..to]).unwrap_or_default()
    }

    fn hex4(&mut self) -> Result<u32, ExtractError> {
        let digits = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("four hex digits"))?;
        let mut v = 0u32;
        for &d in digits {
            let h = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.err("four hex digits"))?;
            v = v << 4 | h;
        }
        self.pos += 4;
        Ok(v)
    }

    /// Decodes the rest of a `\u` escape (surrogate pairs joined; lone surrogates refused).
    fn unicode_escape(&mut self) -> Result<char, ExtractError> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.b.get(self.pos..self.pos + 2) != Some(b"\\u".as_slice()) {
                return Err(self.err("a low surrogate escape"));
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("a low surrogate escape"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.err("no lone low surrogate"));
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err("a valid code point"))
    }

    /// Skips any JSON value, returning its span. Containers are matched with an explicit stack
    /// (quote- and escape-aware), so hostile nesting cannot overflow the call stack; their full
    /// grammar is checked afterwards by `serde_json` on the extracted text.
    fn value(&mut self) -> Result<(usize, usize), ExtractError> {
        let start = self.pos;
        match self.b.get(self.pos) {
            Some(b'"') => {
                self.string(false)?;
            }
            Some(b'{' | b'[') => {
                let mut stack: Vec<u8> = Vec::new();
                loop {
                    let Some(&c) = self.b.get(self.pos) else {
                        return Err(self.err("a closing bracket"));
                    };
                    match c {
                        b'"' => {
                            self.string(false)?;
                            continue;
                        }
                        b'{' | b'[' => {
                            if stack.len() >= MAX_DEPTH {
                                return Err(ExtractError::TooDeep(MAX_DEPTH));
                            }
                            stack.push(if c == b'{' { b'}' } else { b']' });
                        }
                        b'}' | b']' => {
                            if stack.pop() != Some(c) {
                                return Err(self.err("matching brackets"));
                            }
                            if stack.is_empty() {
                                self.pos += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            Some(_) => {
                while matches!(
                    self.b.get(self.pos),
                    Some(b'a'..=b'z' | b'0'..=b'9' | b'-' | b'+' | b'.' | b'E')
                ) {
                    self.pos += 1;
                }
                let lit = self.slice(start, self.pos);
                let ok = matches!(lit, "true" | "false" | "null")
                    || (!lit.is_empty() && serde_json::from_str::<serde_json::Number>(lit).is_ok());
                if !ok {
                    self.pos = start;
                    return Err(self.err("a JSON value"));
                }
            }
            None => return Err(self.err("a JSON value")),
        }
        Ok((start, self.pos))
    }

    /// Parses the top-level object into its members.
    fn top_level(&mut self) -> Result<Vec<Member>, ExtractError> {
        self.skip_ws();
        if self.b.get(self.pos) != Some(&b'{') {
            return Err(ExtractError::NotObject);
        }
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                let key_offset = self.pos;
                let key = self.string(true)?;
                self.skip_ws();
                self.expect(b':', "`:` after a key")?;
                self.skip_ws();
                let value = self.value()?;
                members.push(Member {
                    key,
                    key_offset,
                    value,
                });
                self.skip_ws();
                match self.b.get(self.pos) {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("`,` or `}`")),
                }
            }
        }
        self.skip_ws();
        if self.pos != self.b.len() {
            return Err(ExtractError::TrailingGarbage { offset: self.pos });
        }
        Ok(members)
    }
}

/// Locates the signed answer of a v2 response in its raw text, strictly.
///
/// Accepted shape: `{"<method>_response" | "error_response": <object or encrypted string>,
/// ["alipay_cert_sn": "…",] "sign": "…"}` with optional whitespace around `:` and `,`; the answer
/// first, `sign` last, `alipay_cert_sn` only when `cert_mode`. Everything else is refused: a
/// non-object body, a duplicated top-level key, any other key, a missing `sign`, trailing text.
/// The returned `content` is the exact text to verify (never a re-serialisation), and it is
/// checked to be well-formed JSON.
pub fn extract_signed_response<'a>(
    body: &'a str,
    method: &str,
    cert_mode: bool,
) -> Result<SignedV2<'a>, ExtractError> {
    let mut sc = Scanner {
        b: body.as_bytes(),
        pos: 0,
    };
    let members = sc.top_level()?;

    let mut seen = std::collections::HashSet::new();
    for m in &members {
        if !seen.insert(m.key.as_str()) {
            return Err(ExtractError::DuplicateKey(truncate(&m.key)));
        }
    }
    let expected = response_key(method);
    let has_method = seen.contains(expected.as_str());
    let has_error = seen.contains(ERROR_RESPONSE_KEY);
    let kind = match (has_method, has_error) {
        (true, true) => return Err(ExtractError::AmbiguousResponse(truncate(&expected))),
        (true, false) => ResponseKind::Method,
        (false, true) => ResponseKind::Error,
        (false, false) => return Err(ExtractError::ResponseKeyMissing { expected }),
    };
    let unexpected = |m: &Member| ExtractError::UnexpectedKey {
        key: truncate(&m.key),
        offset: m.key_offset,
    };

    let mut it = members.iter();
    let first = it.next().ok_or(ExtractError::ResponseKeyMissing {
        expected: expected.clone(),
    })?;
    let answer_key = match kind {
        ResponseKind::Method => expected.as_str(),
        ResponseKind::Error => ERROR_RESPONSE_KEY,
    };
    if first.key != answer_key {
        return Err(unexpected(first));
    }
    let content = &body[first.value.0..first.value.1];
    let encrypted = match content.as_bytes().first() {
        Some(b'{') => false,
        Some(b'"') if kind == ResponseKind::Method => true,
        _ => return Err(ExtractError::BadResponseValue),
    };
    if !encrypted && serde_json::from_str::<serde::de::IgnoredAny>(content).is_err() {
        return Err(ExtractError::Malformed {
            offset: first.value.0,
            reason: "a well-formed JSON object as the answer",
        });
    }

    let string_value = |m: &Member, name: &'static str| -> Result<String, ExtractError> {
        let raw = &body[m.value.0..m.value.1];
        match serde_json::from_str::<String>(raw) {
            Ok(s) if raw.starts_with('"') && !s.is_empty() => Ok(s),
            _ => Err(ExtractError::BadStringField(name)),
        }
    };

    let mut alipay_cert_sn = None;
    let mut sign = None;
    for m in it {
        if sign.is_some() {
            // `sign` must be the last member.
            return Err(unexpected(m));
        }
        match m.key.as_str() {
            "alipay_cert_sn" if cert_mode && alipay_cert_sn.is_none() => {
                alipay_cert_sn = Some(string_value(m, "alipay_cert_sn")?);
            }
            "sign" => sign = Some(string_value(m, "sign")?),
            _ => return Err(unexpected(m)),
        }
    }
    let sign = sign.ok_or_else(|| ExtractError::MissingSign {
        content: content.to_string(),
    })?;
    Ok(SignedV2 {
        kind,
        content,
        encrypted,
        alipay_cert_sn,
        sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::aes::{aes_decrypt, aes_encrypt};
    use crate::alipay::keys::{generate_rsa_2048, parse_public_key, public_from_private};
    use crate::alipay::sign::{rsa_sign, rsa_verify};
    use crate::alipay::test_vectors::*;
    use crate::params::Limits;

    fn set(pairs: &[(&str, &str)]) -> ParamSet {
        ParamSet::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            &Limits::default(),
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        parse_gmt8("2024-01-01 12:05:00").unwrap()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("app_id", "2021000000000001"),
            ("method", "alipay.trade.query"),
            ("charset", "utf-8"),
            ("format", "json"),
            ("sign_type", "RSA2"),
            ("timestamp", "2024-01-01 12:00:00"),
            ("version", "1.0"),
            ("biz_content", r#"{"out_trade_no":"T1"}"#),
            ("sign", "c2ln"),
        ]
    }

    fn check(pairs: &[(&str, &str)]) -> Result<V2Common, V2Error> {
        read_common(&set(pairs), now(), chrono::Duration::minutes(15), |m| {
            m == "alipay.trade.query"
        })
    }

    fn with(name: &str, value: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
        let mut p: Vec<_> = good().into_iter().filter(|(k, _)| *k != name).collect();
        if let Some(v) = value {
            let k = good().into_iter().find(|(k, _)| *k == name).map(|(k, _)| k);
            p.push((k.unwrap_or("encrypt_type"), v));
        }
        p
    }

    #[test]
    fn response_keys() {
        assert_eq!(
            response_key("alipay.trade.query"),
            "alipay_trade_query_response"
        );
        assert_eq!(
            response_key("koubei.trade.itemorder.query"),
            "koubei_trade_itemorder_query_response"
        );
    }

    #[test]
    fn common_parameters_accepted() {
        let c = check(&good()).unwrap();
        assert_eq!(c.app_id, "2021000000000001");
        assert_eq!(c.method, "alipay.trade.query");
        assert_eq!(c.sign_type, SignType::Rsa2);
        assert_eq!(c.charset, Charset::Utf8);
        assert_eq!(c.format.as_deref(), Some("json"));
        assert_eq!(c.timestamp.timestamp_millis(), 1_704_081_600_000);
        assert_eq!(c.biz_content.as_deref(), Some(r#"{"out_trade_no":"T1"}"#));
        assert_eq!(c.app_auth_token, None);
        // format and charset are optional; `JSON` is fine.
        let mut p = with("format", None);
        p.retain(|(k, _)| *k != "charset");
        assert_eq!(check(&p).unwrap().charset, Charset::Utf8);
        assert!(check(&with("format", Some("JSON"))).is_ok());
        assert_eq!(
            check(&with("charset", Some("GBK"))).unwrap().charset,
            Charset::Gbk
        );
    }

    #[test]
    fn common_parameter_errors_in_order() {
        let sub = |p: Vec<(&str, &str)>| check(&p).unwrap_err().sub_code;
        assert_eq!(sub(with("method", None)), "isv.missing-method");
        assert_eq!(sub(with("method", Some(""))), "isv.missing-method");
        assert_eq!(
            sub(with("method", Some("alipay.trade.pay"))),
            "isv.invalid-method"
        );
        assert_eq!(sub(with("app_id", None)), "isv.missing-app-id");
        assert_eq!(sub(with("sign", None)), "isv.missing-signature");
        assert_eq!(sub(with("sign_type", None)), "isv.missing-signature-type");
        assert_eq!(
            sub(with("sign_type", Some("rsa2"))),
            "isv.invalid-signature-type"
        );
        assert_eq!(sub(with("timestamp", None)), "isv.missing-timestamp");
        assert_eq!(
            sub(with("timestamp", Some("2024-01-01T12:00:00"))),
            "isv.invalid-timestamp"
        );
        // Well-formed but outside ±15 min, either side.
        assert_eq!(
            sub(with("timestamp", Some("2024-01-01 11:49:59"))),
            "isv.invalid-timestamp"
        );
        assert_eq!(
            sub(with("timestamp", Some("2024-01-01 12:20:01"))),
            "isv.invalid-timestamp"
        );
        assert!(check(&with("timestamp", Some("2024-01-01 12:20:00"))).is_ok());
        assert_eq!(sub(with("version", None)), "isv.missing-version");
        let v = check(&with("version", Some("2.0"))).unwrap_err();
        assert_eq!(
            (v.code, v.sub_code.as_str()),
            ("40002", "isv.invalid-parameter")
        );
        assert!(v.sub_msg.contains("version"));
        assert_eq!(sub(with("format", Some("xml"))), "isv.invalid-format");
        assert_eq!(sub(with("charset", Some("latin1"))), "isv.invalid-charset");
        assert_eq!(
            sub(with("encrypt_type", Some("SM4"))),
            "isv.invalid-encrypt-type"
        );
        assert_eq!(
            check(&with("encrypt_type", Some("AES")))
                .unwrap()
                .encrypt_type
                .as_deref(),
            Some("AES")
        );
        // Order: with everything missing, the method comes first; then app_id before sign.
        assert_eq!(check(&[]).unwrap_err().sub_code, "isv.missing-method");
        assert_eq!(
            check(&[("method", "alipay.trade.query")])
                .unwrap_err()
                .sub_code,
            "isv.missing-app-id"
        );
    }

    #[test]
    fn catalogue_wire_texts() {
        let cases = [
            (
                V2Error::missing_method(),
                "40001",
                "Missing Required Arguments",
                "isv.missing-method",
                "缺少方法名参数",
            ),
            (
                V2Error::missing_signature(),
                "40001",
                "Missing Required Arguments",
                "isv.missing-signature",
                "缺少签名参数",
            ),
            (
                V2Error::missing_signature_type(),
                "40001",
                "Missing Required Arguments",
                "isv.missing-signature-type",
                "缺少签名类型参数",
            ),
            (
                V2Error::missing_app_id(),
                "40001",
                "Missing Required Arguments",
                "isv.missing-app-id",
                "缺少appId参数",
            ),
            (
                V2Error::missing_timestamp(),
                "40001",
                "Missing Required Arguments",
                "isv.missing-timestamp",
                "缺少时间戳参数",
            ),
            (
                V2Error::missing_version(),
                "40001",
                "Missing Required Arguments",
                "isv.missing-version",
                "缺少版本参数",
            ),
            (
                V2Error::invalid_method(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-method",
                "不存在的方法名",
            ),
            (
                V2Error::invalid_format(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-format",
                "无效的数据格式",
            ),
            (
                V2Error::invalid_signature_type(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-signature-type",
                "无效的签名类型",
            ),
            (
                V2Error::invalid_app_id(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-app-id",
                "无效的AppID参数",
            ),
            (
                V2Error::invalid_timestamp(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-timestamp",
                "非法的时间戳参数",
            ),
            (
                V2Error::invalid_charset(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-charset",
                "字符集错误",
            ),
            (
                V2Error::invalid_parameter(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-parameter",
                "参数无效",
            ),
            (
                V2Error::invalid_encrypt_type(),
                "40002",
                "Invalid Arguments",
                "isv.invalid-encrypt-type",
                "无效的加密类型",
            ),
            (
                V2Error::decryption_error_unknown(),
                "40003",
                "Insufficient Conditions",
                "isv.decryption-error-unknown",
                "解密出错, 未知错误",
            ),
            (
                V2Error::invalid_app_auth_token(),
                "20001",
                "Insufficient Token Permissions",
                "aop.invalid-app-auth-token",
                "无效的应用授权令牌",
            ),
            (
                V2Error::app_auth_token_time_out(),
                "20001",
                "Insufficient Token Permissions",
                "aop.app-auth-token-time-out",
                "应用授权令牌已过期",
            ),
            (
                V2Error::system_error(),
                "20000",
                "Service Currently Unavailable",
                "isp.unknow-error",
                "服务暂不可用（业务系统不可用）",
            ),
            (
                V2Error::business("ACQ.TRADE_NOT_EXIST", "交易不存在"),
                "40004",
                "Business Failed",
                "ACQ.TRADE_NOT_EXIST",
                "交易不存在",
            ),
        ];
        for (e, code, msg, sub_code, sub_msg) in cases {
            assert_eq!(
                (e.code, e.msg, e.sub_code.as_str(), e.sub_msg.as_str()),
                (code, msg, sub_code, sub_msg)
            );
        }
        assert_eq!(V2Error::missing_encrypt_key().code, "40001");
        assert_eq!(
            V2Error::decryption_error_not_valid_encrypt_type().code,
            "40002"
        );
    }

    #[test]
    fn invalid_signature_echoes_string_with_amp() {
        let e = V2Error::invalid_signature("app_id=1&charset=utf-8&sign_type=RSA2");
        assert_eq!(e.sub_code, "isv.invalid-signature");
        assert_eq!(
            e.sub_msg,
            "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：app_id=1&amp;charset=utf-8&amp;sign_type=RSA2"
        );
        let inner = error_inner_json(&e);
        assert_eq!(
            inner,
            r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：app_id=1&amp;charset=utf-8&amp;sign_type=RSA2"}"#
        );
        let m = V2Error::invalid_signature_type_mismatch(SignType::Rsa2);
        assert!(m
            .sub_msg
            .ends_with("sign_type参数值为RSA2，您实际用的签名类型可能是RSA"));
    }

    #[test]
    fn envelope_shapes() {
        let inner = error_inner_json(&V2Error::invalid_method());
        assert_eq!(
            envelope(ERROR_RESPONSE_KEY, &inner, Some("c2ln")),
            r#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-method","sub_msg":"不存在的方法名"},"sign":"c2ln"}"#
        );
        let inner = error_inner_json(&V2Error::invalid_app_id());
        assert_eq!(
            envelope("alipay_trade_query_response", &inner, None),
            r#"{"alipay_trade_query_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}"#
        );
        let mut fields = Node::obj();
        fields.push_str("trade_no", "2013112011001004330000121536");
        fields.push_str("total_amount", "88.88");
        let ok = success_inner_json(&fields);
        assert_eq!(
            ok,
            r#"{"code":"10000","msg":"Success","trade_no":"2013112011001004330000121536","total_amount":"88.88"}"#
        );
        assert_eq!(
            success_inner_json(&Node::obj()),
            r#"{"code":"10000","msg":"Success"}"#
        );
        assert_eq!(
            envelope_with_cert_sn("x_response", "{}", Some("abc"), Some("s")),
            r#"{"x_response":{},"alipay_cert_sn":"abc","sign":"s"}"#
        );
        let mut extra = Node::obj();
        extra.push_str("out_trade_no", "T1");
        assert_eq!(
            error_inner_json_with_fields(
                &V2Error::business("ACQ.TRADE_NOT_EXIST", "交易不存在"),
                &extra
            ),
            r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在","out_trade_no":"T1"}"#
        );
        assert_eq!(signed_content_for_encrypted("QUJD"), "\"QUJD\"");
        assert_eq!(
            envelope_encrypted("x_response", "QUJD", Some("s")),
            r#"{"x_response":"QUJD","sign":"s"}"#
        );
    }

    #[test]
    fn a3_response_verifies_over_extracted_object() {
        let key = parse_public_key(A3_ALIPAY_PUBLIC_PEM).unwrap();
        let s = extract_signed_response(A3_RESPONSE, "alipay.trade.query", false).unwrap();
        assert_eq!(s.kind, ResponseKind::Method);
        assert!(!s.encrypted);
        assert!(s.content.starts_with("{\"code\":\"10000\""));
        assert!(s.content.ends_with("\"trade_status\":\"TRADE_SUCCESS\"}"));
        assert!(rsa_verify(
            &key,
            SignType::Rsa2,
            s.content.as_bytes(),
            &s.sign
        ));
        // Whitespace around `:` and `,` is fine and does not change the signed text.
        let spaced = A3_RESPONSE
            .replacen("_response\":", "_response\" :\n ", 1)
            .replacen("},\"sign\":", "} ,\t\"sign\" : ", 1);
        let s2 = extract_signed_response(&spaced, "alipay.trade.query", false).unwrap();
        assert_eq!(s2.content, s.content);
        assert_eq!(s2.sign, s.sign);
        // The wrong method key is not found.
        assert!(matches!(
            extract_signed_response(A3_RESPONSE, "alipay.trade.pay", false),
            Err(ExtractError::ResponseKeyMissing { .. })
        ));
    }

    #[test]
    fn forged_duplicate_key_is_refused() {
        let body = r#"{"x_response":{"total_amount":"1.00"},"x_response":{"total_amount":"9999.00"},"sign":"c2ln"}"#;
        assert_eq!(
            extract_signed_response(body, "x", false),
            Err(ExtractError::DuplicateKey("x_response".into()))
        );
        // Also when the duplicate is disguised with an escape.
        let body = r#"{"x_response":{"a":1},"sign":"c2ln","x\u005fresponse":{"a":2}}"#;
        assert_eq!(
            extract_signed_response(body, "x", false),
            Err(ExtractError::DuplicateKey("x_response".into()))
        );
        let body = r#"{"x_response":{"a":1},"sign":"c2ln","sign":"c2ln"}"#;
        assert!(matches!(
            extract_signed_response(body, "x", false),
            Err(ExtractError::DuplicateKey(_))
        ));
    }

    #[test]
    fn extraction_shape_rules() {
        fn ok(b: &str, cert: bool) -> Result<SignedV2<'_>, ExtractError> {
            extract_signed_response(b, "x", cert)
        }
        // Cert SN only in cert mode, only between answer and sign.
        let cert = r#"{"x_response":{"a":1},"alipay_cert_sn":"0123","sign":"c2ln"}"#;
        assert!(
            matches!(ok(cert, false), Err(ExtractError::UnexpectedKey { ref key, .. }) if key == "alipay_cert_sn")
        );
        assert_eq!(
            ok(cert, true).unwrap().alipay_cert_sn.as_deref(),
            Some("0123")
        );
        assert!(ok(
            r#"{"x_response":{"a":1},"sign":"c2ln","alipay_cert_sn":"0123"}"#,
            true
        )
        .is_err());
        // Other keys, answer not first.
        assert!(matches!(
            ok(r#"{"x_response":{},"foo":1,"sign":"c2ln"}"#, false),
            Err(ExtractError::UnexpectedKey { .. })
        ));
        assert!(matches!(
            ok(r#"{"sign":"c2ln","x_response":{}}"#, false),
            Err(ExtractError::UnexpectedKey { .. })
        ));
        // Missing sign keeps the unverified answer for diagnostics.
        assert_eq!(
            ok(r#"{"x_response":{"code":"40002"}}"#, false),
            Err(ExtractError::MissingSign {
                content: r#"{"code":"40002"}"#.into()
            })
        );
        assert_eq!(
            ok(r#"{"x_response":{},"sign":""}"#, false),
            Err(ExtractError::BadStringField("sign"))
        );
        assert_eq!(
            ok(r#"{"x_response":{},"sign":5}"#, false),
            Err(ExtractError::BadStringField("sign"))
        );
        // error_response is found; both at once is ambiguous.
        let e = ok(
            r#"{"error_response":{"code":"40002"},"sign":"c2ln"}"#,
            false,
        )
        .unwrap();
        assert_eq!(e.kind, ResponseKind::Error);
        assert!(matches!(
            ok(
                r#"{"x_response":{},"error_response":{},"sign":"c2ln"}"#,
                false
            ),
            Err(ExtractError::AmbiguousResponse(_))
        ));
        // Not an object, trailing garbage, bad values.
        assert_eq!(
            ok(r#"[{"x_response":{}}]"#, false),
            Err(ExtractError::NotObject)
        );
        assert_eq!(ok("", false), Err(ExtractError::NotObject));
        assert!(matches!(
            ok(r#"{"x_response":{},"sign":"c2ln"}x"#, false),
            Err(ExtractError::TrailingGarbage { .. })
        ));
        assert!(matches!(
            ok(r#"{"x_response":{},"sign":"c2ln"}{}"#, false),
            Err(ExtractError::TrailingGarbage { .. })
        ));
        assert!(ok("{\"x_response\":{},\"sign\":\"c2ln\"}\r\n", false).is_ok());
        assert_eq!(
            ok(r#"{"x_response":[1],"sign":"c2ln"}"#, false),
            Err(ExtractError::BadResponseValue)
        );
        assert_eq!(
            ok(r#"{"x_response":null,"sign":"c2ln"}"#, false),
            Err(ExtractError::BadResponseValue)
        );
        assert_eq!(
            ok(r#"{"error_response":"QUJD","sign":"c2ln"}"#, false),
            Err(ExtractError::BadResponseValue)
        );
        // `\/` in sign is unescaped.
        assert_eq!(
            ok(r#"{"x_response":{},"sign":"a\/b"}"#, false)
                .unwrap()
                .sign,
            "a/b"
        );
    }

    #[test]
    fn braces_inside_strings_do_not_confuse_the_scanner() {
        let body = r#"{"x_response":{"subject":"} ,\"sign\":\"forged\" {","n":[{"k":"]"}]},"sign":"c2ln"}"#;
        let s = extract_signed_response(body, "x", false).unwrap();
        assert_eq!(
            s.content,
            r#"{"subject":"} ,\"sign\":\"forged\" {","n":[{"k":"]"}]}"#
        );
        assert_eq!(s.sign, "c2ln");
    }

    #[test]
    fn adversarial_bodies_are_errors_not_panics() {
        let deep = format!(
            "{{\"x_response\":{}{},\"sign\":\"c2ln\"}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let huge_key = format!("{{\"{}\":1}}", "k".repeat(1_000_000));
        let cases: Vec<String> = vec![
            String::new(),
            "{".into(),
            "{\"".into(),
            r#"{"x_response""#.into(),
            r#"{"x_response":"#.into(),
            r#"{"x_response":{"a":"unterminated}"#.into(),
            r#"{"x_response":{"a":"x"]}"#.into(),
            r#"{"x_response":{"a":"\q"},"sign":"c2ln"}"#.into(),
            r#"{"x_response":{"a":"\ud800"},"sign":"c2ln"}"#.into(),
            r#"{"x_response":{"a" "b"},"sign":"c2ln"}"#.into(),
            r#"{"x_response":{"a":1,},"sign":"c2ln"}"#.into(),
            r#"{"x_response":{},"sign":"c2ln",}"#.into(),
            r#"{"x\ud800_response":{},"sign":"c2ln"}"#.into(),
            r#"{"x_response":{},"sign":"c2ln" "k":1}"#.into(),
            r#"{"x_response":tru,"sign":"c2ln"}"#.into(),
            "{\"x_response\":{\"a\":\"\u{1}\"},\"sign\":\"c2ln\"}".into(),
            deep,
            huge_key,
            "{\"x_response\":\"\\u12".into(),
        ];
        for c in &cases {
            assert!(
                extract_signed_response(c, "x", false).is_err(),
                "{}",
                &c[..c.len().min(80)]
            );
        }
    }

    #[test]
    fn encrypted_answer_round_trip() {
        let key = generate_rsa_2048().unwrap();
        let public = public_from_private(&key).unwrap();
        let aes_key = "AAECAwQFBgcICQoLDA0ODw==";
        let inner = success_inner_json(&Node::obj());
        let ct = aes_encrypt(aes_key, inner.as_bytes()).unwrap();
        let signed = signed_content_for_encrypted(&ct);
        let sign = rsa_sign(&key, SignType::Rsa2, signed.as_bytes()).unwrap();
        let body = envelope_encrypted("alipay_trade_query_response", &ct, Some(&sign));
        let s = extract_signed_response(&body, "alipay.trade.query", false).unwrap();
        assert!(s.encrypted);
        assert_eq!(s.content, signed);
        assert!(rsa_verify(
            &public,
            SignType::Rsa2,
            s.content.as_bytes(),
            &s.sign
        ));
        let pt = aes_decrypt(aes_key, &s.ciphertext().unwrap()).unwrap();
        assert_eq!(pt, inner.as_bytes());
    }
}
