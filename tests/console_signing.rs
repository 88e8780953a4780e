//! The web console's signing code (its JavaScript modules, run in Node) against a real
//! `tradeq serve --demo`: requests for the five methods signed the console's way are accepted, the
//! console's string is the server's, and answers verify. The browser suite drives the same code
//! through the pages; this test pins the protocol rules without a browser.

mod support;

use std::process::Command;

use support::{root, run_suite, TestServer};

#[test]
fn console_signing_matches_the_front_doors() {
    // WebCrypto as a global (crypto.subtle) needs Node 19 or later.
    let version = Command::new("node").arg("--version").output();
    let major = version
        .as_ref()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches('v')
                .split('.')
                .next()
                .map(str::to_string)
        })
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(m) if m >= 19 => {}
        Some(m) => {
            skip_or_fail!("node {m} is too old for the console's WebCrypto code (19 or later)")
        }
        None => skip_or_fail!("`node` is not installed"),
    }
    let server = TestServer::start_demo(None, &[]);
    let script = root().join("tests/console/signing.mjs");
    run_suite(
        std::path::Path::new("node"),
        &[script.to_str().unwrap_or_default()],
        &server,
        &root(),
    );
    server.stop();
}
