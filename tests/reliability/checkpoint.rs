//! An interrupted import resumes only into the store it was loading: its checkpoint lives in
//! that store, committed with each batch, and nowhere else.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tradeq_model::RecordKind;

const RECORDS: u32 = 20_000;

fn tradeq(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .current_dir(cwd)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("TRADEQ_DATABASE_URL")
        .env_remove("TRADEQ_DATA_DIR")
        .output()
        .expect("run tradeq")
}

async fn count(url: &str) -> u64 {
    let store = tradeq_store::open(url).await.unwrap();
    let n = store.count(RecordKind::AlipayTrade).await.unwrap();
    store.close().await;
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_left_in_one_store_does_not_skip_records_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let file = dir.path().join("trades.jsonl");
    let file = file.to_str().unwrap();
    let out = tradeq(
        &cwd,
        &[
            "demo",
            "generate",
            "alipay-trade",
            "--count",
            &RECORDS.to_string(),
            "--seed",
            "7",
            "--out",
            file,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let x = format!("sqlite://{}", dir.path().join("x.db").display());
    let y = format!("sqlite://{}", dir.path().join("y.db").display());

    // Import into X, killed once some batches are committed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .current_dir(&cwd)
        .args(["import", "alipay-trade", file, "--batch-size", "50"])
        .args(["--database-url", &x])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if dir.path().join("x.db").exists() && count(&x).await >= 1_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the import into X never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let in_x = count(&x).await;
    assert!(
        in_x < u64::from(RECORDS),
        "the import finished before it was killed ({in_x} records): nothing was tested"
    );

    // The same file into Y: every record, from the first line.
    let out = tradeq(
        &cwd,
        &["import", "alipay-trade", file, "--database-url", &y],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("resuming"),
        "resumed into another store: {err}"
    );
    assert!(
        err.contains(&format!(
            "inserted {RECORDS}, updated 0, unchanged 0, rejected 0"
        )),
        "{err}"
    );
    assert_eq!(count(&y).await, u64::from(RECORDS));

    // Into X again: it resumes where X's last batch committed, and X ends up complete.
    let out = tradeq(
        &cwd,
        &["import", "alipay-trade", file, "--database-url", &x],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resuming"), "{err}");
    assert_eq!(count(&x).await, u64::from(RECORDS));

    // With --database-url nothing lands in the working directory.
    assert!(
        !cwd.join("tradeq-data").exists(),
        "an import into a database URL created ./tradeq-data"
    );
}
