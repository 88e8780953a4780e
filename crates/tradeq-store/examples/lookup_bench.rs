//! Point-lookup cost: `cargo run --release -p tradeq-store --example lookup_bench [N]`.
//!
//! Loads N (default 10,000) Alipay trades into a fresh SQLite file, then times `Store::find` by
//! primary key in a loop, one lookup at a time (the shape of a request), and reports the mean
//! cost per lookup.

use std::time::Instant;

use tradeq_model::{KeyKind, Record, RecordKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = tradeq_store::open(&url).await?;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let doc = serde_json::json!({
            "trade_no": format!("T{i:012}"), "out_trade_no": format!("O{i:012}"),
            "seller_id": "2088102146225135", "buyer_logon_id": "15901825620",
            "trade_status": "TRADE_SUCCESS", "total_amount": 8888, "buyer_pay_amount": 888,
            "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": 8888}],
            "store_name": "证大五道口店", "subject": "Iphone6 16G"
        });
        batch.push(Record::from_json(
            RecordKind::AlipayTrade,
            &doc.to_string(),
        )?);
        if batch.len() == 1000 {
            store.upsert_batch(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.upsert_batch(&batch).await?;
    }
    let rounds: u32 = 20_000;
    let started = Instant::now();
    let mut found = 0;
    for i in 0..rounds {
        let key = format!("T{:012}", (i as usize * 7919) % n);
        if store
            .find(
                RecordKind::AlipayTrade,
                "2088102146225135",
                KeyKind::Primary,
                &key,
            )
            .await?
            .is_some()
        {
            found += 1;
        }
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    println!("{rounds} lookups ({found} found): {per:.1} µs per lookup");
    Ok(())
}
