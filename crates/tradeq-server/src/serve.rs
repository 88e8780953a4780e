//! Binding the two listeners and serving until shutdown.

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
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
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{admin, front_door};

/// The two bound listeners.
pub struct Listeners {
    /// Protocol listener.
    pub protocol: TcpListener,
    /// Administration listener.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds both addresses.
    pub async fn bind(protocol: SocketAddr, admin: SocketAddr) -> io::Result<Listeners> {
        Ok(Listeners {
            protocol: TcpListener::bind(protocol).await?,
            admin: TcpListener::bind(admin).await?,
        })
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

/// Serves both routers until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    state: AppState,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let protocol_addr = listeners.protocol.local_addr()?;
    let admin_addr = listeners.admin.local_addr()?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let protocol = axum::serve(
        listeners.protocol,
        tower::make::Shared::new(protocol_service(state.clone())),
    )
    .with_graceful_shutdown(wait(rx.clone()));
    let sandbox = state.sandbox.clone();
    let admin = axum::serve(listeners.admin, admin::router(state)).with_graceful_shutdown(wait(rx));
    tracing::info!(
        "protocol listener on http://{protocol_addr} (/gateway.do, /v3/…, /router/rest)"
    );
    tracing::info!("admin listener on http://{admin_addr}");

    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        // Live journal streams never end on their own.
        sandbox.journal.close_live();
        let _ = tx.send(true);
    });
    let (a, b) = tokio::join!(protocol.into_future(), admin.into_future());
    a?;
    b?;
    Ok(())
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

/// How long a drain may take before the process gives up on slow clients.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
