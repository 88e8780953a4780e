//! The sandbox layer: the request journal, fault injection, the controllable clock and record
//! lifecycles. It sits beside the front doors and the methods, not inside them:
//!
//! ```text
//! HTTP ─▶ front door ──▶ sandbox.fault_for(trace) ──▶ method ──▶ store
//!             │              fault? → the front door renders it in its own protocol
//!             ◀── encode, sign ◀── sandbox.record(trace, answer) ── journal entry
//! ```
//!
//! A front door fills a [`Trace`] with the facts it already has (front door, method, app,
//! merchant, record key, parameters, verification outcome); the sandbox never parses a protocol.
//! A fault is handed back as a value ([`FaultAction`]) that each front door renders in its own
//! dialect, so an injected `ACQ.SYSTEM_ERROR` is byte for byte what a real one is.

pub mod lifecycle;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub mod diagnose;
pub mod explain;
pub mod journal;

use journal::{Journal, JournalParams, Outcome, SignBasis, Verification};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use tradeq_store::{Store, StoreError};

pub mod clock;
pub mod error_catalogue;
pub mod faults;

pub use clock::ClockSetting;

/// Which front door carried a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontDoor {
    /// `/gateway.do`.
    AlipayV2,
    /// `/v3/…`.
    AlipayV3,
    /// `/router/rest`.
    Top,
}

impl FrontDoor {
    /// The name used in the journal, in fault rules and in the admin API.
    pub fn as_str(&self) -> &'static str {
        match self {
            FrontDoor::AlipayV2 => "alipay_v2",
            FrontDoor::AlipayV3 => "alipay_v3",
            FrontDoor::Top => "top",
        }
    }

    /// The front door that serves `path` on the protocol listener.
    pub fn for_path(path: &str) -> Option<FrontDoor> {
        match path {
            "/gateway.do" => Some(FrontDoor::AlipayV2),
            "/router/rest" => Some(FrontDoor::Top),
            p if p.starts_with("/v3/") => Some(FrontDoor::AlipayV3),
            _ => None,
        }
    }

    /// The front door by its name.
    pub fn from_name(name: &str) -> Option<FrontDoor> {
        [FrontDoor::AlipayV2, FrontDoor::AlipayV3, FrontDoor::Top]
            .into_iter()
            .find(|d| d.as_str() == name)
    }
}

/// What a fault rule does to a request it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this protocol error (by its code or sub_code), rendered and signed exactly as
    /// the front door renders a real one.
    Error {
        /// `ACQ.SYSTEM_ERROR`, `isp.unknown-error`, `7`, …
        code: String,
    },
    /// Wait, then answer normally: `ms`, or a uniform draw from `min_ms..=max_ms`.
    Delay {
        /// A fixed delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
        /// The lower bound of a random delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<u64>,
        /// The upper bound of a random delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<u64>,
    },
    /// Hold the request without answering for `ms` (bounded), then close the connection.
    Timeout {
        /// How long to hold it.
        ms: u64,
    },
    /// Close the connection without an answer.
    Reset,
    /// Answer with this HTTP status and an empty body, as a load balancer does.
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// A valid answer whose signature is corrupted.
    BadSignature,
    /// The answer cut after `bytes` bytes.
    Truncate {
        /// How many bytes of the body are sent.
        bytes: usize,
    },
}

/// A fault applied to one request: the rule and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFault {
    /// The rule's id.
    pub rule_id: String,
    /// What it did.
    pub action: FaultAction,
}

/// The facts a front door gathers about one request, for fault matching and the journal.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The id the answer carries (v2 `trace_id` header, TOP `request_id`, v3 `alipay-trace-id`).
    pub id: String,
    /// When the request arrived (real time).
    pub received_at: DateTime<Utc>,
    /// For the latency.
    pub started: Instant,
    /// The front door.
    pub front_door: FrontDoor,
    /// The method, once read.
    pub method: Option<String>,
    /// The app id / app key, once read.
    pub app: Option<String>,
    /// The effective merchant, once resolved.
    pub merchant: Option<String>,
    /// The decoded business parameters, once read (empty before). The record key they name is
    /// worked out only when something asks ([`Trace::record_key`]): most requests meet no fault
    /// rule about keys and no journal reader.
    biz: Map<String, Value>,
    /// Whether the request got as far as its business parameters.
    biz_read: bool,
    /// The fault applied, if any.
    pub fault: Option<AppliedFault>,
    /// The received parameters, masked, for the journal (only copied when it is on).
    pub params: Option<JournalParams>,
    /// What the string the server verified is computed from.
    pub sign_basis: Option<SignBasis>,
    /// How far authentication went.
    pub verification: Verification,
    /// Why authentication failed, in plain English (filled only on failure).
    pub diagnosis: Vec<String>,
}

impl Trace {
    /// A trace for a request that just arrived.
    pub fn new(front_door: FrontDoor, id: &str) -> Trace {
        Trace {
            id: id.to_string(),
            received_at: Utc::now(),
            started: Instant::now(),
            front_door,
            method: None,
            app: None,
            merchant: None,
            biz: Map::new(),
            biz_read: false,
            fault: None,
            params: None,
            sign_basis: None,
            verification: Verification::NotReached,
            diagnosis: Vec::new(),
        }
    }

    /// Keeps the business parameters; the method reads them back with [`Trace::biz`].
    pub fn set_biz(&mut self, biz: Map<String, Value>) {
        self.biz = biz;
        self.biz_read = true;
    }

    /// The business parameters (empty until read).
    pub fn biz(&self) -> &Map<String, Value> {
        &self.biz
    }

    /// Whether the request got as far as its business parameters.
    pub fn biz_read(&self) -> bool {
        self.biz_read
    }

    /// Takes the business parameters out (for the journal entry).
    pub fn take_biz(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.biz)
    }

    /// The record key the request asks for (`trade_no`, `order_id`, …), once its business
    /// parameters are read.
    pub fn record_key(&self) -> Option<String> {
        record_key(&self.biz)
    }
}

/// The record key a request names: the first of the five methods' key parameters present, in
/// each method's priority order (the EDI method's keys travel inside its one JSON parameter).
pub fn record_key(biz: &Map<String, Value>) -> Option<String> {
    const KEYS: [&str; 6] = [
        "trade_no",
        "order_no",
        "order_id",
        "short_trade_no",
        "out_trade_no",
        "out_order_id",
    ];
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Some(Value::String(inner)) = biz.get("edi_alipay_trade_query_request") {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(inner) {
            return record_key(&map);
        }
    }
    KEYS.iter().find_map(|k| biz.get(*k).and_then(text))
}

/// How the sandbox keeps its copy of the shared state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// How often fault rules and the clock are re-read from the store (changes made through
    /// this node's admin API apply at once; other nodes' within this interval).
    pub refresh: Duration,
    /// The longest a `timeout` fault may hold a request.
    pub max_timeout_ms: u64,
    /// Whether request timestamp windows (and v3 nonce lifetimes) read the business clock
    /// instead of real time.
    pub request_timestamps_follow_clock: bool,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            refresh: Duration::from_millis(1_000),
            max_timeout_ms: 60_000,
            request_timestamps_follow_clock: false,
        }
    }
}

/// The sandbox: one per server, shared by every request.
pub struct Sandbox {
    store: Arc<dyn Store>,
    settings: SandboxSettings,
    faults: faults::FaultRules,
    clock: RwLock<ClockSetting>,
    /// This node's request journal.
    pub journal: Journal,
    /// Bounds the signature diagnoses run per second.
    pub diagnosis_budget: diagnose::Budget,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("settings", &self.settings)
            .field("clock", &self.clock_setting())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox over `store`, with real time and no rules until [`Sandbox::refresh`] reads
    /// the store, and a journal of the default bounds.
    pub fn new(store: Arc<dyn Store>, settings: SandboxSettings) -> Sandbox {
        Sandbox {
            store,
            settings,
            faults: faults::FaultRules::default(),
            clock: RwLock::new(ClockSetting::Real),
            journal: Journal::default(),
            diagnosis_budget: diagnose::Budget::default(),
        }
    }

    /// The same sandbox with a journal of these bounds.
    pub fn with_journal(mut self, config: journal::JournalConfig) -> Sandbox {
        self.journal = Journal::new(config);
        self
    }

    /// Records a request in the journal (a no-op when the journal is off).
    pub fn record(&self, trace: Trace, outcome: Outcome, response: &str) {
        self.journal.record(trace, outcome, response);
    }

    /// Its settings.
    pub fn settings(&self) -> &SandboxSettings {
        &self.settings
    }

    /// The business clock: what "now" is for token expiry, short trade numbers, bills and
    /// lifecycles.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock_setting().now(Utc::now())
    }

    /// What request timestamps are checked against: real time, or the business clock when
    /// `request_timestamps_follow_clock` is set.
    pub fn request_now(&self) -> DateTime<Utc> {
        if self.settings.request_timestamps_follow_clock {
            self.now()
        } else {
            Utc::now()
        }
    }

    /// How the clock is set (this node's copy).
    pub fn clock_setting(&self) -> ClockSetting {
        match self.clock.read() {
            Ok(c) => *c,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Stores a clock setting and applies it on this node at once.
    pub async fn set_clock(&self, setting: ClockSetting) -> Result<(), StoreError> {
        let text = setting.to_json();
        self.store.put_meta(clock::META_KEY, &text).await?;
        self.apply_clock(setting);
        Ok(())
    }

    fn apply_clock(&self, setting: ClockSetting) {
        match self.clock.write() {
            Ok(mut c) => *c = setting,
            Err(poisoned) => *poisoned.into_inner() = setting,
        }
    }

    /// The clock setting as stored (what every node converges to).
    pub async fn stored_clock(&self) -> Result<ClockSetting, StoreError> {
        Ok(match self.store.get_meta(clock::META_KEY).await? {
            Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable clock setting; using real time");
                ClockSetting::Real
            }),
            None => ClockSetting::Real,
        })
    }

    /// Re-reads the fault rules and the clock from the store.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let rows = self.store.list_fault_rules().await?;
        self.faults.replace(&rows);
        let clock = self.stored_clock().await?;
        self.apply_clock(clock);
        Ok(())
    }

    /// Keeps this node's copy fresh: refreshes now and then every `refresh` interval, for as
    /// long as the sandbox lives. Does nothing outside a Tokio runtime.
    pub fn start_refresher(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(self);
        let every = self.settings.refresh;
        handle.spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(sandbox) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = sandbox.refresh().await {
                    tracing::warn!(error = %e, "sandbox refresh failed; keeping the last copy");
                }
            }
        });
    }

    /// The fault to apply to a request, if a rule matches it.
    pub async fn fault_for(&self, trace: &Trace) -> Option<AppliedFault> {
        self.faults.fault_for(self.store.as_ref(), trace).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_key_follows_each_methods_priority() {
        let map = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let biz = map(serde_json::json!({"out_trade_no": "o", "trade_no": "t"}));
        assert_eq!(record_key(&biz).as_deref(), Some("t"));
        let biz = map(serde_json::json!({"out_trade_no": "o", "short_trade_no": 7777}));
        assert_eq!(record_key(&biz).as_deref(), Some("7777"));
        let biz = map(serde_json::json!({
            "edi_alipay_trade_query_request": "{\"out_trade_no\":\"x\"}"
        }));
        assert_eq!(record_key(&biz).as_deref(), Some("x"));
        assert_eq!(record_key(&Map::new()), None);
    }
}
