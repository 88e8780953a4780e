//! Omni-channel (shopping-guide) orders: the store behind `alibaba.omni.order.query` (docs/methods.md §5).

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::validate::{check_opt_len, require_id, ValidationError};

/// One payment stage (`SubPayOrderDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubPayOrder {
    /// Stage number.
    pub step_no: i64,
    /// Sub-payment order id.
    pub subpay_order_id: i64,
    /// Payment status of the stage.
    pub pay_status: i64,
    /// Payment type.
    pub pay_type: i64,
    /// Stage total.
    pub total_fee: i64,
    /// Whether the money has arrived (a string in the document).
    pub disburse_status: String,
}

/// The promotion used (`PromotionInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionInfo {
    /// Promotion id.
    pub promotion_id: i64,
    /// Promotion amount.
    pub promotion_amount: i64,
    /// 0 = store coupon, 1 = paid coupon.
    pub promotion_type: i64,
    /// Promotion order id.
    pub promotion_order_id: i64,
    /// What was paid for the promotion.
    pub promotion_buy_amount: i64,
}

/// A card or Alipay payment serial (`PayOrderSerialInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayOrderSerialInfo {
    /// Payment serial number.
    pub pay_serial_no: String,
    /// Stage number.
    pub step_no: i64,
    /// Card batch number.
    pub batch_no: i64,
    /// Amount paid.
    pub paid_money: i64,
    /// Paid at.
    pub pay_time: Timestamp,
    /// Synchronised at.
    pub sync_time: Timestamp,
    /// 1 = card, 2 = Alipay.
    pub pay_type: i64,
    /// 0 = pending, 1 = succeeded.
    pub pay_status: i64,
}

/// An omni order as stored; integers as the document gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmniOrder {
    /// Order id, unique across the store.
    pub order_id: String,
    /// The owning merchant: every lookup is scoped to it.
    pub merchant_id: String,
    /// Alipay order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_order_id: Option<String>,
    /// External order id; a query must name it.
    pub out_order_id: String,
    /// The shopping guide; a query's `user_id` must match it.
    pub o2o_guide_id: i64,
    /// Guide nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o2o_guide_name: Option<String>,
    /// Store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o2o_shop_id: Option<String>,
    /// Store name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o2o_shop_name: Option<String>,
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<i64>,
    /// Item title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_title: Option<String>,
    /// SKU id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    /// SKU properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_properties_name: Option<String>,
    /// Contract price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_price: Option<i64>,
    /// Total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_fee: Option<i64>,
    /// Discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher_price: Option<i64>,
    /// Payment status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_status: Option<i64>,
    /// Payment stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subpay_order_list: Vec<SubPayOrder>,
    /// Whether the order can be closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_close: Option<bool>,
    /// Promotion used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_info: Option<PromotionInfo>,
    /// Payment serials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pay_order_serial_infos: Vec<PayOrderSerialInfo>,
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

impl OmniOrder {
    /// The fields a document must carry, in declaration order (the others may be left out).
    /// A test checks this against what deserializing actually requires.
    pub const REQUIRED_FIELDS: &'static [&'static str] =
        &["order_id", "merchant_id", "out_order_id", "o2o_guide_id"];

    /// Checks identifiers and lengths.
    pub fn validate(&self) -> Result<(), ValidationError> {
        require_id("order_id", &self.order_id, 64)?;
        require_id("merchant_id", &self.merchant_id, 64)?;
        require_id("out_order_id", &self.out_order_id, 64)?;
        check_opt_len("alipay_order_id", &self.alipay_order_id, 64)?;
        check_opt_len("item_title", &self.item_title, 256)?;
        if self.o2o_guide_id <= 0 {
            return Err(ValidationError::new(
                "o2o_guide_id",
                format!("is {}; a guide id is a positive integer", self.o2o_guide_id),
            ));
        }
        for (i, s) in self.pay_order_serial_infos.iter().enumerate() {
            require_id(
                &format!("pay_order_serial_infos[{i}].pay_serial_no"),
                &s.pay_serial_no,
                64,
            )?;
        }
        Ok(())
    }
}
