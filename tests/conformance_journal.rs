//! The request journal seen from an official SDK: the Node `alipay-sdk`, unmodified, against a
//! running `tradeq serve --demo`; each call is found in the journal under the id the SDK got,
//! and a client on a UTC host gets the whole-hours diagnosis. Skips without node/npm or the
//! registry, fails then under `TRADEQ_REQUIRE_ALL=1`.

#[macro_use]
mod support;

use std::path::Path;

use support::{run_suite, toolchain, TestServer};

#[test]
fn node_sdk_calls_are_in_the_journal() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_sdk_calls_are_in_the_journal: {e}"),
    };
    let server = TestServer::start_demo(None, &[]);
    run_suite(
        Path::new("node"),
        &["--test", "journal.test.mjs"],
        &server,
        &tools.node_dir,
    );
    assert!(server.stop().success());
}
