//! `alipay.trade.query`: one trade by `trade_no` or `out_trade_no`, scoped to the caller's
//! merchant, with the optional blocks gated by `query_options` (docs/methods.md §2, §4).

use std::sync::Arc;

use serde_json::Value;

use tradeq_model::alipay_trade::AlipayTrade;
use tradeq_model::mask::mask_logon_id;
use tradeq_model::money::{Currency, Money};
use tradeq_model::{KeyKind, Record, RecordKind};
use tradeq_wire::view::Node;

use super::{
    system_error, text_param, BizParams, Caller, Method, MethodCtx, MethodError, ParamProblem,
};

const INVALID_PARAMETER: &str = "ACQ.INVALID_PARAMETER";
const TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";
const SYSTEM_ERROR: &str = "ACQ.SYSTEM_ERROR";

/// The decoded request, shared with the Tmall Luxury EDI wrapper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradeQuery {
    /// Alipay trade number; wins over `out_trade_no`.
    pub trade_no: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
    /// Acquirer PID the trade must carry.
    pub org_pid: Option<String>,
    /// Optional blocks asked for.
    pub options: QueryOptions,
}

/// The optional blocks of the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// `trade_settle_info`.
    pub trade_settle_info: bool,
    /// `fund_bill_list`.
    pub fund_bill_list: bool,
    /// `voucher_detail_list`.
    pub voucher_detail_list: bool,
    /// `discount_goods_detail`.
    pub discount_goods_detail: bool,
    /// `mdiscount_amount`.
    pub mdiscount_amount: bool,
}

impl QueryOptions {
    /// Turns on the block named `option`; unknown names are ignored, as the platform adds
    /// options over time and a client asking for a newer one still gets its trade.
    fn enable(&mut self, option: &str) {
        match option.trim() {
            "trade_settle_info" => self.trade_settle_info = true,
            "fund_bill_list" => self.fund_bill_list = true,
            "voucher_detail_list" => self.voucher_detail_list = true,
            "discount_goods_detail" => self.discount_goods_detail = true,
            "mdiscount_amount" => self.mdiscount_amount = true,
            _ => {}
        }
    }
}

fn invalid(msg: impl Into<String>) -> MethodError {
    MethodError::Business {
        sub_code: INVALID_PARAMETER,
        sub_msg: msg.into(),
    }
}

fn read_key(params: &BizParams, name: &str) -> Result<Option<String>, MethodError> {
    text_param(params, name, 64).map_err(|p| match p {
        ParamProblem::WrongType => invalid(format!("参数无效: {name} 必须是字符串")),
        ParamProblem::TooLong(n) => invalid(format!("参数无效: {name} 长度不能超过 {n}")),
    })
}

/// Reads the request: `trade_no`, `out_trade_no`, `org_pid`, and `query_options` as a JSON array
/// or a comma-separated string.
pub fn parse_request(params: &BizParams) -> Result<TradeQuery, MethodError> {
    let trade_no = read_key(params, "trade_no")?;
    let out_trade_no = read_key(params, "out_trade_no")?;
    let org_pid = text_param(params, "org_pid", 32).map_err(|_| invalid("参数无效: org_pid"))?;
    if trade_no.is_none() && out_trade_no.is_none() {
        return Err(invalid(
            "参数无效: trade_no 和 out_trade_no 不能同时为空 (give trade_no or out_trade_no)",
        ));
    }
    let mut options = QueryOptions::default();
    match params.get("query_options") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => s.split(',').for_each(|o| options.enable(o)),
        Some(Value::Array(items)) => {
            if items.len() > 32 {
                return Err(invalid("参数无效: query_options 过长"));
            }
            for item in items {
                match item {
                    Value::String(s) => options.enable(s),
                    _ => return Err(invalid("参数无效: query_options 必须是字符串数组")),
                }
            }
        }
        Some(_) => return Err(invalid("参数无效: query_options 必须是字符串数组")),
    }
    Ok(TradeQuery {
        trade_no,
        out_trade_no,
        org_pid,
        options,
    })
}

/// Looks the trade up for the caller; `None` when it does not exist, belongs to another
/// merchant, or does not carry the requested `org_pid` — one answer for all three.
pub async fn find_trade(
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    query: &TradeQuery,
    method: Method,
    system_code: &'static str,
) -> Result<Option<Arc<Record>>, MethodError> {
    let (key, value) = match (&query.trade_no, &query.out_trade_no) {
        (Some(t), _) => (KeyKind::Primary, t),
        (None, Some(o)) => (KeyKind::OutTradeNo, o),
        (None, None) => return Ok(None),
    };
    // Shared, not copied: the view borrows the fields it renders.
    let found = ctx
        .store
        .find_shared(RecordKind::AlipayTrade, &caller.merchant, key, value)
        .await
        .map_err(|e| system_error(method, system_code, e))?;
    let Some(trade) = found.as_deref().and_then(alipay_trade) else {
        return Ok(None);
    };
    if let Some(org) = &query.org_pid {
        if trade.org_pid.as_deref() != Some(org.as_str()) {
            return Ok(None);
        }
    }
    crate::sandbox::lifecycle::on_read(ctx, method, system_code, found).await
}

/// The Alipay trade a record holds, if it is one.
pub fn alipay_trade(record: &Record) -> Option<&AlipayTrade> {
    match record {
        Record::AlipayTrade(t) => Some(t),
        _ => None,
    }
}

/// Runs the method.
pub async fn call(
    ctx: &MethodCtx<'_>,
    caller: &Caller,
    params: &BizParams,
) -> Result<Node, MethodError> {
    let query = parse_request(params)?;
    let found = find_trade(ctx, caller, &query, Method::AlipayTradeQuery, SYSTEM_ERROR).await?;
    match found.as_deref().and_then(alipay_trade) {
        Some(trade) => Ok(trade_view(trade, &query.options, caller)),
        None => Err(MethodError::business(TRADE_NOT_EXIST, "交易不存在")),
    }
}

fn amount(trade: &AlipayTrade, minor: i64) -> Node {
    Node::Str(trade.money(minor).to_decimal_string())
}

fn push_amount(node: &mut Node, key: &'static str, trade: &AlipayTrade, minor: Option<i64>) {
    if let Some(m) = minor {
        node.push(key, amount(trade, m));
    }
}

fn push_money(node: &mut Node, key: &'static str, minor: Option<i64>, cur: Option<Currency>) {
    if let (Some(m), Some(c)) = (minor, cur) {
        node.push_str(key, Money::new(m, c).to_decimal_string());
    }
}

/// The answer's fields, in the documents' order, shared by v2, v3 and the EDI wrapper. Amounts
/// are strings with the currency's minor digits; the buyer's logon id is masked.
pub fn trade_view(trade: &AlipayTrade, options: &QueryOptions, caller: &Caller) -> Node {
    let mut n = Node::obj();
    n.push_str("trade_no", &trade.trade_no);
    n.push_str("out_trade_no", &trade.out_trade_no);
    n.push_str("buyer_logon_id", mask_logon_id(&trade.buyer_logon_id));
    n.push_str("trade_status", trade.trade_status.as_str());
    n.push("total_amount", amount(trade, trade.total_amount));
    n.push_opt_str("trans_currency", trade.trans_currency.map(|c| c.code()));
    n.push_opt_str("settle_currency", trade.settle_currency.map(|c| c.code()));
    push_money(
        &mut n,
        "settle_amount",
        trade.settle_amount,
        trade.settle_currency,
    );
    n.push_opt_str("pay_currency", trade.pay_currency.map(|c| c.code()));
    push_money(&mut n, "pay_amount", trade.pay_amount, trade.pay_currency);
    n.push_opt_str("settle_trans_rate", trade.settle_trans_rate.clone());
    n.push_opt_str("trans_pay_rate", trade.trans_pay_rate.clone());
    push_amount(&mut n, "buyer_pay_amount", trade, trade.buyer_pay_amount);
    push_amount(&mut n, "point_amount", trade, trade.point_amount);
    push_amount(&mut n, "invoice_amount", trade, trade.invoice_amount);
    n.push_opt_str("send_pay_date", trade.send_pay_date.map(|t| t.to_string()));
    push_amount(&mut n, "receipt_amount", trade, trade.receipt_amount);
    n.push_opt_str("store_id", trade.store_id.clone());
    n.push_opt_str("terminal_id", trade.terminal_id.clone());
    if (options.fund_bill_list || caller.always_fund_bill_list) && !trade.fund_bill_list.is_empty()
    {
        let items = trade
            .fund_bill_list
            .iter()
            .map(|b| {
                let mut f = Node::obj();
                f.push_str("fund_channel", &b.fund_channel);
                f.push("amount", amount(trade, b.amount));
                push_amount(&mut f, "real_amount", trade, b.real_amount);
                f.push_opt_str("bank_code", b.bank_code.clone());
                f.push_opt_str("fund_type", b.fund_type.clone());
                f
            })
            .collect();
        n.push(
            "fund_bill_list",
            Node::List {
                item: "trade_fund_bill_d_t_o",
                items,
            },
        );
    }
    n.push_opt_str("store_name", trade.store_name.clone());
    n.push_opt_str("buyer_user_id", trade.buyer_user_id.clone());
    n.push_opt_str("buyer_open_id", trade.buyer_open_id.clone());
    push_amount(&mut n, "charge_amount", trade, trade.charge_amount);
    n.push_opt_str("charge_flags", trade.charge_flags.clone());
    n.push_opt_str("settlement_id", trade.settlement_id.clone());
    if options.trade_settle_info && !trade.trade_settle_detail_list.is_empty() {
        let items = trade
            .trade_settle_detail_list
            .iter()
            .map(|d| {
                let mut s = Node::obj();
                s.push_str("operation_type", &d.operation_type);
                s.push_opt_str("operation_serial_no", d.operation_serial_no.clone());
                s.push_str("operation_dt", d.operation_dt.to_string());
                s.push_opt_str("trans_out", d.trans_out.clone());
                s.push_opt_str("trans_in", d.trans_in.clone());
                s.push("amount", amount(trade, d.amount));
                s
            })
            .collect();
        let mut info = Node::obj();
        info.push(
            "trade_settle_detail_list",
            Node::List {
                item: "trade_settle_detail_d_t_o",
                items,
            },
        );
        n.push("trade_settle_info", info);
    }
    n.push_opt_str("auth_trade_pay_mode", trade.auth_trade_pay_mode.clone());
    n.push_opt_str("buyer_user_type", trade.buyer_user_type.clone());
    if options.mdiscount_amount {
        push_amount(&mut n, "mdiscount_amount", trade, trade.mdiscount_amount);
    }
    push_amount(&mut n, "discount_amount", trade, trade.discount_amount);
    n.push_opt_str("subject", trade.subject.clone());
    n.push_opt_str("body", trade.body.clone());
    n.push_opt_str(
        "alipay_sub_merchant_id",
        trade.alipay_sub_merchant_id.clone(),
    );
    n.push_opt_str("ext_infos", trade.ext_infos.clone());
    n.push_opt_str("industry_sepc_detail", trade.industry_sepc_detail.clone());
    n.push_opt_str("alipay_store_id", trade.alipay_store_id.clone());
    n.push_opt_str("buyer_user_name", trade.buyer_user_name.clone());
    if options.discount_goods_detail {
        n.push_opt_str("discount_goods_detail", trade.discount_goods_detail.clone());
    }
    if options.voucher_detail_list && !trade.voucher_detail_list.is_empty() {
        let items = trade
            .voucher_detail_list
            .iter()
            .map(|v| {
                let mut o = Node::obj();
                o.push("amount", amount(trade, v.amount));
                o.push_str("id", &v.id);
                o.push_opt_str("memo", v.memo.clone());
                o.push("merchant_contribute", amount(trade, v.merchant_contribute));
                o.push_str("name", &v.name);
                o.push("other_contribute", amount(trade, v.other_contribute));
                if !v.other_contribute_detail.is_empty() {
                    let details = v
                        .other_contribute_detail
                        .iter()
                        .map(|c| {
                            let mut d = Node::obj();
                            d.push("contribute_amount", amount(trade, c.contribute_amount));
                            d.push_str("contribute_type", &c.contribute_type);
                            d
                        })
                        .collect();
                    o.push(
                        "other_contribute_detail",
                        Node::List {
                            item: "contribute_detail_d_t_o",
                            items: details,
                        },
                    );
                }
                push_amount(
                    &mut o,
                    "purchase_ant_contribute",
                    trade,
                    v.purchase_ant_contribute,
                );
                push_amount(
                    &mut o,
                    "purchase_buyer_contribute",
                    trade,
                    v.purchase_buyer_contribute,
                );
                push_amount(
                    &mut o,
                    "purchase_merchant_contribute",
                    trade,
                    v.purchase_merchant_contribute,
                );
                o.push_opt_str("template_id", v.template_id.clone());
                o.push_str("type", &v.voucher_type);
                o
            })
            .collect();
        n.push(
            "voucher_detail_list",
            Node::List {
                item: "voucher_detail_d_t_o",
                items,
            },
        );
    }
    n
}
