//! Miaojie onsite trades: the store behind `alibaba.xlife.onsite.trade.query` (docs/methods.md §3).
//!
//! The merchant's fund bills are stored once, each with the time its money is (or will be)
//! disbursed; the query splits them into received and pending at the time of the query, so the
//! documented identities hold in every answer.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::validate::{
    check_len, check_opt_len, checked_sum, identity, non_negative, require_id, ValidationError,
};

/// `trade_status` of an onsite trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OnsiteTradeStatus {
    /// Waiting for confirmation; cancellable, not refundable.
    WaitForConfirm,
    /// Waiting for the buyer to pay.
    WaitBuyerPay,
    /// Paid; refundable.
    TradeSuccess,
    /// Finished; refundable, not cancellable.
    TradeFinished,
    /// Closed.
    TradeClosed,
}

impl OnsiteTradeStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            OnsiteTradeStatus::WaitForConfirm => "WAIT_FOR_CONFIRM",
            OnsiteTradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            OnsiteTradeStatus::TradeSuccess => "TRADE_SUCCESS",
            OnsiteTradeStatus::TradeFinished => "TRADE_FINISHED",
            OnsiteTradeStatus::TradeClosed => "TRADE_CLOSED",
        }
    }
}

/// A promotion the buyer used (`PromotionBill`); fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionBill {
    /// Amount deducted.
    pub amount: i64,
    /// Voucher title.
    pub subject: String,
    /// `coupon`, `ticket`, `discount`, `reduction`, `voucher`, `random_reduction` or `other`.
    #[serde(rename = "type")]
    pub promotion_type: String,
    /// Extension, a JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_params: Option<String>,
}

/// Money the merchant is owed through one channel (`FundBill`); fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFundBill {
    /// Amount.
    pub amount: i64,
    /// Sub-channel, e.g. `alipay_financeaccount`.
    pub sub_fund_channel: String,
    /// Disbursement type, `alipay`.
    pub fund_channel: String,
    /// Extension, a JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_params: Option<String>,
    /// When the money is (or will be) disbursed; absent while no date is known. At query time a
    /// bill is received when this is at or before the query time, pending otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disbursed_at: Option<Timestamp>,
    /// The disbursement's serial number; shown once received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_seq_no: Option<String>,
}

/// A goods line (`GoodsDetail`). The document types quantity and prices as strings (quantity may
/// be fractional, prices may be negative for discounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoodsDetail {
    /// Quantity, possibly fractional.
    pub quantity: String,
    /// Unit price in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Line amount in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Name.
    pub goods_name: String,
    /// The merchant's goods id.
    pub goods_id: String,
    /// Counter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_name: Option<String>,
    /// Counter number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_no: Option<String>,
    /// Pass-through data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    /// Extension, a JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_params: Option<String>,
}

/// An onsite trade as stored; every amount in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnsiteTrade {
    /// Miaojie trade number, unique across the store.
    pub trade_no: String,
    /// The merchant's order number, unique per merchant.
    pub out_trade_no: String,
    /// Short trade number (≤ 16), valid for 30 days after `gmt_create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_trade_no: Option<String>,
    /// The owning merchant: every lookup is scoped to it.
    pub merchant_id: String,
    /// Created; starts the 30-day life of `short_trade_no`.
    pub gmt_create: Timestamp,
    /// Buyer's Miaojie user id.
    pub buyer_id: String,
    /// Buyer's nick, raw; masked on every answer.
    pub buyer_nick: String,
    /// Status.
    pub trade_status: OnsiteTradeStatus,
    /// Order amount.
    pub total_amount: i64,
    /// Store name.
    pub store_name: String,
    /// Paid; the payment-dependent fields below exist only with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmt_payment: Option<Timestamp>,
    /// Paid through funding channels (paid trades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_total_fund_fee: Option<i64>,
    /// Paid through promotions (paid trades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_total_promotion_fee: Option<i64>,
    /// Invoiceable (paid trades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_amount: Option<i64>,
    /// Deadline for the last disbursement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_days: Option<Timestamp>,
    /// Promotions the buyer used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buyer_promotion_bill_list: Vec<PromotionBill>,
    /// The merchant's marketing cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_total_marketing_fee: Option<i64>,
    /// What the merchant is owed in total (paid trades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_total_receivable_fee: Option<i64>,
    /// Every disbursement owed to the merchant; received or pending at query time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub store_fund_bills: Vec<StoreFundBill>,
    /// Goods lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goods_detail_list: Vec<GoodsDetail>,
    /// Pass-through data from the payment request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    /// Extension, a JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_params: Option<String>,
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

/// The fund bills of a trade as seen at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundBillSplit<'a> {
    /// Disbursed at or before the instant.
    pub received: Vec<&'a StoreFundBill>,
    /// Not yet disbursed.
    pub pending: Vec<&'a StoreFundBill>,
    /// `SUM(received.amount)`.
    pub received_fee: i64,
    /// `SUM(pending.amount)`.
    pub pending_fee: i64,
}

impl OnsiteTrade {
    /// The fields a document must carry, in declaration order (the others may be left out).
    /// A test checks this against what deserializing actually requires.
    pub const REQUIRED_FIELDS: &'static [&'static str] = &[
        "trade_no",
        "out_trade_no",
        "merchant_id",
        "gmt_create",
        "buyer_id",
        "buyer_nick",
        "trade_status",
        "total_amount",
        "store_name",
    ];

    /// True once the buyer has paid.
    pub fn is_paid(&self) -> bool {
        self.gmt_payment.is_some()
    }

    /// Splits the fund bills at `at`: disbursed at or before it is received.
    pub fn split_fund_bills(&self, at: Timestamp) -> FundBillSplit<'_> {
        let mut split = FundBillSplit {
            received: Vec::new(),
            pending: Vec::new(),
            received_fee: 0,
            pending_fee: 0,
        };
        for bill in &self.store_fund_bills {
            match bill.disbursed_at {
                Some(t) if t <= at => {
                    split.received_fee = split.received_fee.saturating_add(bill.amount);
                    split.received.push(bill);
                }
                _ => {
                    split.pending_fee = split.pending_fee.saturating_add(bill.amount);
                    split.pending.push(bill);
                }
            }
        }
        split
    }

    /// Checks lengths and every identity of the document:
    /// `total_amount = buyer_total_fund_fee + buyer_total_promotion_fee`,
    /// `total_amount = store_total_receivable_fee + store_total_marketing_fee`,
    /// `store_total_receivable_fee = SUM(store_fund_bills.amount)` (so received + pending equals
    /// it at any query time), `buyer_total_promotion_fee = SUM(buyer_promotion_bill_list.amount)`
    /// when the list is given; and that payment-dependent fields exist exactly when paid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        require_id("trade_no", &self.trade_no, 64)?;
        require_id("out_trade_no", &self.out_trade_no, 64)?;
        if let Some(s) = &self.short_trade_no {
            require_id("short_trade_no", s, 16)?;
        }
        require_id("merchant_id", &self.merchant_id, 64)?;
        require_id("buyer_id", &self.buyer_id, 32)?;
        require_id("buyer_nick", &self.buyer_nick, 64)?;
        require_id("store_name", &self.store_name, 128)?;
        non_negative("total_amount", self.total_amount)?;
        for (name, v) in [
            ("buyer_total_fund_fee", self.buyer_total_fund_fee),
            ("buyer_total_promotion_fee", self.buyer_total_promotion_fee),
            ("invoice_amount", self.invoice_amount),
            ("store_total_marketing_fee", self.store_total_marketing_fee),
            (
                "store_total_receivable_fee",
                self.store_total_receivable_fee,
            ),
        ] {
            if let Some(v) = v {
                non_negative(name, v)?;
            }
        }
        let unpaid_status = matches!(
            self.trade_status,
            OnsiteTradeStatus::WaitForConfirm | OnsiteTradeStatus::WaitBuyerPay
        );
        if self.is_paid() {
            if unpaid_status {
                return Err(ValidationError::new(
                    "gmt_payment",
                    format!(
                        "a trade in status {} has not been paid, so it has no gmt_payment",
                        self.trade_status.as_str()
                    ),
                ));
            }
            for (name, v) in [
                ("buyer_total_fund_fee", self.buyer_total_fund_fee),
                ("buyer_total_promotion_fee", self.buyer_total_promotion_fee),
                ("invoice_amount", self.invoice_amount),
                (
                    "store_total_receivable_fee",
                    self.store_total_receivable_fee,
                ),
            ] {
                if v.is_none() {
                    return Err(ValidationError::new(
                        name,
                        "is required once the trade is paid (gmt_payment is set)",
                    ));
                }
            }
        } else {
            for (name, present) in [
                ("buyer_total_fund_fee", self.buyer_total_fund_fee.is_some()),
                (
                    "buyer_total_promotion_fee",
                    self.buyer_total_promotion_fee.is_some(),
                ),
                ("invoice_amount", self.invoice_amount.is_some()),
                (
                    "store_total_receivable_fee",
                    self.store_total_receivable_fee.is_some(),
                ),
                ("store_fund_bills", !self.store_fund_bills.is_empty()),
            ] {
                if present {
                    return Err(ValidationError::new(
                        name,
                        "exists only once the trade is paid: set gmt_payment or remove it",
                    ));
                }
            }
        }
        if let (Some(fund), Some(promo)) =
            (self.buyer_total_fund_fee, self.buyer_total_promotion_fee)
        {
            let rhs = checked_sum("buyer_total_fund_fee", [fund, promo])?;
            identity(
                "total_amount",
                "total_amount = buyer_total_fund_fee + buyer_total_promotion_fee",
                self.total_amount,
                rhs,
            )?;
        }
        if let Some(receivable) = self.store_total_receivable_fee {
            let marketing = self.store_total_marketing_fee.unwrap_or(0);
            let rhs = checked_sum("store_total_receivable_fee", [receivable, marketing])?;
            identity(
                "total_amount",
                "total_amount = store_total_receivable_fee + store_total_marketing_fee",
                self.total_amount,
                rhs,
            )?;
            let bills = checked_sum(
                "store_fund_bills",
                self.store_fund_bills.iter().map(|b| b.amount),
            )?;
            identity(
                "store_total_receivable_fee",
                "store_total_receivable_fee = store_total_received_fee + store_total_pending_fee \
                 = SUM(store_fund_bills.amount)",
                receivable,
                bills,
            )?;
        }
        if let Some(promo) = self.buyer_total_promotion_fee {
            if !self.buyer_promotion_bill_list.is_empty() {
                let sum = checked_sum(
                    "buyer_promotion_bill_list",
                    self.buyer_promotion_bill_list.iter().map(|b| b.amount),
                )?;
                identity(
                    "buyer_total_promotion_fee",
                    "buyer_total_promotion_fee = SUM(buyer_promotion_bill_list.amount)",
                    promo,
                    sum,
                )?;
            }
        }
        for (i, b) in self.buyer_promotion_bill_list.iter().enumerate() {
            non_negative(&format!("buyer_promotion_bill_list[{i}].amount"), b.amount)?;
            require_id(
                &format!("buyer_promotion_bill_list[{i}].subject"),
                &b.subject,
                128,
            )?;
            const TYPES: [&str; 7] = [
                "coupon",
                "ticket",
                "discount",
                "reduction",
                "voucher",
                "random_reduction",
                "other",
            ];
            if !TYPES.contains(&b.promotion_type.as_str()) {
                return Err(ValidationError::new(
                    format!("buyer_promotion_bill_list[{i}].type"),
                    format!("`{}` is not one of {}", b.promotion_type, TYPES.join(", ")),
                ));
            }
        }
        for (i, b) in self.store_fund_bills.iter().enumerate() {
            let p = format!("store_fund_bills[{i}]");
            non_negative(&format!("{p}.amount"), b.amount)?;
            require_id(&format!("{p}.sub_fund_channel"), &b.sub_fund_channel, 32)?;
            require_id(&format!("{p}.fund_channel"), &b.fund_channel, 32)?;
            if b.disbursed_at.is_some() && b.payment_seq_no.is_none() {
                return Err(ValidationError::new(
                    format!("{p}.payment_seq_no"),
                    "a bill with a disbursement time needs the disbursement's payment_seq_no",
                ));
            }
            check_opt_len(&format!("{p}.payment_seq_no"), &b.payment_seq_no, 64)?;
        }
        for (i, g) in self.goods_detail_list.iter().enumerate() {
            let p = format!("goods_detail_list[{i}]");
            require_id(&format!("{p}.goods_id"), &g.goods_id, 64)?;
            check_len(&format!("{p}.goods_name"), &g.goods_name, 256)?;
            if g.quantity.parse::<f64>().map_or(true, |q| !q.is_finite()) {
                return Err(ValidationError::new(
                    format!("{p}.quantity"),
                    format!("`{}` is not a number", g.quantity),
                ));
            }
            for (name, v) in [("price", &g.price), ("amount", &g.amount)] {
                if let Some(v) = v {
                    if v.parse::<i64>().is_err() {
                        return Err(ValidationError::new(
                            format!("{p}.{name}"),
                            format!("`{v}` is not an integer amount in fen"),
                        ));
                    }
                }
            }
            if g.price.is_none() && g.amount.is_none() {
                return Err(ValidationError::new(
                    format!("{p}.price"),
                    "give price or amount (the document makes them alternatives)",
                ));
            }
        }
        Ok(())
    }
}
