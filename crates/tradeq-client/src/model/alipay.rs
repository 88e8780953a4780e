//! `alipay.trade.query` (v2, v3, and the trade inside the Tmall Luxury EDI wrapper) and
//! `koubei.trade.itemorder.query` (v2).

use serde::{Deserialize, Serialize};

use super::{lenient, Amount};

/// The request of `alipay.trade.query`: `trade_no` and/or `out_trade_no` (one is required;
/// `trade_no` wins), optionally `org_pid` and `query_options`.
///
/// Serializes to the `biz_content` object (v2) or the JSON body (v3), absent fields omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlipayTradeQueryRequest {
    /// The merchant's order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// Alipay's trade number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_no: Option<String>,
    /// The acquirer PID the trade must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_pid: Option<String>,
    /// Optional blocks to return: `trade_settle_info`, `fund_bill_list`,
    /// `voucher_detail_list`, `discount_goods_detail`, `mdiscount_amount`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub query_options: Vec<String>,
}

impl AlipayTradeQueryRequest {
    /// A query by Alipay trade number.
    pub fn by_trade_no(trade_no: impl Into<String>) -> Self {
        AlipayTradeQueryRequest {
            trade_no: Some(trade_no.into()),
            ..Self::default()
        }
    }

    /// A query by the merchant's order number.
    pub fn by_out_trade_no(out_trade_no: impl Into<String>) -> Self {
        AlipayTradeQueryRequest {
            out_trade_no: Some(out_trade_no.into()),
            ..Self::default()
        }
    }

    /// Asks for optional blocks (`fund_bill_list`, …).
    pub fn with_query_options<I, S>(mut self, options: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.query_options = options.into_iter().map(Into::into).collect();
        self
    }
}

/// A funding channel of a trade (`fund_bill_list` item).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TradeFundBill {
    /// Channel (`ALIPAYACCOUNT`, `BANKCARD`, …).
    pub fund_channel: String,
    /// Amount paid through the channel.
    pub amount: Amount,
    /// Amount actually paid (e.g. after currency conversion).
    pub real_amount: Option<Amount>,
    /// Bank code, for bank cards.
    pub bank_code: Option<String>,
    /// Card type (`DEBIT_CARD`, `CREDIT_CARD`, …).
    pub fund_type: Option<String>,
}

/// One settlement movement (`trade_settle_detail_list` item).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TradeSettleDetail {
    /// Movement type.
    pub operation_type: String,
    /// Movement serial number.
    pub operation_serial_no: Option<String>,
    /// When (`yyyy-MM-dd HH:mm:ss`, GMT+8).
    pub operation_dt: String,
    /// Paying account.
    pub trans_out: Option<String>,
    /// Receiving account.
    pub trans_in: Option<String>,
    /// Amount.
    pub amount: Amount,
}

/// Settlement information (`query_options` `trade_settle_info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TradeSettleInfo {
    /// The settlement movements.
    #[serde(deserialize_with = "lenient::vec")]
    pub trade_settle_detail_list: Vec<TradeSettleDetail>,
}

/// Who else funded a voucher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContributeDetail {
    /// Amount contributed.
    pub contribute_amount: Amount,
    /// Contributor type.
    pub contribute_type: String,
}

/// A voucher used in the trade (`query_options` `voucher_detail_list`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoucherDetail {
    /// Voucher amount.
    pub amount: Amount,
    /// Voucher id.
    pub id: String,
    /// Note.
    pub memo: Option<String>,
    /// Merchant-funded part.
    pub merchant_contribute: Amount,
    /// Voucher name.
    pub name: String,
    /// Part funded by others.
    pub other_contribute: Amount,
    /// Who the others are.
    #[serde(deserialize_with = "lenient::vec")]
    pub other_contribute_detail: Vec<ContributeDetail>,
    /// Purchased voucher: Ant-funded part.
    pub purchase_ant_contribute: Option<Amount>,
    /// Purchased voucher: buyer-funded part.
    pub purchase_buyer_contribute: Option<Amount>,
    /// Purchased voucher: merchant-funded part.
    pub purchase_merchant_contribute: Option<Amount>,
    /// Voucher template.
    pub template_id: Option<String>,
    /// Voucher type.
    #[serde(rename = "type")]
    pub voucher_type: String,
}

/// The answer of `alipay.trade.query`: the trade, as v2 (inside
/// `alipay_trade_query_response`, without `code`/`msg`), v3 (the body) and the Tmall Luxury EDI
/// wrapper (`data`) return it. Optional blocks are empty/`None` unless asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlipayTradeQueryResponse {
    /// Alipay trade number.
    pub trade_no: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Buyer's Alipay account, masked (`159****5620`).
    pub buyer_logon_id: Option<String>,
    /// `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS` or `TRADE_FINISHED`.
    pub trade_status: String,
    /// Order amount.
    pub total_amount: Amount,
    /// Order currency.
    pub trans_currency: Option<String>,
    /// Settlement currency.
    pub settle_currency: Option<String>,
    /// Settlement amount, in the settlement currency.
    pub settle_amount: Option<Amount>,
    /// Payment currency.
    pub pay_currency: Option<String>,
    /// Amount paid, in the payment currency.
    pub pay_amount: Option<Amount>,
    /// Settlement/order exchange rate.
    pub settle_trans_rate: Option<String>,
    /// Order/payment exchange rate.
    pub trans_pay_rate: Option<String>,
    /// Amount the buyer paid.
    pub buyer_pay_amount: Option<Amount>,
    /// Amount paid with points.
    pub point_amount: Option<Amount>,
    /// Invoiceable amount.
    pub invoice_amount: Option<Amount>,
    /// Payment time (`yyyy-MM-dd HH:mm:ss`, GMT+8).
    pub send_pay_date: Option<String>,
    /// Amount the merchant received.
    pub receipt_amount: Option<Amount>,
    /// Store id.
    pub store_id: Option<String>,
    /// Terminal id.
    pub terminal_id: Option<String>,
    /// Funding channels (`query_options` `fund_bill_list`).
    #[serde(deserialize_with = "lenient::vec")]
    pub fund_bill_list: Vec<TradeFundBill>,
    /// Store name.
    pub store_name: Option<String>,
    /// Buyer's Alipay user id (`2088…`).
    pub buyer_user_id: Option<String>,
    /// Buyer's open id.
    pub buyer_open_id: Option<String>,
    /// Fee charged.
    pub charge_amount: Option<Amount>,
    /// Fee flags.
    pub charge_flags: Option<String>,
    /// Settlement id.
    pub settlement_id: Option<String>,
    /// Settlement information (`query_options` `trade_settle_info`).
    pub trade_settle_info: Option<TradeSettleInfo>,
    /// Pre-authorisation pay mode.
    pub auth_trade_pay_mode: Option<String>,
    /// Buyer type.
    pub buyer_user_type: Option<String>,
    /// Merchant discount (`query_options` `mdiscount_amount`).
    pub mdiscount_amount: Option<Amount>,
    /// Platform discount.
    pub discount_amount: Option<Amount>,
    /// Order title.
    pub subject: Option<String>,
    /// Order description.
    pub body: Option<String>,
    /// Secondary merchant id.
    pub alipay_sub_merchant_id: Option<String>,
    /// Extension information (JSON text).
    pub ext_infos: Option<String>,
    /// Industry detail (sic: the platform's spelling).
    pub industry_sepc_detail: Option<String>,
    /// Alipay store id.
    pub alipay_store_id: Option<String>,
    /// Buyer's name.
    pub buyer_user_name: Option<String>,
    /// Discounted goods (`query_options` `discount_goods_detail`, JSON text).
    pub discount_goods_detail: Option<String>,
    /// Vouchers used (`query_options` `voucher_detail_list`).
    #[serde(deserialize_with = "lenient::vec")]
    pub voucher_detail_list: Vec<VoucherDetail>,
}

/// The request of `koubei.trade.itemorder.query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KoubeiTradeItemorderQueryRequest {
    /// The Koubei order number.
    pub order_no: String,
}

impl KoubeiTradeItemorderQueryRequest {
    /// A query for `order_no`.
    pub fn new(order_no: impl Into<String>) -> Self {
        KoubeiTradeItemorderQueryRequest {
            order_no: order_no.into(),
        }
    }
}

/// One item of a Koubei order (`item_order_vo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ItemOrder {
    /// Item order number.
    pub item_order_no: String,
    /// SKU id.
    pub sku_id: String,
    /// Quantity.
    #[serde(deserialize_with = "lenient::int")]
    pub quantity: i64,
    /// Unit price.
    pub price: Amount,
    /// Extension information.
    pub ext_info: Option<String>,
}

/// The answer of `koubei.trade.itemorder.query` (amounts are yuan, written as JSON numbers with
/// two decimals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KoubeiTradeItemorderQueryResponse {
    /// Koubei order number.
    pub order_no: String,
    /// The merchant's order number.
    pub out_order_no: String,
    /// The merchant's Alipay account.
    pub partner_id: String,
    /// Alipay trade number.
    pub trade_no: Option<String>,
    /// `INIT`, `WAIT_PAY`, `PAID`, `SUCCESS`, `FINISH` or `CLOSE`.
    pub status: String,
    /// The buyer's Alipay user id.
    pub buyer_id: String,
    /// Business product (`ONLINE_TRADE_PAY`).
    pub biz_product: String,
    /// Creation time.
    pub gmt_create: String,
    /// Seller id.
    pub seller_id: Option<String>,
    /// Payment time.
    pub gmt_payment: Option<String>,
    /// Last modification time.
    pub gmt_modified: String,
    /// Order amount.
    pub total_amount: Amount,
    /// Amount the buyer paid.
    pub real_pay_amount: Amount,
    /// Discount.
    pub discount_amount: Option<Amount>,
    /// Amount paid out to the seller.
    pub deliver_seller_real_amount: Amount,
    /// The items.
    #[serde(deserialize_with = "lenient::vec")]
    pub item_order_vo: Vec<ItemOrder>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_serializes_without_absent_fields() {
        let r =
            AlipayTradeQueryRequest::by_out_trade_no("T1").with_query_options(["fund_bill_list"]);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"out_trade_no":"T1","query_options":["fund_bill_list"]}"#
        );
    }

    #[test]
    fn seed_000_example_reads() {
        let text = r#"{"code":"10000","msg":"Success","order_no":"20160831001040010900010000000001","out_order_no":"20160831001040010900010000000001","partner_id":"20180000000001","trade_no":"2017122021001004560209558948","status":"CLOSE","buyer_id":"2088102164040745","biz_product":"ONLINE_TRADE_PAY","gmt_create":"2016-09-29 00:00:00","seller_id":"208810000003401","gmt_payment":"2018-01-12 21:10:10","gmt_modified":"2016-09-29 00:00:00","total_amount":25.00,"real_pay_amount":20.00,"discount_amount":5.00,"deliver_seller_real_amount":5.00,"item_order_vo":[{"item_order_no":"2015060400076000000000000000","sku_id":"2015060400076000000000012100","quantity":2,"price":10.00,"ext_info":"{externalVoucherCode=[A12345,B98765]}"}]}"#;
        let r: KoubeiTradeItemorderQueryResponse = serde_json::from_str(text).unwrap();
        assert_eq!(r.total_amount.as_str(), "25.00");
        assert_eq!(r.item_order_vo[0].quantity, 2);
        assert_eq!(r.item_order_vo[0].price.as_str(), "10.00");
        assert_eq!(r.status, "CLOSE");
    }
}
