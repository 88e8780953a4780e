//! Binding the two listeners and serving until shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::transport::{serve_listener, ConnectionRules, Stop};
use crate::{admin, front_door, ServerConfig};

/// The two bound listeners.
pub struct Listeners {
    /// Protocol listener.
    pub protocol: TcpListener,
    /// Administration listener.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds both addresses; an error names the listener and the address that failed.
    pub async fn bind(protocol: SocketAddr, admin: SocketAddr) -> Result<Listeners, BindError> {
        let bind = |which: &'static str, addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|source| BindError {
                which,
                addr,
                source,
            })
        };
        Ok(Listeners {
            protocol: bind("protocol", protocol).await?,
            admin: bind("admin", admin).await?,
        })
    }
}

/// A listener that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr} (the {which} listener){}: {source}",
    hint(source)
)]
pub struct BindError {
    /// `protocol` or `admin`.
    pub which: &'static str,
    /// The address.
    pub addr: SocketAddr,
    /// Why.
    #[source]
    pub source: io::Error,
}

fn hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::AddrInUse => {
            ", another process holds the port (choose another with --listen / --admin-listen)"
        }
        io::ErrorKind::PermissionDenied => ", ports below 1024 need privileges",
        _ => "",
    }
}

/// The protocol router: the three front doors.
pub fn protocol_router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/gateway.do", any(front_door::alipay_v2::handle))
        .route("/v3/{*rest}", any(front_door::alipay_v3::handle))
        .route(
            "/router/rest",
            any(|State(state): State<AppState>, req: Request| {
                front_door::top::serve_request(state, req)
            }),
        )
        .fallback(front_door::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(front_door::panic_response))
        // The path only: queries carry `sign`, `session` and `app_auth_token`.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// The protocol listener's service: `/router/rest` goes straight to the TOP front door, the rest
/// through [`protocol_router`]. TOP answers cost no RSA, so the router's per-request work
/// (routing, extractors, the panic and trace layers) was a fair share of one; the front door
/// bounds the body and catches panics itself.
#[derive(Clone)]
pub struct ProtocolService {
    state: AppState,
    router: Router,
}

/// The protocol listener's service for `state`.
pub fn protocol_service(state: AppState) -> ProtocolService {
    ProtocolService {
        router: protocol_router(state.clone()),
        state,
    }
}

impl tower::Service<Request> for ProtocolService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.uri().path() == "/router/rest" {
            let state = self.state.clone();
            Box::pin(async move { Ok(front_door::top::serve_request(state, req).await) })
        } else {
            Box::pin(self.router.clone().oneshot(req))
        }
    }
}

/// Serves both listeners until `shutdown` completes, then drains in-flight requests for at most
/// `drain_timeout_secs` and closes what is left.
pub async fn serve(
    state: AppState,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let protocol_addr = listeners.protocol.local_addr()?;
    let admin_addr = listeners.admin.local_addr()?;
    let config = state.config.clone();
    let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let stop = Stop {
        drain: drain_rx,
        close: close_rx,
    };
    let tracker = TaskTracker::new();

    let (protocol_cap, admin_cap) = connection_caps(&config);
    let rules = |name, max_connections, protocol_envelopes| ConnectionRules {
        name,
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
        body_read_timeout: Duration::from_secs(config.body_read_timeout_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        max_connections,
        protocol_envelopes,
    };
    let protocol_service = protocol_service(state.clone());
    let protocol = serve_listener(
        listeners.protocol,
        move |req: Request| {
            let mut service = protocol_service.clone();
            async move {
                match tower::Service::call(&mut service, req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        },
        rules("protocol", protocol_cap, true),
        stop.clone(),
        tracker.clone(),
    );
    let sandbox = state.sandbox.clone();
    let admin_router = admin::router(state);
    let admin = serve_listener(
        listeners.admin,
        move |req: Request| {
            let router = admin_router.clone();
            async move {
                match router.oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        },
        rules("admin", admin_cap, false),
        stop,
        tracker.clone(),
    );
    tracing::info!(
        "protocol listener on http://{protocol_addr} (/gateway.do, /v3/…, /router/rest)"
    );
    tracing::info!("admin listener on http://{admin_addr}");

    let accepting = tokio::spawn(async move {
        tokio::join!(protocol, admin);
    });
    shutdown.await;
    tracing::info!(
        "shutting down: draining in-flight requests (at most {} s)",
        config.drain_timeout_secs
    );
    // Live journal streams never end on their own.
    sandbox.journal.close_live();
    let _ = drain_tx.send(true);
    let _ = accepting.await;
    tracker.close();
    let drain = Duration::from_secs(config.drain_timeout_secs);
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            connections = tracker.len(),
            "drain timeout reached: closing the connections still open"
        );
        let _ = close_tx.send(true);
        // Each connection stops at its next poll; a moment lets them release their sockets.
        let _ = tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await;
    }
    Ok(())
}

/// The two listeners' connection caps, fitted under the process's descriptor limit (raised
/// towards its hard limit first), keeping room for the store's files and the admin listener.
fn connection_caps(config: &ServerConfig) -> (usize, usize) {
    const RESERVE: u64 = 128;
    let wanted = (config.max_connections + config.admin_max_connections) as u64 + RESERVE;
    let Some(limit) = crate::transport::raise_descriptor_limit(wanted) else {
        return (config.max_connections, config.admin_max_connections);
    };
    if limit >= wanted {
        return (config.max_connections, config.admin_max_connections);
    }
    let admin = config.admin_max_connections;
    // Short of descriptors: the admin listener keeps a small share, the protocol listener the
    // rest, and a reserve stays for the store's files and outgoing connections.
    let admin = admin.min((limit / 8).max(8) as usize);
    let room = limit.saturating_sub(RESERVE + admin as u64).max(16);
    let protocol = (room as usize).min(config.max_connections);
    tracing::warn!(
        descriptor_limit = limit,
        max_connections = protocol,
        admin_max_connections = admin,
        "the descriptor limit (ulimit -n) is below what max_connections needs: the protocol \
         listener holds at most {protocol} connections"
    );
    (protocol, admin)
}

/// Registers the SIGTERM and Ctrl-C handlers at once and returns a future that resolves on
/// either. Call it before binding the listeners: once a client can see the port, a SIGTERM must
/// drain, not kill (the default action), even if start-up is still writing demo data.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                (Ok(mut term), Err(_)) => {
                    term.recv().await;
                }
                (Err(_), Ok(mut int)) => {
                    int.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
