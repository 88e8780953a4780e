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

    // Someone edits the file by hand. (Malformed JSON itself is refused by SQLite: the listing
    // indexes read fields of every document written.)
    use sqlx::Connection;
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE alipay_trade SET doc = '{\"trade_no\": 42}' WHERE trade_no = ?1")
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

async fn shared_t1(store: &SqliteStore) -> Arc<tradeq_model::Record> {
    store
        .find_shared(
            RecordKind::AlipayTrade,
            suite::SELLER,
            KeyKind::Primary,
            "T1",
        )
        .await
        .unwrap()
        .unwrap()
}

async fn find_t1(store: &SqliteStore) -> Option<tradeq_model::Record> {
    store
        .find(
            RecordKind::AlipayTrade,
            suite::SELLER,
            KeyKind::Primary,
            "T1",
        )
        .await
        .unwrap()
}

/// Lookups answered from the record cache must never hide a commit: not one of this handle's,
/// not one of another process's (a second handle on the file stands in for `tradeq import`).
#[tokio::test]
async fn cached_lookups_see_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cache.db").display());
    let server = SqliteStore::open(&url).await.unwrap();
    let other = SqliteStore::open(&url).await.unwrap();
    let gmt = "2014-11-27 15:45:57";
    let trade = suite::alipay("T1", "O1", suite::SELLER, gmt, 1);
    server.upsert(&trade).await.unwrap();
    assert_eq!(find_t1(&server).await, Some(trade.clone()));
    assert_eq!(find_t1(&server).await, Some(trade.clone()));
    assert!(
        server.record_cache_hits() >= 1,
        "a repeated lookup is a hit"
    );
    // Hits share one decoded record instead of copying it.
    let (a, b) = (shared_t1(&server).await, shared_t1(&server).await);
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(*a, trade);

    // A newer version written by this handle.
    let v2 = suite::with_subject(&suite::alipay("T1", "O1", suite::SELLER, gmt, 2), "v2");
    server.upsert(&v2).await.unwrap();
    assert_eq!(find_t1(&server).await, Some(v2.clone()));

    // Then by the other handle, several times in a row.
    for version in 3..8 {
        let next = suite::with_subject(
            &suite::alipay("T1", "O1", suite::SELLER, gmt, version),
            &format!("v{version}"),
        );
        other.upsert(&next).await.unwrap();
        assert_eq!(
            find_t1(&server).await,
            Some(next.clone()),
            "version {version}"
        );
        assert_eq!(
            find_t1(&server).await,
            Some(next),
            "version {version}, again"
        );
    }

    // Deleted elsewhere: gone here too; and another merchant never sees it.
    assert!(other.delete(RecordKind::AlipayTrade, "T1").await.unwrap());
    assert_eq!(find_t1(&server).await, None);
    server.upsert(&trade).await.unwrap();
    let s: &dyn Store = &server;
    assert_eq!(
        s.find(
            RecordKind::AlipayTrade,
            "2088000000000000",
            KeyKind::Primary,
            "T1"
        )
        .await
        .unwrap(),
        None
    );
    server.close().await;
    other.close().await;
}

#[tokio::test]
async fn record_cache_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nocache.db").display());
    let options = tradeq_store::StoreOptions {
        record_cache_entries: 0,
        ..Default::default()
    };
    let store = SqliteStore::open_with(&url, &options).await.unwrap();
    let trade = suite::alipay("T1", "O1", suite::SELLER, "2014-11-27 15:45:57", 1);
    store.upsert(&trade).await.unwrap();
    for _ in 0..3 {
        let s: &dyn Store = &store;
        let found = s
            .find(
                RecordKind::AlipayTrade,
                suite::SELLER,
                KeyKind::Primary,
                "T1",
            )
            .await
            .unwrap();
        assert_eq!(found, Some(trade.clone()));
    }
    assert_eq!(store.record_cache_hits(), 0);
    store.close().await;
}

#[tokio::test]
async fn used_nonces_outlive_the_store_and_leave_the_record_cache_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("n.db").display());
    let now = chrono::Utc::now();
    let expires = now + chrono::Duration::minutes(10);
    let store = SqliteStore::open(&url).await.unwrap();
    let trade = suite::alipay("T1", "O1", suite::SELLER, "2014-11-27 15:45:57", 1);
    store.upsert(&trade).await.unwrap();
    async fn find(s: &SqliteStore) -> Option<tradeq_model::Record> {
        let s: &dyn Store = s;
        s.find(
            RecordKind::AlipayTrade,
            suite::SELLER,
            KeyKind::Primary,
            "T1",
        )
        .await
        .unwrap()
    }
    assert_eq!(find(&store).await, Some(trade.clone()));
    assert_eq!(find(&store).await, Some(trade.clone()));
    let hits = store.record_cache_hits();
    assert!(hits >= 1);
    // A v3 request's claim commits, but not to the records' file: the cache stays valid.
    assert!(store.claim("app", "n1", expires, now).await.unwrap());
    assert_eq!(find(&store).await, Some(trade.clone()));
    assert_eq!(store.record_cache_hits(), hits + 1);
    store.close().await;
    drop(store);

    let reopened = SqliteStore::open(&url).await.unwrap();
    assert!(
        !reopened.claim("app", "n1", expires, now).await.unwrap(),
        "a nonce used before the restart was accepted again"
    );
    assert!(reopened.claim("app", "n2", expires, now).await.unwrap());
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_openers_of_a_new_file_both_get_its_schema() {
    // `tradeq serve` and `tradeq import` started together on a new file: without the migration
    // lock one of them failed with "table alipay_trade already exists".
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tradeq.db").display());
        let a = tokio::spawn({
            let url = url.clone();
            async move { tradeq_store::open(&url).await.map(|s| s.backend()) }
        });
        let b = tokio::spawn({
            let url = url.clone();
            async move { tradeq_store::open(&url).await.map(|s| s.backend()) }
        });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(a.is_ok() && b.is_ok(), "{a:?} / {b:?}");
    }
}
