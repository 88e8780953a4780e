//! Alipay trades: the store behind `alipay.trade.query` (v2, v3) and
//! `tmall.luxury.stage.edi.alipay.trade.query` (docs/methods.md §2, §4).

use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};
use crate::time::Timestamp;
use crate::validate::{
    check_len, check_opt_len, identity, non_negative, require_id, ValidationError,
};

/// `trade_status` with the platform's exact spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeStatus {
    /// Created, waiting for the buyer to pay.
    WaitBuyerPay,
    /// Closed unpaid on timeout, or fully refunded.
    TradeClosed,
    /// Paid; refundable.
    TradeSuccess,
    /// Finished; no longer refundable.
    TradeFinished,
}

impl TradeStatus {
    /// The wire spelling, e.g. `TRADE_SUCCESS`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::TradeClosed => "TRADE_CLOSED",
            TradeStatus::TradeSuccess => "TRADE_SUCCESS",
            TradeStatus::TradeFinished => "TRADE_FINISHED",
        }
    }
}

/// One funding channel of a payment (`TradeFundBill`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundBill {
    /// Channel, e.g. `ALIPAYACCOUNT`, `BANKCARD`, `PCREDIT`.
    pub fund_channel: String,
    /// Amount paid through the channel, minor units of the trade currency.
    pub amount: i64,
    /// What the channel actually paid, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_amount: Option<i64>,
    /// Bank code for card payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_code: Option<String>,
    /// `DEBIT_CARD`, `CREDIT_CARD` or `MIXED_CARD` for `BANKCARD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fund_type: Option<String>,
}

/// One settlement operation (`TradeSettleDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleDetail {
    /// `replenish`, `replenish_refund`, `transfer`, `transfer_refund`, `settle`,
    /// `settle_refund` or `on_settle`.
    pub operation_type: String,
    /// The merchant's operation serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_serial_no: Option<String>,
    /// When it happened.
    pub operation_dt: Timestamp,
    /// Account paying out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_out: Option<String>,
    /// Account paid in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_in: Option<String>,
    /// Amount, minor units of the trade currency.
    pub amount: i64,
}

/// One contributor to a voucher (`ContributeDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributeDetail {
    /// Who contributed, e.g. `支付宝平台出资`.
    pub contribute_type: String,
    /// How much, minor units.
    pub contribute_amount: i64,
}

/// A voucher used in the payment (`VoucherDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherDetail {
    /// Voucher id.
    pub id: String,
    /// Voucher name.
    pub name: String,
    /// `ALIPAY_FIX_VOUCHER`, `ALIPAY_ITEM_VOUCHER`, … (kept open: new types appear).
    #[serde(rename = "type")]
    pub voucher_type: String,
    /// Face value = `merchant_contribute + other_contribute`.
    pub amount: i64,
    /// The merchant's share.
    pub merchant_contribute: i64,
    /// Everyone else's share.
    pub other_contribute: i64,
    /// Free-text note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    /// Voucher template id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// For a purchased voucher: what the buyer paid for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_buyer_contribute: Option<i64>,
    /// For a purchased voucher: the merchant's discount on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_merchant_contribute: Option<i64>,
    /// For a purchased voucher: the platform's discount on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_ant_contribute: Option<i64>,
    /// Breakdown of `other_contribute`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_contribute_detail: Vec<ContributeDetail>,
}

/// An Alipay trade as stored. Amounts are minor units: `settle_amount` of `settle_currency`,
/// `pay_amount` of `pay_currency`, every other amount of `trans_currency` (CNY when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipayTrade {
    /// Alipay trade number, unique across the store.
    pub trade_no: String,
    /// The merchant's order number, unique per seller.
    pub out_trade_no: String,
    /// The owning merchant (PID, `2088…`): every lookup is scoped to it.
    pub seller_id: String,
    /// The acquiring institution's PID, for bank-connected trades (`org_pid` must match it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_pid: Option<String>,
    /// The buyer's Alipay logon id, raw; masked on every answer.
    pub buyer_logon_id: String,
    /// Trade status.
    pub trade_status: TradeStatus,
    /// Order amount.
    pub total_amount: i64,
    /// Pricing currency (CNY when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_currency: Option<Currency>,
    /// Settlement currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_currency: Option<Currency>,
    /// Amount in the settlement currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_amount: Option<i64>,
    /// Payment currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_currency: Option<Currency>,
    /// Amount in the payment currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_amount: Option<i64>,
    /// Settlement-to-pricing rate, as given (`30.025`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_trans_rate: Option<String>,
    /// Pricing-to-payment rate, as given (`0.264`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_pay_rate: Option<String>,
    /// What the buyer paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_pay_amount: Option<i64>,
    /// Paid with points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_amount: Option<i64>,
    /// Invoiceable amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_amount: Option<i64>,
    /// When the money was paid to the seller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_pay_date: Option<Timestamp>,
    /// What the merchant actually receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_amount: Option<i64>,
    /// Merchant store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// Merchant terminal id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<String>,
    /// Funding channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fund_bill_list: Vec<FundBill>,
    /// Store name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    /// Buyer's Alipay user id (`2088…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_user_id: Option<String>,
    /// Buyer's open id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_open_id: Option<String>,
    /// Fee charged to the merchant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_amount: Option<i64>,
    /// Fee-rate campaign flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_flags: Option<String>,
    /// Clearing id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_id: Option<String>,
    /// Settlement operations (`trade_settle_info.trade_settle_detail_list`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trade_settle_detail_list: Vec<SettleDetail>,
    /// `CREDIT_PREAUTH_PAY` for credit pre-authorisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_trade_pay_mode: Option<String>,
    /// `corporate`/`private` (the v3 document) or upper case (the EDI document); kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_user_type: Option<String>,
    /// Merchant discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdiscount_amount: Option<i64>,
    /// Platform discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<i64>,
    /// Order title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Order description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Indirect merchant's id at Alipay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_sub_merchant_id: Option<String>,
    /// Extra information, a JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_infos: Option<String>,
    /// Industry-specific information (the platform's own spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry_sepc_detail: Option<String>,
    /// Alipay store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_store_id: Option<String>,
    /// Buyer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_user_name: Option<String>,
    /// Single-item voucher details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_goods_detail: Option<String>,
    /// Vouchers used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voucher_detail_list: Vec<VoucherDetail>,
    /// Last modification; newer writes win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmt_modified: Option<Timestamp>,
    /// Version, compared after `gmt_modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The record's lifecycle: steps that change it as queries come in or virtual time passes
    /// (`docs/records.md`, "Lifecycles").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<crate::lifecycle::Timeline>,
}

impl AlipayTrade {
    /// The fields a document must carry, in declaration order (the others may be left out).
    /// A test checks this against what deserializing actually requires.
    pub const REQUIRED_FIELDS: &'static [&'static str] = &[
        "trade_no",
        "out_trade_no",
        "seller_id",
        "buyer_logon_id",
        "trade_status",
        "total_amount",
    ];

    /// The pricing currency.
    pub fn currency(&self) -> Currency {
        self.trans_currency.unwrap_or_default()
    }

    /// An amount of this trade as money in the pricing currency.
    pub fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency())
    }

    /// True once the buyer has paid.
    pub fn is_paid(&self) -> bool {
        matches!(
            self.trade_status,
            TradeStatus::TradeSuccess | TradeStatus::TradeFinished
        ) || self.send_pay_date.is_some()
    }

    /// Checks lengths, signs and the voucher identity
    /// `amount = merchant_contribute + other_contribute`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        require_id("trade_no", &self.trade_no, 64)?;
        require_id("out_trade_no", &self.out_trade_no, 64)?;
        require_id("seller_id", &self.seller_id, 32)?;
        check_opt_len("org_pid", &self.org_pid, 32)?;
        require_id("buyer_logon_id", &self.buyer_logon_id, 100)?;
        non_negative("total_amount", self.total_amount)?;
        for (name, v) in [
            ("settle_amount", self.settle_amount),
            ("pay_amount", self.pay_amount),
            ("buyer_pay_amount", self.buyer_pay_amount),
            ("point_amount", self.point_amount),
            ("invoice_amount", self.invoice_amount),
            ("receipt_amount", self.receipt_amount),
            ("charge_amount", self.charge_amount),
            ("mdiscount_amount", self.mdiscount_amount),
            ("discount_amount", self.discount_amount),
        ] {
            if let Some(v) = v {
                non_negative(name, v)?;
            }
        }
        if self.settle_amount.is_some() != self.settle_currency.is_some() {
            return Err(ValidationError::new(
                "settle_amount",
                "settle_amount and settle_currency go together: give both or neither",
            ));
        }
        if self.pay_amount.is_some() != self.pay_currency.is_some() {
            return Err(ValidationError::new(
                "pay_amount",
                "pay_amount and pay_currency go together: give both or neither",
            ));
        }
        for (name, rate) in [
            ("settle_trans_rate", &self.settle_trans_rate),
            ("trans_pay_rate", &self.trans_pay_rate),
        ] {
            if let Some(r) = rate {
                let ok = is_decimal(r);
                if !ok {
                    return Err(ValidationError::new(
                        name,
                        format!("`{r}` is not a decimal rate such as 30.025"),
                    ));
                }
            }
        }
        check_opt_len("store_id", &self.store_id, 32)?;
        check_opt_len("terminal_id", &self.terminal_id, 32)?;
        check_opt_len("store_name", &self.store_name, 512)?;
        check_opt_len("buyer_user_id", &self.buyer_user_id, 28)?;
        check_opt_len("buyer_open_id", &self.buyer_open_id, 128)?;
        check_opt_len("ext_infos", &self.ext_infos, 1024)?;
        check_opt_len("subject", &self.subject, 256)?;
        check_opt_len("body", &self.body, 1024)?;
        if self.trade_status == TradeStatus::WaitBuyerPay && self.send_pay_date.is_some() {
            return Err(ValidationError::new(
                "send_pay_date",
                "a WAIT_BUYER_PAY trade has not been paid, so it has no send_pay_date",
            ));
        }
        for (i, b) in self.fund_bill_list.iter().enumerate() {
            require_id(
                &format!("fund_bill_list[{i}].fund_channel"),
                &b.fund_channel,
                32,
            )?;
            non_negative(&format!("fund_bill_list[{i}].amount"), b.amount)?;
            if let Some(r) = b.real_amount {
                non_negative(&format!("fund_bill_list[{i}].real_amount"), r)?;
            }
        }
        for (i, d) in self.trade_settle_detail_list.iter().enumerate() {
            require_id(
                &format!("trade_settle_detail_list[{i}].operation_type"),
                &d.operation_type,
                32,
            )?;
        }
        for (i, v) in self.voucher_detail_list.iter().enumerate() {
            let p = format!("voucher_detail_list[{i}]");
            require_id(&format!("{p}.id"), &v.id, 32)?;
            check_len(&format!("{p}.name"), &v.name, 64)?;
            non_negative(&format!("{p}.amount"), v.amount)?;
            non_negative(&format!("{p}.merchant_contribute"), v.merchant_contribute)?;
            non_negative(&format!("{p}.other_contribute"), v.other_contribute)?;
            let sum = v
                .merchant_contribute
                .checked_add(v.other_contribute)
                .ok_or_else(|| ValidationError::new(format!("{p}.amount"), "sum overflows"))?;
            identity(
                &format!("{p}.amount"),
                "amount = merchant_contribute + other_contribute",
                v.amount,
                sum,
            )?;
        }
        Ok(())
    }
}

/// A plain non-negative decimal such as `30.025` or `7`.
fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}
