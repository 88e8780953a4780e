//! `alibaba.xlife.onsite.trade.query`: one Miaojie onsite trade (docs/methods.md §3). Keys in priority
//! trade_no > short_trade_no > out_trade_no; a short trade number lives 30 days. The merchant's
//! fund bills are split into received and pending at the time of the query.

use chrono::Duration;

use tradeq_model::mask::mask_nick;
use tradeq_model::onsite_trade::{OnsiteTrade, StoreFundBill};
use tradeq_model::{KeyKind, Record, RecordKind, Timestamp};
use tradeq_wire::view::Node;

use super::{
    system_error, text_param, BizParams, Caller, Method, MethodCtx, MethodError, ParamProblem,
};

const SYSTEM_ERROR: &str = "isp.SYSTEM_ERROR";

/// How long a `short_trade_no` resolves after the trade was created.
pub const SHORT_TRADE_NO_LIFETIME_DAYS: i64 = 30;

fn invalid(msg: impl Into<String>) -> MethodError {
    MethodError::business("isv.INVALID_PARAMETER", msg)
}

fn key(params: &BizParams, name: &'static str, max: usize) -> Result<Option<String>, MethodError> {
    text_param(params, name, max).map_err(|p| match p {
        ParamProblem::WrongType => invalid(format!("无效参数: {name}")),
        ParamProblem::TooLong(n) => invalid(format!("无效参数: {name} 长度不能超过 {n}")),
    })
}

/// Runs the method.
pub async fn call(
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    params: &BizParams,
) -> Result<Node, MethodError> {
    let trade_no = key(params, "trade_no", 64)?;
    let short_trade_no = key(params, "short_trade_no", 16)?;
    let out_trade_no = key(params, "out_trade_no", 64)?;
    let (kind, value) = match (&trade_no, &short_trade_no, &out_trade_no) {
        (Some(t), _, _) => (KeyKind::Primary, t),
        (None, Some(s), _) => (KeyKind::ShortTradeNo, s),
        (None, None, Some(o)) => (KeyKind::OutTradeNo, o),
        (None, None, None) => {
            return Err(invalid(
                "无效参数: trade_no, short_trade_no, out_trade_no 至少要填写一个",
            ))
        }
    };
    let found = ctx
        .store
        .find_shared(RecordKind::OnsiteTrade, &caller.merchant, kind, value)
        .await
        .map_err(|e| system_error(Method::XlifeOnsiteTradeQuery, SYSTEM_ERROR, e))?;
    let trade = match found.as_deref() {
        Some(Record::OnsiteTrade(t)) => t,
        _ => return Err(not_found()),
    };
    if kind == KeyKind::ShortTradeNo
        && ctx.now > trade.gmt_create.0 + Duration::days(SHORT_TRADE_NO_LIFETIME_DAYS)
    {
        return Err(not_found());
    }
    let found =
        crate::sandbox::lifecycle::on_read(ctx, Method::XlifeOnsiteTradeQuery, SYSTEM_ERROR, found)
            .await?;
    let trade = match found.as_deref() {
        Some(Record::OnsiteTrade(t)) => t,
        _ => return Err(not_found()),
    };
    let mut root = Node::obj();
    root.push(
        "onsite_trade_query_response",
        trade_view(trade, Timestamp(ctx.now)),
    );
    Ok(root)
}

fn not_found() -> MethodError {
    MethodError::business("isp.TRADE_ORDER_NOT_FOUND", "交易订单未找到")
}

fn fund_bills(bills: &[&StoreFundBill], received: bool) -> Node {
    let items = bills
        .iter()
        .map(|b| {
            let mut f = Node::obj();
            f.push_int("amount", b.amount);
            f.push_str("sub_fund_channel", &b.sub_fund_channel);
            f.push_str("fund_channel", &b.fund_channel);
            f.push_opt_str("extend_params", b.extend_params.clone());
            if received {
                f.push_opt_str("gmt_payment", b.disbursed_at.map(|t| t.to_string()));
                f.push_opt_str("payment_seq_no", b.payment_seq_no.clone());
            }
            f
        })
        .collect();
    Node::List {
        item: "fund_bill",
        items,
    }
}

/// The answer at `gmt_query`, fields in the document's order. Payment-dependent fields appear
/// only once paid; the received/pending split and its totals are computed at `gmt_query`, so
/// `store_total_receivable_fee = store_total_received_fee + store_total_pending_fee` always.
pub fn trade_view(t: &OnsiteTrade, gmt_query: Timestamp) -> Node {
    let mut n = Node::obj();
    n.push_str("buyer_id", &t.buyer_id);
    n.push_str("buyer_nick", mask_nick(&t.buyer_nick));
    n.push_opt_str("gmt_payment", t.gmt_payment.map(|p| p.to_string()));
    let paid = t.is_paid();
    if paid {
        n.push_opt_int("buyer_total_fund_fee", t.buyer_total_fund_fee);
        n.push_opt_int("buyer_total_promotion_fee", t.buyer_total_promotion_fee);
        n.push_opt_int("invoice_amount", t.invoice_amount);
    }
    n.push_opt_str("payment_days", t.payment_days.map(|p| p.to_string()));
    n.push_str("out_trade_no", &t.out_trade_no);
    if !t.buyer_promotion_bill_list.is_empty() {
        let items = t
            .buyer_promotion_bill_list
            .iter()
            .map(|b| {
                let mut p = Node::obj();
                p.push_int("amount", b.amount);
                p.push_opt_str("extend_params", b.extend_params.clone());
                p.push_str("subject", &b.subject);
                p.push_str("type", &b.promotion_type);
                p
            })
            .collect();
        n.push(
            "buyer_promotion_bill_list",
            Node::List {
                item: "promotion_bill",
                items,
            },
        );
    }
    n.push_str("gmt_query", gmt_query.to_string());
    n.push_str("store_name", &t.store_name);
    let split = t.split_fund_bills(gmt_query);
    if paid {
        if !split.pending.is_empty() {
            n.push(
                "store_pending_fund_bill_list",
                fund_bills(&split.pending, false),
            );
        }
        if !split.received.is_empty() {
            n.push(
                "store_received_fund_bill_list",
                fund_bills(&split.received, true),
            );
        }
    }
    n.push_opt_int("store_total_marketing_fee", t.store_total_marketing_fee);
    if paid {
        n.push_int("store_total_pending_fee", split.pending_fee);
        n.push_opt_int("store_total_receivable_fee", t.store_total_receivable_fee);
        n.push_int("store_total_received_fee", split.received_fee);
    }
    n.push_int("total_amount", t.total_amount);
    n.push_str("trade_no", &t.trade_no);
    n.push_str("trade_status", t.trade_status.as_str());
    if !t.goods_detail_list.is_empty() {
        let items = t
            .goods_detail_list
            .iter()
            .map(|g| {
                let mut d = Node::obj();
                d.push_str("quantity", &g.quantity);
                d.push_opt_str("price", g.price.clone());
                d.push_opt_str("amount", g.amount.clone());
                d.push_str("goods_name", &g.goods_name);
                d.push_str("goods_id", &g.goods_id);
                d.push_opt_str("shop_name", g.shop_name.clone());
                d.push_opt_str("shop_no", g.shop_no.clone());
                d.push_opt_str("attachment", g.attachment.clone());
                d.push_opt_str("extend_params", g.extend_params.clone());
                d
            })
            .collect();
        n.push(
            "goods_detail_list",
            Node::List {
                item: "goods_detail",
                items,
            },
        );
    }
    n.push_opt_str("attachment", t.attachment.clone());
    n.push_opt_str("extend_params", t.extend_params.clone());
    n
}
