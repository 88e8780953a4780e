//! Typed requests and responses of the five methods.
//!
//! Response types read leniently, as the official SDKs do (an integer may come as a string in TOP
//! XML, a list as `{}` when empty), and ignore fields they do not know; use the clients' generic
//! `call` to see everything. Amounts are [`Amount`]s: the decimal text exactly as the platform
//! wrote it (`"88.88"`, `25.00`).

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

mod alipay;
pub mod lenient;
mod top;

pub use alipay::{
    AlipayTradeQueryRequest, AlipayTradeQueryResponse, ContributeDetail, ItemOrder,
    KoubeiTradeItemorderQueryRequest, KoubeiTradeItemorderQueryResponse, TradeFundBill,
    TradeSettleDetail, TradeSettleInfo, VoucherDetail,
};
pub use top::{
    EdiAlipayTradeQueryRequest, EdiAlipayTradeQueryResponse, FundBill, GoodsDetail, OmniOrder,
    OmniOrderQueryRequest, OmniOrderQueryResponse, OmniOrderResult, OnsiteTrade,
    PayOrderSerialInfo, PromotionBill, PromotionInfo, SubPayOrder, XlifeOnsiteTradeQueryRequest,
    XlifeOnsiteTradeQueryResponse,
};

/// A money amount as the platform wrote it: a decimal string (`"88.88"`) or a JSON number
/// (`25.00`), kept as exact text, never as a float. Serializes as a JSON string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Amount(String);

impl Amount {
    /// An amount from its decimal text.
    pub fn new(text: impl Into<String>) -> Amount {
        Amount(text.into())
    }

    /// The decimal text (`"88.88"`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The amount in minor units for a currency with `digits` fraction digits (`"88.88"`, 2 →
    /// 8888); `None` when the text is not a plain decimal or has more fraction digits.
    pub fn to_minor_units(&self, digits: u32) -> Option<i64> {
        let text = self.0.trim();
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || frac_part.len() > digits as usize
            || (unsigned.contains('.') && frac_part.is_empty())
        {
            return None;
        }
        let scale = 10i64.checked_pow(digits)?;
        let int_value: i64 = int_part.parse().ok()?;
        let mut frac_value: i64 = if frac_part.is_empty() {
            0
        } else {
            frac_part.parse().ok()?
        };
        for _ in frac_part.len()..digits as usize {
            frac_value = frac_value.checked_mul(10)?;
        }
        let v = int_value.checked_mul(scale)?.checked_add(frac_value)?;
        Some(if negative { -v } else { v })
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get().trim();
        let found = || {
            D::Error::custom(format!(
                "expected an amount, found {}",
                text.chars().take(40).collect::<String>()
            ))
        };
        if text == "true" || text == "false" {
            return Err(found());
        }
        match lenient::scalar_text(text).map_err(D::Error::custom)? {
            Some(t) => Ok(Amount(t)),
            None => Err(found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_their_text() {
        let a: Vec<Amount> = serde_json::from_str(r#"["88.88", 25.00, 5, "-0.01"]"#).unwrap();
        let texts: Vec<&str> = a.iter().map(Amount::as_str).collect();
        assert_eq!(texts, ["88.88", "25.00", "5", "-0.01"]);
        assert!(serde_json::from_str::<Amount>("true").is_err());
        assert!(serde_json::from_str::<Amount>("{}").is_err());
        assert_eq!(serde_json::to_string(&a[1]).unwrap(), "\"25.00\"");
    }

    #[test]
    fn minor_units() {
        let m = |t: &str, d| Amount::new(t).to_minor_units(d);
        assert_eq!(m("88.88", 2), Some(8888));
        assert_eq!(m("25.00", 2), Some(2500));
        assert_eq!(m("25", 2), Some(2500));
        assert_eq!(m("0.5", 2), Some(50));
        assert_eq!(m("-0.01", 2), Some(-1));
        assert_eq!(m("1596", 0), Some(1596));
        assert_eq!(m("1.234", 2), None);
        assert_eq!(m("1.", 2), None);
        assert_eq!(m(".5", 2), None);
        assert_eq!(m("abc", 2), None);
        assert_eq!(m("99999999999999999999", 2), None);
    }
}
