//! Snapshots: the whole sandbox as NDJSON, one JSON object per line with a `"type"` member, and
//! back.
//!
//! ```text
//! {"type":"snapshot","format":1}                          always first
//! {"type":"alipay_app","app":{…}}                         credentials, each sorted by key
//! {"type":"app_auth_token","token":{…}}
//! {"type":"top_app","app":{…}}
//! {"type":"top_session","session":{…}}
//! {"type":"demo_credentials","credentials":{…}}          when the demo data set was installed
//! {"type":"fault_rule","created_at":"…","rule":{…}}       by creation time (counters not kept)
//! {"type":"clock","clock":{"mode":"frozen","at":"…"}}     when the clock is not real time
//! {"type":"record","kind":"alipay-trade","record":{…},"lifecycle":{…}}   by kind, then key
//! ```
//!
//! Every line is written from the stored value through one serializer, so saving, loading
//! into an emptied store and saving again gives the same bytes. Other sandbox state is added
//! as further line types; a reader refuses a type it does not know rather than skip state it
//! would silently lose. A snapshot holds every secret of the store (private keys, app secrets,
//! tokens, sessions): treat the file as a credential.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::lifecycle::LifecycleState;
use tradeq_model::{Record, RecordKind};
use tradeq_store::{NewFaultRule, RecordQuery, Store, StoreError};

use crate::sandbox::clock::{self, ClockSetting};
use crate::sandbox::faults::{self, FaultRule};

/// The format version written in the first line.
pub const FORMAT: u32 = 1;

/// The media type of a snapshot.
pub const MEDIA_TYPE: &str = "application/x-ndjson";

/// Records read from the store per page while saving, and written per batch while loading.
const PAGE: u32 = 500;

/// The meta key under which the demo credentials are kept (see `demo.rs`).
const DEMO_META_KEY: &str = crate::demo::META_KEY;

/// One line of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    /// The first line: what follows and in which format.
    Snapshot {
        /// [`FORMAT`].
        format: u32,
    },
    /// An Alipay app, with its keys.
    AlipayApp {
        /// The app.
        app: AlipayApp,
    },
    /// An app auth token.
    AppAuthToken {
        /// The token.
        token: AppAuthToken,
    },
    /// A TOP app, with its secret.
    TopApp {
        /// The app.
        app: TopApp,
    },
    /// A TOP session.
    TopSession {
        /// The session.
        session: TopSession,
    },
    /// The credentials `tradeq serve --demo` writes to `demo-credentials.json`.
    DemoCredentials {
        /// As stored.
        credentials: Value,
    },
    /// A fault rule. Its match and hit counters are not kept: a loaded rule starts counting
    /// again, as a fixture's rules should.
    FaultRule {
        /// When it was added.
        created_at: DateTime<Utc>,
        /// The rule.
        rule: FaultRule,
    },
    /// The business clock, when it is not real time.
    Clock {
        /// How it is set.
        clock: ClockSetting,
    },
    /// A record, with its lifecycle progress when its lifecycle has started.
    Record {
        /// Its kind.
        kind: RecordKind,
        /// Its document (`docs/records.md`).
        record: Value,
        /// Its progress.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lifecycle: Option<LifecycleState>,
    },
}

/// Why a snapshot could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A line is not what a snapshot holds.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn line_text(line: &Line) -> Result<String, SnapshotError> {
    serde_json::to_string(line).map_err(|e| SnapshotError::Line {
        line: 0,
        message: format!("could not be serialized: {e}"),
    })
}

/// Writes a snapshot of `store` chunk by chunk (each chunk whole lines, each ending in `\n`),
/// so a large store never sits in memory at once.
pub struct SnapshotWriter {
    store: std::sync::Arc<dyn Store>,
    stage: Stage,
}

enum Stage {
    Header,
    Credentials,
    Records { kind: usize, after: Option<String> },
    Done,
}

impl SnapshotWriter {
    /// A writer over `store`.
    pub fn new(store: std::sync::Arc<dyn Store>) -> SnapshotWriter {
        SnapshotWriter {
            store,
            stage: Stage::Header,
        }
    }

    /// The next chunk of lines, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<String>, SnapshotError> {
        loop {
            match &mut self.stage {
                Stage::Header => {
                    self.stage = Stage::Credentials;
                    let mut out = line_text(&Line::Snapshot { format: FORMAT })?;
                    out.push('\n');
                    return Ok(Some(out));
                }
                Stage::Credentials => {
                    self.stage = Stage::Records {
                        kind: 0,
                        after: None,
                    };
                    let mut lines = Vec::new();
                    for app in self.store.list_alipay_apps().await? {
                        lines.push(Line::AlipayApp { app });
                    }
                    for token in self.store.list_app_auth_tokens().await? {
                        lines.push(Line::AppAuthToken { token });
                    }
                    for app in self.store.list_top_apps().await? {
                        lines.push(Line::TopApp { app });
                    }
                    for session in self.store.list_top_sessions().await? {
                        lines.push(Line::TopSession { session });
                    }
                    if let Some(text) = self.store.get_meta(DEMO_META_KEY).await? {
                        if let Ok(credentials) = serde_json::from_str::<Value>(&text) {
                            lines.push(Line::DemoCredentials { credentials });
                        }
                    }
                    let mut rules = self.store.list_fault_rules().await?;
                    rules.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                    for row in rules {
                        // A row no node can read is skipped by every node too (and logged there).
                        if let Ok(rule) = serde_json::from_str::<FaultRule>(&row.doc) {
                            lines.push(Line::FaultRule {
                                created_at: row.created_at,
                                rule,
                            });
                        }
                    }
                    if let Some(text) = self.store.get_meta(clock::META_KEY).await? {
                        if let Ok(clock) = serde_json::from_str::<ClockSetting>(&text) {
                            if clock != ClockSetting::Real {
                                lines.push(Line::Clock { clock });
                            }
                        }
                    }
                    let mut out = String::new();
                    for l in &lines {
                        out.push_str(&line_text(l)?);
                        out.push('\n');
                    }
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
                Stage::Records { kind, after } => {
                    let Some(k) = RecordKind::ALL.get(*kind).copied() else {
                        self.stage = Stage::Done;
                        continue;
                    };
                    let query = RecordQuery {
                        after_key: after.clone(),
                        limit: PAGE,
                        ..RecordQuery::default()
                    };
                    let records = self.store.list_records(k, &query).await?;
                    if (records.len() as u32) < PAGE {
                        *kind += 1;
                        *after = None;
                    } else {
                        *after = records.last().map(|r| r.primary_key().to_string());
                    }
                    let mut out = String::new();
                    for r in &records {
                        let lifecycle = if r.timeline().is_some() {
                            self.store.get_lifecycle(k, r.primary_key()).await?
                        } else {
                            None
                        };
                        let record: Value = serde_json::from_str(&r.to_json()).map_err(|e| {
                            SnapshotError::Line {
                                line: 0,
                                message: format!("{k} `{}` did not re-read: {e}", r.primary_key()),
                            }
                        })?;
                        out.push_str(&line_text(&Line::Record {
                            kind: k,
                            record,
                            lifecycle,
                        })?);
                        out.push('\n');
                    }
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    /// The whole snapshot as one string (tests, small stores).
    pub async fn to_string(mut self) -> Result<String, SnapshotError> {
        let mut out = String::new();
        while let Some(chunk) = self.next_chunk().await? {
            out.push_str(&chunk);
        }
        Ok(out)
    }
}

/// What a load restored.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct LoadSummary {
    /// Records written.
    pub records: u64,
    /// Lifecycles restored.
    pub lifecycles: u64,
    /// Alipay apps, app auth tokens, TOP apps and TOP sessions written.
    pub credentials: u64,
    /// Fault rules written.
    pub fault_rules: u64,
}

/// A snapshot read and checked, ready to replace a store's contents.
#[derive(Debug, Default)]
pub struct Parsed {
    apps: Vec<AlipayApp>,
    tokens: Vec<AppAuthToken>,
    top_apps: Vec<TopApp>,
    sessions: Vec<TopSession>,
    demo: Option<String>,
    faults: Vec<(DateTime<Utc>, FaultRule)>,
    clock: Option<ClockSetting>,
    records: Vec<Record>,
    lifecycles: Vec<(RecordKind, String, LifecycleState)>,
}

/// Reads every line of a snapshot and checks it: the header first, known line types only,
/// every record valid. Nothing is written.
pub fn parse(text: &str) -> Result<Parsed, SnapshotError> {
    let mut parsed = Parsed::default();
    let mut header = false;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let raw = if n == 1 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String| SnapshotError::Line { line: n, message };
        let line: Line = serde_json::from_str(raw).map_err(|e| {
            let msg = e.to_string();
            let msg = msg
                .rfind(" at line ")
                .map_or(msg.clone(), |p| msg[..p].to_string());
            if msg.starts_with("unknown variant") {
                err(format!(
                    "{msg}: this tradeq does not know that line type; load the snapshot with \
                     the tradeq version that saved it or a newer one"
                ))
            } else {
                err(msg)
            }
        })?;
        if !header {
            match line {
                Line::Snapshot { format: FORMAT } => {
                    header = true;
                    continue;
                }
                Line::Snapshot { format } => {
                    return Err(err(format!(
                    "snapshot format {format} is not supported (this tradeq reads format {FORMAT})"
                )))
                }
                _ => {
                    return Err(err(
                        "a snapshot starts with {\"type\":\"snapshot\",\"format\":1}".to_string(),
                    ))
                }
            }
        }
        match line {
            Line::Snapshot { .. } => {
                return Err(err("a second snapshot header".to_string()));
            }
            Line::AlipayApp { app } => parsed.apps.push(app),
            Line::AppAuthToken { token } => parsed.tokens.push(token),
            Line::TopApp { app } => parsed.top_apps.push(app),
            Line::TopSession { session } => parsed.sessions.push(session),
            Line::DemoCredentials { credentials } => parsed.demo = Some(credentials.to_string()),
            Line::FaultRule { created_at, rule } => {
                // Checked as a rule posted to the admin API is (the configured timeout bound
                // still applies when the rule fires).
                let id = rule.id.clone();
                let mut value = serde_json::to_value(&rule).unwrap_or(Value::Null);
                if let Some(map) = value.as_object_mut() {
                    map.remove("id");
                }
                let rule = faults::parse_rule(value, id, u64::MAX)
                    .map_err(|e| err(format!("rule.{e}")))?;
                if parsed.faults.iter().any(|(_, r)| r.id == rule.id) {
                    return Err(err(format!("rule.id: `{}` is given twice", rule.id)));
                }
                parsed.faults.push((created_at, rule));
            }
            Line::Clock { clock } => {
                let checked = clock.checked().map_err(|e| err(format!("clock.{e}")))?;
                parsed.clock = Some(checked);
            }
            Line::Record {
                kind,
                record,
                lifecycle,
            } => {
                let r = Record::from_json(kind, &record.to_string())
                    .map_err(|e| err(format!("record.{e}")))?;
                if let Some(state) = lifecycle {
                    if r.timeline().is_none() {
                        return Err(err(
                            "lifecycle: the record has no timeline for it to follow".to_string(),
                        ));
                    }
                    parsed
                        .lifecycles
                        .push((kind, r.primary_key().to_string(), state));
                }
                parsed.records.push(r);
            }
        }
    }
    if !header {
        return Err(SnapshotError::Line {
            line: 1,
            message: "empty: a snapshot starts with {\"type\":\"snapshot\",\"format\":1}"
                .to_string(),
        });
    }
    Ok(parsed)
}

/// Replaces everything `store` holds (records, lifecycles, credentials) by the snapshot. The
/// snapshot is checked in full before anything is removed.
pub async fn load(store: &dyn Store, text: &str) -> Result<LoadSummary, SnapshotError> {
    let parsed = parse(text)?;
    store.clear_records().await?;
    store.clear_credentials().await?;
    let mut summary = LoadSummary::default();
    for app in &parsed.apps {
        store.put_alipay_app(app).await?;
    }
    for token in &parsed.tokens {
        store.put_app_auth_token(token).await?;
    }
    for app in &parsed.top_apps {
        store.put_top_app(app).await?;
    }
    for session in &parsed.sessions {
        store.put_top_session(session).await?;
    }
    summary.credentials =
        (parsed.apps.len() + parsed.tokens.len() + parsed.top_apps.len() + parsed.sessions.len())
            as u64;
    if let Some(demo) = &parsed.demo {
        store.put_meta(DEMO_META_KEY, demo).await?;
    }
    for chunk in parsed.records.chunks(PAGE as usize) {
        for (r, result) in chunk.iter().zip(store.upsert_batch(chunk).await?) {
            result.map_err(|e| SnapshotError::Line {
                line: 0,
                message: format!(
                    "{} `{}` could not be restored: {e}",
                    r.kind(),
                    r.primary_key()
                ),
            })?;
            summary.records += 1;
        }
    }
    store.put_lifecycles(&parsed.lifecycles).await?;
    summary.lifecycles = parsed.lifecycles.len() as u64;
    store.clear_fault_rules().await?;
    for (created_at, rule) in &parsed.faults {
        let doc = serde_json::to_string(rule).unwrap_or_else(|_| String::from("{}"));
        store
            .insert_fault_rule(&NewFaultRule {
                id: rule.id.clone(),
                created_at: *created_at,
                times: rule.times,
                doc,
            })
            .await?;
    }
    summary.fault_rules = parsed.faults.len() as u64;
    let clock = parsed.clock.unwrap_or(ClockSetting::Real);
    store.put_meta(clock::META_KEY, &clock.to_json()).await?;
    Ok(summary)
}
