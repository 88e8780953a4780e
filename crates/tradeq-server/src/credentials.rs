//! Credentials as the front doors use them: keys parsed once and cached, and the v2 answer
//! signature cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openssl::pkey::{PKey, Private};
use sha2::{Digest, Sha256};

use tradeq_model::credentials::{AlipayApp, AlipayCertMode, AppAuthToken, TopApp, TopSession};
use tradeq_store::{Store, StoreError};
use tradeq_wire::alipay::cert;
use tradeq_wire::alipay::keys::{parse_private_key, parse_public_key};
use tradeq_wire::alipay::sign::RsaVerifier;

/// An Alipay app with its keys parsed.
pub struct ResolvedAlipayApp {
    /// The stored app.
    pub app: AlipayApp,
    /// Verifies the app's requests.
    pub app_public_key: RsaVerifier,
    /// Signs answers to the app.
    pub platform_private_key: PKey<Private>,
    /// Identifies the platform key in the signature cache.
    pub platform_key_id: [u8; 32],
    /// The SNs of certificate mode, when the app is in it.
    pub cert: Option<ResolvedCertMode>,
}

/// An app's certificate mode with its SNs computed.
pub struct ResolvedCertMode {
    /// SN of the app certificate a request must name (`app_cert_sn`).
    pub app_cert_sn: String,
    /// App certificate SNs refused even when they match.
    pub revoked_app_cert_sns: Vec<String>,
    /// Root SN a request must name (`alipay_root_cert_sn`).
    pub root_cert_sn: String,
    /// SN of the platform certificate that signs answers (`alipay_cert_sn`).
    pub alipay_cert_sn: String,
    /// Every platform certificate by SN, the current one first (for the certificate download).
    pub alipay_certs: Vec<(String, String)>,
}

impl ResolvedCertMode {
    fn new(c: &AlipayCertMode) -> Result<(ResolvedCertMode, RsaVerifier), String> {
        let app_cert = cert::parse_certificate(&c.app_cert_pem).map_err(|e| e.to_string())?;
        // Requests are verified with the certificate's key, the one the SN names.
        let key = cert::public_key(&app_cert).map_err(|e| e.to_string())?;
        let mut alipay_certs = Vec::with_capacity(1 + c.previous_alipay_cert_pems.len());
        for pem in
            std::iter::once(&c.alipay_cert_pem).chain(c.previous_alipay_cert_pems.iter().rev())
        {
            alipay_certs.push((
                cert::cert_sn_from_pem(pem).map_err(|e| e.to_string())?,
                pem.clone(),
            ));
        }
        Ok((
            ResolvedCertMode {
                app_cert_sn: cert::cert_sn(&app_cert).map_err(|e| e.to_string())?,
                revoked_app_cert_sns: c.revoked_app_cert_sns.clone(),
                root_cert_sn: cert::root_cert_sn(&c.alipay_root_cert_pem)
                    .map_err(|e| e.to_string())?,
                alipay_cert_sn: alipay_certs[0].0.clone(),
                alipay_certs,
            },
            RsaVerifier::new(key),
        ))
    }

    /// Whether `sn` names the app's certificate and it is not revoked.
    pub fn accepts_app_cert(&self, sn: &str) -> bool {
        sn == self.app_cert_sn && !self.revoked_app_cert_sns.iter().any(|r| r == sn)
    }

    /// The platform certificate (PEM) with this SN.
    pub fn alipay_cert(&self, sn: &str) -> Option<&str> {
        self.alipay_certs
            .iter()
            .find(|(s, _)| s == sn)
            .map(|(_, pem)| pem.as_str())
    }
}

/// Why an app's stored keys cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("app `{app_id}` has an unusable {which}: {reason}")]
pub struct KeyCacheError {
    /// The app.
    pub app_id: String,
    /// `app public key`, `platform private key` or `certificate`.
    pub which: &'static str,
    /// The parser's reason (never key material).
    pub reason: String,
}

/// Parsed keys by app id. An entry is reused while the stored app is unchanged, so an app
/// updated through the admin API (on any node) takes effect on its next request.
#[derive(Default)]
pub struct KeyCache {
    alipay: RwLock<HashMap<String, Arc<ResolvedAlipayApp>>>,
}

impl KeyCache {
    /// The parsed form of `app`, parsing only when it changed since last seen.
    pub fn resolve_alipay(&self, app: &AlipayApp) -> Result<Arc<ResolvedAlipayApp>, KeyCacheError> {
        if let Ok(map) = self.alipay.read() {
            if let Some(hit) = map.get(&app.app_id) {
                if hit.app == *app {
                    return Ok(hit.clone());
                }
            }
        }
        let app_public_key =
            parse_public_key(&app.app_public_key_pem).map_err(|e| KeyCacheError {
                app_id: app.app_id.clone(),
                which: "app public key",
                reason: e.to_string(),
            })?;
        let platform_private_key =
            parse_private_key(&app.platform_private_key_pem).map_err(|e| KeyCacheError {
                app_id: app.app_id.clone(),
                which: "platform private key",
                reason: e.to_string(),
            })?;
        let platform_key_id: [u8; 32] =
            Sha256::digest(app.platform_public_key_pem.as_bytes()).into();
        let (cert, app_public_key) = match &app.cert_mode {
            Some(c) => {
                let (cert, verifier) =
                    ResolvedCertMode::new(c).map_err(|reason| KeyCacheError {
                        app_id: app.app_id.clone(),
                        which: "certificate",
                        reason,
                    })?;
                (Some(cert), verifier)
            }
            None => (None, RsaVerifier::new(app_public_key)),
        };
        let resolved = Arc::new(ResolvedAlipayApp {
            app: app.clone(),
            app_public_key,
            platform_private_key,
            platform_key_id,
            cert,
        });
        if let Ok(mut map) = self.alipay.write() {
            map.insert(resolved.app.app_id.clone(), resolved.clone());
        }
        Ok(resolved)
    }
}

/// PKCS#1 v1.5 signatures are deterministic, so an answer whose bytes were signed before with the
/// same key and algorithm reuses that signature: a client polling an unchanged trade costs no
/// RSA work.
///
/// Bounded with quick_cache's eviction (CLOCK-PRO-like: a new entry starts on probation and
/// only entries used again are kept long), so a stream of one-off answers cannot push out the
/// signatures of the answers that are asked for again and again.
pub struct SignatureCache {
    entries: Option<quick_cache::sync::Cache<[u8; 32], Arc<str>>>,
}

impl SignatureCache {
    /// A cache of at most `capacity` signatures (0 disables it).
    pub fn new(capacity: usize) -> SignatureCache {
        SignatureCache {
            entries: (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity)),
        }
    }

    /// The cache key of a body signed with a key and algorithm.
    pub fn key(key_id: &[u8; 32], sign_type: &str, body: &[u8]) -> [u8; 32] {
        // In-process SHA-256: OpenSSL 3 looks its implementation up on every one-shot call.
        Sha256::new()
            .chain_update(key_id)
            .chain_update(sign_type.as_bytes())
            .chain_update([0])
            .chain_update(Sha256::digest(body))
            .finalize()
            .into()
    }

    /// A cached signature.
    pub fn get(&self, key: &[u8; 32]) -> Option<Arc<str>> {
        self.entries.as_ref()?.get(key)
    }

    /// Remembers a signature; when full, the entry least worth keeping goes.
    pub fn put(&self, key: [u8; 32], signature: Arc<str>) {
        if let Some(entries) = &self.entries {
            entries.insert(key, signature);
        }
    }
}

/// Why an Alipay caller could not be resolved; each front door maps it to its own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlipayCallerError {
    /// The store failed (logged).
    Store,
    /// The stored app's keys do not parse (logged).
    UnusableKeys,
    /// The `app_auth_token` is unknown or was granted to another app.
    InvalidToken,
    /// The `app_auth_token` has expired.
    ExpiredToken,
}

/// The app with its keys parsed, or `None` when no such app exists.
pub async fn resolve_alipay_app(
    state: &crate::state::AppState,
    app_id: &str,
) -> Result<Option<Arc<ResolvedAlipayApp>>, AlipayCallerError> {
    let stored = state
        .credentials
        .alipay_app(state.store.as_ref(), app_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store failure reading an Alipay app");
            AlipayCallerError::Store
        })?;
    match stored {
        None => Ok(None),
        Some(app) => state.keys.resolve_alipay(&app).map(Some).map_err(|e| {
            tracing::error!(error = %e, "stored Alipay app has unusable keys");
            AlipayCallerError::UnusableKeys
        }),
    }
}

/// The merchant a request acts for: the app's owner, or the merchant that granted its
/// `app_auth_token`.
pub async fn alipay_merchant(
    state: &crate::state::AppState,
    app: &ResolvedAlipayApp,
    token: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, AlipayCallerError> {
    let Some(token) = token else {
        return Ok(app.app.merchant_pid.clone());
    };
    let stored = state
        .credentials
        .app_auth_token(state.store.as_ref(), token)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store failure reading an app auth token");
            AlipayCallerError::Store
        })?;
    match stored {
        Some(t) if t.app_id == app.app.app_id => match t.expires_at {
            Some(exp) if exp.0 <= now => Err(AlipayCallerError::ExpiredToken),
            _ => Ok(t.merchant_pid.clone()),
        },
        _ => Err(AlipayCallerError::InvalidToken),
    }
}

/// A small map whose entries (found or not found) expire after a fixed time.
///
/// Unknown keys are cached too (a flood of bogus app ids must not reach the store each time), so
/// the map is bounded; quick_cache's eviction keeps the keys that are asked for again over a
/// flood of keys seen once, so real apps stay cached while bogus ones churn.
///
/// An expired entry is refreshed by one caller while the others keep its answer: the first
/// caller to find it expired dates it anew and reads the store. If every request in flight read
/// the store when a busy app's entry expired, a thousand connections would queue a thousand
/// reads every TTL; once such a queue takes longer than the TTL to drain, the next expiry adds
/// another before it has, and the server never catches up (seen in a soak: pool waits past 5 s,
/// answers past 10 s, until the load stopped).
struct TtlMap<V> {
    ttl: std::time::Duration,
    entries: quick_cache::sync::Cache<String, Entry<V>>,
}

/// When an answer was read, and the answer (`None`: not found). Shared, so a hit costs a
/// reference count rather than a copy of every string in `V`.
type Entry<V> = (std::time::Instant, Option<Arc<V>>);

/// What the map knows of a key.
enum Lookup<V> {
    /// A fresh answer (which may be "not found").
    Fresh(Option<Arc<V>>),
    /// The entry had expired and this caller is the one to read the store again; the others
    /// are answered from the entry meanwhile.
    Refresh,
    /// Nothing cached.
    Miss,
}

impl<V> TtlMap<V> {
    fn new(ttl: std::time::Duration, capacity: usize) -> TtlMap<V> {
        TtlMap {
            ttl,
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    fn lookup(&self, key: &str) -> Lookup<V> {
        if self.ttl.is_zero() {
            return Lookup::Miss;
        }
        let Some((at, value)) = self.entries.get(key) else {
            return Lookup::Miss;
        };
        if at.elapsed() < self.ttl {
            return Lookup::Fresh(value);
        }
        // Two callers may both get here before either re-dates the entry; then both read, which
        // is harmless. What matters is that the rest of the herd does not.
        self.entries
            .insert(key.to_string(), (std::time::Instant::now(), value));
        Lookup::Refresh
    }

    /// `Some(answer)` on a fresh hit (the answer may be "not found"), `None` when the store must
    /// be read.
    fn get(&self, key: &str) -> Option<Option<Arc<V>>> {
        match self.lookup(key) {
            Lookup::Fresh(value) => Some(value),
            Lookup::Refresh | Lookup::Miss => None,
        }
    }

    fn put(&self, key: &str, value: Option<Arc<V>>) {
        if self.ttl.is_zero() {
            return;
        }
        self.entries
            .insert(key.to_string(), (std::time::Instant::now(), value));
    }

    fn clear(&self) {
        self.entries.clear();
    }
}

/// Credentials read through a short-lived cache, so a request costs no store round trip for its
/// app, token or session. Changes made through this node's admin API apply at once (the cache is
/// cleared); changes made by another node or by `tradeq apps` apply within the TTL and the one
/// store read that refreshes the entry.
pub struct CredentialCache {
    alipay_apps: TtlMap<AlipayApp>,
    app_auth_tokens: TtlMap<AppAuthToken>,
    top_apps: TtlMap<TopApp>,
    top_sessions: TtlMap<TopSession>,
}

impl CredentialCache {
    /// A cache whose entries live `ttl` (zero disables caching).
    pub fn new(ttl: std::time::Duration) -> CredentialCache {
        const CAPACITY: usize = 10_000;
        CredentialCache {
            alipay_apps: TtlMap::new(ttl, CAPACITY),
            app_auth_tokens: TtlMap::new(ttl, CAPACITY),
            top_apps: TtlMap::new(ttl, CAPACITY),
            top_sessions: TtlMap::new(ttl, CAPACITY),
        }
    }

    /// Forgets everything (after a credential changed through the admin API).
    pub fn invalidate(&self) {
        self.alipay_apps.clear();
        self.app_auth_tokens.clear();
        self.top_apps.clear();
        self.top_sessions.clear();
    }

    /// An Alipay app by id.
    pub async fn alipay_app(
        &self,
        store: &dyn Store,
        app_id: &str,
    ) -> Result<Option<Arc<AlipayApp>>, StoreError> {
        if let Some(hit) = self.alipay_apps.get(app_id) {
            return Ok(hit);
        }
        let found = store.get_alipay_app(app_id).await?.map(Arc::new);
        self.alipay_apps.put(app_id, found.clone());
        Ok(found)
    }

    /// An app auth token.
    pub async fn app_auth_token(
        &self,
        store: &dyn Store,
        token: &str,
    ) -> Result<Option<Arc<AppAuthToken>>, StoreError> {
        if let Some(hit) = self.app_auth_tokens.get(token) {
            return Ok(hit);
        }
        let found = store.get_app_auth_token(token).await?.map(Arc::new);
        self.app_auth_tokens.put(token, found.clone());
        Ok(found)
    }

    /// A TOP app by key.
    pub async fn top_app(
        &self,
        store: &dyn Store,
        app_key: &str,
    ) -> Result<Option<Arc<TopApp>>, StoreError> {
        if let Some(hit) = self.top_apps.get(app_key) {
            return Ok(hit);
        }
        let found = store.get_top_app(app_key).await?.map(Arc::new);
        self.top_apps.put(app_key, found.clone());
        Ok(found)
    }

    /// A TOP session.
    pub async fn top_session(
        &self,
        store: &dyn Store,
        session: &str,
    ) -> Result<Option<Arc<TopSession>>, StoreError> {
        if let Some(hit) = self.top_sessions.get(session) {
            return Ok(hit);
        }
        let found = store.get_top_session(session).await?.map(Arc::new);
        self.top_sessions.put(session, found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often a hot key, asked for now and then among `flood` one-off keys, was missing.
    fn hot_misses(get: impl Fn(u32) -> bool, put: impl Fn(u32), hot: u32, flood: u32) -> u32 {
        for k in 0..hot {
            put(k);
            assert!(get(k));
        }
        let mut misses = 0;
        for i in 0..flood {
            put(1_000_000 + i);
            // Real traffic keeps asking for the hot keys while the flood goes on.
            if i % 64 == 0 {
                for k in 0..hot {
                    if !get(k) {
                        misses += 1;
                        put(k);
                    }
                }
            }
        }
        misses
    }

    #[test]
    fn a_flood_of_unknown_app_ids_does_not_evict_the_real_ones() {
        let map: TtlMap<u32> = TtlMap::new(std::time::Duration::from_secs(60), 10_000);
        let misses = hot_misses(
            |k| map.get(&format!("app{k}")).is_some(),
            |k| map.put(&format!("app{k}"), (k < 1_000_000).then(|| Arc::new(k))),
            100,
            50_000,
        );
        assert_eq!(misses, 0, "real apps evicted by a flood of bogus ids");
    }

    #[test]
    fn a_flood_of_one_off_answers_does_not_evict_the_polled_signatures() {
        let cache = SignatureCache::new(1_000);
        let key = |k: u32| SignatureCache::key(&[0; 32], "RSA2", &k.to_be_bytes());
        let misses = hot_misses(
            |k| cache.get(&key(k)).is_some(),
            |k| cache.put(key(k), Arc::from("sig")),
            50,
            20_000,
        );
        assert_eq!(misses, 0, "polled signatures evicted by one-off answers");
    }

    #[test]
    fn an_expired_entry_is_read_again_by_one_caller_while_the_others_keep_it() {
        let map: TtlMap<u32> = TtlMap::new(std::time::Duration::from_millis(20), 100);
        map.put("app", Some(Arc::new(1)));
        assert!(matches!(map.lookup("app"), Lookup::Fresh(Some(_))));
        std::thread::sleep(std::time::Duration::from_millis(30));
        // A thousand requests find the entry expired at once: one reads the store.
        let refreshers = (0..1_000)
            .filter(|_| match map.lookup("app") {
                Lookup::Refresh => true,
                Lookup::Fresh(v) => {
                    assert_eq!(v.as_deref(), Some(&1), "the others keep the answer");
                    false
                }
                Lookup::Miss => panic!("an expired entry is not a miss"),
            })
            .count();
        assert_eq!(refreshers, 1);
        // The refresher's read lands, and everyone sees it.
        map.put("app", Some(Arc::new(2)));
        assert!(matches!(map.lookup("app"), Lookup::Fresh(Some(v)) if *v == 2));
        // Never cached, or cleared: a miss for every caller.
        assert!(matches!(map.lookup("other"), Lookup::Miss));
        map.clear();
        assert!(matches!(map.lookup("app"), Lookup::Miss));
    }

    #[test]
    fn a_disabled_signature_cache_keeps_nothing() {
        let cache = SignatureCache::new(0);
        cache.put([1; 32], Arc::from("s"));
        assert!(cache.get(&[1; 32]).is_none());
    }
}
