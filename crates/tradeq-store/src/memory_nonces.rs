//! Nonces remembered in memory, for a single gateway process.
//!
//! Several processes sharing one database must share nonces too: use the store's own
//! [`crate::Store::nonce_store`] then.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{NonceStore, StoreError};

/// The default bound: at the crypto ceiling of a few thousand signed requests per second and a
/// window of minutes, a million unexpired nonces is far beyond honest traffic.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// A map of (app, nonce) → expiry behind a mutex, with a min-heap of expiries so that expired
/// entries are pruned as claims come in, oldest first, without scanning the map.
///
/// The store is bounded: when it holds `capacity` unexpired nonces, a new one is refused with
/// [`StoreError::NonceCapacity`]. Forgetting an unexpired nonce instead would let its request
/// be replayed, which is what this store exists to prevent.
pub struct MemoryNonceStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    /// Live nonces and their expiry (epoch ms).
    live: HashMap<(String, String), i64>,
    /// Every live entry's expiry; popped as time passes.
    expiries: BinaryHeap<Reverse<(i64, (String, String))>>,
}

impl MemoryNonceStore {
    /// A store bounded to [`DEFAULT_CAPACITY`] nonces.
    pub fn new() -> MemoryNonceStore {
        MemoryNonceStore::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store bounded to `capacity` unexpired nonces.
    pub fn with_capacity(capacity: usize) -> MemoryNonceStore {
        MemoryNonceStore {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// How many nonces are remembered (expired ones may linger until the next claim).
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// True when no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held, and the map stays consistent at every step,
        // so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        MemoryNonceStore::new()
    }
}

impl Inner {
    /// Drops every entry expired at `now`.
    fn prune(&mut self, now: i64) {
        while let Some(Reverse((expiry, _))) = self.expiries.peek() {
            if *expiry > now {
                break;
            }
            if let Some(Reverse((expiry, key))) = self.expiries.pop() {
                // The heap holds exactly one entry per live key, with its current expiry.
                if self.live.get(&key) == Some(&expiry) {
                    self.live.remove(&key);
                }
            }
        }
    }
}

#[async_trait]
impl NonceStore for MemoryNonceStore {
    async fn claim(
        &self,
        app_id: &str,
        nonce: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = now.timestamp_millis();
        let expiry = expires_at.timestamp_millis();
        let mut inner = self.lock();
        inner.prune(now);
        let key = (app_id.to_string(), nonce.to_string());
        if inner.live.contains_key(&key) {
            return Ok(false);
        }
        if expiry <= now {
            // Already outside its window: there is nothing to remember it for.
            return Ok(true);
        }
        if inner.live.len() >= self.capacity {
            return Err(StoreError::NonceCapacity {
                capacity: self.capacity,
            });
        }
        inner.live.insert(key.clone(), expiry);
        inner.expiries.push(Reverse((expiry, key)));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[tokio::test]
    async fn claim_replay_expiry() {
        let s = MemoryNonceStore::new();
        assert!(s.claim("app", "n1", t(600), t(0)).await.unwrap());
        assert!(!s.claim("app", "n1", t(600), t(1)).await.unwrap());
        assert!(s.claim("other", "n1", t(600), t(1)).await.unwrap());
        assert!(!s.claim("app", "n1", t(700), t(599)).await.unwrap());
        // Expired: the nonce may be used again, and is then remembered again.
        assert!(s.claim("app", "n1", t(1200), t(600)).await.unwrap());
        assert!(!s.claim("app", "n1", t(1200), t(601)).await.unwrap());
    }

    #[tokio::test]
    async fn full_store_refuses_rather_than_forgets() {
        let s = MemoryNonceStore::with_capacity(2);
        assert!(s.claim("a", "1", t(10), t(0)).await.unwrap());
        assert!(s.claim("a", "2", t(20), t(0)).await.unwrap());
        let err = s.claim("a", "3", t(20), t(1)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NonceCapacity { capacity: 2 }),
            "{err}"
        );
        // The remembered ones are still refused as replays.
        assert!(!s.claim("a", "1", t(10), t(2)).await.unwrap());
        // Once one expires there is room again.
        assert!(s.claim("a", "3", t(30), t(10)).await.unwrap());
        assert_eq!(s.len(), 2);
    }

    #[tokio::test]
    async fn prunes_as_it_goes() {
        let s = MemoryNonceStore::new();
        let now = t(0);
        for i in 0..1000 {
            let exp = now + Duration::seconds(1 + i % 10);
            assert!(s.claim("a", &i.to_string(), exp, now).await.unwrap());
        }
        assert_eq!(s.len(), 1000);
        assert!(s.claim("a", "late", t(100), t(5)).await.unwrap());
        assert_eq!(s.len(), 1 + 500);
        assert!(s.claim("a", "later", t(100), t(50)).await.unwrap());
        assert_eq!(s.len(), 2);
    }

    #[tokio::test]
    async fn expired_on_arrival_is_not_kept() {
        let s = MemoryNonceStore::new();
        assert!(s.claim("a", "x", t(0), t(5)).await.unwrap());
        assert!(s.is_empty());
    }
}
