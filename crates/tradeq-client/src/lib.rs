//! A Rust client for the five trade-query APIs of Alipay and the Taobao Open Platform, over their
//! real wire protocols: the Alipay OpenAPI v2 gateway ([`AlipayV2Client`]), Alipay OpenAPI v3
//! ([`AlipayV3Client`]) and the TOP router ([`TopClient`]). It talks to the real platforms or to
//! a tradeq server alike; only the gateway URL and the keys change.
//!
//! - **Typed calls** for the five methods (`alipay.trade.query` on v2 and v3,
//!   `koubei.trade.itemorder.query`, `alibaba.xlife.onsite.trade.query`,
//!   `tmall.luxury.stage.edi.alipay.trade.query`, `alibaba.omni.order.query`; types in
//!   [`model`]), and a generic `call` for any other method.
//! - **Verification over the exact bytes**: a v2 answer is verified over the raw `…_response`
//!   object text before parsing (a repeated response key, or anything between the object and
//!   `sign`, is refused); a v3 answer over `alipay-timestamp`, `alipay-nonce` and the raw body.
//!   An answer that fails verification is never parsed into a success.
//! - **Typed errors** ([`Error`]): gateway refusals, business failures (with `sub_code`),
//!   verification failures, transport failures.
//! - **Retries** of the failures the documents call temporary ([`RetryPolicy`]: every 2 s, at
//!   most 10 times by default), never of business or signature errors.
//! - **Keys in any common encoding** (PKCS#1 or PKCS#8, PEM or one-line base64), with a clear
//!   error when the app's own public key is configured where Alipay's belongs.
//! - **Certificate mode** (公钥证书模式, [`AlipayCertificates`]): the app, Alipay and root
//!   certificates instead of the Alipay public key; the SNs are computed and sent, and answers
//!   must name the configured Alipay certificate.
//!
//! Every string-to-sign, signature and envelope comes from `tradeq-wire`, the implementation the
//! tradeq server uses and that is tested against the protocol documents' vectors.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tradeq_client::Error> {
//! use tradeq_client::{model::AlipayTradeQueryRequest, AlipayV2Client, Credentials, Error};
//!
//! let creds = Credentials::load_default()?; // $TRADEQ_CREDENTIALS or ./tradeq-data/…
//! let client = AlipayV2Client::new(creds.alipay_config()?)?;
//! match client
//!     .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("6823789339978248"))
//!     .await
//! {
//!     Ok(trade) => println!("{} {}", trade.trade_no, trade.trade_status),
//!     Err(Error::Business(e)) if e.reason() == "ACQ.TRADE_NOT_EXIST" => println!("no such trade"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alipay;
pub mod credentials;
pub mod error;
pub mod format;
pub mod model;
pub mod options;
pub mod top;

pub use alipay::{
    AlipayCertificates, AlipayConfig, AlipayV2Client, AlipayV3Client, CertSns, V2Response,
    V3Response,
};
pub use credentials::Credentials;
pub use error::{
    Authenticity, ConfigError, Error, PlatformError, Protocol, TransportError, VerificationError,
};
pub use options::{ClientOptions, RetryPolicy};
pub use top::{TopClient, TopConfig, TopResponse, TopSignedRequest};
pub use tradeq_wire::alipay::sign::SignType;
pub use tradeq_wire::params::Charset;
pub use tradeq_wire::top::{SignMethod, TopFormat};
