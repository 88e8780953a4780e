//! Taobao Open Platform: the three TOP methods, in JSON and XML.
//!
//! Runs against `tradeq serve --demo` out of the box (credentials from `TRADEQ_CREDENTIALS`, else
//! `./tradeq-data/demo-credentials.json`; the methods acting for a merchant use `top.session`).
//!
//! ```sh
//! tradeq serve --demo &
//! cargo run -p tradeq-client --example top
//! ```

use tradeq_client::model::{
    AlipayTradeQueryRequest, OmniOrderQueryRequest, XlifeOnsiteTradeQueryRequest,
};
use tradeq_client::{Credentials, Error, TopClient, TopFormat};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let credentials = Credentials::load_default()?;
    let client = TopClient::new(credentials.top_config()?)?;

    // alibaba.xlife.onsite.trade.query (session of the merchant), amounts in fen.
    let onsite = client
        .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_short_trade_no("77778888"))
        .await?
        .onsite_trade_query_response;
    println!(
        "onsite trade {} {}: total {} fen, received {:?}, pending {:?} (as of {})",
        onsite.trade_no,
        onsite.trade_status,
        onsite.total_amount,
        onsite.store_total_received_fee,
        onsite.store_total_pending_fee,
        onsite.gmt_query,
    );

    // tmall.luxury.stage.edi.alipay.trade.query (acts for the app's merchant: no session), in XML.
    let edi = client
        .with_session(None)
        .with_format(TopFormat::Xml, false)?
        .edi_alipay_trade_query(&AlipayTradeQueryRequest::by_out_trade_no(
            "6823789339978248",
        ))
        .await?;
    println!(
        "EDI trade {}: {} {}",
        edi.data.trade_no, edi.data.trade_status, edi.data.total_amount
    );

    // alibaba.omni.order.query: business outcomes travel in `result`; a miss is Error::Business.
    let order = client
        .omni_order_query(&OmniOrderQueryRequest {
            user_id: "3031798632".into(),
            order_id: "108717674563804955".into(),
            out_order_id: "12348".into(),
        })
        .await?;
    println!(
        "omni order {} (guide {}): {}",
        order.order_id,
        order.o2o_guide_id,
        order.item_title.as_deref().unwrap_or("-")
    );
    match client
        .omni_order_query(&OmniOrderQueryRequest {
            user_id: "3031798632".into(),
            order_id: "1".into(),
            out_order_id: "1".into(),
        })
        .await
    {
        Err(Error::Business(e)) => println!("no such order: {}", e.reason()),
        Ok(o) => println!("unexpectedly found {}", o.order_id),
        Err(e) => return Err(e),
    }
    Ok(())
}
