//! The store suite against PostgreSQL from `TRADEQ_TEST_DATABASE_URL`. Every test gets its own
//! schema (through `search_path`), dropped afterwards, so tests run in parallel.

mod suite;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sqlx::Connection;
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

/// Runs `case` on a store in a fresh schema, dropping the schema afterwards even when the case
/// fails.
async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = database_url() else {
        return;
    };
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
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    let outcome = match tradeq_store::open(&url).await {
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
