//! `tradeq demo reset`, `tradeq lifecycle …`, `tradeq snapshot save|load` and timelines in
//! `tradeq import`, against a data directory.

use std::process::{Command, Output};

fn tradeq(data: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(args)
        .args(["--data-dir", data])
        .env("RUST_LOG", "warn")
        .env_remove("TRADEQ_DATABASE_URL")
        .output()
        .expect("run tradeq")
}

fn ok(data: &str, args: &[&str]) -> String {
    let out = tradeq(data, args);
    assert!(
        out.status.success(),
        "tradeq {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn reset_lifecycle_and_snapshot_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let out = ok(data, &["demo", "reset"]);
    assert!(out.contains("removed 0 records"), "{out}");
    let templates = ok(data, &["lifecycle", "templates"]);
    for name in [
        "trade-paid-on-third-query",
        "trade-closed-after-15-minutes",
        "koubei-pay-then-finish",
        "xlife-bill-disbursed",
    ] {
        assert!(templates.contains(name), "{templates}");
    }
    let attached = ok(
        data,
        &[
            "lifecycle",
            "attach",
            "alipay-trade",
            "2024010122001446880500000002",
            "trade-paid-on-third-query",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&attached).unwrap();
    assert_eq!(v["timeline"][0]["after_queries"], 3);
    assert_eq!(v["lifecycle"]["started"], true);
    // A paid trade does not fit: exit 1 with the reason.
    let refused = tradeq(
        data,
        &[
            "lifecycle",
            "attach",
            "alipay-trade",
            "2013112011001004330000121536",
            "trade-paid-on-third-query",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("WAIT_BUYER_PAY"));

    let file = dir.path().join("fixture.ndjson");
    let file = file.to_str().unwrap();
    ok(data, &["snapshot", "save", file]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a snapshot holds secrets");
    }
    let first = std::fs::read(file).unwrap();

    let out = ok(data, &["demo", "reset", "--empty"]);
    assert!(out.contains("wrote 0"), "{out}");
    let out = ok(data, &["snapshot", "load", file]);
    assert!(out.contains("1 lifecycles"), "{out}");
    // Saved again over the same file: the same bytes.
    ok(data, &["snapshot", "save", file]);
    assert_eq!(std::fs::read(file).unwrap(), first);
    let shown = ok(
        data,
        &[
            "lifecycle",
            "show",
            "alipay-trade",
            "2024010122001446880500000002",
        ],
    );
    assert!(shown.contains("\"pending\""), "{shown}");

    // A broken file is refused by line, and nothing is replaced.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"type\":\"snapshot\",\"format\":1}\n{\"type\":\"clock\"}\n",
    )
    .unwrap();
    let out = tradeq(data, &["snapshot", "load", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("clock"), "{err}");
    ok(data, &["snapshot", "save", file]);
    assert_eq!(std::fs::read(file).unwrap(), first);
}

#[test]
fn import_names_the_timeline_field_of_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let good = r#"{"trade_no":"T1","out_trade_no":"O1","seller_id":"2088102146225135","buyer_logon_id":"b","trade_status":"WAIT_BUYER_PAY","total_amount":100,"timeline":[{"after_queries":3,"set":{"trade_status":"TRADE_SUCCESS","send_pay_date":"$now"}}]}"#;
    let bad = r#"{"trade_no":"T2","out_trade_no":"O2","seller_id":"2088102146225135","buyer_logon_id":"b","trade_status":"WAIT_BUYER_PAY","total_amount":100,"timeline":[{"after_secs":-1,"set":{"trade_status":"TRADE_CLOSED"}}]}"#;
    let file = dir.path().join("trades.jsonl");
    std::fs::write(&file, format!("{good}\n{bad}\n")).unwrap();
    let out = tradeq(data, &["import", "alipay-trade", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 2: timeline[0].after_secs: "), "{err}");
    let shown = ok(data, &["lifecycle", "show", "alipay-trade", "T1"]);
    assert!(shown.contains("\"started\": false"), "{shown}");
}
