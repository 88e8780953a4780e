//! Taobao Open Platform (`/router/rest`) conformance: the official Python TOP SDK
//! (taobao-sdk-python3, unmodified) and raw HTTP against a running `tradeq serve --demo`, plus
//! the API documents' XML examples compared with tradeq's XML answers.
//!
//! The suites live in `tests/conformance/top_*.py` (pytest, in the virtualenv
//! `tests/conformance/setup.sh` installs). Without python3/node/npm or the package registries
//! they skip with a reason, and fail under `TRADEQ_REQUIRE_ALL=1`.

mod support;

/// The suites compare answers byte for byte with the platform's, so the demo's English hints in
/// `sub_msg` are off.
const PLATFORM_BYTES: &[&str] = &["--explain-in-errors", "false"];

use support::{root, run_suite, toolchain, TestServer};

/// Starts a demo server and runs one pytest file of the TOP suite against it.
fn run_pytest(file: &str) {
    let tools = match toolchain() {
        Ok(t) => t,
        Err(reason) => skip_or_fail!("{reason}"),
    };
    let server = TestServer::start_demo(None, PLATFORM_BYTES);
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
            file,
        ],
        &server,
        &root().join("tests/conformance"),
    );
}

/// The official Python SDK: the three methods' answers equal the demo records, and every
/// gateway and business error arrives as a `TopException` with the right code and sub-code.
#[test]
fn official_python_top_sdk() {
    run_pytest("top_sdk.py");
}

/// Raw HTTP: XML/JSON/simplified envelopes byte by byte, query/body/multipart transports, md5,
/// hmac and hmac-sha256, both timestamp forms, and HTTP 200 `error_response` for every error.
#[test]
fn top_raw_http() {
    run_pytest("top_raw_http.py");
}

/// The xlife, EDI and omni documents (docs/methods.md §3-§5): the XML example's element tree equals tradeq's XML answer's.
#[test]
fn top_seed_xml_trees() {
    run_pytest("top_seed_xml.py");
}
