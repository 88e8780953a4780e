//! `koubei.trade.itemorder.query`: one Koubei item order by `order_no` (docs/methods.md §1). The
//! document's only business codes are `INVALID_PARAMETER` and `SYSTEM_ERROR`, so an unknown
//! order is an invalid parameter too.

use tradeq_model::koubei_order::KoubeiOrder;
use tradeq_model::{KeyKind, Record, RecordKind};
use tradeq_wire::view::Node;

use super::{
    system_error, text_param, BizParams, Caller, Method, MethodCtx, MethodError, ParamProblem,
};

const INVALID_PARAMETER: &str = "INVALID_PARAMETER";

/// Runs the method.
pub async fn call(
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    params: &BizParams,
) -> Result<Node, MethodError> {
    let order_no = match text_param(params, "order_no", 64) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(MethodError::business(
                INVALID_PARAMETER,
                "参数有误: order_no 不能为空",
            ))
        }
        Err(ParamProblem::WrongType) => {
            return Err(MethodError::business(
                INVALID_PARAMETER,
                "参数有误: order_no 必须是字符串",
            ))
        }
        Err(ParamProblem::TooLong(n)) => {
            return Err(MethodError::business(
                INVALID_PARAMETER,
                format!("参数有误: order_no 长度不能超过 {n}"),
            ))
        }
    };
    let found = ctx
        .store
        .find_shared(
            RecordKind::KoubeiOrder,
            &caller.merchant,
            KeyKind::Primary,
            &order_no,
        )
        .await
        .map_err(|e| system_error(Method::KoubeiTradeItemorderQuery, "SYSTEM_ERROR", e))?;
    let found = crate::sandbox::lifecycle::on_read(
        ctx,
        Method::KoubeiTradeItemorderQuery,
        "SYSTEM_ERROR",
        found,
    )
    .await?;
    match found.as_deref() {
        Some(Record::KoubeiOrder(order)) => Ok(order_view(order)),
        _ => Err(MethodError::business(
            INVALID_PARAMETER,
            "参数有误: 订单不存在 (order does not exist)",
        )),
    }
}

/// Yuan as a JSON number with two decimals (`25.00`), as the document types `Price`.
fn yuan(fen: i64) -> Node {
    Node::Num(tradeq_model::Money::cny(fen).to_decimal_string())
}

/// The answer's fields in the document's order.
pub fn order_view(o: &KoubeiOrder) -> Node {
    let mut n = Node::obj();
    n.push_str("order_no", &o.order_no);
    n.push_str("out_order_no", &o.out_order_no);
    n.push_str("partner_id", &o.partner_id);
    n.push_opt_str("trade_no", o.trade_no.clone());
    n.push_str("status", o.status.as_str());
    n.push_str("buyer_id", &o.buyer_id);
    n.push_str("biz_product", &o.biz_product);
    n.push_str("gmt_create", o.gmt_create.to_string());
    n.push_opt_str("seller_id", o.seller_id.clone());
    n.push_opt_str("gmt_payment", o.gmt_payment.map(|t| t.to_string()));
    n.push_str("gmt_modified", o.gmt_modified.to_string());
    n.push("total_amount", yuan(o.total_amount));
    n.push("real_pay_amount", yuan(o.real_pay_amount));
    if let Some(d) = o.discount_amount {
        n.push("discount_amount", yuan(d));
    }
    n.push(
        "deliver_seller_real_amount",
        yuan(o.deliver_seller_real_amount),
    );
    let items = o
        .item_order_vo
        .iter()
        .map(|it| {
            let mut i = Node::obj();
            i.push_str("item_order_no", &it.item_order_no);
            i.push_str("sku_id", &it.sku_id);
            i.push_int("quantity", it.quantity);
            i.push("price", yuan(it.price));
            i.push_opt_str("ext_info", it.ext_info.clone());
            i
        })
        .collect();
    n.push(
        "item_order_vo",
        Node::List {
            item: "item_order_v_o",
            items,
        },
    );
    n
}
