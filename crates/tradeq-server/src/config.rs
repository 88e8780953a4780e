//! Server settings.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything the server needs besides its store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The protocol listener (`/gateway.do`, `/v3/…`, `/router/rest`).
    pub listen: SocketAddr,
    /// The administration listener.
    pub admin_listen: SocketAddr,
    /// Allowed clock skew of v2 `timestamp`, in seconds (±).
    pub v2_timestamp_window_secs: i64,
    /// Allowed clock skew of v3 `timestamp` when no `expired_seconds` is sent, in seconds (±).
    pub v3_timestamp_window_secs: i64,
    /// Allowed clock skew of TOP `timestamp`, in seconds (±).
    pub top_timestamp_window_secs: i64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest administration request body (batch uploads), in bytes.
    pub max_admin_body_bytes: usize,
    /// How long a request may take before it is answered with a timeout error.
    #[serde(with = "secs")]
    pub request_timeout: Duration,
    /// How many answer signatures the v2 signature cache keeps.
    pub signature_cache_entries: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            v2_timestamp_window_secs: 15 * 60,
            v3_timestamp_window_secs: 10 * 60,
            top_timestamp_window_secs: 10 * 60,
            max_body_bytes: 256 * 1024,
            max_admin_body_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            signature_cache_entries: 100_000,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
