//! Server settings.

use std::net::SocketAddr;

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
    /// How long (ms) an app, token or session read from the store is reused; changes made
    /// through this node's admin API apply at once, others within this time. 0 disables it.
    pub credential_cache_ttl_ms: u64,
    /// How many answer signatures the v2 signature cache keeps.
    pub signature_cache_entries: usize,
    /// Request journal: entries kept at most (0 turns the journal off).
    pub journal_max_entries: usize,
    /// Request journal: bytes kept at most (0 turns the journal off).
    pub journal_max_bytes: usize,
    /// Request journal: bytes of each answer body kept.
    pub journal_body_bytes: usize,
    /// Append a short English hint to the `sub_msg` of a refused signature or timestamp.
    pub explain_in_errors: bool,
}

/// A setting out of its sensible range.
#[derive(Debug, thiserror::Error)]
#[error("configuration `{name}` is {value}; it must be between {min} and {max}")]
pub struct ConfigError {
    /// The setting.
    pub name: &'static str,
    /// Its value.
    pub value: i64,
    /// Smallest accepted.
    pub min: i64,
    /// Largest accepted.
    pub max: i64,
}

impl ServerConfig {
    /// Checks every bounded setting, so no value can make a request path misbehave later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |name: &'static str, value: i64, min: i64, max: i64| {
            if value < min || value > max {
                Err(ConfigError {
                    name,
                    value,
                    min,
                    max,
                })
            } else {
                Ok(())
            }
        };
        check(
            "v2_timestamp_window_secs",
            self.v2_timestamp_window_secs,
            1,
            86_400,
        )?;
        check(
            "v3_timestamp_window_secs",
            self.v3_timestamp_window_secs,
            1,
            86_400,
        )?;
        check(
            "top_timestamp_window_secs",
            self.top_timestamp_window_secs,
            1,
            86_400,
        )?;
        let bytes = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        check("max_body_bytes", bytes(self.max_body_bytes), 1024, 64 << 20)?;
        check(
            "max_admin_body_bytes",
            bytes(self.max_admin_body_bytes),
            1024,
            4 << 30,
        )?;
        check(
            "credential_cache_ttl_ms",
            i64::try_from(self.credential_cache_ttl_ms).unwrap_or(i64::MAX),
            0,
            3_600_000,
        )?;
        check(
            "journal_max_entries",
            bytes(self.journal_max_entries),
            0,
            10_000_000,
        )?;
        check(
            "journal_max_bytes",
            bytes(self.journal_max_bytes),
            0,
            16 << 30,
        )?;
        check(
            "journal_body_bytes",
            bytes(self.journal_body_bytes),
            0,
            16 << 20,
        )?;
        Ok(())
    }
}

impl ServerConfig {
    /// The request journal's bounds.
    pub fn journal(&self) -> crate::sandbox::journal::JournalConfig {
        crate::sandbox::journal::JournalConfig {
            max_entries: self.journal_max_entries,
            max_bytes: self.journal_max_bytes,
            body_bytes: self.journal_body_bytes,
        }
    }
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
            credential_cache_ttl_ms: 2_000,
            signature_cache_entries: 100_000,
            journal_max_entries: 10_000,
            journal_max_bytes: 64 << 20,
            journal_body_bytes: 8 << 10,
            explain_in_errors: false,
        }
    }
}
