//! Server settings: the one list of them, each named once, with its default, its range and
//! what it means. Everything else — the TOML keys, the `TRADEQ_*` variables, the flags, the
//! checks and the table of `docs/configuration.md` — is derived from this list.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

mod load;
mod table;
mod value;

pub use load::{suggest, ConfigError, Loaded, Source, CONFIG_VARIABLE};
pub use table::markdown_table;
pub use value::{redact_url, Kind, Raw, Secret, SettingValue, Shown};

/// One setting as the list declares it.
#[derive(Debug)]
pub struct Setting {
    /// The TOML key; the variable is `TRADEQ_<NAME>`, the flag `--<name-with-dashes>`.
    pub name: &'static str,
    /// What it means, as written in the list (one line per source line).
    pub doc: &'static [&'static str],
    /// The kind of value it takes.
    pub kind: Kind,
    /// The accepted values of a number, both ends included.
    pub range: Option<(i128, i128)>,
    /// The default as documented, when it is not simply the default value.
    pub default_note: Option<&'static str>,
}

impl Setting {
    /// Its environment variable.
    pub fn env_var(&self) -> String {
        format!("TRADEQ_{}", self.name.to_ascii_uppercase())
    }

    /// Its command-line flag, without the dashes in front.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// What it means, on one line.
    pub fn meaning(&self) -> String {
        self.doc
            .iter()
            .map(|line| line.trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The setting called `name`.
    pub fn named(name: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.name == name)
    }
}

/// `Some((min, max))`: the range of a number setting.
const fn between(min: i128, max: i128) -> Option<(i128, i128)> {
    Some((min, max))
}

/// `Some` of the documented default, when an entry states one.
macro_rules! default_note {
    () => {
        None
    };
    ($note:literal) => {
        Some($note)
    };
}

/// The one list. Each entry: its doc comment (the meaning shown in `--help` and in the table),
/// `name: type = default, range` and, where the default depends on something else, how the
/// documentation states it.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:expr, $range:expr $(, default_note = $note:literal)?;
    )*) => {
        /// Every setting of a `tradeq serve` node, read by [`ServerConfig::load`] from the
        /// defaults, a TOML file, `TRADEQ_*` variables and flags (each later one winning).
        #[derive(Debug, Clone)]
        pub struct ServerConfig {
            $($(#[doc = $doc])+ pub $name: $ty,)*
        }

        impl Default for ServerConfig {
            fn default() -> Self {
                ServerConfig { $($name: $default,)* }
            }
        }

        /// Every setting, in the order of the list.
        pub static SETTINGS: &[Setting] = &[$(Setting {
            name: stringify!($name),
            doc: &[$($doc),+],
            kind: <$ty as SettingValue>::KIND,
            range: $range,
            default_note: default_note!($($note)?),
        },)*];

        impl ServerConfig {
            /// Sets the setting `name` from `raw`.
            fn set(&mut self, name: &str, raw: Raw<'_>) -> Result<(), String> {
                match name {
                    $(stringify!($name) => self.$name = <$ty as SettingValue>::parse(raw)?,)*
                    _ => return Err(format!("there is no setting `{name}`")),
                }
                Ok(())
            }

            /// The value of the setting `name`.
            pub fn value(&self, name: &str) -> Option<&dyn Shown> {
                match name {
                    $(stringify!($name) => Some(&self.$name),)*
                    _ => None,
                }
            }
        }
    };
}

settings! {
    /// The protocol listener (`/gateway.do`, `/v3/…`, `/router/rest`).
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), None;
    /// The administration listener.
    admin_listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8081)), None;
    /// The data directory: the embedded SQLite store, the generated admin token and the demo
    /// credentials live in it.
    data_dir: PathBuf = PathBuf::from("./tradeq-data"), None;
    /// A database instead of the embedded store: `postgres://…` or `sqlite://FILE`.
    database_url: Option<String> = None, None;
    /// The admin API bearer token; generated and kept in the store (as a digest) when not
    /// given. Never printed.
    admin_token: Option<Secret> = None, None;
    /// Fault rules installed at start: a file of them, a JSON array or NDJSON (docs/sandbox.md).
    faults_file: Option<PathBuf> = None, None;
    /// Append a short English hint to the `sub_msg` of a refused signature or timestamp.
    explain_in_errors: bool = false, None, default_note = "`false` (`true` with `--demo`)";
    /// Allowed clock skew of v2 `timestamp`, in seconds (±).
    v2_timestamp_window_secs: i64 = 15 * 60, between(1, 86_400);
    /// Allowed clock skew of v3 `timestamp` when no `expired_seconds` is sent, in seconds (±).
    v3_timestamp_window_secs: i64 = 10 * 60, between(1, 86_400);
    /// Allowed clock skew of TOP `timestamp`, in seconds (±).
    top_timestamp_window_secs: i64 = 10 * 60, between(1, 86_400);
    /// Whether request timestamp windows read the sandbox clock instead of real time (off: real
    /// clients keep working whatever the clock says).
    request_timestamps_follow_clock: bool = false, None;
    /// Largest request body accepted, in bytes.
    max_body_bytes: usize = 256 * 1024, between(1024, 64 << 20);
    /// Largest administration request body (batch uploads), in bytes.
    max_admin_body_bytes: usize = 64 * 1024 * 1024, between(1024, 4 << 30);
    /// How long (ms) an app, token or session read from the store is reused; changes made
    /// through this node's admin API apply at once, others within this time and the one read
    /// that refreshes the entry. 0 disables it.
    credential_cache_ttl_ms: u64 = 2_000, between(0, 3_600_000);
    /// How many answer signatures the v2 signature cache keeps (0 turns it off).
    signature_cache_entries: usize = 100_000, between(0, 10_000_000);
    /// How many decoded records a node reuses while the records are unchanged (0 turns the cache
    /// off); any write, by any process or node, retires them (PostgreSQL: within 100 ms).
    record_cache_entries: usize = tradeq_store::DEFAULT_RECORD_CACHE_ENTRIES, between(0, 10_000_000);
    /// How often (ms) each node re-reads the sandbox's fault rules and clock from the store;
    /// changes made through this node's admin API apply at once, other nodes' within this time.
    sandbox_refresh_ms: u64 = 1_000, between(10, 600_000);
    /// The longest (ms) a `timeout` fault may hold a request before closing the connection.
    fault_max_timeout_ms: u64 = 60_000, between(1, 3_600_000);
    /// Request journal: entries kept at most (0 turns the journal off).
    journal_max_entries: usize = 10_000, between(0, 10_000_000);
    /// Request journal: bytes kept at most (0 turns the journal off).
    journal_max_bytes: usize = 64 << 20, between(0, 16 << 30);
    /// Request journal: bytes of each answer body kept.
    journal_body_bytes: usize = 8 << 10, between(0, 16 << 20);
    /// How long (ms) a request waits for a PostgreSQL connection before it is answered with the
    /// protocol's retryable error: while the database is away, every answer takes this long.
    database_timeout_ms: u64 = 500, between(10, 60_000);
    /// How long (ms) an SQLite point read waits for a lock held by another connection before it
    /// is answered with the protocol's retryable error, rather than holding its worker thread.
    read_busy_timeout_ms: u64 = 100, between(0, 10_000);
    /// Seconds a request head may take once its first byte arrived.
    header_read_timeout_secs: u64 = 10, between(1, 3_600);
    /// Seconds a whole request body may take.
    body_read_timeout_secs: u64 = 30, between(1, 3_600);
    /// Seconds a connection may wait for its next request (keep-alive).
    idle_timeout_secs: u64 = 60, between(1, 86_400);
    /// Connections the protocol listener holds at once; more are answered 503 and closed.
    max_connections: usize = 10_000, between(1, 1_000_000);
    /// Connections the admin listener holds at once.
    admin_max_connections: usize = 256, between(1, 100_000);
    /// Seconds in-flight requests get to finish on shutdown before their connections close.
    drain_timeout_secs: u64 = 20, between(0, 3_600);
}

impl ServerConfig {
    /// Checks every number against its range, so no value can make a request path misbehave
    /// later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        load::check_ranges(self, |_| Source::Default)
    }

    /// The request journal's bounds.
    pub fn journal(&self) -> crate::sandbox::journal::JournalConfig {
        crate::sandbox::journal::JournalConfig {
            max_entries: self.journal_max_entries,
            max_bytes: self.journal_max_bytes,
            body_bytes: self.journal_body_bytes,
        }
    }

    /// How the store is opened.
    pub fn store_options(&self) -> tradeq_store::StoreOptions {
        tradeq_store::StoreOptions {
            record_cache_entries: self.record_cache_entries,
            database_timeout: Some(Duration::from_millis(self.database_timeout_ms)),
            read_busy_timeout: Some(Duration::from_millis(self.read_busy_timeout_ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_their_own_checks() {
        ServerConfig::default().validate().unwrap();
    }

    #[test]
    fn every_number_has_a_range_and_nothing_else_has_one() {
        for s in SETTINGS {
            assert_eq!(
                s.range.is_some(),
                s.kind == Kind::Integer,
                "{}: a number needs a range, nothing else takes one",
                s.name
            );
            if let Some((min, max)) = s.range {
                assert!(min <= max, "{}", s.name);
            }
        }
    }

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for s in SETTINGS {
            assert!(seen.insert(s.name), "{} twice", s.name);
            assert!(
                s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                s.name
            );
        }
    }
}
