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
    /// How often (ms) each node re-reads the sandbox's fault rules and clock from the store;
    /// changes made through this node's admin API apply at once, other nodes' within this time.
    pub sandbox_refresh_ms: u64,
    /// The longest (ms) a `timeout` fault may hold a request before closing the connection.
    pub fault_max_timeout_ms: u64,
    /// Whether request timestamp windows read the sandbox clock instead of real time (off: real
    /// clients keep working whatever the clock says).
    pub request_timestamps_follow_clock: bool,
    /// Request journal: entries kept at most (0 turns the journal off).
    pub journal_max_entries: usize,
    /// Request journal: bytes kept at most (0 turns the journal off).
    pub journal_max_bytes: usize,
    /// Request journal: bytes of each answer body kept.
    pub journal_body_bytes: usize,
    /// Append a short English hint to the `sub_msg` of a refused signature or timestamp.
    pub explain_in_errors: bool,
    /// How long (ms) a request waits for a PostgreSQL connection before it is answered with the
    /// protocol's retryable error: while the database is away, every answer takes this long.
    pub database_timeout_ms: u64,
    /// How long (ms) an SQLite point read waits for a lock held by another connection before it
    /// is answered with the protocol's retryable error, rather than holding its worker thread.
    pub read_busy_timeout_ms: u64,
    /// Seconds a request head may take once its first byte arrived.
    pub header_read_timeout_secs: u64,
    /// Seconds a whole request body may take.
    pub body_read_timeout_secs: u64,
    /// Seconds a connection may wait for its next request (keep-alive).
    pub idle_timeout_secs: u64,
    /// Connections the protocol listener holds at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections the admin listener holds at once.
    pub admin_max_connections: usize,
    /// Seconds in-flight requests get to finish on shutdown before their connections close.
    pub drain_timeout_secs: u64,
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
            "sandbox_refresh_ms",
            i64::try_from(self.sandbox_refresh_ms).unwrap_or(i64::MAX),
            10,
            600_000,
        )?;
        check(
            "fault_max_timeout_ms",
            i64::try_from(self.fault_max_timeout_ms).unwrap_or(i64::MAX),
            1,
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
        check(
            "database_timeout_ms",
            i64::try_from(self.database_timeout_ms).unwrap_or(i64::MAX),
            10,
            60_000,
        )?;
        check(
            "read_busy_timeout_ms",
            i64::try_from(self.read_busy_timeout_ms).unwrap_or(i64::MAX),
            0,
            10_000,
        )?;
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        check(
            "header_read_timeout_secs",
            secs(self.header_read_timeout_secs),
            1,
            3_600,
        )?;
        check(
            "body_read_timeout_secs",
            secs(self.body_read_timeout_secs),
            1,
            3_600,
        )?;
        check("idle_timeout_secs", secs(self.idle_timeout_secs), 1, 86_400)?;
        check(
            "drain_timeout_secs",
            secs(self.drain_timeout_secs),
            0,
            3_600,
        )?;
        check("max_connections", bytes(self.max_connections), 1, 1_000_000)?;
        check(
            "admin_max_connections",
            bytes(self.admin_max_connections),
            1,
            100_000,
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
            sandbox_refresh_ms: 1_000,
            fault_max_timeout_ms: 60_000,
            request_timestamps_follow_clock: false,
            journal_max_entries: 10_000,
            journal_max_bytes: 64 << 20,
            journal_body_bytes: 8 << 10,
            explain_in_errors: false,
            database_timeout_ms: 500,
            read_busy_timeout_ms: 100,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            admin_max_connections: 256,
            drain_timeout_secs: 20,
        }
    }
}
