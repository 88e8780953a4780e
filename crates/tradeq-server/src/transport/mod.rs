//! Connections: accepting them within a cap, the deadlines every connection lives under, and a
//! drain with a bound when the server stops.
//!
//! - A connection must deliver a complete request head within `header_read_timeout_secs` of its
//!   first byte, and may wait `idle_timeout_secs` for that first byte (after opening or after its
//!   previous answer): keep-alive pools are served, slowloris is not ([`timer`]).
//! - A request body must arrive whole within `body_read_timeout_secs` ([`body`]).
//! - Each listener holds at most its configured number of connections; one more is answered
//!   `503` at once and closed, so a flood of idle sockets on the protocol listener cannot take
//!   the descriptors the admin listener needs. Running short of descriptors is logged.
//! - On shutdown, listeners stop accepting, idle connections close, in-flight requests get
//!   `drain_timeout_secs` to finish, then every connection is closed.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

mod body;
mod io;
mod rejection;
mod timer;

use io::WatchedIo;
use timer::{HeadTimer, ReadCount};

/// The deadlines and caps of one listener.
#[derive(Debug, Clone)]
pub struct ConnectionRules {
    /// `protocol` or `admin`, for logs.
    pub name: &'static str,
    /// Time allowed for a request head once its first byte arrived.
    pub header_read_timeout: Duration,
    /// Time allowed for a whole request body.
    pub body_read_timeout: Duration,
    /// Time a connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections held at once.
    pub max_connections: usize,
    /// Replace hyper's bodiless rejections with the front doors' envelopes.
    pub protocol_envelopes: bool,
}

/// Stop signals shared by the listeners and their connections.
#[derive(Clone)]
pub struct Stop {
    /// Stop accepting and let idle connections close (graceful).
    pub drain: watch::Receiver<bool>,
    /// Close every connection now (the drain ran out of time).
    pub close: watch::Receiver<bool>,
}

/// Serves `listener` with `service` until `stop.drain`, tracking connections in `tracker`.
pub async fn serve_listener<S, F>(
    listener: TcpListener,
    service: S,
    rules: ConnectionRules,
    stop: Stop,
    tracker: TaskTracker,
) where
    S: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(rules.max_connections));
    let rules = Arc::new(rules);
    let warned = RateLimit::default();
    let mut drain = stop.drain.clone();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = drain.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, _peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                if is_descriptor_shortage(&e) {
                    if warned.allow() {
                        tracing::warn!(
                            listener = rules.name,
                            error = %e,
                            "out of file descriptors: new connections are refused until some \
                             close (raise `ulimit -n` or lower max_connections)"
                        );
                    }
                    // Without a pause the loop would spin on the same error.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                } else {
                    tracing::debug!(listener = rules.name, error = %e, "accept failed");
                }
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if warned.allow() {
                tracing::warn!(
                    listener = rules.name,
                    max_connections = rules.max_connections,
                    "connection limit reached: answering 503 to new connections"
                );
            }
            refuse(tcp, rules.name == "admin");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let service = service.clone();
        let rules = rules.clone();
        let stop = stop.clone();
        tracker.spawn(async move {
            serve_connection(tcp, service, &rules, stop).await;
            drop(permit);
        });
    }
}

/// Writes the over-capacity answer if the socket takes it at once, then closes.
fn refuse(tcp: TcpStream, admin: bool) {
    let _ = tcp.try_write(&rejection::over_capacity(admin));
}

async fn serve_connection<S, F>(tcp: TcpStream, service: S, rules: &ConnectionRules, stop: Stop)
where
    S: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let reads = Arc::new(ReadCount::default());
    let io =
        hyper_util::rt::TokioIo::new(WatchedIo::new(tcp, reads.clone(), rules.protocol_envelopes));
    let timer = HeadTimer {
        reads,
        idle: rules.idle_timeout,
        header: rules.header_read_timeout,
        alarm: Arc::default(),
    };
    let body_timeout = rules.body_read_timeout;
    let hyper_service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let deadline = tokio::time::Instant::now() + body_timeout;
        let req =
            req.map(|b| Body::new(body::DeadlineBody::new(b, deadline, body_timeout.as_secs())));
        let answer = service(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(timer)
        .header_read_timeout(rules.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, hyper_service);
    tokio::pin!(conn);
    let Stop {
        mut drain,
        mut close,
    } = stop;
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = drain.wait_for(|stop| *stop) => {}
    }
    // Finish the request in flight (if any), then close; give up when the drain runs out.
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = close.wait_for(|stop| *stop) => {}
    }
}

fn is_descriptor_shortage(e: &std::io::Error) -> bool {
    // EMFILE (per process) and ENFILE (system-wide) on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(23) | Some(24))
}

/// At most one warning every ten seconds: a flood must not also flood the log.
#[derive(Default)]
struct RateLimit(AtomicU64);

impl RateLimit {
    fn allow(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.0.load(Ordering::Relaxed);
        if last != 0 && now < last + 10 {
            return false;
        }
        self.0
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Raises the soft descriptor limit towards the hard one and returns the number of descriptors
/// the process may hold, so the listeners' caps can be fitted under it.
pub fn raise_descriptor_limit(wanted: u64) -> Option<u64> {
    #[cfg(unix)]
    {
        let (soft, hard) = rlimit::Resource::NOFILE.get().ok()?;
        let target = wanted.min(hard).max(soft);
        if target > soft && rlimit::Resource::NOFILE.set(target, hard).is_ok() {
            return Some(target);
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    {
        let _ = wanted;
        None
    }
}
