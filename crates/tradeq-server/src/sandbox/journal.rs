//! The request journal: every request the three front doors answered, newest kept, in memory,
//! per node.
//!
//! The request path only moves what the front door already holds into an [`Entry`] (the
//! parameters, masked, were copied into one buffer as they were read), cuts the answer body and
//! pushes the entry under a lock held for a queue push. Everything costly (JSON, the string to
//! sign) happens when an entry is read. The journal is bounded by entry count and by bytes; the
//! oldest entries go first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use tradeq_wire::params::Charset;
use tradeq_wire::top::request::SYSTEM_PARAMS;

use super::{AppliedFault, FrontDoor, Trace};

/// The journal's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// Entries kept at most; 0 turns the journal off.
    pub max_entries: usize,
    /// Bytes kept at most (an estimate of each entry's heap size); 0 turns the journal off.
    pub max_bytes: usize,
    /// Bytes of each answer body kept; the rest is cut.
    pub body_bytes: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            max_entries: 10_000,
            max_bytes: 64 << 20,
            body_bytes: 8 << 10,
        }
    }
}

/// Parameters whose values are credentials: kept masked.
const MASKED: [&str; 2] = ["app_auth_token", "session"];

/// A credential value as the journal shows it: enough to tell two apart, not enough to use.
pub fn mask_secret(value: &str) -> String {
    let n = value.chars().count();
    if n <= 8 {
        return "****".to_string();
    }
    let head: String = value.chars().take(4).collect();
    let tail: String = value.chars().skip(n - 2).collect();
    format!("{head}****{tail}")
}

/// A request's decoded parameters, masked, in one buffer (one allocation for the text, one for
/// the boundaries) in the order received. `sign` is left out; `app_auth_token` and `session` are
/// masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalParams {
    text: String,
    /// End offsets of name, value, name, value, …
    ends: Vec<u32>,
}

impl JournalParams {
    /// Copies `pairs`, masking credentials and leaving `sign` out.
    pub fn capture<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> JournalParams {
        let len: usize = pairs.clone().map(|(k, v)| k.len() + v.len()).sum();
        let mut p = JournalParams {
            text: String::with_capacity(len),
            ends: Vec::with_capacity(16),
        };
        for (k, v) in pairs {
            if k == "sign" {
                continue;
            }
            if MASKED.contains(&k) {
                p.push(k, &mask_secret(v));
            } else {
                p.push(k, v);
            }
        }
        p
    }

    /// Appends one pair as given (the caller has masked it).
    pub fn push(&mut self, name: &str, value: &str) {
        // A parameter set is bounded by the request body limit (64 MiB at most), so u32 offsets
        // hold; past that the pair is dropped rather than wrapped.
        if self.text.len() + name.len() + value.len() > u32::MAX as usize {
            return;
        }
        self.text.push_str(name);
        self.ends.push(self.text.len() as u32);
        self.text.push_str(value);
        self.ends.push(self.text.len() as u32);
    }

    /// The pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        let text = self.text.as_str();
        self.ends.chunks_exact(2).scan(0usize, move |start, pair| {
            let (k_end, v_end) = (pair[0] as usize, pair[1] as usize);
            let name = text.get(*start..k_end).unwrap_or("");
            let value = text.get(k_end..v_end).unwrap_or("");
            *start = v_end;
            Some((name, value))
        })
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

/// What the string to sign is computed from when an entry is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignBasis {
    /// v2: the parameters, in the request charset.
    AlipayV2 {
        /// The request charset.
        charset: Charset,
    },
    /// TOP: the parameters.
    Top,
    /// v3: the signed lines.
    AlipayV3 {
        /// The auth string of the `Authorization` header (without its `sign`).
        auth_string: String,
        /// The HTTP method.
        http_method: String,
        /// Path and raw query.
        target: String,
        /// The body as received (lossy UTF-8).
        body: String,
        /// The `alipay-app-auth-token` header, masked.
        app_auth_token: Option<String>,
    },
}

impl SignBasis {
    fn heap_bytes(&self) -> usize {
        match self {
            SignBasis::AlipayV3 {
                auth_string,
                http_method,
                target,
                body,
                app_auth_token,
            } => {
                auth_string.capacity()
                    + http_method.capacity()
                    + target.capacity()
                    + body.capacity()
                    + app_auth_token.as_ref().map_or(0, String::capacity)
            }
            _ => 0,
        }
    }
}

/// How far authentication went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verification {
    /// The request failed before its signature was checked.
    #[default]
    NotReached,
    /// The signature verified.
    Verified,
    /// The signature (or the timestamp) was refused.
    Failed,
}

impl Verification {
    /// `not_reached`, `verified` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verification::NotReached => "not_reached",
            Verification::Verified => "verified",
            Verification::Failed => "failed",
        }
    }
}

/// How a request ended, as its answer says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the answer is a success.
    pub ok: bool,
    /// The error code (`40004`, `isv.invalid-signature`'s `40002`, TOP `25`, v3 `invalid-signature`).
    pub code: Option<String>,
    /// The error sub-code (`ACQ.TRADE_NOT_EXIST`, `isv.invalid-signature`).
    pub sub_code: Option<String>,
}

impl Outcome {
    /// A success.
    pub fn success() -> Outcome {
        Outcome {
            ok: true,
            code: None,
            sub_code: None,
        }
    }

    /// An error.
    pub fn error(code: impl Into<String>, sub_code: Option<String>) -> Outcome {
        Outcome {
            ok: false,
            code: Some(code.into()),
            sub_code,
        }
    }
}

/// One journal entry, as recorded. [`Entry::to_json`] renders it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Position in this node's journal, increasing; the paging cursor.
    pub seq: u64,
    /// The request id the answer carried.
    pub id: String,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
    /// The front door.
    pub front_door: FrontDoor,
    /// The method.
    pub method: Option<String>,
    /// App id or app key.
    pub app: Option<String>,
    /// The effective merchant.
    pub merchant: Option<String>,
    /// The parameters, masked.
    pub params: JournalParams,
    /// What the string to sign is computed from.
    pub sign_basis: Option<SignBasis>,
    /// How far authentication went.
    pub verification: Verification,
    /// Findings of the failure diagnosis.
    pub diagnosis: Vec<String>,
    /// How the answer ended.
    pub outcome: Outcome,
    /// Microseconds from arrival to the answer.
    pub latency_us: u64,
    /// The fault applied.
    pub fault: Option<AppliedFault>,
    /// The answer body, cut at the configured size.
    pub response: String,
    /// The answer body's full length in bytes.
    pub response_bytes: usize,
    /// The business parameters where the parameters do not show them: v3's (its parameters are
    /// its body) and an encrypted v2 `biz_content`'s.
    pub biz: Option<Map<String, Value>>,
    /// Whether the request got as far as its business parameters (before that, no record key
    /// is shown, though the parameters may name one).
    pub biz_read: bool,
}

impl Entry {
    /// The record key the request asked for (`trade_no`, `order_id`, …), read from its business
    /// parameters now: an entry is read far less often than one is written.
    pub fn record_key(&self) -> Option<String> {
        if !self.biz_read {
            return None;
        }
        if let Some(biz) = &self.biz {
            return super::record_key(biz);
        }
        match self.front_door {
            FrontDoor::Top => {
                let biz: Map<String, Value> = self
                    .params
                    .iter()
                    .filter(|(k, _)| !SYSTEM_PARAMS.contains(k))
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect();
                super::record_key(&biz)
            }
            FrontDoor::AlipayV2 => {
                match serde_json::from_str::<Value>(self.params.get("biz_content")?) {
                    Ok(Value::Object(biz)) => super::record_key(&biz),
                    _ => None,
                }
            }
            FrontDoor::AlipayV3 => None,
        }
    }

    /// An estimate of the memory the entry holds.
    fn heap_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let biz = self.biz.as_ref().map_or(0, |m| {
            m.iter()
                .map(|(k, v)| k.len() + json_size(v) + 64)
                .sum::<usize>()
        });
        std::mem::size_of::<Entry>()
            + 64
            + self.id.capacity()
            + opt(&self.method)
            + opt(&self.app)
            + opt(&self.merchant)
            + self.params.heap_bytes()
            + self.sign_basis.as_ref().map_or(0, SignBasis::heap_bytes)
            + self.diagnosis.iter().map(String::capacity).sum::<usize>()
            + opt(&self.outcome.code)
            + opt(&self.outcome.sub_code)
            + self.response.capacity()
            + biz
    }

    /// The string the server verified (credentials masked), computed now.
    pub fn sign_string(&self) -> Option<String> {
        match self.sign_basis.as_ref()? {
            SignBasis::AlipayV2 { .. } => Some(tradeq_wire::alipay::sign::v2_sign_content(
                self.params.iter(),
                false,
            )),
            SignBasis::Top => Some(tradeq_wire::top::sign::sign_string(
                self.params.iter(),
                false,
            )),
            SignBasis::AlipayV3 {
                auth_string,
                http_method,
                target,
                body,
                app_auth_token,
            } => Some(
                String::from_utf8_lossy(&tradeq_wire::alipay::v3::request_sign_content(
                    auth_string,
                    http_method,
                    target,
                    body.as_bytes(),
                    app_auth_token.as_deref(),
                ))
                .into_owned(),
            ),
        }
    }

    /// The entry as the admin API shows it.
    pub fn to_json(&self) -> Value {
        let mut params = Map::new();
        for (k, v) in self.params.iter() {
            params.insert(k.to_string(), Value::String(v.to_string()));
        }
        if params.is_empty() {
            if let Some(biz) = &self.biz {
                params = biz.clone();
            }
        }
        json!({
            "id": self.id,
            "seq": self.seq,
            "time": self.received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "front_door": self.front_door.as_str(),
            "method": self.method,
            "app": self.app,
            "merchant": self.merchant,
            "record_key": self.record_key(),
            "outcome": if self.outcome.ok { "ok" } else { "error" },
            "code": self.outcome.code,
            "sub_code": self.outcome.sub_code,
            "verification": self.verification.as_str(),
            "sign_string": self.sign_string(),
            "diagnosis": self.diagnosis,
            "fault": self.fault,
            "latency_ms": (self.latency_us as f64) / 1000.0,
            "params": params,
            "response": self.response,
            "response_bytes": self.response_bytes,
            "response_truncated": self.response.len() < self.response_bytes,
        })
    }
}

fn json_size(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 24,
        Value::Array(a) => a.iter().map(json_size).sum::<usize>() + 24,
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + json_size(v) + 64).sum(),
        _ => 24,
    }
}

/// Which entries a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Method name.
    pub method: Option<String>,
    /// App id or app key.
    pub app: Option<String>,
    /// Effective merchant.
    pub merchant: Option<String>,
    /// `Some(true)`: successes only; `Some(false)`: errors only.
    pub ok: Option<bool>,
    /// Record key.
    pub key: Option<String>,
    /// Front door.
    pub front_door: Option<FrontDoor>,
}

impl Filter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &Entry) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_deref() == Some(w))
        };
        eq(&self.method, &e.method)
            && eq(&self.app, &e.app)
            && eq(&self.merchant, &e.merchant)
            && self
                .key
                .as_ref()
                .is_none_or(|k| e.record_key().as_ref() == Some(k))
            && self.ok.is_none_or(|ok| ok == e.outcome.ok)
            && self.front_door.is_none_or(|d| d == e.front_door)
    }
}

/// A page of entries, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The entries.
    pub entries: Vec<Arc<Entry>>,
    /// The cursor of the next (older) page, when there are more.
    pub next_cursor: Option<u64>,
}

struct Inner {
    entries: VecDeque<(Arc<Entry>, usize)>,
    bytes: usize,
}

/// The journal of one node.
pub struct Journal {
    config: JournalConfig,
    inner: Mutex<Inner>,
    seq: AtomicU64,
    live: broadcast::Sender<Arc<Entry>>,
    /// Set at shutdown so live readers end and the admin listener can drain.
    closed: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new(JournalConfig::default())
    }
}

/// Entries a slow live reader may fall behind by before it is told it missed some.
const LIVE_BACKLOG: usize = 1024;

impl Journal {
    /// An empty journal.
    pub fn new(config: JournalConfig) -> Journal {
        Journal {
            config,
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                bytes: 0,
            }),
            seq: AtomicU64::new(0),
            live: broadcast::channel(LIVE_BACKLOG).0,
            closed: tokio::sync::watch::channel(false).0,
        }
    }

    /// Its bounds.
    pub fn config(&self) -> JournalConfig {
        self.config
    }

    /// Whether requests are recorded: front doors skip copying parameters when not.
    pub fn enabled(&self) -> bool {
        self.config.max_entries > 0 && self.config.max_bytes > 0
    }

    /// Records a request: `response` is the answer body as sent (before charset encoding).
    pub fn record(&self, mut trace: Trace, outcome: Outcome, response: &str) {
        if !self.enabled() {
            return;
        }
        let params = trace.params.take().unwrap_or_default();
        // Where the parameters show the business parameters, the entry keeps only those.
        let keep_biz = match trace.front_door {
            FrontDoor::AlipayV3 => true,
            FrontDoor::AlipayV2 => params.get("encrypt_type").is_some(),
            FrontDoor::Top => false,
        };
        let biz_read = trace.biz_read();
        let biz = keep_biz.then(|| trace.take_biz());
        let latency_us = u64::try_from(trace.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut cut = response.len().min(self.config.body_bytes);
        while !response.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut entry = Entry {
            seq: 0,
            id: trace.id,
            received_at: trace.received_at,
            front_door: trace.front_door,
            method: trace.method,
            app: trace.app,
            merchant: trace.merchant,
            params,
            sign_basis: trace.sign_basis,
            verification: trace.verification,
            diagnosis: trace.diagnosis,
            outcome,
            latency_us,
            fault: trace.fault,
            response: response[..cut].to_string(),
            response_bytes: response.len(),
            biz,
            biz_read,
        };
        let size = entry.heap_bytes();
        if size > self.config.max_bytes {
            return;
        }
        let entry = {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            entry.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            let entry = Arc::new(entry);
            inner.entries.push_back((entry.clone(), size));
            inner.bytes += size;
            while inner.entries.len() > self.config.max_entries
                || inner.bytes > self.config.max_bytes
            {
                match inner.entries.pop_front() {
                    Some((_, n)) => inner.bytes -= n,
                    None => break,
                }
            }
            entry
        };
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(entry);
        }
    }

    /// Entries newest first, older than `before` when given.
    pub fn page(&self, filter: &Filter, before: Option<u64>, limit: usize) -> Page {
        let Ok(inner) = self.inner.lock() else {
            return Page {
                entries: Vec::new(),
                next_cursor: None,
            };
        };
        let mut entries = Vec::with_capacity(limit.min(inner.entries.len()));
        let mut more = false;
        for (e, _) in inner.entries.iter().rev() {
            if before.is_some_and(|b| e.seq >= b) || !filter.matches(e) {
                continue;
            }
            if entries.len() == limit {
                more = true;
                break;
            }
            entries.push(e.clone());
        }
        let next_cursor = if more {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Page {
            entries,
            next_cursor,
        }
    }

    /// The entry with this request id.
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        let inner = self.inner.lock().ok()?;
        inner
            .entries
            .iter()
            .rev()
            .find(|(e, _)| e.id == id)
            .map(|(e, _)| e.clone())
    }

    /// Forgets every entry; returns how many there were.
    pub fn clear(&self) -> usize {
        match self.inner.lock() {
            Ok(mut inner) => {
                let n = inner.entries.len();
                inner.entries.clear();
                inner.bytes = 0;
                n
            }
            Err(_) => 0,
        }
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.entries.len(), i.bytes))
            .unwrap_or((0, 0))
    }

    /// Entries recorded from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Entry>> {
        self.live.subscribe()
    }

    /// Turns `true` when live readers must stop (the server is shutting down).
    pub fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Ends every live reader: an open stream would otherwise hold a draining server forever.
    pub fn close_live(&self) {
        self.closed.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str, method: &str, params: &[(&str, &str)]) -> Trace {
        let mut t = Trace::new(FrontDoor::Top, id);
        t.method = Some(method.to_string());
        t.app = Some("12345678".to_string());
        t.params = Some(JournalParams::capture(params.iter().copied()));
        t.sign_basis = Some(SignBasis::Top);
        t
    }

    #[test]
    fn the_record_key_is_read_from_what_each_entry_keeps() {
        let journal = Journal::new(JournalConfig::default());
        let biz = |pairs: &[(&str, &str)]| -> Map<String, Value> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect()
        };
        // TOP: from the business parameters among the parameters (the EDI one holds JSON).
        let mut t = trace(
            "top",
            "tmall.luxury.stage.edi.alipay.trade.query",
            &[
                ("method", "tmall.luxury.stage.edi.alipay.trade.query"),
                ("session", "6100e23657fb0b2d0c78bd5ab2bc"),
                ("edi_alipay_trade_query_request", r#"{"trade_no":"T1"}"#),
            ],
        );
        t.set_biz(biz(&[(
            "edi_alipay_trade_query_request",
            r#"{"trade_no":"T1"}"#,
        )]));
        journal.record(t, Outcome::success(), "{}");
        // v2 in the clear: from `biz_content`.
        let mut t = Trace::new(FrontDoor::AlipayV2, "v2");
        t.params = Some(JournalParams::capture(
            [("biz_content", r#"{"out_trade_no":"O2"}"#)].into_iter(),
        ));
        t.set_biz(biz(&[("out_trade_no", "O2")]));
        journal.record(t, Outcome::success(), "{}");
        // v2 encrypted: the parameters hold ciphertext, so the entry keeps the decrypted ones.
        let mut t = Trace::new(FrontDoor::AlipayV2, "v2-aes");
        t.params = Some(JournalParams::capture(
            [("encrypt_type", "AES"), ("biz_content", "q83vEjRWeJA=")].into_iter(),
        ));
        t.set_biz(biz(&[("trade_no", "T3")]));
        journal.record(t, Outcome::success(), "{}");
        // v3: its body.
        let mut t = Trace::new(FrontDoor::AlipayV3, "v3");
        t.set_biz(biz(&[("out_trade_no", "O4")]));
        journal.record(t, Outcome::success(), "{}");

        // A request refused before its business parameters were read names no record.
        let t = trace(
            "refused",
            "alibaba.xlife.onsite.trade.query",
            &[
                ("method", "alibaba.xlife.onsite.trade.query"),
                ("trade_no", "T5"),
            ],
        );
        journal.record(t, Outcome::error("25", None), "{}");

        let key = |id: &str| journal.get(id).and_then(|e| e.record_key());
        assert_eq!(key("refused"), None);
        assert_eq!(key("top").as_deref(), Some("T1"));
        assert_eq!(key("v2").as_deref(), Some("O2"));
        assert_eq!(key("v2-aes").as_deref(), Some("T3"));
        assert_eq!(key("v3").as_deref(), Some("O4"));
        assert!(journal.get("v2").is_some_and(|e| e.biz.is_none()));
        let filter = Filter {
            key: Some("T3".to_string()),
            ..Filter::default()
        };
        let page = journal.page(&filter, None, 10);
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].id, "v2-aes");
    }

    #[test]
    fn params_are_masked_and_sign_is_left_out() {
        let p = JournalParams::capture(
            [
                ("method", "m"),
                ("session", "6100e23657fb0b2d0c78bd5ab2bc"),
                ("sign", "ABCDEF"),
                ("app_auth_token", "short"),
                ("empty", ""),
            ]
            .into_iter(),
        );
        let pairs: Vec<(&str, &str)> = p.iter().collect();
        assert_eq!(
            pairs,
            vec![
                ("method", "m"),
                ("session", "6100****bc"),
                ("app_auth_token", "****"),
                ("empty", ""),
            ]
        );
        assert_eq!(p.get("session"), Some("6100****bc"));
        assert_eq!(p.get("sign"), None);
    }

    #[test]
    fn the_sign_string_is_computed_from_the_masked_parameters() {
        let j = Journal::default();
        let t = trace(
            "a1",
            "m",
            &[("b", "2"), ("a", "1"), ("session", "secretsecret")],
        );
        j.record(t, Outcome::success(), "{}");
        let e = j.get("a1").map(|e| e.to_json()).unwrap_or_default();
        assert_eq!(e["sign_string"], "a1b2sessionsecr****et");
        assert_eq!(e["params"]["session"], "secr****et");
        assert!(!e.to_string().contains("secretsecret"));
    }

    #[test]
    fn bounded_by_count_and_by_bytes() {
        let j = Journal::new(JournalConfig {
            max_entries: 5,
            max_bytes: 1 << 30,
            body_bytes: 100,
        });
        for i in 0..20 {
            j.record(trace(&format!("id{i}"), "m", &[]), Outcome::success(), "x");
        }
        assert_eq!(j.usage().0, 5);
        assert!(j.get("id19").is_some() && j.get("id14").is_none());

        let max_bytes = 200_000;
        let j = Journal::new(JournalConfig {
            max_entries: 1_000_000,
            max_bytes,
            body_bytes: 8192,
        });
        let big = "v".repeat(50_000);
        let body = "b".repeat(100_000);
        for i in 0..1000 {
            j.record(
                trace(&format!("id{i}"), "m", &[("big", &big)]),
                Outcome::success(),
                &body,
            );
            assert!(j.usage().1 <= max_bytes);
        }
        let (n, bytes) = j.usage();
        assert!((2..=4).contains(&n), "{n} entries, {bytes} bytes");
        let last = j.get("id999").map(|e| e.to_json()).unwrap_or_default();
        assert_eq!(last["response"].as_str().map(str::len), Some(8192));
        assert_eq!(last["response_bytes"], 100_000);
        assert_eq!(last["response_truncated"], true);
    }

    #[test]
    fn an_answer_is_cut_on_a_character_boundary() {
        let j = Journal::new(JournalConfig {
            body_bytes: 4,
            ..JournalConfig::default()
        });
        j.record(trace("c", "m", &[]), Outcome::success(), "中文中文");
        let e = j.get("c").map(|e| e.response.clone()).unwrap_or_default();
        assert_eq!(e, "中");
    }

    #[test]
    fn zero_turns_it_off() {
        let j = Journal::new(JournalConfig {
            max_entries: 0,
            ..JournalConfig::default()
        });
        assert!(!j.enabled());
        j.record(trace("x", "m", &[]), Outcome::success(), "");
        assert_eq!(j.usage(), (0, 0));
    }

    #[test]
    fn pages_newest_first_with_filters_and_cursor() {
        let j = Journal::default();
        for i in 0..10 {
            let method = if i % 2 == 0 { "even" } else { "odd" };
            let outcome = if i < 5 {
                Outcome::success()
            } else {
                Outcome::error("40004", Some("ACQ.TRADE_NOT_EXIST".into()))
            };
            j.record(trace(&format!("id{i}"), method, &[]), outcome, "");
        }
        let filter = Filter {
            method: Some("even".into()),
            ..Filter::default()
        };
        let p = j.page(&filter, None, 3);
        let ids: Vec<&str> = p.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["id8", "id6", "id4"]);
        let p = j.page(&filter, p.next_cursor, 3);
        let ids: Vec<&str> = p.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["id2", "id0"]);
        assert_eq!(p.next_cursor, None);
        let errors = Filter {
            ok: Some(false),
            ..Filter::default()
        };
        assert_eq!(j.page(&errors, None, 100).entries.len(), 5);
        assert_eq!(j.clear(), 10);
        assert!(j.page(&Filter::default(), None, 10).entries.is_empty());
    }

    #[test]
    fn the_configuration_is_validated() {
        use crate::config::ServerConfig;
        let ok = ServerConfig::default();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.journal(), JournalConfig::default());
        for bad in [
            ServerConfig {
                journal_max_entries: 10_000_001,
                ..ServerConfig::default()
            },
            ServerConfig {
                journal_max_bytes: (16 << 30) + 1,
                ..ServerConfig::default()
            },
            ServerConfig {
                journal_body_bytes: (16 << 20) + 1,
                ..ServerConfig::default()
            },
        ] {
            let e = bad.validate().err();
            let name = e.as_ref().and_then(|e| e.setting());
            assert!(name.is_some_and(|n| n.starts_with("journal_")), "{e:?}");
        }
        let off = ServerConfig {
            journal_max_bytes: 0,
            ..ServerConfig::default()
        };
        assert!(off.validate().is_ok());
        assert!(!Journal::new(off.journal()).enabled());
    }

    #[tokio::test]
    async fn live_readers_get_new_entries() {
        let j = Journal::default();
        let mut rx = j.subscribe();
        j.record(trace("live", "m", &[]), Outcome::success(), "");
        let e = rx.recv().await.map(|e| e.id.clone()).unwrap_or_default();
        assert_eq!(e, "live");
    }
}
