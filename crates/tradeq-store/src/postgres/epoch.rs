//! What keeps a node's record cache coherent with every other node's writes.
//!
//! Every statement that writes a record table bumps the one row of `record_epoch` (a statement
//! trigger, so writers outside tradeq are seen too), in the writer's own transaction: a new
//! value is visible exactly when the write is. Each node polls the row on a connection of its
//! own every [`POLL_EVERY`]. A poll that answers `n` proves that every record write committed
//! before the poll was sent is in the database state `n`, so a record cached under `n` is
//! current as of that moment. The cache is used only while the last answered poll was sent less
//! than [`MAX_AGE`] ago: a write through any node is seen by every node's next query within
//! [`MAX_AGE`], whatever happens to the poller. When the poller's connection fails, stalls or
//! drops, the polls stop answering and, [`MAX_AGE`] later, lookups read through to the
//! database; a reconnected poller starts a new incarnation, which empties the cache.
//!
//! A version poll rather than `LISTEN`/`NOTIFY`: a notification says nothing when it does not
//! come, so a listener whose connection died silently would keep a stale cache forever; a poll
//! that does not come back bounds the staleness by itself. It costs one indexed read per node
//! every [`POLL_EVERY`].

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::record_cache::ChangeSource;

/// How often a node reads the epoch.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(20);

/// The most a cached record may lag behind the database: a lookup uses the cache only while
/// the last answered poll was sent less than this long ago.
pub const MAX_AGE: Duration = Duration::from_millis(100);

/// The `application_name` of the poller's connection (it shows in `pg_stat_activity`).
const APPLICATION_NAME: &str = "tradeq record epoch";

/// The state of the record tables as the last poll saw it.
#[derive(Default)]
pub(crate) struct Epoch {
    /// (incarnation, epoch, when the poll that read it was sent).
    seen: Mutex<Option<(u64, i64, Instant)>>,
    /// The server process of the poller's connection (0 while it has none).
    backend_pid: AtomicI32,
    /// Record writes this node committed: its own writes are seen by its next query at once,
    /// without waiting for a poll.
    local_writes: AtomicU64,
}

impl Epoch {
    /// Counts a record write this node committed (call it after the commit).
    pub(crate) fn wrote(&self) {
        self.local_writes.fetch_add(1, Ordering::Release);
    }

    fn saw(&self, incarnation: u64, epoch: i64, sent: Instant) {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((incarnation, epoch, sent));
        }
    }

    fn lost(&self) {
        self.backend_pid.store(0, Ordering::Relaxed);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = None;
        }
    }

    /// The PostgreSQL process serving the poller, while it is connected.
    pub(crate) fn backend_pid(&self) -> Option<i32> {
        Some(self.backend_pid.load(Ordering::Relaxed)).filter(|&p| p != 0)
    }
}

impl ChangeSource for Arc<Epoch> {
    /// (incarnation, epoch, local writes).
    type Stamp = (u64, i64, u64);

    fn stamp(&self) -> Option<(u64, i64, u64)> {
        let local = self.local_writes.load(Ordering::Acquire);
        let (incarnation, epoch, sent) = (*self.seen.lock().ok()?)?;
        (sent.elapsed() < MAX_AGE).then_some((incarnation, epoch, local))
    }
}

/// Starts the poller of `epoch`; it ends once `epoch` is dropped (or when aborted).
pub(crate) fn spawn_poller(
    epoch: &Arc<Epoch>,
    connect: &PgConnectOptions,
) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(epoch);
    let connect = connect
        .clone()
        .application_name(APPLICATION_NAME)
        .disable_statement_logging();
    tokio::spawn(poll(weak, connect))
}

async fn poll(epoch: Weak<Epoch>, connect: PgConnectOptions) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conn: Option<PgConnection> = None;
    let mut incarnation = 0u64;
    loop {
        tick.tick().await;
        let Some(epoch) = epoch.upgrade() else {
            return;
        };
        let Some(c) = conn.as_mut() else {
            match tokio::time::timeout(MAX_AGE * 10, connect_poller(&connect)).await {
                Ok(Ok((c, pid))) => {
                    // Whatever was cached before may have missed writes: start afresh.
                    incarnation += 1;
                    epoch.backend_pid.store(pid, Ordering::Relaxed);
                    conn = Some(c);
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "record epoch: cannot connect"),
                Err(_) => tracing::debug!("record epoch: connecting timed out"),
            }
            continue;
        };
        let sent = Instant::now();
        let read = sqlx::query_scalar::<_, i64>("SELECT n FROM record_epoch WHERE id = 1")
            .fetch_one(&mut *c);
        match tokio::time::timeout(MAX_AGE, read).await {
            Ok(Ok(n)) => epoch.saw(incarnation, n, sent),
            outcome => {
                if let Ok(Err(e)) = outcome {
                    tracing::debug!(error = %e, "record epoch: poll failed, reconnecting");
                } else {
                    tracing::debug!("record epoch: poll timed out, reconnecting");
                }
                epoch.lost();
                conn = None;
            }
        }
    }
}

async fn connect_poller(connect: &PgConnectOptions) -> Result<(PgConnection, i32), sqlx::Error> {
    let mut conn = PgConnection::connect_with(connect).await?;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await?;
    Ok((conn, pid))
}
