//! Measures RSA-2048 signing through `tradeq-wire` against the ways OpenSSL can be driven,
//! for comparison with `openssl speed rsa2048` on the same core
//! (`taskset -c 0 cargo run --release --example sign_rate`).

use std::time::Instant;

use openssl::md::Md;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use tradeq_wire::alipay::keys::{generate_rsa_2048, public_from_private};
use tradeq_wire::alipay::sign::{rsa_sign, rsa_verify, SignType};

fn rate(n: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = generate_rsa_2048()?;
    let public = public_from_private(&key)?;
    let body = br#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_no":"2013112011001004330000121536"}}"#;
    let n = 3000;
    let sig = rsa_sign(&key, SignType::Rsa2, body)?;
    println!(
        "rsa_sign        {:.0}/s",
        rate(n, || {
            let _ = rsa_sign(&key, SignType::Rsa2, body);
        })
    );
    println!(
        "rsa_verify      {:.0}/s",
        rate(n * 10, || {
            let _ = rsa_verify(&public, SignType::Rsa2, body, &sig);
        })
    );
    for (name, pem) in [
        (
            "pkcs8",
            tradeq_wire::alipay::keys::private_key_to_pkcs8_pem(&key)?,
        ),
        (
            "pkcs1",
            tradeq_wire::alipay::keys::private_key_to_pkcs1_pem(&key)?,
        ),
    ] {
        let k = tradeq_wire::alipay::keys::parse_private_key(&pem)?;
        println!(
            "rsa_sign {name}  {:.0}/s",
            rate(n, || {
                let _ = rsa_sign(&k, SignType::Rsa2, body);
            })
        );
        let k = std::sync::Arc::new(k);
        let k2 = k.clone();
        std::thread::spawn(move || {
            let _ = rsa_sign(&k2, SignType::Rsa2, body);
        })
        .join()
        .ok();
        println!(
            "rsa_sign {name} after another thread  {:.0}/s",
            rate(n, || {
                let _ = rsa_sign(&k, SignType::Rsa2, body);
            })
        );
    }
    let md = Md::fetch(None, "SHA256", None)?;
    println!(
        "pkeyctx new     {:.0}/s",
        rate(n, || {
            let digest = openssl::sha::sha256(body);
            let mut ctx = PkeyCtx::new(&key).unwrap();
            ctx.sign_init().unwrap();
            ctx.set_rsa_padding(Padding::PKCS1).unwrap();
            ctx.set_signature_md(&md).unwrap();
            let mut out = Vec::new();
            ctx.sign_to_vec(&digest, &mut out).unwrap();
        })
    );
    let mut ctx = PkeyCtx::new(&key)?;
    ctx.sign_init()?;
    ctx.set_rsa_padding(Padding::PKCS1)?;
    ctx.set_signature_md(&md)?;
    println!(
        "pkeyctx reused  {:.0}/s",
        rate(n, || {
            let digest = openssl::sha::sha256(body);
            let mut out = Vec::new();
            ctx.sign_to_vec(&digest, &mut out).unwrap();
        })
    );
    let mut vctx = PkeyCtx::new(&public)?;
    vctx.verify_init()?;
    vctx.set_rsa_padding(Padding::PKCS1)?;
    vctx.set_signature_md(&md)?;
    let raw = openssl::base64::decode_block(&sig)?;
    println!(
        "verify reused   {:.0}/s",
        rate(n * 10, || {
            let digest = openssl::sha::sha256(body);
            assert!(vctx.verify(&digest, &raw).unwrap());
        })
    );
    println!(
        "verify new      {:.0}/s",
        rate(n * 10, || {
            let digest = openssl::sha::sha256(body);
            let mut vctx = PkeyCtx::new(&public).unwrap();
            vctx.verify_init().unwrap();
            vctx.set_rsa_padding(Padding::PKCS1).unwrap();
            vctx.set_signature_md(&md).unwrap();
            assert!(vctx.verify(&digest, &raw).unwrap());
        })
    );
    Ok(())
}
