//! Binding the two listeners and serving until shutdown.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use axum::Router;
use tokio::net::TcpListener;
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
        .route("/router/rest", any(front_door::top::handle))
        .fallback(front_door::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(front_door::panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
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

    let protocol = axum::serve(listeners.protocol, protocol_router(state.clone()))
        .with_graceful_shutdown(wait(rx.clone()));
    let admin = axum::serve(listeners.admin, admin::router(state)).with_graceful_shutdown(wait(rx));
    tracing::info!(
        "protocol listener on http://{protocol_addr} (/gateway.do, /v3/…, /router/rest)"
    );
    tracing::info!("admin listener on http://{admin_addr}");

    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
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
