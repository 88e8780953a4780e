//! `tradeq journal` and `tradeq explain` against a running `tradeq serve --demo`: the calls made
//! with `tradeq query` are listed, filtered, followed live and explained.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::TestServer;

fn tradeq(server: &TestServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(args)
        .env("TRADEQ_CREDENTIALS", server.credentials_path())
        .env("RUST_LOG", "warn")
        .env_remove("TRADEQ_ADMIN_URL")
        .env_remove("TRADEQ_ADMIN_TOKEN")
        .output()
        .expect("run tradeq")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn journal_lists_follows_and_explains() {
    let server = TestServer::start_demo(None, &[]);
    let ok = tradeq(
        &server,
        &[
            "query",
            "alipay.trade.query",
            "out_trade_no=6823789339978248",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = tradeq(
        &server,
        &[
            "query",
            "alipay.trade.query",
            "trade_no=2099010122001446880599999999",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));

    let listed = tradeq(&server, &["journal"]);
    assert!(listed.status.success());
    let text = stdout(&listed);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    // Oldest first: the success, then the failure.
    assert!(
        lines[0].contains("alipay.trade.query") && lines[0].contains("  ok  "),
        "{text}"
    );
    assert!(
        lines[1].contains("error 40004 ACQ.TRADE_NOT_EXIST"),
        "{text}"
    );

    let errors = tradeq(&server, &["journal", "--outcome", "error", "--json"]);
    let entries: Vec<serde_json::Value> = stdout(&errors)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON entry a line"))
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["sub_code"], "ACQ.TRADE_NOT_EXIST");
    let id = entries[0]["id"].as_str().unwrap_or_default().to_string();

    let explained = tradeq(&server, &["explain", "--journal", &id]);
    assert!(explained.status.success());
    let text = stdout(&explained);
    assert!(text.contains(&id), "{text}");
    assert!(
        text.contains("string the server verified:\napp_id="),
        "{text}"
    );

    let unknown = tradeq(&server, &["explain", "--journal", "nosuchid"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("404"));
    let bad = tradeq(&server, &["journal", "--outcome", "maybe"]);
    assert_eq!(bad.status.code(), Some(2));

    // --follow prints what arrives after it started.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(["journal", "--follow", "--front-door", "top", "--json"])
        .env("TRADEQ_CREDENTIALS", server.credentials_path())
        .env_remove("TRADEQ_ADMIN_URL")
        .env_remove("TRADEQ_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn follow");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = follow.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The stream opens asynchronously: query until an entry arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = None;
    while got.is_none() && Instant::now() < deadline {
        let top = tradeq(
            &server,
            &[
                "query",
                "alibaba.omni.order.query",
                "user_id=3031798632",
                "order_id=108717674563804955",
                "out_order_id=12348",
            ],
        );
        assert!(top.status.success());
        got = rx.recv_timeout(Duration::from_secs(1)).ok();
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let line = got.expect("--follow printed the new TOP entry");
    let entry: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(entry["front_door"], "top");
    assert_eq!(entry["method"], "alibaba.omni.order.query");
}
