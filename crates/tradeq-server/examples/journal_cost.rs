//! What recording one request in the journal costs on the request path: the parameters copied
//! and masked, the entry built, the answer cut, the push and the eviction, for a typical TOP
//! request (12 parameters, a 441-byte answer), with the journal full (so every push evicts).
//!
//!     cargo run --release -p tradeq-server --example journal_cost

use std::time::Instant;

use serde_json::{Map, Value};

use tradeq_server::sandbox::journal::{Journal, JournalConfig, JournalParams, Outcome, SignBasis};
use tradeq_server::sandbox::{FrontDoor, Trace};

const PARAMS: [(&str, &str); 12] = [
    ("method", "tmall.luxury.stage.edi.alipay.trade.query"),
    ("app_key", "12345678"),
    ("timestamp", "2026-12-05 19:00:00"),
    ("format", "json"),
    ("v", "2.0"),
    ("sign_method", "md5"),
    ("sign", "0123456789ABCDEF0123456789ABCDEF"),
    ("partner_id", "top-sdk-java-20240101"),
    ("simplify", "false"),
    ("target_app_key", "12345678"),
    ("session", "6100e23657fb0b2d0c78bd5ab2bc"),
    (
        "edi_alipay_trade_query_request",
        "{\"trade_no\":\"2013112011001004330000121536\"}",
    ),
];

fn one(journal: &Journal, answer: &str, i: u64) {
    let mut trace = Trace::new(FrontDoor::Top, &format!("{i:013}"));
    trace.method = Some(PARAMS[0].1.to_string());
    trace.app = Some(PARAMS[1].1.to_string());
    if journal.enabled() {
        trace.params = Some(JournalParams::capture(PARAMS.iter().copied()));
        trace.sign_basis = Some(SignBasis::Top);
    }
    trace.merchant = Some("2088102146225135".to_string());
    let mut biz = Map::new();
    biz.insert(
        PARAMS[11].0.to_string(),
        Value::String(PARAMS[11].1.to_string()),
    );
    trace.set_biz(biz);
    journal.record(trace, Outcome::success(), answer);
}

fn main() {
    let answer = "x".repeat(441);
    let n: u64 = 400_000;
    for (label, entries) in [("off", 0), ("on", 10_000), ("off", 0), ("on", 10_000)] {
        let journal = Journal::new(JournalConfig {
            max_entries: entries,
            ..JournalConfig::default()
        });
        // Fill it first, so every measured push also evicts.
        for i in 0..20_000 {
            one(&journal, &answer, i);
        }
        let started = Instant::now();
        for i in 0..n {
            one(&journal, &answer, i);
        }
        let ns = started.elapsed().as_nanos() as f64 / n as f64;
        println!("journal {label:>3}: {ns:7.0} ns per request (trace included)");
    }
}
