//! Alipay in public-key-certificate mode (公钥证书模式): the demo's `alipay.cert_mode` app,
//! configured with its app certificate, the Alipay public certificate and the root bundle. The
//! client sends the SNs it computes from them and accepts only answers naming the configured
//! Alipay certificate, verified with that certificate's key. After `tradeq keys rotate-platform`
//! the calls fail with `VerificationError::AlipayCertSnMismatch`, naming the new SN, until the new
//! Alipay public certificate is configured.
//!
//! Runs against `tradeq serve --demo` out of the box (credentials from `TRADEQ_CREDENTIALS`, else
//! `./tradeq-data/demo-credentials.json`).
//!
//! ```sh
//! tradeq serve --demo &
//! cargo run -p tradeq-client --example alipay_cert_mode
//! ```

use tradeq_client::model::{AlipayTradeQueryRequest, KoubeiTradeItemorderQueryRequest};
use tradeq_client::{AlipayV2Client, AlipayV3Client, Credentials, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let credentials = Credentials::load_default()?;
    // `AlipayConfig::with_certificates(gateway, app_id, private_key, AlipayCertificates { .. })`
    // builds the same configuration from the three PEM files.
    let config = credentials.alipay_cert_config()?;
    let v2 = AlipayV2Client::new(config.clone())?;
    if let Some(sns) = v2.cert_sns() {
        println!("app_cert_sn         {}", sns.app_cert_sn);
        println!("alipay_root_cert_sn {}", sns.alipay_root_cert_sn);
        println!(
            "alipay_cert_sn      {} (expected on answers)",
            sns.alipay_cert_sn
        );
    }

    let trade = v2
        .trade_query(&AlipayTradeQueryRequest::by_out_trade_no(
            "6823789339978248",
        ))
        .await?;
    println!("v2 trade {}: {}", trade.trade_no, trade.trade_status);
    let order = v2
        .koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new(
            "20160831001040010900010000000001",
        ))
        .await?;
    println!("v2 koubei order {}: {}", order.order_no, order.status);

    let v3 = AlipayV3Client::new(config)?;
    let trade = v3
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(
            "2013112011001004330000121536",
        ))
        .await?;
    println!("v3 trade {}: {}", trade.trade_no, trade.trade_status);
    Ok(())
}
