//! The wire protocols of tradeq as pure functions: parameter parsing, strings-to-sign, signatures,
//! envelopes and error catalogues for the Alipay OpenAPI v2 gateway, Alipay OpenAPI v3 and the
//! Taobao Open Platform (TOP) router, plus the request and response types of the five methods.
//!
//! Nothing here performs I/O or needs an async runtime, so the server and the client share one
//! implementation of every byte that crosses the wire.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alipay;
pub mod diagnosis;
pub mod methods;
pub mod params;
pub mod time;
pub mod top;
pub mod view;
