//! The store suite against PostgreSQL from `TRADEQ_TEST_DATABASE_URL`. Every test gets its own
//! schema (through `search_path`), dropped afterwards, so tests run in parallel.

mod suite;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sqlx::Connection;
use tradeq_store::postgres::{PgOptions, PgStore};
use tradeq_store::Store;

/// The database URL, or `None` (with the reason printed) when the tests should skip. With
/// `TRADEQ_REQUIRE_ALL=1` a missing database is a failure, so CI cannot pass by skipping.
fn database_url() -> Option<String> {
    match std::env::var("TRADEQ_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("TRADEQ_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("TRADEQ_TEST_DATABASE_URL is not set and TRADEQ_REQUIRE_ALL=1");
            }
            let reason = "TRADEQ_TEST_DATABASE_URL is not set";
            println!("skipped: {reason}");
            // `test.sh` counts and lists skips from this file.
            if let Ok(path) = std::env::var("TRADEQ_SKIP_LOG") {
                use std::io::Write;
                let test = std::thread::current().name().unwrap_or("?").to_string();
                if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path) {
                    let _ = writeln!(f, "tradeq-store postgres::{test}: {reason}");
                }
            }
            None
        }
    }
}

/// A fresh schema of the test database: its name and a URL that uses it.
async fn fresh_schema(base: &str, admin: &mut sqlx::PgConnection) -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "tq_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    (schema, url)
}

/// Runs `case` on a store in a fresh schema, dropping the schema afterwards even when the case
/// fails.
async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_postgres_with(PgOptions::default(), case).await
}

/// [`on_postgres`] with every batch written through `COPY`, however small.
async fn on_postgres_copying<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let options = PgOptions {
        copy_min_rows: 1,
        ..PgOptions::default()
    };
    on_postgres_with(options, case).await
}

async fn on_postgres_with<F, Fut>(options: PgOptions, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = database_url() else {
        return;
    };
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    let (schema, url) = fresh_schema(&base, &mut admin).await;
    let opened = PgStore::open_with(&url, options)
        .await
        .map(|s| Arc::new(s) as Arc<dyn Store>);
    let outcome = match opened {
        Ok(store) => {
            assert_eq!(store.backend(), "postgres");
            let result = tokio::spawn(case(store.clone())).await;
            store.close().await;
            result
        }
        Err(e) => {
            let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut admin)
                .await;
            panic!("open {url}: {e}");
        }
    };
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("case did not finish: {e}"),
        }
    }
}

suite::store_suite!(on_postgres);

/// The suite again, every write streamed with `COPY` (the path of big batches).
mod copying {
    use super::{on_postgres_copying, suite};
    suite::store_suite!(on_postgres_copying);
}

// ----- two nodes on one database: the record cache stays coherent -----

use std::time::{Duration, Instant};

use tradeq_model::{KeyKind, Record, RecordKind};
use tradeq_store::postgres::epoch::MAX_AGE;

/// Runs `case` on two stores ("nodes") sharing a fresh schema, as two gateway nodes share a
/// database; the third argument is a plain connection to the database.
async fn on_two_nodes<F, Fut>(case: F)
where
    F: FnOnce(Arc<PgStore>, Arc<PgStore>, sqlx::PgConnection) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = database_url() else {
        return;
    };
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    let (schema, url) = fresh_schema(&base, &mut admin).await;
    let a = Arc::new(PgStore::open(&url).await.unwrap());
    let b = Arc::new(PgStore::open(&url).await.unwrap());
    let other = sqlx::PgConnection::connect(&url).await.unwrap();
    let result = tokio::spawn(case(a.clone(), b.clone(), other)).await;
    a.close().await;
    b.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("case did not finish: {e}"),
        }
    }
}

async fn find_trade(store: &PgStore) -> Option<Record> {
    let s: &dyn Store = store;
    s.find(
        RecordKind::AlipayTrade,
        suite::SELLER,
        KeyKind::Primary,
        suite::TRADE_NO,
    )
    .await
    .unwrap()
}

/// Waits until `node`'s poller has answered and a lookup is served from its cache.
async fn cache_in_use(node: &PgStore, expected: &Record) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hits = node.record_cache_hits();
        assert_eq!(find_trade(node).await.as_ref(), Some(expected));
        if node.record_cache_hits() > hits {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the record cache never answered a lookup"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Queries `node` until it answers `expected`, asserting that no lookup that started
/// [`MAX_AGE`] or more after `written` (when the write had committed) answered anything else.
/// Returns how long after `written` the first current answer came.
async fn seen_within_bound(node: &PgStore, written: Instant, expected: &Record) -> Duration {
    loop {
        let started = Instant::now();
        let found = find_trade(node).await;
        if found.as_ref() == Some(expected) {
            return started.duration_since(written);
        }
        let late = started.duration_since(written);
        assert!(
            late < MAX_AGE,
            "a query sent {late:?} after the write still answered the old record"
        );
        assert!(found.is_some(), "the record vanished");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_node_is_seen_by_the_other_within_the_bound() {
    on_two_nodes(|a, b, _db| async move {
        let v1 = suite::seed_trade("2014-11-27 15:45:57", 1);
        a.upsert(&v1).await.unwrap();
        cache_in_use(&b, &v1).await;
        let mut worst = Duration::ZERO;
        for v in 2..=6 {
            let next = suite::with_subject(&suite::seed_trade("2014-11-27 15:45:57", v), "v");
            // Alternate the writer: each node's own writes and the other's.
            let (writer, reader) = if v % 2 == 0 { (&a, &b) } else { (&b, &a) };
            cache_in_use(reader, &find_trade(reader).await.unwrap()).await;
            writer.upsert(&next).await.unwrap();
            let written = Instant::now();
            worst = worst.max(seen_within_bound(reader, written, &next).await);
            // The writer itself answers the new record at once.
            assert_eq!(find_trade(writer).await, Some(next));
        }
        eprintln!("worst delay before the other node answered a write: {worst:?}");
        // A delete is a write too.
        let s: &dyn Store = &*a;
        assert!(s
            .delete(RecordKind::AlipayTrade, suite::TRADE_NO)
            .await
            .unwrap());
        let written = Instant::now();
        loop {
            let started = Instant::now();
            if find_trade(&b).await.is_none() {
                break;
            }
            assert!(
                started.duration_since(written) < MAX_AGE,
                "a deleted record was served"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_from_outside_tradeq_is_seen_within_the_bound() {
    on_two_nodes(|a, _b, mut db| async move {
        let v1 = suite::seed_trade("2014-11-27 15:45:57", 1);
        a.upsert(&v1).await.unwrap();
        cache_in_use(&a, &v1).await;
        // A hand-made change (psql, a restore) goes through no node at all.
        sqlx::query(
            "UPDATE alipay_trade SET doc = jsonb_set(doc::jsonb, '{subject}', '\"by hand\"')::json",
        )
        .execute(&mut db)
        .await
        .unwrap();
        let written = Instant::now();
        let by_hand = suite::with_subject(&v1, "by hand");
        seen_within_bound(&a, written, &by_hand).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_stalled_poller_never_serves_a_stale_record() {
    on_two_nodes(|a, b, mut db| async move {
        let v1 = suite::seed_trade("2014-11-27 15:45:57", 1);
        a.upsert(&v1).await.unwrap();
        cache_in_use(&b, &v1).await;

        // The poller's connection is cut: the next write must still be seen within the bound,
        // then the poller reconnects and the cache serves again.
        let pid = b.epoch_backend_pid().expect("the poller is connected");
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert!(killed);
        let v2 = suite::seed_trade("2014-11-27 15:45:57", 2);
        a.upsert(&v2).await.unwrap();
        let written = Instant::now();
        seen_within_bound(&b, written, &v2).await;
        cache_in_use(&b, &v2).await;
        let again = b.epoch_backend_pid().expect("the poller reconnected");
        assert_ne!(again, pid, "the poller kept a dead connection");

        // The poll stalls (the epoch row is locked): once the last answered poll is older than
        // the bound, lookups read the database.
        let mut tx = sqlx::Connection::begin(&mut db).await.unwrap();
        sqlx::query("LOCK TABLE record_epoch IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        tokio::time::sleep(MAX_AGE + Duration::from_millis(50)).await;
        let hits = b.record_cache_hits();
        for _ in 0..5 {
            assert_eq!(find_trade(&b).await, Some(v2.clone()));
        }
        assert_eq!(
            b.record_cache_hits(),
            hits,
            "the cache answered while its poller could not vouch for it"
        );
        tx.rollback().await.unwrap();
        cache_in_use(&b, &v2).await;
    })
    .await;
}

/// The one record document of `alipay_trade`, as PostgreSQL hands it back.
async fn stored_doc(db: &mut sqlx::PgConnection) -> String {
    sqlx::query_scalar("SELECT doc::text FROM alipay_trade")
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_stored_as_written() {
    on_two_nodes(|a, _b, mut db| async move {
        // Inserted (a key not stored), then replaced (a stored key): both paths keep the text.
        let v1 = suite::seed_trade("2014-11-27 15:45:57", 1);
        a.upsert(&v1).await.unwrap();
        assert_eq!(stored_doc(&mut db).await, v1.to_json());
        let v2 = suite::seed_trade("2014-11-27 15:46:57", 2);
        a.upsert(&v2).await.unwrap();
        assert_eq!(stored_doc(&mut db).await, v2.to_json());
    })
    .await;
}
