//! The store suite against SQLite (a fresh file per test), plus SQLite-only cases.

mod suite;

use std::future::Future;
use std::sync::Arc;

use tradeq_model::{KeyKind, RecordKind};
use tradeq_store::sqlite::SqliteStore;
use tradeq_store::{NonceStore, Store, StoreError, WriteOutcome};

/// Runs `case` on a store in a new temporary file.
async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tradeq.db").display());
    let store = tradeq_store::open(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    case(store.clone()).await;
    store.close().await;
}

suite::store_suite!(on_sqlite);

/// The suite's core cases also hold in memory, where one connection is the whole database.
mod in_memory {
    use super::*;

    async fn on_memory<F, Fut>(case: F)
    where
        F: FnOnce(Arc<dyn Store>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let store = tradeq_store::open("sqlite::memory:").await.unwrap();
        case(store.clone()).await;
        store.close().await;
    }

    #[tokio::test]
    async fn batch_mixes_good_stale_and_conflicting() {
        on_memory(suite::batch_mixes_good_stale_and_conflicting).await;
    }

    #[tokio::test]
    async fn credentials() {
        on_memory(suite::alipay_credentials_crud_and_cascade).await;
    }

    #[tokio::test]
    async fn nonces() {
        on_memory(suite::nonce_claim_replay_expiry).await;
    }

    #[tokio::test]
    async fn data_outlives_idle_time() {
        let store = tradeq_store::open("sqlite::memory:").await.unwrap();
        store
            .upsert(&suite::seed_trade("2014-11-27 15:45:57", 1))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(store
            .get(RecordKind::AlipayTrade, suite::TRADE_NO)
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn corrupted_document_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tradeq.db");
    let url = format!("sqlite://{}", path.display());
    let store = tradeq_store::open(&url).await.unwrap();
    store
        .upsert(&suite::seed_trade("2014-11-27 15:45:57", 1))
        .await
        .unwrap();

    // Someone edits the file by hand.
    use sqlx::Connection;
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE alipay_trade SET doc = '{\"trade_no\": 42' WHERE trade_no = ?1")
        .bind(suite::TRADE_NO)
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();

    let a = RecordKind::AlipayTrade;
    for result in [
        store
            .find(a, suite::SELLER, KeyKind::Primary, suite::TRADE_NO)
            .await,
        store
            .find(a, suite::SELLER, KeyKind::OutTradeNo, suite::OUT_TRADE_NO)
            .await,
        store.get(a, suite::TRADE_NO).await,
    ] {
        match result {
            Err(StoreError::Corrupt { kind, key, reason }) => {
                assert_eq!(kind, a);
                assert_eq!(key, suite::TRADE_NO);
                assert!(!reason.is_empty());
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    // A newer valid write repairs it; an identical-stamp one is not mistaken for unchanged.
    let fixed = suite::seed_trade("2014-11-27 15:45:57", 1);
    assert_eq!(store.upsert(&fixed).await.unwrap(), WriteOutcome::Updated);
    assert_eq!(
        store.get(a, suite::TRADE_NO).await.unwrap().as_ref(),
        Some(&fixed)
    );
    store.close().await;
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nested.db").display());
    let store = tradeq_store::open(&url).await.unwrap();
    store
        .upsert(&suite::seed_trade("2014-11-27 15:45:57", 1))
        .await
        .unwrap();
    store.put_meta("k", "v").await.unwrap();
    store.close().await;

    let started = std::time::Instant::now();
    let store = tradeq_store::open(&url).await.unwrap();
    // Informational only (timing assertions are flaky); start-up should be a few ms.
    println!("reopened in {:?}", started.elapsed());
    assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("v"));
    assert_eq!(store.count(RecordKind::AlipayTrade).await.unwrap(), 1);
    assert_eq!(store.audit_since(0, 10).await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test]
async fn two_handles_on_one_file_agree() {
    // Two stores on one file stand in for two processes.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let a = Arc::new(SqliteStore::open(&url).await.unwrap());
    let b = Arc::new(SqliteStore::open(&url).await.unwrap());
    let t0 = chrono::Utc::now();
    let exp = t0 + chrono::Duration::minutes(10);
    assert!(a.claim("app", "nonce-1", exp, t0).await.unwrap());
    assert!(!b.claim("app", "nonce-1", exp, t0).await.unwrap());

    let batch = |prefix: &str| -> Vec<_> {
        (0..200)
            .map(|i| {
                let gmt = "2014-11-27 15:45:57";
                suite::alipay(
                    &format!("{prefix}-{i}"),
                    &format!("O{prefix}-{i}"),
                    suite::SELLER,
                    gmt,
                    0,
                )
            })
            .collect()
    };
    let (batch_a, batch_b) = (batch("A"), batch("B"));
    let (ra, rb) = tokio::join!(a.upsert_batch(&batch_a), b.upsert_batch(&batch_b));
    assert!(ra.unwrap().iter().all(|o| o.is_ok()));
    assert!(rb.unwrap().iter().all(|o| o.is_ok()));
    assert_eq!(a.count(RecordKind::AlipayTrade).await.unwrap(), 400);
    assert_eq!(b.count(RecordKind::AlipayTrade).await.unwrap(), 400);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for (url, scheme) in [
        ("mysql://root@localhost/db", "mysql"),
        ("tradeq.db", "tradeq.db"),
    ] {
        match tradeq_store::open(url).await {
            Err(StoreError::UnsupportedUrl(s)) => assert_eq!(s, scheme),
            Err(other) => panic!("{url}: expected UnsupportedUrl, got {other}"),
            Ok(_) => panic!("{url}: opened"),
        }
    }
}
