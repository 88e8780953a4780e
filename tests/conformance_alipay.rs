//! Alipay conformance: the real SDKs, unmodified, against a running `tradeq serve --demo`
//! (issues #3 and #4). Each test starts its own demo server and runs one client's suite:
//! pytest files in `tests/conformance/alipay_*.py`, `node --test` files in
//! `tests/conformance/node/alipay_*.test.mjs`. The SDKs are installed from the registries by
//! `tests/conformance/setup.sh` on first use; without python3/node/npm or the registries the
//! tests skip, and fail under `TRADEQ_REQUIRE_ALL=1`.

#[macro_use]
mod support;

/// The suites compare answers byte for byte with the platform's, so the demo's English hints in
/// `sub_msg` are off.
const PLATFORM_BYTES: &[&str] = &["--explain-in-errors", "false"];

use std::net::TcpListener;
use std::path::Path;

use support::{root, run_suite, toolchain, TestServer};

fn pytest(file: &str, server: &TestServer, python: &Path) {
    run_suite(
        python,
        &[
            "-B",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            file,
        ],
        server,
        &root().join("tests/conformance"),
    );
}

fn node_test(file: &str, server: &TestServer, node_dir: &Path) {
    run_suite(Path::new("node"), &["--test", file], server, node_dir);
}

/// The official `alipay-sdk-python`: it only ever connects to port 80 and sends absolute-form
/// request lines, so this server listens on 127.0.0.1:80.
#[test]
fn official_python_sdk() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("official_python_sdk: {e}"),
    };
    match TcpListener::bind("127.0.0.1:80") {
        Ok(probe) => drop(probe),
        Err(e) => skip_or_fail!(
            "official_python_sdk: alipay-sdk-python can only reach port 80, which cannot be bound here ({e}); run as root with port 80 free"
        ),
    }
    let server = TestServer::start_demo(Some(80), PLATFORM_BYTES);
    pytest("alipay_official_sdk.py", &server, &tools.python);
}

/// The community `python-alipay-sdk` (GET, everything in the URL).
#[test]
fn community_python_sdk() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("community_python_sdk: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    pytest("alipay_community_sdk.py", &server, &tools.python);
}

/// The official Node `alipay-sdk`, OpenAPI v2 `exec` with `validateSign: true`.
#[test]
fn node_sdk_v2_exec() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_sdk_v2_exec: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    node_test("alipay_v2_exec.test.mjs", &server, &tools.node_dir);
}

/// The official Node `alipay-sdk`, OpenAPI v3 `curl`.
#[test]
fn node_sdk_v3_curl() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("node_sdk_v3_curl: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    node_test("alipay_v3_curl.test.mjs", &server, &tools.node_dir);
}

/// OpenAPI v3 over raw HTTP with our own signing: replays, timestamps, `expired_seconds`,
/// mangled headers, GET and POST, unknown paths, AES, and the signature of every answer.
#[test]
fn v3_raw_http() {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(e) => skip_or_fail!("v3_raw_http: {e}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
    pytest("alipay_v3_raw.py", &server, &tools.python);
}
