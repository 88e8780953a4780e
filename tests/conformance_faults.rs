//! Fault injection through the official SDKs, unmodified, against a running `tradeq serve --demo`:
//! the Node `alipay-sdk` (`tests/conformance/node/faults.test.mjs`: validateSign, its error,
//! verification, timeout, socket, HTTP and parse failures) and the Python TOP SDK
//! (`tests/conformance/top_faults.py`: `isp.*`, code 7). The SDKs are installed by
//! `tests/conformance/setup.sh` on first use; without python3/node/npm or the registries the
//! tests skip, and fail under `TRADEQ_REQUIRE_ALL=1`.

mod support;

use std::path::Path;

use support::{root, run_suite, toolchain, TestServer};

#[test]
fn node_alipay_sdk_sees_each_fault() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_alipay_sdk_sees_each_fault: {e}"),
    };
    let server = TestServer::start_demo(None, &[]);
    run_suite(
        Path::new("node"),
        &["--test", "faults.test.mjs"],
        &server,
        &tools.node_dir,
    );
}

#[test]
fn python_top_sdk_sees_each_fault() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("python_top_sdk_sees_each_fault: {e}"),
    };
    let server = TestServer::start_demo(None, &[]);
    run_suite(
        &tools.python,
        &[
            "-B",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rfE",
            "top_faults.py",
        ],
        &server,
        &root().join("tests/conformance"),
    );
}
