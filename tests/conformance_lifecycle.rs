//! Record lifecycles seen by an official client: the community `python-alipay-sdk`, unmodified,
//! polls `alipay.trade.query` on a running `tradeq serve --demo` until a trade given the
//! `trade-paid-on-third-query` template is paid (`tests/conformance/alipay_lifecycle.py`).

#[macro_use]
mod support;

use support::{root, run_suite, toolchain, TestServer};

#[test]
fn community_python_sdk_polls_until_paid() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("community_python_sdk_polls_until_paid: {e}"),
    };
    let server = TestServer::start_demo(None, &[]);
    run_suite(
        &tools.python,
        &[
            "-B",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "alipay_lifecycle.py",
        ],
        &server,
        &root().join("tests/conformance"),
    );
}
