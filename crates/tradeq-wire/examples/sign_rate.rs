//! RSA-2048 rates through `tradeq-wire` in a tight loop, to set beside `openssl speed rsa2048` on
//! the same core (BENCHMARKS.md):
//!
//! ```sh
//! cargo build --release --example sign_rate -p tradeq-wire
//! taskset -c 0 target/release/examples/sign_rate
//! taskset -c 0 openssl speed -seconds 3 rsa2048
//! ```

use std::time::Instant;

use tradeq_wire::alipay::keys::{generate_rsa_2048, public_from_private};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, RsaVerifier, SignType};

/// Calls per second of `f`, over `n` calls.
fn rate(n: u32, mut f: impl FnMut() -> bool) -> Result<f64, String> {
    let started = Instant::now();
    for _ in 0..n {
        if !f() {
            return Err("an operation failed".into());
        }
    }
    Ok(f64::from(n) / started.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = generate_rsa_2048()?;
    let public = public_from_private(&key)?;
    let verifier = RsaVerifier::new(public.clone());
    let body = br#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_no":"2013112011001004330000121536"}}"#;
    let sig = rsa_sign(&key, SignType::Rsa2, body)?;
    let rows = [
        (
            "rsa_sign",
            rate(3_000, || rsa_sign(&key, SignType::Rsa2, body).is_ok())?,
        ),
        (
            "rsa_verify (a context per call)",
            rate(30_000, || rsa_verify(&public, SignType::Rsa2, body, &sig))?,
        ),
        (
            "RsaVerifier (contexts reused)",
            rate(30_000, || verifier.verify(SignType::Rsa2, body, &sig))?,
        ),
    ];
    for (name, per_sec) in rows {
        println!("{name:<34} {per_sec:>8.0}/s");
    }
    Ok(())
}
