//! The tradeq server: three protocol front doors (`/gateway.do`, `/v3/…`, `/router/rest`) on one
//! listener, five methods behind them, and an administration API on a listener of its own.
//!
//! A request takes one path: the front door parses and authenticates it in its protocol's terms
//! and decodes the business parameters; the method validates them, looks the record up for the
//! caller's merchant and builds a protocol-neutral view; the front door renders that view in its
//! envelope and signs it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The demo data set is written as `json!` literals, deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod admin;
pub mod admin_token;
pub mod config;
pub mod console;
pub mod credentials;
pub mod demo;
pub mod front_door;
pub mod methods;
pub mod metrics;
pub mod sandbox;
pub mod serve;
pub mod snapshot;
pub mod state;
pub mod transport;

pub use config::ServerConfig;
pub use serve::{serve, Listeners};
pub use state::AppState;
