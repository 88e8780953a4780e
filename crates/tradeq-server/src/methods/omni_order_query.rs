//! `alibaba.omni.order.query`: one shopping-guide order (docs/methods.md §5). All three keys are required
//! and must match; business outcomes travel inside `result`.

use tradeq_model::omni_order::OmniOrder;
use tradeq_model::{KeyKind, Record, RecordKind};
use tradeq_wire::view::Node;

use super::{system_error, text_param, BizParams, Caller, Method, MethodCtx, MethodError};

fn required(params: &BizParams, name: &'static str) -> Result<String, MethodError> {
    match text_param(params, name, 64) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(MethodError::MissingArgument(name)),
        Err(_) => Err(MethodError::InvalidArgument(name)),
    }
}

/// Runs the method.
pub async fn call(
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    params: &BizParams,
) -> Result<Node, MethodError> {
    let user_id = required(params, "user_id")?;
    let order_id = required(params, "order_id")?;
    let out_order_id = required(params, "out_order_id")?;
    let found = ctx
        .store
        .find_shared(
            RecordKind::OmniOrder,
            &caller.merchant,
            KeyKind::Primary,
            &order_id,
        )
        .await
        .map_err(|e| system_error(Method::OmniOrderQuery, "isp.SYSTEM_ERROR", e))?;
    // Only a query that finds the order counts towards its lifecycle.
    let found = found.filter(|r| {
        matches!(r.as_ref(), Record::OmniOrder(o)
            if o.out_order_id == out_order_id && o.o2o_guide_id.to_string() == user_id)
    });
    let found =
        crate::sandbox::lifecycle::on_read(ctx, Method::OmniOrderQuery, "isp.SYSTEM_ERROR", found)
            .await?;
    let mut result = Node::obj();
    match found.as_deref() {
        Some(Record::OmniOrder(o))
            if o.out_order_id == out_order_id && o.o2o_guide_id.to_string() == user_id =>
        {
            result.push("model", order_view(o));
            result.push("success", Node::Bool(true));
        }
        _ => {
            result.push_str("msg_code", "daogoubao.order-not-exist");
            result.push_str("msg_info", "订单不存在");
            result.push("success", Node::Bool(false));
        }
    }
    let mut root = Node::obj();
    root.push("result", result);
    Ok(root)
}

/// The order in the document's order.
pub fn order_view(o: &OmniOrder) -> Node {
    let mut n = Node::obj();
    n.push_str("order_id", &o.order_id);
    n.push_opt_str("alipay_order_id", o.alipay_order_id.clone());
    n.push_str("out_order_id", &o.out_order_id);
    n.push_int("o2o_guide_id", o.o2o_guide_id);
    n.push_opt_str("o2o_guide_name", o.o2o_guide_name.clone());
    n.push_opt_str("o2o_shop_id", o.o2o_shop_id.clone());
    n.push_opt_str("o2o_shop_name", o.o2o_shop_name.clone());
    n.push_opt_int("item_id", o.item_id);
    n.push_opt_str("item_title", o.item_title.clone());
    n.push_opt_str("sku_id", o.sku_id.clone());
    n.push_opt_str("sku_properties_name", o.sku_properties_name.clone());
    n.push_opt_int("contract_price", o.contract_price);
    n.push_opt_int("total_fee", o.total_fee);
    n.push_opt_int("voucher_price", o.voucher_price);
    n.push_opt_int("pay_status", o.pay_status);
    if !o.subpay_order_list.is_empty() {
        let items = o
            .subpay_order_list
            .iter()
            .map(|s| {
                let mut d = Node::obj();
                d.push_int("step_no", s.step_no);
                d.push_int("subpay_order_id", s.subpay_order_id);
                d.push_int("pay_status", s.pay_status);
                d.push_int("pay_type", s.pay_type);
                d.push_int("total_fee", s.total_fee);
                d.push_str("disburse_status", &s.disburse_status);
                d
            })
            .collect();
        n.push(
            "subpay_order_list",
            Node::List {
                item: "sub_pay_order_detail",
                items,
            },
        );
    }
    if let Some(c) = o.can_close {
        n.push("can_close", Node::Bool(c));
    }
    if let Some(p) = &o.promotion_info {
        let mut d = Node::obj();
        d.push_int("promotion_id", p.promotion_id);
        d.push_int("promotion_amount", p.promotion_amount);
        d.push_int("promotion_type", p.promotion_type);
        d.push_int("promotion_order_id", p.promotion_order_id);
        d.push_int("promotion_buy_amount", p.promotion_buy_amount);
        n.push("promotion_info", d);
    }
    if !o.pay_order_serial_infos.is_empty() {
        let items = o
            .pay_order_serial_infos
            .iter()
            .map(|s| {
                let mut d = Node::obj();
                d.push_str("pay_serial_no", &s.pay_serial_no);
                d.push_int("step_no", s.step_no);
                d.push_int("batch_no", s.batch_no);
                d.push_int("paid_money", s.paid_money);
                d.push_str("pay_time", s.pay_time.to_string());
                d.push_str("sync_time", s.sync_time.to_string());
                d.push_int("pay_type", s.pay_type);
                d.push_int("pay_status", s.pay_status);
                d
            })
            .collect();
        n.push(
            "pay_order_serial_infos",
            Node::List {
                item: "pay_order_serial_info",
                items,
            },
        );
    }
    n
}
