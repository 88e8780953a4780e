//! Alipay OpenAPI v2: `alipay.trade.query` and `koubei.trade.itemorder.query`, verified.
//!
//! Runs against `tradeq serve --demo` out of the box: the credentials come from the file named
//! by `TRADEQ_CREDENTIALS`, else `./tradeq-data/demo-credentials.json`.
//!
//! ```sh
//! tradeq serve --demo &
//! cargo run -p tradeq-client --example alipay_v2
//! ```

use tradeq_client::model::{AlipayTradeQueryRequest, KoubeiTradeItemorderQueryRequest};
use tradeq_client::{AlipayV2Client, Credentials, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let credentials = Credentials::load_default()?;
    let client = AlipayV2Client::new(credentials.alipay_config()?)?;

    let trade = client
        .trade_query(
            &AlipayTradeQueryRequest::by_out_trade_no("6823789339978248")
                .with_query_options(["fund_bill_list"]),
        )
        .await?;
    println!(
        "trade {} ({}): {} {} CNY, buyer {}",
        trade.trade_no,
        trade.out_trade_no,
        trade.trade_status,
        trade.total_amount,
        trade.buyer_logon_id.as_deref().unwrap_or("-"),
    );
    for bill in &trade.fund_bill_list {
        println!("  paid {} via {}", bill.amount, bill.fund_channel);
    }

    let order = client
        .koubei_trade_itemorder_query(&KoubeiTradeItemorderQueryRequest::new(
            "20160831001040010900010000000001",
        ))
        .await?;
    println!(
        "koubei order {}: {} total {} paid {}",
        order.order_no, order.status, order.total_amount, order.real_pay_amount
    );

    // Business failures are typed, signed answers: match on the sub_code.
    match client
        .trade_query(&AlipayTradeQueryRequest::by_trade_no(
            "2099010100000000000000000000",
        ))
        .await
    {
        Err(Error::Business(e)) if e.reason() == "ACQ.TRADE_NOT_EXIST" => {
            println!(
                "unknown trade: {} ({})",
                e.reason(),
                e.sub_msg.as_deref().unwrap_or("")
            )
        }
        Ok(t) => println!("unexpectedly found {}", t.trade_no),
        Err(e) => return Err(e),
    }
    Ok(())
}
