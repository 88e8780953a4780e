//! What every request handler shares.

use std::sync::Arc;

use tradeq_store::{NonceStore, Store};

use crate::admin_token::AdminToken;
use crate::config::ServerConfig;
use crate::credentials::{CredentialCache, KeyCache, SignatureCache};
use crate::metrics::Metrics;
use crate::sandbox::{Sandbox, SandboxSettings};

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Records and credentials.
    pub store: Arc<dyn Store>,
    /// v3 nonce memory (in memory for one node, in PostgreSQL for several).
    pub nonces: Arc<dyn NonceStore>,
    /// Settings.
    pub config: Arc<ServerConfig>,
    /// Apps, tokens and sessions, cached briefly.
    pub credentials: Arc<CredentialCache>,
    /// Parsed keys of the apps seen so far.
    pub keys: Arc<KeyCache>,
    /// v2 answer signatures by (key, sign type, body digest).
    pub signatures: Arc<SignatureCache>,
    /// The administration API's bearer token, as its digest.
    pub admin_token: AdminToken,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Journal, faults, clock and lifecycles.
    pub sandbox: Arc<Sandbox>,
}

impl AppState {
    /// State over a store, with the nonce memory that fits it.
    pub fn new(
        store: Arc<dyn Store>,
        nonces: Arc<dyn NonceStore>,
        config: ServerConfig,
        admin_token: String,
    ) -> AppState {
        AppState::with_admin_token(store, nonces, config, AdminToken::from_plain(&admin_token))
    }

    /// [`AppState::new`] with the admin token given as its digest (the server keeps no more).
    pub fn with_admin_token(
        store: Arc<dyn Store>,
        nonces: Arc<dyn NonceStore>,
        config: ServerConfig,
        admin_token: AdminToken,
    ) -> AppState {
        let signatures = Arc::new(SignatureCache::new(config.signature_cache_entries));
        let credentials = Arc::new(CredentialCache::new(std::time::Duration::from_millis(
            config.credential_cache_ttl_ms,
        )));
        let sandbox = Arc::new(
            Sandbox::new(
                store.clone(),
                SandboxSettings {
                    refresh: std::time::Duration::from_millis(config.sandbox_refresh_ms.max(1)),
                    max_timeout_ms: config.fault_max_timeout_ms,
                    request_timestamps_follow_clock: config.request_timestamps_follow_clock,
                },
            )
            .with_journal(config.journal()),
        );
        sandbox.start_refresher();
        AppState {
            store,
            nonces,
            config: Arc::new(config),
            credentials,
            keys: Arc::new(KeyCache::default()),
            signatures,
            admin_token,
            metrics: Metrics::global(),
            sandbox,
        }
    }
}
