//! Alipay OpenAPI v3: `POST /v3/alipay/trade/query`, the answer verified over
//! `alipay-timestamp`, `alipay-nonce` and the raw body.
//!
//! Runs against `tradeq serve --demo` out of the box (credentials from `TRADEQ_CREDENTIALS`, else
//! `./tradeq-data/demo-credentials.json`).
//!
//! ```sh
//! tradeq serve --demo &
//! cargo run -p tradeq-client --example alipay_v3
//! ```

use tradeq_client::model::AlipayTradeQueryRequest;
use tradeq_client::{AlipayV3Client, Credentials, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let credentials = Credentials::load_default()?;
    let client = AlipayV3Client::new(credentials.alipay_config()?)?;

    let trade = client
        .trade_query(
            &AlipayTradeQueryRequest::by_trade_no("2013112011001004330000121536")
                .with_query_options(["fund_bill_list", "voucher_detail_list"]),
        )
        .await?;
    println!(
        "trade {}: {} {} (paid {} on {})",
        trade.trade_no,
        trade.trade_status,
        trade.total_amount,
        trade.buyer_pay_amount.as_ref().map_or("-", |a| a.as_str()),
        trade.send_pay_date.as_deref().unwrap_or("-"),
    );
    if let Some(cents) = trade.total_amount.to_minor_units(2) {
        println!("  = {cents} fen");
    }

    // The generic call works for any v3 method and returns the verified body.
    let raw = client
        .call(
            "alipay.trade.query",
            &serde_json::json!({"out_trade_no": "6823789339978248"}),
        )
        .await?;
    println!(
        "raw verified body: {} bytes, trace {:?}",
        raw.raw.len(),
        raw.trace_id
    );

    // A v3 business error: HTTP 400 with a signed JSON body.
    match client
        .trade_query(&AlipayTradeQueryRequest::by_out_trade_no("no-such-order"))
        .await
    {
        Err(Error::Business(e)) => println!(
            "HTTP {:?} {}: {}",
            e.http_status,
            e.reason(),
            e.sub_msg.as_deref().unwrap_or("")
        ),
        Ok(t) => println!("unexpectedly found {}", t.trade_no),
        Err(e) => return Err(e),
    }
    Ok(())
}
