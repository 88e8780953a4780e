//! `tradeq demo generate` + `tradeq import` end to end, on SQLite and (when configured)
//! PostgreSQL: a load, an idempotent second load, and a file with broken lines.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn tradeq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("TRADEQ_DATABASE_URL")
        .output()
        .expect("run tradeq")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn generate(dir: &Path, kind: &str, count: u32) -> String {
    let file = dir.join(format!("{kind}.jsonl"));
    let out = tradeq(&[
        "demo",
        "generate",
        kind,
        "--count",
        &count.to_string(),
        "--seed",
        "42",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "generate: {}", stderr(&out));
    file.to_str().unwrap().to_string()
}

fn load_twice_then_broken(store: &[&str], dir: &Path) {
    for kind in ["alipay-trade", "koubei-order", "onsite-trade", "omni-order"] {
        let file = generate(dir, kind, 1500);
        let mut args = vec!["import", kind, file.as_str(), "--batch-size", "400"];
        args.extend_from_slice(store);
        let first = tradeq(&args);
        assert!(first.status.success(), "{kind}: {}", stderr(&first));
        assert!(
            stderr(&first).contains("inserted 1500, updated 0, unchanged 0, rejected 0"),
            "{kind} first load: {}",
            stderr(&first)
        );
        let second = tradeq(&args);
        assert!(second.status.success(), "{}", stderr(&second));
        assert!(
            stderr(&second).contains("inserted 0, updated 0, unchanged 1500, rejected 0"),
            "{kind} second load must change nothing: {}",
            stderr(&second)
        );
    }

    // A file with broken lines: the good ones load, the bad ones are named, exit code 1.
    let good = std::fs::read_to_string(generate(dir, "onsite-trade", 5)).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    lines[0] = lines[0]
        .replace("\"trade_no\":\"2024ON", "\"trade_no\":\"2025ON")
        .replace("\"out_trade_no\":\"ONOUT", "\"out_trade_no\":\"ONOUX")
        .replace("\"short_trade_no\":\"0", "\"short_trade_no\":\"9");
    lines.insert(1, "{not json".to_string());
    lines.insert(3, r#"{"trade_no":"X1","out_trade_no":"X1","merchant_id":"2088102146225135","gmt_create":"2024-01-01 00:00:00","buyer_id":"b","buyer_nick":"n","trade_status":"TRADE_SUCCESS","total_amount":100,"store_name":"s","gmt_payment":"2024-01-01 00:01:00","buyer_total_fund_fee":60,"buyer_total_promotion_fee":30,"invoice_amount":60,"store_total_receivable_fee":100}"#.to_string());
    lines.insert(5, r#"{"trade_no":"X2","unknown_field":1}"#.to_string());
    let broken = dir.join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();
    let mut args = vec!["import", "onsite-trade", broken.to_str().unwrap()];
    args.extend_from_slice(store);
    let out = tradeq(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "rejections exit 1: {err}");
    assert!(err.contains("line 2: (record): "), "{err}");
    assert!(
        err.contains("line 4: total_amount: total_amount = buyer_total_fund_fee + buyer_total_promotion_fee does not hold: left side is 100, right side is 90"),
        "{err}"
    );
    assert!(
        err.contains("line 6: unknown_field: unknown field"),
        "{err}"
    );
    assert!(err.contains("rejected 3"), "{err}");
    // Line 1 is a new record, the other good lines are unchanged from the generated file load.
    assert!(err.contains("inserted 1,"), "{err}");
}

#[test]
fn import_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_twice_then_broken(&["--data-dir", data.to_str().unwrap()], dir.path());
}

#[test]
fn import_into_postgres() {
    let Ok(url) = std::env::var("TRADEQ_TEST_DATABASE_URL") else {
        skip_or_fail!("TRADEQ_TEST_DATABASE_URL is not set");
    };
    if Command::new("psql").arg("--version").output().is_err() {
        skip_or_fail!("psql is not installed");
    }
    let db = format!("tradeq_import_{}", std::process::id());
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-qc", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!("DROP DATABASE IF EXISTS {db}"));
    psql(&format!("CREATE DATABASE {db}"));
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let db_url = format!("{base}/{db}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_twice_then_broken(
        &[
            "--database-url",
            &db_url,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        dir.path(),
    );
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

/// Mistakes about a whole file get one message, not one per line; a byte order mark is no
/// mistake at all.
#[test]
fn whole_file_mistakes_get_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = ["--data-dir", data.to_str().unwrap()];
    let import = |kind: &str, file: &Path| {
        let mut args = vec!["import", kind, file.to_str().unwrap()];
        args.extend_from_slice(&store);
        tradeq(&args)
    };
    let onsite = std::fs::read_to_string(generate(dir.path(), "onsite-trade", 3)).unwrap();
    let onsite: Vec<&str> = onsite.lines().collect();

    // A byte order mark (as Notepad and spreadsheet exports write) is skipped: line 1 loads.
    let bom = dir.path().join("bom.jsonl");
    std::fs::write(&bom, format!("\u{feff}{}\n", onsite.join("\n"))).unwrap();
    let out = import("onsite-trade", &bom);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("inserted 3, updated 0, unchanged 0, rejected 0"),
        "{}",
        stderr(&out)
    );

    // A JSON array, pretty-printed or on one line: one error naming the conversion.
    for (name, text) in [
        ("pretty.json", format!("[\n  {}\n]\n", onsite.join(",\n  "))),
        ("oneline.json", format!("[{}]\n", onsite.join(","))),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = import("onsite-trade", &file);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("this is a JSON array, but records are read as JSON Lines"),
            "{err}"
        );
        assert!(err.contains("jq -c '.[]' file.json > file.jsonl"), "{err}");
        assert!(!err.contains("line 1"), "no per-line errors: {err}");
    }

    // Omni orders imported as Alipay trades: the import stops after five lines with a question.
    let omni = generate(dir.path(), "omni-order", 200);
    let out = import("alipay-trade", Path::new(&omni));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "its first 5 lines are not alipay-trade records but each reads as an omni-order \
             record: is this an `omni-order` file? (try `tradeq import omni-order {omni}`)"
        )),
        "{err}"
    );
    assert!(!err.contains("line 1:"), "no per-line errors: {err}");
    // A file shorter than five lines is judged at its end.
    let short = dir.path().join("short.jsonl");
    std::fs::write(&short, format!("{}\n", onsite[..2].join("\n"))).unwrap();
    let out = import("koubei-order", &short);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("its first 2 lines are not koubei-order records but each reads as an onsite-trade record: is this an `onsite-trade` file?"),
        "{err}"
    );

    // One stray line of another kind among good ones is only a bad line, reported as such; and
    // a line missing several fields names them all.
    let omni_line = std::fs::read_to_string(&omni)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        format!(
            "{omni_line}\n{}\n{{\"trade_no\":\"X1\",\"total_amount\":1}}\n",
            onsite[0]
        ),
    )
    .unwrap();
    let out = import("onsite-trade", &mixed);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 1: "), "{err}");
    assert!(
        err.contains("line 3: (record): missing fields: out_trade_no, merchant_id, gmt_create, buyer_id, buyer_nick, trade_status, store_name"),
        "{err}"
    );
    assert!(err.contains("unchanged 1, rejected 2"), "{err}");
}
