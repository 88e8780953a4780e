//! Koubei item orders: the store behind `koubei.trade.itemorder.query` (docs/methods.md §1).

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::validate::{check_opt_len, non_negative, require_id, ValidationError};

/// Order status. The document's text omits `CLOSE` but its example uses it: a terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KoubeiStatus {
    /// Created.
    Init,
    /// Waiting for payment.
    WaitPay,
    /// Paid.
    Paid,
    /// Succeeded: paid out to the merchant.
    Success,
    /// Finished: fully refunded.
    Finish,
    /// Closed.
    Close,
}

impl KoubeiStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            KoubeiStatus::Init => "INIT",
            KoubeiStatus::WaitPay => "WAIT_PAY",
            KoubeiStatus::Paid => "PAID",
            KoubeiStatus::Success => "SUCCESS",
            KoubeiStatus::Finish => "FINISH",
            KoubeiStatus::Close => "CLOSE",
        }
    }
}

/// One item line (`ItemOrderVO`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemOrder {
    /// Item order id.
    pub item_order_no: String,
    /// SKU id.
    pub sku_id: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price in fen.
    pub price: i64,
    /// Business extension, free text (often JSON-like).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_info: Option<String>,
}

/// A Koubei item order as stored; amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KoubeiOrder {
    /// Koubei order number, unique across the store.
    pub order_no: String,
    /// The merchant's order number.
    pub out_order_no: String,
    /// The merchant's signed Alipay account: the owner every lookup is scoped to.
    pub partner_id: String,
    /// Alipay trade number, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_no: Option<String>,
    /// Status.
    pub status: KoubeiStatus,
    /// Buyer's Alipay account.
    pub buyer_id: String,
    /// Business product, e.g. `ONLINE_TRADE_PAY`.
    pub biz_product: String,
    /// Created.
    pub gmt_create: Timestamp,
    /// Seller id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<String>,
    /// Paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmt_payment: Option<Timestamp>,
    /// Last modified; newer writes win.
    pub gmt_modified: Timestamp,
    /// Order amount.
    pub total_amount: i64,
    /// What the buyer paid.
    pub real_pay_amount: i64,
    /// Discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<i64>,
    /// What is paid out to the seller.
    pub deliver_seller_real_amount: i64,
    /// Item lines.
    pub item_order_vo: Vec<ItemOrder>,
    /// Version, compared after `gmt_modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The record's lifecycle: steps that change it as queries come in or virtual time passes
    /// (`docs/records.md`, "Lifecycles").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<crate::lifecycle::Timeline>,
}

impl KoubeiOrder {
    /// The fields a document must carry, in declaration order (the others may be left out).
    /// A test checks this against what deserializing actually requires.
    pub const REQUIRED_FIELDS: &'static [&'static str] = &[
        "order_no",
        "out_order_no",
        "partner_id",
        "status",
        "buyer_id",
        "biz_product",
        "gmt_create",
        "gmt_modified",
        "total_amount",
        "real_pay_amount",
        "deliver_seller_real_amount",
        "item_order_vo",
    ];

    /// Checks the documented lengths and amounts.
    pub fn validate(&self) -> Result<(), ValidationError> {
        require_id("order_no", &self.order_no, 64)?;
        require_id("out_order_no", &self.out_order_no, 64)?;
        require_id("partner_id", &self.partner_id, 32)?;
        check_opt_len("trade_no", &self.trade_no, 64)?;
        require_id("buyer_id", &self.buyer_id, 32)?;
        require_id("biz_product", &self.biz_product, 32)?;
        check_opt_len("seller_id", &self.seller_id, 32)?;
        non_negative("total_amount", self.total_amount)?;
        non_negative("real_pay_amount", self.real_pay_amount)?;
        non_negative(
            "deliver_seller_real_amount",
            self.deliver_seller_real_amount,
        )?;
        if let Some(d) = self.discount_amount {
            non_negative("discount_amount", d)?;
        }
        if self.gmt_modified < self.gmt_create {
            return Err(ValidationError::new(
                "gmt_modified",
                format!(
                    "{} is before gmt_create {}",
                    self.gmt_modified, self.gmt_create
                ),
            ));
        }
        if matches!(self.status, KoubeiStatus::Init | KoubeiStatus::WaitPay)
            && self.gmt_payment.is_some()
        {
            return Err(ValidationError::new(
                "gmt_payment",
                format!(
                    "an order in status {} has not been paid, so it has no gmt_payment",
                    self.status.as_str()
                ),
            ));
        }
        if self.item_order_vo.is_empty() {
            return Err(ValidationError::new(
                "item_order_vo",
                "is required: an order has at least one item line",
            ));
        }
        for (i, it) in self.item_order_vo.iter().enumerate() {
            require_id(
                &format!("item_order_vo[{i}].item_order_no"),
                &it.item_order_no,
                64,
            )?;
            require_id(&format!("item_order_vo[{i}].sku_id"), &it.sku_id, 64)?;
            if it.quantity <= 0 || it.quantity > 99_999 {
                return Err(ValidationError::new(
                    format!("item_order_vo[{i}].quantity"),
                    format!("is {}; it must be between 1 and 99999", it.quantity),
                ));
            }
            non_negative(&format!("item_order_vo[{i}].price"), it.price)?;
            check_opt_len(&format!("item_order_vo[{i}].ext_info"), &it.ext_info, 1024)?;
        }
        Ok(())
    }
}
