//! Bulk import rate: `cargo run --release -p tradeq-store --example import_bench [N] [BATCH]`.
//!
//! Upserts N (default 100,000) example-like Alipay trades (docs/methods.md §2) in batches of BATCH (default 1,000) into
//! a fresh SQLite file, and into a fresh PostgreSQL schema when `TRADEQ_TEST_DATABASE_URL` is
//! set; then imports the same records again (every one unchanged) and a newer version of each
//! (every one updated). Only the store calls are timed: the records are built beforehand.
//! `BENCH_INSERT_ONLY=1` stops after the first import. On PostgreSQL the bench runs
//! `BENCH_PG_ROUNDS` (default 1) rounds, each with `COPY` for every batch of 64 records or more
//! (`copy_min_rows = 64`) and then with bound arrays only (the default), each into a fresh
//! schema, so both write paths are compared in one run.

use std::sync::Arc;
use std::time::Instant;

use sqlx::Connection;
use tradeq_model::{Record, RecordKind};
use tradeq_store::postgres::{PgOptions, PgStore};
use tradeq_store::{Store, WriteOutcome};

fn trade(i: usize, version: i64) -> Result<Record, Box<dyn std::error::Error>> {
    let doc = serde_json::json!({
        "trade_no": format!("2013112011001004330{i:09}"),
        "out_trade_no": format!("68237893{i:08}"),
        "seller_id": format!("20881011179{:05}", i % 50),
        "buyer_logon_id": "159****5620",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": 8888,
        "buyer_pay_amount": 888,
        "point_amount": 10,
        "invoice_amount": 1211,
        "send_pay_date": "2014-11-27 15:45:57",
        "receipt_amount": 1525,
        "store_id": "nj_s_001",
        "terminal_id": "nj_t_001",
        "fund_bill_list": [
            {"fund_channel": "ALIPAYACCOUNT", "amount": 1000, "real_amount": 1121},
            {"fund_channel": "BANKCARD", "amount": 7888, "bank_code": "CMB", "fund_type": "DEBIT_CARD"}
        ],
        "store_name": "证大五道口店",
        "buyer_user_id": "2088101117955611",
        "subject": "Iphone6 16G",
        "body": "Iphone6 16G",
        "gmt_modified": "2014-11-27 15:45:57",
        "version": version,
    });
    Ok(Record::from_json(
        RecordKind::AlipayTrade,
        &doc.to_string(),
    )?)
}

/// CPU time (user + system, every thread) of this process so far, from `/proc/self/stat`; 0
/// where that is unavailable. The machine is shared, so wall time alone can mislead.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on every Linux this runs on.
    (ticks(11) + ticks(12)) / 100.0
}

async fn run(
    name: &str,
    store: &Arc<dyn Store>,
    records: &[Record],
    batch: usize,
    expect: WriteOutcome,
) -> Result<f64, Box<dyn std::error::Error>> {
    let cpu_started = cpu_seconds();
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        for outcome in store.upsert_batch(chunk).await? {
            if outcome? != expect {
                return Err(format!("{name}: expected {expect:?}").into());
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_started;
    let rate = records.len() as f64 / secs;
    println!(
        "{:<10} {name:<10} {} records in {secs:.2} s: {rate:>9.0} records/s \
         (this process used {cpu:.2} s of CPU)",
        store.backend(),
        records.len()
    );
    Ok(rate)
}

async fn bench(
    store: Arc<dyn Store>,
    fresh: &[Record],
    newer: &[Record],
    batch: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    run("insert", &store, fresh, batch, WriteOutcome::Inserted).await?;
    if std::env::var("BENCH_INSERT_ONLY").is_err() {
        run("unchanged", &store, fresh, batch, WriteOutcome::Unchanged).await?;
        run("update", &store, newer, batch, WriteOutcome::Updated).await?;
    }
    store.close().await;
    Ok(())
}

/// Runs the bench on a store in a fresh schema of `base`, dropped afterwards.
async fn on_pg_schema(
    base: &str,
    options: PgOptions,
    fresh: &[Record],
    newer: &[Record],
    batch: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let schema = format!("tq_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(base).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    let result = match PgStore::open_with(&url, options).await {
        Ok(store) => bench(Arc::new(store), fresh, newer, batch).await,
        Err(e) => Err(e.into()),
    };
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await?;
    result
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let batch: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let fresh = (0..n).map(|i| trade(i, 1)).collect::<Result<Vec<_>, _>>()?;
    let newer = (0..n).map(|i| trade(i, 2)).collect::<Result<Vec<_>, _>>()?;
    println!(
        "{n} Alipay trades of ~{} bytes, batches of {batch}",
        fresh[0].to_json().len()
    );

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench(tradeq_store::open(&url).await?, &fresh, &newer, batch).await?;

    match std::env::var("TRADEQ_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let rounds: usize = match std::env::var("BENCH_PG_ROUNDS") {
                Ok(r) => r.parse()?,
                Err(_) => 1,
            };
            for round in 1..=rounds {
                for (path, copy_min_rows) in [("copy", 64), ("arrays", usize::MAX)] {
                    println!("postgres round {round}, {path}:");
                    let options = PgOptions {
                        copy_min_rows,
                        ..PgOptions::default()
                    };
                    on_pg_schema(&base, options, &fresh, &newer, batch).await?;
                }
            }
        }
        _ => println!("postgres: skipped, TRADEQ_TEST_DATABASE_URL is not set"),
    }
    Ok(())
}
