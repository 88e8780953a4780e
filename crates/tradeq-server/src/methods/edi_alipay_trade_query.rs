//! `tmall.luxury.stage.edi.alipay.trade.query`: the Alipay trade query wrapped for TOP (docs/methods.md §4). One parameter, `edi_alipay_trade_query_request`, a JSON text; the answer is the same
//! trade view as `alipay.trade.query` under `data`.

use serde_json::Value;

use tradeq_model::alipay_trade::AlipayTrade;
use tradeq_wire::view::Node;

use super::alipay_trade_query::{
    alipay_trade, find_trade, parse_request, trade_view, QueryOptions,
};
use super::{BizParams, Caller, Method, MethodCtx, MethodError};

const PARAM: &str = "edi_alipay_trade_query_request";

/// Fields of the `alipay.trade.query` view that `EdiAlipayTradeQueryResponse` (docs/methods.md §4) does not
/// have: the wrapper answers with its own documented fields only.
const NOT_IN_EDI: &[&str] = &["buyer_open_id"];

/// The trade as `data`: the shared trade view minus the fields the EDI document does not have (docs/methods.md §4).
pub fn edi_view(trade: &AlipayTrade, options: &QueryOptions, caller: &Caller) -> Node {
    let mut view = trade_view(trade, options, caller);
    if let Node::Obj(fields) = &mut view {
        fields.retain(|(k, _)| !NOT_IN_EDI.contains(k));
    }
    view
}

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
    let found = find_trade(
        ctx,
        caller,
        &query,
        Method::EdiAlipayTradeQuery,
        "ACQ.SYSTEM_ERROR",
    )
    .await?;
    match found.as_deref().and_then(alipay_trade) {
        Some(trade) => {
            let mut n = Node::obj();
            n.push("data", edi_view(trade, &query.options, caller));
            Ok(n)
        }
        None => Err(MethodError::Business {
            sub_code: "ACQ.TRADE_NOT_EXIST",
            sub_msg: "交易不存在".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::demo;
    use tradeq_model::Record;

    #[test]
    fn edi_view_has_only_seed_003_fields() {
        let trade = demo::records(Utc::now())
            .unwrap()
            .into_iter()
            .find_map(|r| match r {
                Record::AlipayTrade(t) if t.trade_no == "2013112011001004330000121536" => Some(t),
                _ => None,
            })
            .unwrap();
        assert!(
            trade.buyer_open_id.is_some(),
            "the demo trade has a buyer_open_id"
        );
        let caller = Caller {
            merchant: demo::MERCHANT_A.to_string(),
            always_fund_bill_list: false,
        };
        let view = edi_view(&trade, &QueryOptions::default(), &caller);
        assert!(view.get("buyer_open_id").is_none());
        assert!(view.get("buyer_user_id").is_some());
        assert_eq!(
            view.get("trade_no"),
            Some(&Node::Str("2013112011001004330000121536".into()))
        );
    }
}
