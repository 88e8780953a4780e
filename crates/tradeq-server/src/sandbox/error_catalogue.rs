//! The protocol errors a fault rule can inject, per front door, and how a code of one protocol
//! maps to its equivalent in another when a rule matches several front doors.
//!
//! Each row is one kind of failure as the three protocols spell it: the Alipay v2 gateway's
//! `code`/`msg`/`sub_code`/`sub_msg`, v3's HTTP status and `code`, TOP's numeric `code` with its
//! `msg` and optional `sub_code`. A rule names a failure by any spelling of its row (`20000`,
//! `isp.unknow-error`, `unknow-error`, …). A rule that can match only one front door must use a
//! spelling of that front door; a rule that can match several is rendered in each protocol's own
//! spelling of the row. Besides the rows, TOP accepts any `isp.*` sub-code (code 15, as the
//! platform reports a provider fault) and any `accesscontrol.*` sub-code (code 7).

use tradeq_wire::alipay::v2::V2Error;
use tradeq_wire::alipay::v3::V3Error;
use tradeq_wire::top::TopError;

use super::FrontDoor;

/// An error ready to be rendered by one front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InjectedError {
    /// An Alipay v2 error.
    V2(V2Error),
    /// An Alipay v3 error.
    V3(V3Error),
    /// A TOP error.
    Top(TopError),
}

/// v2: code, msg, sub_code, sub_msg.
type V2Spec = (&'static str, &'static str, &'static str, &'static str);
/// v3: HTTP status, code, message.
type V3Spec = (u16, &'static str, &'static str);
/// TOP: code, msg, sub_code, sub_msg.
type TopSpec = (
    i64,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

struct Row {
    /// Other names of the row on the v2 front door (its numeric code, common misspellings).
    v2_aliases: &'static [&'static str],
    v2: Option<V2Spec>,
    v3: Option<V3Spec>,
    top: Option<TopSpec>,
}

const BUSINESS: (&str, &str) = ("40004", "Business Failed");
const INVALID: (&str, &str) = ("40002", "Invalid Arguments");
const MISSING: (&str, &str) = ("40001", "Missing Required Arguments");
const TOKEN: (&str, &str) = ("20001", "Insufficient Token Permissions");
const UNAVAILABLE: (&str, &str) = ("20000", "Service Currently Unavailable");

const fn v2(kind: (&'static str, &'static str), sub: &'static str, text: &'static str) -> V2Spec {
    (kind.0, kind.1, sub, text)
}

/// The catalogue. Order matters only for names that appear in several rows (none do).
const ROWS: &[Row] = &[
    // The method's own retryable failure.
    Row {
        v2_aliases: &[],
        v2: Some(v2(BUSINESS, "ACQ.SYSTEM_ERROR", "系统错误")),
        v3: Some((500, "ACQ.SYSTEM_ERROR", "系统错误")),
        top: Some((
            50,
            "Remote service error",
            Some("isp.SYSTEM_ERROR"),
            Some("系统繁忙，请稍后重试"),
        )),
    },
    // The platform's business system is unavailable.
    Row {
        v2_aliases: &["20000", "isp.unknown-error"],
        v2: Some(v2(
            UNAVAILABLE,
            "isp.unknow-error",
            "服务暂不可用（业务系统不可用）",
        )),
        v3: Some((500, "unknow-error", "服务暂不可用（业务系统不可用）")),
        top: Some((
            15,
            "Remote service error",
            Some("isp.top-remote-service-unavailable"),
            Some("服务暂不可用"),
        )),
    },
    // The gateway itself failed.
    Row {
        v2_aliases: &["aop.unknown-error"],
        v2: Some(v2(
            UNAVAILABLE,
            "aop.unknow-error",
            "服务暂不可用（网关自身的未知错误）",
        )),
        v3: None,
        top: Some((10, "Service Currently Unavailable", None, None)),
    },
    // The record does not exist.
    Row {
        v2_aliases: &[],
        v2: Some(v2(BUSINESS, "ACQ.TRADE_NOT_EXIST", "交易不存在")),
        v3: Some((400, "ACQ.TRADE_NOT_EXIST", "交易不存在")),
        top: Some((
            50,
            "Remote service error",
            Some("isp.TRADE_ORDER_NOT_FOUND"),
            Some("交易订单未找到"),
        )),
    },
    // The business parameters are wrong.
    Row {
        v2_aliases: &[],
        v2: Some(v2(BUSINESS, "ACQ.INVALID_PARAMETER", "参数无效")),
        v3: Some((400, "ACQ.INVALID_PARAMETER", "参数无效")),
        top: Some((
            50,
            "Remote service error",
            Some("isv.INVALID_PARAMETER"),
            Some("参数无效"),
        )),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(
            BUSINESS,
            "ACQ.ENTERPRISE_PAY_BIZ_ERROR",
            "因公付业务异常",
        )),
        v3: Some((400, "ACQ.ENTERPRISE_PAY_BIZ_ERROR", "因公付业务异常")),
        top: None,
    },
    // A gateway-level parameter error.
    Row {
        v2_aliases: &[],
        v2: Some(v2(INVALID, "isv.invalid-parameter", "参数无效")),
        v3: Some((400, "invalid-parameter", "参数无效")),
        top: Some((43, "Parameter error", None, None)),
    },
    // Flow control.
    Row {
        v2_aliases: &["40005"],
        v2: Some((
            "40005",
            "Call Limited",
            "isv.app-call-limited",
            "调用频次超限",
        )),
        v3: Some((429, "app-call-limited", "调用频次超限")),
        top: Some((
            7,
            "App Call Limited",
            Some("accesscontrol.limited-by-app-access-count"),
            Some("This ban will last for 1 more seconds"),
        )),
    },
    Row {
        v2_aliases: &["40006"],
        v2: Some(v2(
            ("40006", "Insufficient Permissions"),
            "isv.insufficient-isv-permissions",
            "ISV权限不足",
        )),
        v3: Some((403, "insufficient-isv-permissions", "ISV权限不足")),
        top: Some((
            11,
            "Insufficient isv permissions",
            Some("isv.permission-api-package-empty"),
            Some("ISV权限不足"),
        )),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(INVALID, "isv.invalid-signature", "无效签名")),
        v3: Some((401, "invalid-signature", "无效签名")),
        top: Some((25, "Invalid signature", None, None)),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(MISSING, "isv.missing-signature", "缺少签名参数")),
        v3: Some((401, "missing-signature", "缺少签名参数")),
        top: Some((24, "Missing signature", None, None)),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(INVALID, "isv.invalid-app-id", "无效的AppID参数")),
        v3: Some((401, "invalid-app-id", "无效的AppID参数")),
        top: Some((29, "Invalid app Key", Some("isv.appkey-not-exists"), None)),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(INVALID, "isv.invalid-timestamp", "非法的时间戳参数")),
        v3: Some((401, "invalid-timestamp", "非法的时间戳参数")),
        top: Some((31, "Invalid timestamp", None, None)),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(INVALID, "isv.invalid-method", "不存在的方法名")),
        v3: Some((400, "invalid-method", "不存在的方法名")),
        top: Some((22, "Invalid method", None, None)),
    },
    // The caller's delegation is not valid: app auth token on Alipay, session on TOP.
    Row {
        v2_aliases: &["20001"],
        v2: Some(v2(
            TOKEN,
            "aop.invalid-app-auth-token",
            "无效的应用授权令牌",
        )),
        v3: Some((401, "invalid-app-auth-token", "无效的应用授权令牌")),
        top: Some((
            27,
            "Invalid session",
            Some("invalid-sessionkey"),
            Some("SessionKey非法"),
        )),
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(
            TOKEN,
            "aop.app-auth-token-time-out",
            "应用授权令牌已过期",
        )),
        v3: Some((401, "app-auth-token-time-out", "应用授权令牌已过期")),
        top: None,
    },
    Row {
        v2_aliases: &[],
        v2: Some(v2(TOKEN, "aop.invalid-auth-token", "无效的访问令牌")),
        v3: Some((401, "invalid-auth-token", "无效的访问令牌")),
        top: None,
    },
    // TOP's own platform codes without an Alipay counterpart.
    top_only(3, "Upload Fail"),
    top_only(4, "User Call Limited"),
    top_only(5, "Session Call Limited"),
    top_only(6, "Partner Call Limited"),
    top_only(8, "App Call Exceeds Limited Frequency"),
    top_only(9, "Http action not allowed"),
    top_only(12, "Insufficient user permissions"),
    top_only(13, "Insufficient partner permissions"),
    top_only(15, "Remote service error"),
    top_only(21, "Missing method"),
    top_only(23, "Invalid format"),
    top_only(26, "Missing session"),
    top_only(28, "Missing app key"),
    top_only(30, "Missing timestamp"),
    top_only(32, "Missing version"),
    top_only(33, "Invalid version"),
    top_only(34, "Unsupported version"),
    top_only(40, "Missing required arguments"),
    top_only(41, "Invalid arguments"),
    top_only(42, "Forbidden Request"),
];

const fn top_only(code: i64, msg: &'static str) -> Row {
    Row {
        v2_aliases: &[],
        v2: None,
        v3: None,
        top: Some((code, msg, None, None)),
    }
}

/// The row of the unavailable platform, which open `isp.*` sub-codes map to on Alipay.
const UNAVAILABLE_ROW: usize = 1;
/// The flow-control row, which open `accesscontrol.*` sub-codes map to on Alipay.
const LIMITED_ROW: usize = 7;

impl Row {
    fn names_v2(&self, code: &str) -> bool {
        self.v2.is_some_and(|s| s.2 == code) || self.v2_aliases.contains(&code)
    }
    fn names_v3(&self, code: &str) -> bool {
        self.v3.is_some_and(|s| s.1 == code)
    }
    fn names_top(&self, code: &str) -> bool {
        self.top
            .is_some_and(|s| s.0.to_string() == code || s.2 == Some(code))
    }
    fn names(&self, door: FrontDoor, code: &str) -> bool {
        match door {
            FrontDoor::AlipayV2 => self.names_v2(code),
            FrontDoor::AlipayV3 => self.names_v3(code),
            FrontDoor::Top => self.names_top(code),
        }
    }
    fn render(&self, door: FrontDoor) -> Option<InjectedError> {
        match door {
            FrontDoor::AlipayV2 => self.v2.map(|(code, msg, sub_code, sub_msg)| {
                InjectedError::V2(V2Error {
                    code,
                    msg,
                    sub_code: sub_code.to_string(),
                    sub_msg: sub_msg.to_string(),
                })
            }),
            FrontDoor::AlipayV3 => self.v3.map(|(status, code, message)| {
                InjectedError::V3(V3Error::new(status, code, message))
            }),
            FrontDoor::Top => self.top.map(|(code, msg, sub_code, sub_msg)| {
                let mut e = TopError::new(code, msg);
                e.sub_code = sub_code.map(str::to_string);
                e.sub_msg = sub_msg.map(str::to_string);
                InjectedError::Top(e)
            }),
        }
    }
    /// This row's spelling on `door`, for error messages.
    fn spelling(&self, door: FrontDoor) -> Option<String> {
        match door {
            FrontDoor::AlipayV2 => self.v2.map(|s| s.2.to_string()),
            FrontDoor::AlipayV3 => self.v3.map(|s| s.1.to_string()),
            FrontDoor::Top => self
                .top
                .map(|s| s.2.map_or_else(|| s.0.to_string(), str::to_string)),
        }
    }
}

/// A TOP sub-code of an open family, checked for a sane shape.
fn open_top_family(code: &str) -> Option<(i64, &'static str, usize)> {
    let shape_ok = |rest: &str| {
        !rest.is_empty()
            && rest.len() <= 96
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if let Some(rest) = code.strip_prefix("isp.") {
        return shape_ok(rest).then_some((15, "Remote service error", UNAVAILABLE_ROW));
    }
    if let Some(rest) = code.strip_prefix("accesscontrol.") {
        return shape_ok(rest).then_some((7, "App Call Limited", LIMITED_ROW));
    }
    None
}

/// The error `code` stands for on `door`. `mapped`: the rule can match several front doors, so
/// a code of another protocol is rendered as this protocol's equivalent. `Err` says why the
/// code cannot be used there.
pub fn resolve(code: &str, door: FrontDoor, mapped: bool) -> Result<InjectedError, String> {
    if let Some(row) = ROWS.iter().find(|r| r.names(door, code)) {
        if let Some(e) = row.render(door) {
            return Ok(e);
        }
    }
    if door == FrontDoor::Top {
        if let Some((top_code, msg, _)) = open_top_family(code) {
            return Ok(InjectedError::Top(
                TopError::new(top_code, msg)
                    .with_sub_code(code)
                    .with_sub_msg("服务暂不可用"),
            ));
        }
    }
    let doors = [FrontDoor::AlipayV2, FrontDoor::AlipayV3, FrontDoor::Top];
    let row = ROWS
        .iter()
        .find(|r| doors.iter().any(|d| r.names(*d, code)))
        .or_else(|| open_top_family(code).map(|(_, _, row)| &ROWS[row]));
    let Some(row) = row else {
        return Err(format!(
            "`{code}` is not an error code of any front door (see docs/sandbox.md, \"Fault injection\", for the catalogue)"
        ));
    };
    match (mapped, row.render(door), row.spelling(door)) {
        (true, Some(e), _) => Ok(e),
        (false, Some(_), Some(spelling)) => Err(format!(
            "`{code}` is not an error code of the {} front door; its equivalent there is `{spelling}`",
            door.as_str()
        )),
        _ => Err(format!(
            "`{code}` has no equivalent on the {} front door; restrict the rule with `match.front_door`",
            door.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(code: &str) -> V2Error {
        match resolve(code, FrontDoor::AlipayV2, false) {
            Ok(InjectedError::V2(e)) => e,
            other => panic!("{code}: {other:?}"),
        }
    }

    #[test]
    fn v2_codes_and_aliases() {
        let e = v2("20000");
        assert_eq!((e.code, e.sub_code.as_str()), ("20000", "isp.unknow-error"));
        assert_eq!(v2("isp.unknown-error"), e);
        assert_eq!(v2("isp.unknow-error"), e);
        let e = v2("ACQ.SYSTEM_ERROR");
        assert_eq!((e.code, e.msg), ("40004", "Business Failed"));
        assert_eq!(v2("ACQ.TRADE_NOT_EXIST").sub_msg, "交易不存在");
    }

    #[test]
    fn v3_and_top_spellings() {
        assert_eq!(
            resolve("ACQ.SYSTEM_ERROR", FrontDoor::AlipayV3, false),
            Ok(InjectedError::V3(V3Error::new(
                500,
                "ACQ.SYSTEM_ERROR",
                "系统错误"
            )))
        );
        assert_eq!(
            resolve("7", FrontDoor::Top, false),
            resolve(
                "accesscontrol.limited-by-app-access-count",
                FrontDoor::Top,
                false
            )
        );
        match resolve("isp.top-remote-connection-timeout", FrontDoor::Top, false) {
            Ok(InjectedError::Top(e)) => {
                assert_eq!(e.code, 15);
                assert_eq!(
                    e.sub_code.as_deref(),
                    Some("isp.top-remote-connection-timeout")
                );
            }
            other => panic!("{other:?}"),
        }
        match resolve("isp.SYSTEM_ERROR", FrontDoor::Top, false) {
            Ok(InjectedError::Top(e)) => assert_eq!(e.code, 50),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn foreign_codes_are_refused_or_mapped() {
        let refused = resolve("ACQ.SYSTEM_ERROR", FrontDoor::Top, false);
        assert!(
            refused
                .as_ref()
                .is_err_and(|m| m.contains("isp.SYSTEM_ERROR")),
            "{refused:?}"
        );
        match resolve("ACQ.SYSTEM_ERROR", FrontDoor::Top, true) {
            Ok(InjectedError::Top(e)) => {
                assert_eq!(e.sub_code.as_deref(), Some("isp.SYSTEM_ERROR"))
            }
            other => panic!("{other:?}"),
        }
        match resolve("7", FrontDoor::AlipayV3, true) {
            Ok(InjectedError::V3(e)) => {
                assert_eq!((e.status, e.code.as_str()), (429, "app-call-limited"))
            }
            other => panic!("{other:?}"),
        }
        match resolve("isp.whatever-fails", FrontDoor::AlipayV2, true) {
            Ok(InjectedError::V2(e)) => assert_eq!(e.code, "20000"),
            other => panic!("{other:?}"),
        }
        assert!(resolve("NO.SUCH_CODE", FrontDoor::AlipayV2, true).is_err());
        assert!(resolve("26", FrontDoor::AlipayV2, true).is_err());
        assert!(resolve("isp.", FrontDoor::Top, false).is_err());
    }
}
