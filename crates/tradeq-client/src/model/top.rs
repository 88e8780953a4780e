//! The three TOP methods: `alibaba.xlife.onsite.trade.query`,
//! `tmall.luxury.stage.edi.alipay.trade.query` and `alibaba.omni.order.query`.
//!
//! Responses are read from the normalized answer of [`tradeq_wire::top::parse_json_response`] /
//! [`tradeq_wire::top::parse_xml_response`]: root and `request_id` removed, lists unwrapped.

use serde::{Deserialize, Serialize};

use super::alipay::{AlipayTradeQueryRequest, AlipayTradeQueryResponse};
use super::lenient;

/// The request of `alibaba.xlife.onsite.trade.query`: at least one key; priority `trade_no` >
/// `short_trade_no` > `out_trade_no`. Needs a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XlifeOnsiteTradeQueryRequest {
    /// Miaojie trade number.
    pub trade_no: Option<String>,
    /// Short trade number (valid 30 days).
    pub short_trade_no: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
}

impl XlifeOnsiteTradeQueryRequest {
    /// A query by Miaojie trade number.
    pub fn by_trade_no(trade_no: impl Into<String>) -> Self {
        XlifeOnsiteTradeQueryRequest {
            trade_no: Some(trade_no.into()),
            ..Self::default()
        }
    }

    /// A query by short trade number.
    pub fn by_short_trade_no(short_trade_no: impl Into<String>) -> Self {
        XlifeOnsiteTradeQueryRequest {
            short_trade_no: Some(short_trade_no.into()),
            ..Self::default()
        }
    }

    /// A query by the merchant's order number.
    pub fn by_out_trade_no(out_trade_no: impl Into<String>) -> Self {
        XlifeOnsiteTradeQueryRequest {
            out_trade_no: Some(out_trade_no.into()),
            ..Self::default()
        }
    }

    /// The TOP business parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        [
            ("trade_no", &self.trade_no),
            ("short_trade_no", &self.short_trade_no),
            ("out_trade_no", &self.out_trade_no),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
        .collect()
    }
}

/// A promotion the buyer used (`buyer_promotion_bill_list` item). Amounts in fen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromotionBill {
    /// Amount deducted, fen.
    #[serde(deserialize_with = "lenient::int")]
    pub amount: i64,
    /// Extension parameters (JSON text).
    pub extend_params: Option<String>,
    /// Voucher title.
    pub subject: String,
    /// `coupon`, `ticket`, `discount`, `reduction`, `voucher`, `random_reduction` or `other`.
    #[serde(rename = "type")]
    pub promotion_type: String,
}

/// A disbursement to the store (`store_pending_fund_bill_list` /
/// `store_received_fund_bill_list` item). Amounts in fen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FundBill {
    /// Amount, fen.
    #[serde(deserialize_with = "lenient::int")]
    pub amount: i64,
    /// Sub channel (`alipay_financeaccount`, …).
    pub sub_fund_channel: String,
    /// Channel (`alipay`).
    pub fund_channel: String,
    /// Extension parameters (JSON text).
    pub extend_params: Option<String>,
    /// When paid out (received bills only).
    pub gmt_payment: Option<String>,
    /// Payout serial number (received bills only).
    pub payment_seq_no: Option<String>,
}

/// A line of the order (`goods_detail_list` item).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GoodsDetail {
    /// Quantity (may be fractional).
    pub quantity: String,
    /// Unit price, fen.
    pub price: Option<String>,
    /// Line amount, fen.
    pub amount: Option<String>,
    /// Goods name.
    pub goods_name: String,
    /// The merchant's goods id.
    pub goods_id: String,
    /// Counter name.
    pub shop_name: Option<String>,
    /// Counter number.
    pub shop_no: Option<String>,
    /// Pass-through data.
    pub attachment: Option<String>,
    /// Extension parameters.
    pub extend_params: Option<String>,
}

/// A Miaojie onsite trade at the time of the query (`onsite_trade_query_response`). Amounts in
/// fen; payment-dependent fields appear once paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnsiteTrade {
    /// Buyer's Miaojie user id.
    pub buyer_id: String,
    /// Buyer's nick, masked.
    pub buyer_nick: String,
    /// Payment time.
    pub gmt_payment: Option<String>,
    /// Paid through funding channels.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub buyer_total_fund_fee: Option<i64>,
    /// Paid through promotions.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub buyer_total_promotion_fee: Option<i64>,
    /// Invoiceable amount.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub invoice_amount: Option<i64>,
    /// Last payout date agreed with the store.
    pub payment_days: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Promotions used.
    #[serde(deserialize_with = "lenient::vec")]
    pub buyer_promotion_bill_list: Vec<PromotionBill>,
    /// When the query was answered (the split below is as of this time).
    pub gmt_query: String,
    /// Store name.
    pub store_name: String,
    /// Disbursements not yet paid out.
    #[serde(deserialize_with = "lenient::vec")]
    pub store_pending_fund_bill_list: Vec<FundBill>,
    /// Disbursements paid out.
    #[serde(deserialize_with = "lenient::vec")]
    pub store_received_fund_bill_list: Vec<FundBill>,
    /// The store's marketing cost.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub store_total_marketing_fee: Option<i64>,
    /// Still to be paid out.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub store_total_pending_fee: Option<i64>,
    /// Receivable in total.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub store_total_receivable_fee: Option<i64>,
    /// Paid out so far.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub store_total_received_fee: Option<i64>,
    /// Order amount.
    #[serde(deserialize_with = "lenient::int")]
    pub total_amount: i64,
    /// Miaojie trade number.
    pub trade_no: String,
    /// `WAIT_FOR_CONFIRM`, `WAIT_BUYER_PAY`, `TRADE_SUCCESS`, `TRADE_FINISHED`, `TRADE_CLOSED`.
    pub trade_status: String,
    /// The order lines.
    #[serde(deserialize_with = "lenient::vec")]
    pub goods_detail_list: Vec<GoodsDetail>,
    /// Pass-through data.
    pub attachment: Option<String>,
    /// Extension parameters.
    pub extend_params: Option<String>,
}

/// The answer of `alibaba.xlife.onsite.trade.query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct XlifeOnsiteTradeQueryResponse {
    /// The trade.
    pub onsite_trade_query_response: OnsiteTrade,
}

/// The request of `tmall.luxury.stage.edi.alipay.trade.query`: the fields of
/// `alipay.trade.query`, sent as the JSON text parameter `edi_alipay_trade_query_request`.
pub type EdiAlipayTradeQueryRequest = AlipayTradeQueryRequest;

/// The answer of `tmall.luxury.stage.edi.alipay.trade.query`: the Alipay trade under `data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EdiAlipayTradeQueryResponse {
    /// The trade.
    pub data: AlipayTradeQueryResponse,
}

/// The request of `alibaba.omni.order.query`: all three keys must match. Needs a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmniOrderQueryRequest {
    /// The shopping guide's user id.
    pub user_id: String,
    /// The order id.
    pub order_id: String,
    /// The external order id.
    pub out_order_id: String,
}

impl OmniOrderQueryRequest {
    /// The TOP business parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        vec![
            ("user_id".to_string(), self.user_id.clone()),
            ("order_id".to_string(), self.order_id.clone()),
            ("out_order_id".to_string(), self.out_order_id.clone()),
        ]
    }
}

/// A sub-payment of a staged order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubPayOrder {
    /// Stage number.
    #[serde(deserialize_with = "lenient::int")]
    pub step_no: i64,
    /// Sub-payment id.
    #[serde(deserialize_with = "lenient::int")]
    pub subpay_order_id: i64,
    /// Payment status.
    #[serde(deserialize_with = "lenient::int")]
    pub pay_status: i64,
    /// Payment type.
    #[serde(deserialize_with = "lenient::int")]
    pub pay_type: i64,
    /// Amount.
    #[serde(deserialize_with = "lenient::int")]
    pub total_fee: i64,
    /// Disbursement status.
    pub disburse_status: String,
}

/// Promotion applied to the order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromotionInfo {
    /// Promotion id.
    #[serde(deserialize_with = "lenient::int")]
    pub promotion_id: i64,
    /// Promotion amount.
    #[serde(deserialize_with = "lenient::int")]
    pub promotion_amount: i64,
    /// Promotion type.
    #[serde(deserialize_with = "lenient::int")]
    pub promotion_type: i64,
    /// Promotion order id.
    #[serde(deserialize_with = "lenient::int")]
    pub promotion_order_id: i64,
    /// Amount bought with the promotion.
    #[serde(deserialize_with = "lenient::int")]
    pub promotion_buy_amount: i64,
}

/// A payment serial of the order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PayOrderSerialInfo {
    /// Payment serial number.
    pub pay_serial_no: String,
    /// Stage number.
    #[serde(deserialize_with = "lenient::int")]
    pub step_no: i64,
    /// Batch number.
    #[serde(deserialize_with = "lenient::int")]
    pub batch_no: i64,
    /// Amount paid.
    #[serde(deserialize_with = "lenient::int")]
    pub paid_money: i64,
    /// Payment time.
    pub pay_time: String,
    /// Synchronisation time.
    pub sync_time: String,
    /// Payment type.
    #[serde(deserialize_with = "lenient::int")]
    pub pay_type: i64,
    /// Payment status.
    #[serde(deserialize_with = "lenient::int")]
    pub pay_status: i64,
}

/// A shopping-guide order (`model`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OmniOrder {
    /// Order id.
    pub order_id: String,
    /// Alipay order id.
    pub alipay_order_id: Option<String>,
    /// External order id.
    pub out_order_id: String,
    /// Shopping guide id.
    #[serde(deserialize_with = "lenient::int")]
    pub o2o_guide_id: i64,
    /// Shopping guide nick.
    pub o2o_guide_name: Option<String>,
    /// Store id.
    pub o2o_shop_id: Option<String>,
    /// Store name.
    pub o2o_shop_name: Option<String>,
    /// Item id.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub item_id: Option<i64>,
    /// Item title.
    pub item_title: Option<String>,
    /// SKU id.
    pub sku_id: Option<String>,
    /// SKU properties.
    pub sku_properties_name: Option<String>,
    /// Contract price.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub contract_price: Option<i64>,
    /// Total fee.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub total_fee: Option<i64>,
    /// Voucher price.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub voucher_price: Option<i64>,
    /// Payment status.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub pay_status: Option<i64>,
    /// Sub-payments of a staged order.
    #[serde(deserialize_with = "lenient::vec")]
    pub subpay_order_list: Vec<SubPayOrder>,
    /// Whether the order can be closed.
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub can_close: Option<bool>,
    /// Promotion applied.
    pub promotion_info: Option<PromotionInfo>,
    /// Payment serials.
    #[serde(deserialize_with = "lenient::vec")]
    pub pay_order_serial_infos: Vec<PayOrderSerialInfo>,
}

/// The `result` of `alibaba.omni.order.query`: business outcomes travel here, not in an
/// `error_response`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OmniOrderResult {
    /// Whether the order was found.
    #[serde(deserialize_with = "lenient::bool")]
    pub success: bool,
    /// Failure code (`daogoubao.order-not-exist`).
    pub msg_code: Option<String>,
    /// Failure text.
    pub msg_info: Option<String>,
    /// The order, on success.
    pub model: Option<OmniOrder>,
}

/// The answer of `alibaba.omni.order.query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OmniOrderQueryResponse {
    /// The outcome.
    pub result: OmniOrderResult,
}
