//! Fault rules: what they match, how they are checked when added, how a request claims one, and
//! how an applied fault changes the answer on the wire.
//!
//! Rules live in the store, so every node sharing it applies the same ones; each node keeps a
//! copy ([`FaultRules`]) refreshed from the store, so a request with no rules costs one atomic
//! load. A matching request numbers itself in the store (`matched`), which makes `after` and the
//! seeded `probability` draw the same on every node, and claims a hit with a conditional update,
//! which keeps the total under `times` even with several nodes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use tradeq_store::{FaultRuleRow, NewFaultRule, Store, StoreError};

use super::error_catalogue::{self, InjectedError};
use super::{AppliedFault, FaultAction, FrontDoor, Trace};
use crate::methods::{Method, Platform};

/// The largest fixed or random delay, in milliseconds (a delay answers; a longer hold is what
/// `timeout` is for).
pub const MAX_DELAY_MS: u64 = 600_000;

/// The most rules a sandbox keeps: every node holds them all and a request may try each.
pub const MAX_RULES: usize = 1_000;

/// Which requests a rule applies to; every field given must equal the request's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultMatch {
    /// `alipay_v2`, `alipay_v3` or `top`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_door: Option<FrontDoor>,
    /// The method's wire name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The app id / app key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The effective merchant (after `app_auth_token` / `session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    /// The record key the request names (`trade_no`, `order_id`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A fault rule as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Its id.
    pub id: String,
    /// Which requests it applies to.
    #[serde(rename = "match")]
    pub matcher: FaultMatch,
    /// Applied to at most this many requests (`None`: no limit).
    #[serde(default)]
    pub times: Option<u64>,
    /// The first `after` matching requests are left alone.
    #[serde(default)]
    pub after: u64,
    /// The chance that a matching request (past `after`) gets the fault.
    pub probability: f64,
    /// Seeds the draws, so that a run is reproducible.
    pub seed: u64,
    /// What it does.
    pub action: FaultAction,
}

/// A rule with its counters, as `GET /v1/faults` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRuleView {
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Requests it matched.
    pub matched: u64,
    /// Requests it was applied to.
    pub hits: u64,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A rule refused: the field to blame and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct RuleError {
    /// The field, as a path (`action.code`, `match.front_door`).
    pub field: String,
    /// Why.
    pub reason: String,
}

fn bad(field: &str, reason: impl Into<String>) -> RuleError {
    RuleError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

const RULE_FIELDS: [&str; 6] = ["match", "times", "after", "probability", "seed", "action"];
const MATCH_FIELDS: [&str; 5] = ["front_door", "method", "app", "merchant", "key"];

fn take_object(
    value: Value,
    field: &str,
    allowed: &[&str],
) -> Result<Map<String, Value>, RuleError> {
    let Value::Object(map) = value else {
        return Err(bad(field, "must be a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let path = if field.is_empty() {
            unknown.clone()
        } else {
            format!("{field}.{unknown}")
        };
        return Err(bad(
            &path,
            format!("unknown field; expected one of {}", allowed.join(", ")),
        ));
    }
    Ok(map)
}

fn opt_u64(map: &Map<String, Value>, name: &str, path: &str) -> Result<Option<u64>, RuleError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Ok(Some(v)),
            None if n.as_i64().is_some() || n.as_f64().is_some_and(|f| f < 0.0) => {
                Err(bad(path, "must not be negative"))
            }
            None => Err(bad(path, "must be a whole number")),
        },
        Some(_) => Err(bad(path, "must be a number")),
    }
}

fn opt_string(
    map: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<String>, RuleError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err(bad(path, "must not be empty")),
        Some(Value::String(s)) if s.chars().count() > 256 => {
            Err(bad(path, "must be at most 256 characters"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(path, "must be a string")),
    }
}

/// The front doors a rule can match: the one it names, else those that carry its method, else
/// all three.
pub fn doors_of(matcher: &FaultMatch) -> Vec<FrontDoor> {
    if let Some(door) = matcher.front_door {
        return vec![door];
    }
    match matcher.method.as_deref().and_then(Method::from_name) {
        Some(Method::AlipayTradeQuery) => vec![FrontDoor::AlipayV2, FrontDoor::AlipayV3],
        Some(m) if m.platform() == Platform::Alipay => vec![FrontDoor::AlipayV2],
        Some(_) => vec![FrontDoor::Top],
        None => vec![FrontDoor::AlipayV2, FrontDoor::AlipayV3, FrontDoor::Top],
    }
}

/// Reads and checks a rule from its JSON form; `id` is the id it will have.
/// `max_timeout_ms` bounds the `timeout` action.
pub fn parse_rule(value: Value, id: String, max_timeout_ms: u64) -> Result<FaultRule, RuleError> {
    let mut map = take_object(value, "", &RULE_FIELDS)?;
    let matcher = match map.remove("match") {
        None | Some(Value::Null) => FaultMatch::default(),
        Some(m) => parse_match(m)?,
    };
    let times = opt_u64(&map, "times", "times")?;
    if times == Some(0) {
        return Err(bad("times", "must be at least 1 (omit it for no limit)"));
    }
    let after = opt_u64(&map, "after", "after")?.unwrap_or(0);
    let seed = opt_u64(&map, "seed", "seed")?.unwrap_or(0);
    let probability = match map.get("probability") {
        None | Some(Value::Null) => 1.0,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => p,
            _ => return Err(bad("probability", "must be between 0 and 1")),
        },
        Some(_) => return Err(bad("probability", "must be a number between 0 and 1")),
    };
    let doors = doors_of(&matcher);
    let action = match map.remove("action") {
        None | Some(Value::Null) => return Err(bad("action", "is required")),
        Some(a) => parse_action(a, &doors, max_timeout_ms)?,
    };
    Ok(FaultRule {
        id,
        matcher,
        times,
        after,
        probability,
        seed,
        action,
    })
}

fn parse_match(value: Value) -> Result<FaultMatch, RuleError> {
    let map = take_object(value, "match", &MATCH_FIELDS)?;
    let front_door = match opt_string(&map, "front_door", "match.front_door")? {
        None => None,
        Some(name) => Some(FrontDoor::from_name(&name).ok_or_else(|| {
            bad(
                "match.front_door",
                format!("unknown front door `{name}`; expected alipay_v2, alipay_v3 or top"),
            )
        })?),
    };
    let method = opt_string(&map, "method", "match.method")?;
    if let Some(name) = &method {
        let m = Method::from_name(name).ok_or_else(|| {
            bad(
                "match.method",
                format!(
                    "unknown method `{name}`; tradeq serves {}",
                    Method::ALL.map(|m| m.name()).join(", ")
                ),
            )
        })?;
        let carried = match (m, m.platform()) {
            (Method::AlipayTradeQuery, _) => vec![FrontDoor::AlipayV2, FrontDoor::AlipayV3],
            (_, Platform::Alipay) => vec![FrontDoor::AlipayV2],
            (_, Platform::Top) => vec![FrontDoor::Top],
        };
        if let Some(door) = front_door {
            if !carried.contains(&door) {
                return Err(bad(
                    "match.method",
                    format!("`{name}` is not served by the {} front door", door.as_str()),
                ));
            }
        }
    }
    Ok(FaultMatch {
        front_door,
        method,
        app: opt_string(&map, "app", "match.app")?,
        merchant: opt_string(&map, "merchant", "match.merchant")?,
        key: opt_string(&map, "key", "match.key")?,
    })
}

fn parse_action(
    value: Value,
    doors: &[FrontDoor],
    max_timeout_ms: u64,
) -> Result<FaultAction, RuleError> {
    let kind = match value.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("action.type", "must be a string")),
        None => return Err(bad("action.type", "is required")),
    };
    let fields: &[&str] = match kind.as_str() {
        "error" => &["type", "code"],
        "delay" => &["type", "ms", "min_ms", "max_ms"],
        "timeout" => &["type", "ms"],
        "reset" | "bad_signature" => &["type"],
        "http_status" => &["type", "status"],
        "truncate" => &["type", "bytes"],
        other => {
            return Err(bad(
                "action.type",
                format!(
                    "unknown action `{other}`; expected error, delay, timeout, reset, \
                     http_status, bad_signature or truncate"
                ),
            ))
        }
    };
    let map = take_object(value, "action", fields)?;
    let required = |name: &str| -> Result<u64, RuleError> {
        let path = format!("action.{name}");
        opt_u64(&map, name, &path)?.ok_or_else(|| bad(&path, format!("is required by `{kind}`")))
    };
    match kind.as_str() {
        "error" => {
            let code = opt_string(&map, "code", "action.code")?
                .ok_or_else(|| bad("action.code", "is required by `error`"))?;
            let mapped = doors.len() > 1;
            for door in doors {
                error_catalogue::resolve(&code, *door, mapped)
                    .map_err(|reason| bad("action.code", reason))?;
            }
            Ok(FaultAction::Error { code })
        }
        "delay" => {
            let ms = opt_u64(&map, "ms", "action.ms")?;
            let min_ms = opt_u64(&map, "min_ms", "action.min_ms")?;
            let max_ms = opt_u64(&map, "max_ms", "action.max_ms")?;
            match (ms, min_ms, max_ms) {
                (Some(ms), None, None) if ms <= MAX_DELAY_MS => {}
                (Some(_), None, None) => {
                    return Err(bad("action.ms", format!("must be at most {MAX_DELAY_MS}")))
                }
                (None, Some(lo), Some(hi)) if lo <= hi && hi <= MAX_DELAY_MS => {}
                (None, Some(lo), Some(hi)) if lo > hi => {
                    return Err(bad("action.min_ms", "must not exceed max_ms"))
                }
                (None, Some(_), Some(_)) => {
                    return Err(bad(
                        "action.max_ms",
                        format!("must be at most {MAX_DELAY_MS}"),
                    ))
                }
                _ => {
                    return Err(bad(
                        "action.ms",
                        "give either `ms`, or both `min_ms` and `max_ms`",
                    ))
                }
            }
            Ok(FaultAction::Delay { ms, min_ms, max_ms })
        }
        "timeout" => {
            let ms = required("ms")?;
            if ms > max_timeout_ms {
                return Err(bad(
                    "action.ms",
                    format!(
                        "must be at most {max_timeout_ms} (the configured fault_max_timeout_ms)"
                    ),
                ));
            }
            Ok(FaultAction::Timeout { ms })
        }
        "reset" => Ok(FaultAction::Reset),
        "http_status" => {
            let status = required("status")?;
            if !(200..=599).contains(&status) {
                return Err(bad(
                    "action.status",
                    "must be an HTTP status from 200 to 599",
                ));
            }
            Ok(FaultAction::HttpStatus {
                status: status as u16,
            })
        }
        "bad_signature" => {
            if doors.contains(&FrontDoor::Top) {
                return Err(bad(
                    "action.type",
                    "TOP answers carry no signature, so `bad_signature` needs a rule limited to \
                     Alipay: set match.front_door to alipay_v2 or alipay_v3 (or an Alipay method)",
                ));
            }
            Ok(FaultAction::BadSignature)
        }
        _ => {
            let bytes = required("bytes")?;
            Ok(FaultAction::Truncate {
                bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
            })
        }
    }
}

impl FaultRule {
    /// Whether the request is one this rule is about.
    pub fn matches(&self, trace: &Trace) -> bool {
        let m = &self.matcher;
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        m.front_door.is_none_or(|d| d == trace.front_door)
            && same(&m.method, &trace.method)
            && same(&m.app, &trace.app)
            && same(&m.merchant, &trace.merchant)
            && m.key
                .as_ref()
                .is_none_or(|k| trace.record_key().as_ref() == Some(k))
    }
}

/// A fresh rule id: `flt_` and 16 random hex digits.
pub fn new_rule_id() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(format!("flt_{}", hex::encode(bytes)))
}

/// Stores a checked rule; its view with zero counters.
pub async fn store_rule(
    store: &dyn Store,
    rule: &FaultRule,
    now: DateTime<Utc>,
) -> Result<FaultRuleView, StoreError> {
    // A rule is plain strings and numbers, which always serialize; an unreadable stored rule
    // would only be skipped (and logged) by every node.
    let doc = serde_json::to_string(rule).unwrap_or_else(|_| String::from("{}"));
    store
        .insert_fault_rule(&NewFaultRule {
            id: rule.id.clone(),
            created_at: now,
            times: rule.times,
            doc,
        })
        .await?;
    Ok(FaultRuleView {
        rule: rule.clone(),
        matched: 0,
        hits: 0,
        created_at: now,
    })
}

/// Why a rules file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    /// The file could not be read.
    #[error("cannot read the faults file: {0}")]
    Io(#[from] std::io::Error),
    /// It is neither a JSON array of rules nor one rule per line.
    #[error("the faults file is neither a JSON array of rules nor NDJSON: {0}")]
    Syntax(String),
    /// Rule `n` (1-based) is refused.
    #[error("rule {index} of the faults file: {error}")]
    Rule {
        /// Its position, from 1.
        index: usize,
        /// Why.
        error: RuleError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads rules from a JSON array or NDJSON text (blank lines and lines starting with `#`
/// skipped). The n-th rule's id is `file-<n>`.
pub fn parse_rules_text(text: &str, max_timeout_ms: u64) -> Result<Vec<FaultRule>, RulesFileError> {
    let values: Vec<Value> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text).map_err(|e| RulesFileError::Syntax(e.to_string()))?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(n, l)| {
                serde_json::from_str(l)
                    .map_err(|e| RulesFileError::Syntax(format!("line {}: {e}", n + 1)))
            })
            .collect::<Result<_, _>>()?
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            parse_rule(v, format!("file-{}", i + 1), max_timeout_ms).map_err(|error| {
                RulesFileError::Rule {
                    index: i + 1,
                    error,
                }
            })
        })
        .collect()
}

/// Installs the rules of a file at start. A rule whose id is already stored (another node, or
/// an earlier start, installed it) is left as it is, counters included. How many were added.
pub async fn install_rules_file(
    store: &dyn Store,
    path: &std::path::Path,
    max_timeout_ms: u64,
) -> Result<usize, RulesFileError> {
    let text = std::fs::read_to_string(path)?;
    let rules = parse_rules_text(&text, max_timeout_ms)?;
    let existing: Vec<String> = store
        .list_fault_rules()
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut added = 0;
    for rule in rules.iter().filter(|r| !existing.contains(&r.id)) {
        store_rule(store, rule, Utc::now()).await?;
        added += 1;
    }
    Ok(added)
}

/// A deterministic draw in `[0, 1)` for the `n`-th match of a rule seeded with `seed`, from
/// `stream` (0: the probability draw, 1: the random delay): splitmix64 of the three.
pub fn draw(seed: u64, n: u64, stream: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(n.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(stream.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// One rule in a node's copy, with whether this node has seen it use up its `times`.
#[derive(Debug)]
struct CachedRule {
    rule: FaultRule,
    exhausted: AtomicBool,
}

/// A node's copy of the fault rules.
#[derive(Debug, Default)]
pub struct FaultRules {
    any: AtomicBool,
    rules: RwLock<Arc<Vec<Arc<CachedRule>>>>,
}

impl FaultRules {
    /// Replaces the copy with the store's rows (rows that cannot be read are skipped and logged).
    pub fn replace(&self, rows: &[FaultRuleRow]) {
        let rules: Vec<Arc<CachedRule>> = rows
            .iter()
            .filter_map(|row| match serde_json::from_str::<FaultRule>(&row.doc) {
                Ok(rule) => Some(Arc::new(CachedRule {
                    exhausted: AtomicBool::new(row.times.is_some_and(|t| row.hits >= t)),
                    rule,
                })),
                Err(e) => {
                    tracing::warn!(id = %row.id, error = %e, "unreadable fault rule skipped");
                    None
                }
            })
            .collect();
        let any = !rules.is_empty();
        if let Ok(mut slot) = self.rules.write() {
            *slot = Arc::new(rules);
        }
        self.any.store(any, Ordering::Release);
    }

    fn snapshot(&self) -> Arc<Vec<Arc<CachedRule>>> {
        self.rules
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The fault for a request: the first rule (oldest first) that matches it, is past its
    /// `after`, wins its draw and still has a hit left. Store failures skip the rule: a rule
    /// never breaks a request.
    pub async fn fault_for(&self, store: &dyn Store, trace: &Trace) -> Option<AppliedFault> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        for cached in self.snapshot().iter() {
            let rule = &cached.rule;
            if cached.exhausted.load(Ordering::Relaxed) || !rule.matches(trace) {
                continue;
            }
            match claim(store, rule).await {
                Ok(Claim::Applied { n, last }) => {
                    // The hit that uses `times` up: this node stops counting matches at once.
                    if last {
                        cached.exhausted.store(true, Ordering::Relaxed);
                    }
                    return Some(AppliedFault {
                        rule_id: rule.id.clone(),
                        action: concrete_action(rule, n),
                    });
                }
                Ok(Claim::Skipped) => {}
                Ok(Claim::Exhausted) => cached.exhausted.store(true, Ordering::Relaxed),
                Err(e) => tracing::warn!(rule = %rule.id, error = %e, "fault rule skipped"),
            }
        }
        None
    }
}

enum Claim {
    Applied { n: u64, last: bool },
    Skipped,
    Exhausted,
}

async fn claim(store: &dyn Store, rule: &FaultRule) -> Result<Claim, StoreError> {
    let Some(n) = store.count_fault_match(&rule.id).await? else {
        return Ok(Claim::Exhausted);
    };
    if n <= rule.after || draw(rule.seed, n, 0) >= rule.probability {
        return Ok(Claim::Skipped);
    }
    match store.claim_fault_hit(&rule.id).await? {
        Some(hits) => Ok(Claim::Applied {
            n,
            last: rule.times.is_some_and(|t| hits >= t),
        }),
        None => Ok(Claim::Exhausted),
    }
}

/// The action as applied to the `n`-th match: a random delay gets its drawn `ms`.
fn concrete_action(rule: &FaultRule, n: u64) -> FaultAction {
    match &rule.action {
        FaultAction::Delay {
            ms: None,
            min_ms: Some(lo),
            max_ms: Some(hi),
        } => {
            let span = hi.saturating_sub(*lo);
            let offset = (draw(rule.seed, n, 1) * (span as f64 + 1.0)) as u64;
            FaultAction::Delay {
                ms: Some(lo + offset.min(span)),
                min_ms: Some(*lo),
                max_ms: Some(*hi),
            }
        }
        other => other.clone(),
    }
}

/// The error to answer with instead of running the method, when the fault is an `error`.
/// `None` also when the code cannot be rendered on this front door (the rule was checked when
/// added, so only a hand-edited row gets there; the request is then served normally).
pub fn injected_error(fault: Option<&AppliedFault>, door: FrontDoor) -> Option<InjectedError> {
    let FaultAction::Error { code } = &fault?.action else {
        return None;
    };
    match error_catalogue::resolve(code, door, true) {
        Ok(e) => Some(e),
        Err(reason) => {
            tracing::warn!(code = %code, reason = %reason, "fault error code not rendered");
            None
        }
    }
}

/// Waits out a `delay` fault (before the method runs).
pub async fn delay(fault: Option<&AppliedFault>) {
    if let Some(AppliedFault {
        action: FaultAction::Delay { ms: Some(ms), .. },
        ..
    }) = fault
    {
        tokio::time::sleep(Duration::from_millis((*ms).min(MAX_DELAY_MS))).await;
    }
}

/// How an answer's signature is carried, for `bad_signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// In the body, `"sign":"…"` (Alipay v2).
    BodySign,
    /// In the `alipay-signature` header (Alipay v3).
    Header,
    /// Not signed (TOP).
    None,
}

/// Applies the faults that act on the finished answer: `timeout`, `reset`, `http_status`,
/// `truncate` and `bad_signature`. Other faults (and none) leave it as it is.
pub async fn shape(
    fault: Option<&AppliedFault>,
    response: Response,
    signature: Signature,
    max_timeout_ms: u64,
) -> Response {
    let Some(fault) = fault else {
        return response;
    };
    match &fault.action {
        FaultAction::Timeout { ms } => {
            tokio::time::sleep(Duration::from_millis((*ms).min(max_timeout_ms))).await;
            reset_response()
        }
        FaultAction::Reset => reset_response(),
        FaultAction::HttpStatus { status } => StatusCode::from_u16(*status)
            .unwrap_or(StatusCode::BAD_GATEWAY)
            .into_response(),
        FaultAction::Truncate { bytes } => truncate(response, *bytes).await,
        FaultAction::BadSignature => match signature {
            Signature::BodySign => corrupt_body_sign(response).await,
            Signature::Header => corrupt_header_sign(response),
            Signature::None => response,
        },
        FaultAction::Error { .. } | FaultAction::Delay { .. } => response,
    }
}

/// A response whose body fails at its first poll: hyper then closes the connection without
/// writing anything, not even the status line, which is what a client sees of a reset.
pub fn reset_response() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection reset",
        ))
    });
    Response::new(Body::from_stream(failing))
}

async fn body_bytes(body: Body) -> Option<axum::body::Bytes> {
    // Answers are built in memory; the bound only guards against a surprise.
    axum::body::to_bytes(body, 64 << 20).await.ok()
}

async fn truncate(response: Response, bytes: usize) -> Response {
    let (mut parts, body) = response.into_parts();
    let Some(full) = body_bytes(body).await else {
        return reset_response();
    };
    let cut = full.slice(..bytes.min(full.len()));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// A different character of the same alphabet, so the signature still decodes but no longer
/// verifies.
fn flip(c: u8) -> u8 {
    if c == b'A' {
        b'B'
    } else {
        b'A'
    }
}

/// Flips the first character of the last `"sign":"…"` value of the body.
pub fn corrupt_sign_in(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let marker = b"\"sign\":\"";
    if let Some(pos) = out.windows(marker.len()).rposition(|w| w == marker) {
        let at = pos + marker.len();
        if at < out.len() && out[at] != b'"' {
            out[at] = flip(out[at]);
        }
    }
    out
}

async fn corrupt_body_sign(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Some(full) = body_bytes(body).await else {
        return reset_response();
    };
    Response::from_parts(parts, Body::from(corrupt_sign_in(&full)))
}

fn corrupt_header_sign(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Some(value) = headers.get("alipay-signature") {
        let mut bytes = value.as_bytes().to_vec();
        if let Some(first) = bytes.first_mut() {
            *first = flip(*first);
        }
        if let Ok(v) = HeaderValue::from_bytes(&bytes) {
            headers.insert("alipay-signature", v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<FaultRule, RuleError> {
        parse_rule(v, "r1".to_string(), 60_000)
    }

    fn field(v: Value) -> String {
        match parse(v) {
            Err(e) => e.field,
            Ok(r) => panic!("accepted: {r:?}"),
        }
    }

    #[test]
    fn a_full_rule_round_trips() {
        let rule = parse(json!({
            "match": {"front_door": "alipay_v2", "method": "alipay.trade.query",
                      "app": "2021000000000001", "merchant": "2088102146225135", "key": "t"},
            "times": 1, "after": 0, "probability": 0.5, "seed": 7,
            "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}
        }))
        .unwrap();
        assert_eq!(rule.times, Some(1));
        assert_eq!(rule.seed, 7);
        let text = serde_json::to_string(&rule).unwrap();
        assert_eq!(serde_json::from_str::<FaultRule>(&text).unwrap(), rule);
        let minimal = parse(json!({"action": {"type": "reset"}})).unwrap();
        assert_eq!(
            (minimal.times, minimal.after, minimal.probability),
            (None, 0, 1.0)
        );
    }

    #[test]
    fn bad_rules_name_their_field() {
        assert_eq!(field(json!({"action": {"type": "explode"}})), "action.type");
        assert_eq!(field(json!({})), "action");
        assert_eq!(field(json!({"actoin": {"type": "reset"}})), "actoin");
        assert_eq!(
            field(json!({"match": {"door": "top"}, "action": {"type": "reset"}})),
            "match.door"
        );
        assert_eq!(
            field(json!({"match": {"front_door": "soap"}, "action": {"type": "reset"}})),
            "match.front_door"
        );
        assert_eq!(
            field(
                json!({"match": {"front_door": "top", "method": "alipay.trade.query"},
                         "action": {"type": "reset"}})
            ),
            "match.method"
        );
        assert_eq!(
            field(json!({"probability": 1.5, "action": {"type": "reset"}})),
            "probability"
        );
        assert_eq!(
            field(json!({"probability": -0.1, "action": {"type": "reset"}})),
            "probability"
        );
        assert_eq!(
            field(json!({"times": -1, "action": {"type": "reset"}})),
            "times"
        );
        assert_eq!(
            field(json!({"times": 0, "action": {"type": "reset"}})),
            "times"
        );
        assert_eq!(
            field(json!({"after": 1.5, "action": {"type": "reset"}})),
            "after"
        );
        assert_eq!(
            field(json!({"seed": "7", "action": {"type": "reset"}})),
            "seed"
        );
        assert_eq!(
            field(
                json!({"match": {"front_door": "top"}, "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}})
            ),
            "action.code"
        );
        assert_eq!(
            field(json!({"action": {"type": "error", "code": "NOPE"}})),
            "action.code"
        );
        assert_eq!(field(json!({"action": {"type": "error"}})), "action.code");
        assert_eq!(
            field(json!({"action": {"type": "timeout", "ms": 60_001}})),
            "action.ms"
        );
        assert_eq!(field(json!({"action": {"type": "delay"}})), "action.ms");
        assert_eq!(
            field(json!({"action": {"type": "delay", "min_ms": 9, "max_ms": 3}})),
            "action.min_ms"
        );
        assert_eq!(
            field(json!({"action": {"type": "http_status", "status": 99}})),
            "action.status"
        );
        assert_eq!(
            field(json!({"action": {"type": "bad_signature"}})),
            "action.type"
        );
        assert_eq!(
            field(json!({"action": {"type": "reset", "ms": 3}})),
            "action.ms"
        );
        assert_eq!(field(json!([1])), "");
    }

    #[test]
    fn error_codes_follow_the_doors_a_rule_can_match() {
        // Several doors: mapped to each one's equivalent.
        assert!(parse(json!({"action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}})).is_ok());
        // One door through its method.
        assert!(
            parse(json!({"match": {"method": "alibaba.omni.order.query"},
                             "action": {"type": "error", "code": "7"}}))
            .is_ok()
        );
        assert!(
            parse(json!({"match": {"method": "alibaba.omni.order.query"},
                             "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}))
            .is_err()
        );
        assert!(parse(json!({"match": {"method": "alipay.trade.query"},
                             "action": {"type": "bad_signature"}}))
        .is_ok());
    }

    #[test]
    fn draws_are_reproducible_and_spread() {
        assert_eq!(draw(7, 3, 0), draw(7, 3, 0));
        assert_ne!(draw(7, 3, 0), draw(8, 3, 0));
        let hits = (1..=10_000).filter(|n| draw(7, *n, 0) < 0.3).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }

    #[test]
    fn sign_corruption_changes_one_character() {
        let body = br#"{"a_response":{"sign":"x"},"sign":"ABCD"}"#;
        let out = corrupt_sign_in(body);
        assert_eq!(
            out,
            br#"{"a_response":{"sign":"x"},"sign":"BBCD"}"#.to_vec()
        );
        assert_eq!(corrupt_sign_in(b"{}"), b"{}".to_vec());
    }
}
