//! The records tradeq stores and serves, with the invariants the platform documents promise.
//!
//! Four record kinds, one per store (docs/methods.md): Alipay trades (served by `alipay.trade.query`
//! and the Tmall Luxury EDI wrapper), Koubei item orders, Miaojie onsite trades and omni
//! (shopping-guide) orders. Every amount is an integer in minor units; rendering into the
//! platforms' decimal strings happens in each method's view.
//!
//! Records enter through [`Record::from_json`] / [`Record::validate`], which check every
//! documented identity and name the field and both sides of a broken equation.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alipay_trade;
pub mod credentials;
pub mod jsonl;
pub mod koubei_order;
pub mod lifecycle;
pub mod mask;
pub mod money;
pub mod omni_order;
pub mod onsite_trade;
pub mod record;
pub mod time;
pub mod validate;

pub use alipay_trade::{AlipayTrade, TradeStatus};
pub use koubei_order::{KoubeiOrder, KoubeiStatus};
pub use money::{Currency, Money};
pub use omni_order::OmniOrder;
pub use onsite_trade::{OnsiteTrade, OnsiteTradeStatus};
pub use record::{KeyKind, Record, RecordKind, VersionStamp};
pub use time::Timestamp;
pub use validate::ValidationError;
