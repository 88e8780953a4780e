//! The five methods, independent of the protocol that carried them.
//!
//! Each method runs three visible stages: read and validate its business parameters, look the
//! record up for the caller's merchant, and build a [`Node`] view of the answer. Front doors
//! know nothing of fields; methods know nothing of envelopes or signatures.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use tradeq_store::{Store, StoreError};
use tradeq_wire::view::Node;

pub mod alipay_trade_query;
pub mod edi_alipay_trade_query;
pub mod koubei_trade_itemorder_query;
pub mod omni_order_query;
pub mod xlife_onsite_trade_query;

/// A method tradeq serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `koubei.trade.itemorder.query` (Alipay v2).
    KoubeiTradeItemorderQuery,
    /// `alipay.trade.query` (Alipay v2 and v3).
    AlipayTradeQuery,
    /// `alibaba.xlife.onsite.trade.query` (TOP).
    XlifeOnsiteTradeQuery,
    /// `tmall.luxury.stage.edi.alipay.trade.query` (TOP).
    EdiAlipayTradeQuery,
    /// `alibaba.omni.order.query` (TOP).
    OmniOrderQuery,
}

/// The platform a method belongs to, which decides the front doors that carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Alipay Open Platform (v2 gateway; `alipay.trade.query` also v3).
    Alipay,
    /// Taobao Open Platform.
    Top,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 5] = [
        Method::KoubeiTradeItemorderQuery,
        Method::AlipayTradeQuery,
        Method::XlifeOnsiteTradeQuery,
        Method::EdiAlipayTradeQuery,
        Method::OmniOrderQuery,
    ];

    /// The method by its wire name.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::KoubeiTradeItemorderQuery => "koubei.trade.itemorder.query",
            Method::AlipayTradeQuery => "alipay.trade.query",
            Method::XlifeOnsiteTradeQuery => "alibaba.xlife.onsite.trade.query",
            Method::EdiAlipayTradeQuery => "tmall.luxury.stage.edi.alipay.trade.query",
            Method::OmniOrderQuery => "alibaba.omni.order.query",
        }
    }

    /// Its platform.
    pub fn platform(&self) -> Platform {
        match self {
            Method::KoubeiTradeItemorderQuery | Method::AlipayTradeQuery => Platform::Alipay,
            _ => Platform::Top,
        }
    }

    /// Whether the method needs a TOP `session` (it acts for the session's merchant).
    pub fn needs_session(&self) -> bool {
        matches!(self, Method::XlifeOnsiteTradeQuery | Method::OmniOrderQuery)
    }
}

/// Who is asking: every lookup is scoped to this merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The effective merchant: the app's owner, or the merchant of its app auth token / session.
    pub merchant: String,
    /// The app's contract says `fund_bill_list` is always returned.
    pub always_fund_bill_list: bool,
}

/// Decoded business parameters: the `biz_content` object (v2), the JSON body or query (v3), or
/// the flat parameters (TOP).
pub type BizParams = Map<String, Value>;

/// What a method needs besides its parameters.
pub struct MethodCtx<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The time of the query.
    pub now: DateTime<Utc>,
}

/// Why a method refused; each front door maps it to its protocol's codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodError {
    /// A business failure with the method's own code (`ACQ.TRADE_NOT_EXIST`,
    /// `isp.TRADE_ORDER_NOT_FOUND`, `INVALID_PARAMETER`, …).
    Business {
        /// The method's code.
        sub_code: &'static str,
        /// What happened, for a person.
        sub_msg: String,
    },
    /// A required parameter is missing (TOP code 40).
    MissingArgument(&'static str),
    /// A parameter is malformed (TOP code 41).
    InvalidArgument(&'static str),
    /// The store failed; retryable.
    System {
        /// The method's retryable code (`ACQ.SYSTEM_ERROR`, `isp.SYSTEM_ERROR`, …).
        sub_code: &'static str,
        /// Logged detail is kept server-side; this is for the caller.
        sub_msg: String,
    },
}

impl MethodError {
    fn business(sub_code: &'static str, sub_msg: impl Into<String>) -> MethodError {
        MethodError::Business {
            sub_code,
            sub_msg: sub_msg.into(),
        }
    }
}

/// Runs a method.
pub async fn call(
    method: Method,
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    params: &BizParams,
) -> Result<Node, MethodError> {
    match method {
        Method::KoubeiTradeItemorderQuery => {
            koubei_trade_itemorder_query::call(ctx, caller, params).await
        }
        Method::AlipayTradeQuery => alipay_trade_query::call(ctx, caller, params).await,
        Method::XlifeOnsiteTradeQuery => xlife_onsite_trade_query::call(ctx, caller, params).await,
        Method::EdiAlipayTradeQuery => edi_alipay_trade_query::call(ctx, caller, params).await,
        Method::OmniOrderQuery => omni_order_query::call(ctx, caller, params).await,
    }
}

/// Why a text parameter could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamProblem {
    /// Not a string or number.
    WrongType,
    /// Longer than allowed.
    TooLong(usize),
}

/// Reads an optional text parameter: a JSON string, or a number taken as its text (some clients
/// send identifiers as numbers). Empty strings count as absent.
pub(crate) fn text_param(
    params: &BizParams,
    name: &str,
    max_chars: usize,
) -> Result<Option<String>, ParamProblem> {
    let value = match params.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(ParamProblem::WrongType),
    };
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > max_chars {
        return Err(ParamProblem::TooLong(max_chars));
    }
    Ok(Some(value))
}

/// Logs a store failure and turns it into the method's retryable error.
pub(crate) fn system_error(method: Method, sub_code: &'static str, err: StoreError) -> MethodError {
    tracing::error!(method = method.name(), error = %err, "store failure");
    MethodError::System {
        sub_code,
        sub_msg: "系统繁忙，请稍后重试".to_string(),
    }
}
