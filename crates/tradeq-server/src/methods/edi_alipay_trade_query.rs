//! `tmall.luxury.stage.edi.alipay.trade.query`: the Alipay trade query wrapped for TOP (seed
//! 003). One parameter, `edi_alipay_trade_query_request`, a JSON text; the answer is the same
//! trade view as `alipay.trade.query` under `data`.

use serde_json::Value;

use tradeq_wire::view::Node;

use super::alipay_trade_query::{find_trade, parse_request, trade_view};
use super::{BizParams, Caller, Method, MethodCtx, MethodError};

const PARAM: &str = "edi_alipay_trade_query_request";

/// Runs the method.
pub async fn call(
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    params: &BizParams,
) -> Result<Node, MethodError> {
    let inner = match params.get(PARAM) {
        None | Some(Value::Null) => return Err(MethodError::MissingArgument(PARAM)),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(MethodError::MissingArgument(PARAM))
        }
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(map)) => map,
            _ => return Err(MethodError::InvalidArgument(PARAM)),
        },
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(MethodError::InvalidArgument(PARAM)),
    };
    let query = parse_request(&inner)?;
    match find_trade(
        ctx,
        caller,
        &query,
        Method::EdiAlipayTradeQuery,
        "ACQ.SYSTEM_ERROR",
    )
    .await?
    {
        Some(trade) => {
            let mut n = Node::obj();
            n.push("data", trade_view(&trade, &query.options, caller));
            Ok(n)
        }
        None => Err(MethodError::Business {
            sub_code: "ACQ.TRADE_NOT_EXIST",
            sub_msg: "交易不存在".to_string(),
        }),
    }
}
