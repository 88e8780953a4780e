//! Record endpoints: upsert, read and delete one record; batch upsert from NDJSON; the audit log.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

use tradeq_model::jsonl::{self, KindProbe, KindVerdict};
use tradeq_model::record::UnknownKind;
use tradeq_model::{Record, RecordKind};
use tradeq_store::{AuditEntry, StoreError, WriteOutcome};

use super::error::AdminError;
use super::extract::{media_type, JsonBytes};
use crate::state::AppState;

/// Records sent to the store in one transaction by a batch upload.
pub const BATCH_CHUNK: usize = 1000;

/// At most this many rejected lines are listed in a batch answer (all are counted).
pub const MAX_REPORTED_REJECTIONS: usize = 10_000;

/// The longest primary key accepted in a path.
const MAX_KEY_CHARS: usize = 64;

/// Media types accepted for a batch upload.
const NDJSON_TYPES: [&str; 4] = [
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
];

/// Parses the `{kind}` path segment.
pub fn parse_kind(s: &str) -> Result<RecordKind, AdminError> {
    s.parse()
        .map_err(|e: UnknownKind| AdminError::bad_request("unknown_kind", e.to_string()))
}

/// Checks the `{key}` path segment.
fn check_key(kind: RecordKind, key: &str) -> Result<(), AdminError> {
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY_CHARS || key.chars().any(char::is_control) {
        return Err(AdminError::bad_request(
            "invalid_key",
            format!(
                "the key must be the record's {} (1–{MAX_KEY_CHARS} characters, no control characters)",
                kind.primary_key_name()
            ),
        ));
    }
    Ok(())
}

pub(super) fn kind_and_key(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(RecordKind, String), AdminError> {
    let Path((kind, key)) = path.map_err(AdminError::from_path_rejection)?;
    let kind = parse_kind(&kind)?;
    check_key(kind, &key)?;
    Ok((kind, key))
}

fn count_write(kind: RecordKind, outcome: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(
            "tradeq_admin_record_writes_total",
            "kind" => kind.as_str(),
            "outcome" => outcome
        )
        .increment(n);
    }
}

fn outcome_name(outcome: WriteOutcome) -> &'static str {
    match outcome {
        WriteOutcome::Inserted => "inserted",
        WriteOutcome::Updated => "updated",
        WriteOutcome::Unchanged => "unchanged",
    }
}

/// The answer to a single upsert.
#[derive(Debug, Serialize)]
pub struct UpsertAnswer {
    /// `inserted`, `updated` or `unchanged`.
    pub outcome: WriteOutcome,
}

/// `PUT /v1/records/{kind}/{key}`: validates the record document in the body and upserts it.
pub async fn put_record(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    JsonBytes(body): JsonBytes,
) -> Result<Json<UpsertAnswer>, AdminError> {
    let (kind, key) = kind_and_key(path)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AdminError::bad_request("invalid_json", "the body is not UTF-8"))?;
    let record = parse_put_body(kind, text)?;
    if record.primary_key() != key {
        return Err(AdminError::bad_request(
            "key_mismatch",
            format!(
                "the path names {kind} `{key}` but the record's {} is `{}`; PUT it to its own key",
                kind.primary_key_name(),
                record.primary_key()
            ),
        )
        .with_field(kind.primary_key_name()));
    }
    let outcome =
        crate::sandbox::lifecycle::start(&*state.store, &record, state.sandbox.now()).await?;
    count_write(kind, outcome_name(outcome), 1);
    Ok(Json(UpsertAnswer { outcome }))
}

/// `GET /v1/records/{kind}/{key}`: the stored record document, whoever owns it.
pub async fn get_record(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AdminError> {
    let (kind, key) = kind_and_key(path)?;
    match state.store.get(kind, &key).await? {
        Some(record) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            record_document(&state, &record).await?,
        )
            .into_response()),
        None => Err(AdminError::not_found(format!(
            "no {kind} with {} `{key}`",
            kind.primary_key_name()
        ))),
    }
}

/// A record's document as the admin API shows it: the record, plus a read-only `lifecycle`
/// member with its timeline's progress when it has a timeline.
pub async fn record_document(state: &AppState, record: &Record) -> Result<String, AdminError> {
    if record.timeline().is_none() {
        return Ok(record.to_json());
    }
    let progress = state
        .store
        .get_lifecycle(record.kind(), record.primary_key())
        .await?;
    let mut doc: serde_json::Value = serde_json::from_str(&record.to_json())
        .map_err(|e| AdminError::internal(format!("a record did not re-read: {e}")))?;
    if let (serde_json::Value::Object(m), Some(view)) = (
        &mut doc,
        crate::sandbox::lifecycle::progress_view(record, progress.as_ref()),
    ) {
        m.insert(LIFECYCLE_MEMBER.to_string(), view);
    }
    Ok(doc.to_string())
}

/// The read-only member `GET` adds to a record with a timeline; a `PUT` of a document read
/// that way drops it, so a record can be read, edited and written back.
pub const LIFECYCLE_MEMBER: &str = "lifecycle";

/// Parses a PUT body (or a batch line) as a record of `kind`, without the read-only
/// `lifecycle` member.
pub fn parse_put_body(kind: RecordKind, text: &str) -> Result<Record, AdminError> {
    parse_record_text(kind, text).map_err(|e| AdminError::invalid_record(&e))
}

fn parse_record_text(
    kind: RecordKind,
    text: &str,
) -> Result<Record, tradeq_model::ValidationError> {
    if text.contains("\"lifecycle\"") {
        if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_str(text) {
            if m.remove(LIFECYCLE_MEMBER).is_some() {
                return Record::from_json(kind, &serde_json::Value::Object(m).to_string());
            }
        }
    }
    Record::from_json(kind, text)
}

/// `DELETE /v1/records/{kind}/{key}`: 204 when deleted, 404 when absent.
pub async fn delete_record(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, AdminError> {
    let (kind, key) = kind_and_key(path)?;
    if state.store.delete(kind, &key).await? {
        count_write(kind, "deleted", 1);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::not_found(format!(
            "no {kind} with {} `{key}`",
            kind.primary_key_name()
        )))
    }
}

/// One line of a batch upload that was not written.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// 1-based line number in the upload (blank lines count).
    pub line: usize,
    /// `invalid_record`, `stale_write` or `key_conflict`.
    pub code: &'static str,
    /// The field to blame.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// The answer to a batch upload.
#[derive(Debug, Default, Serialize)]
pub struct BatchSummary {
    /// Records written for the first time.
    pub inserted: u64,
    /// Records that replaced an older version.
    pub updated: u64,
    /// Records identical to the stored version.
    pub unchanged: u64,
    /// Refused lines, in line order (at most [`MAX_REPORTED_REJECTIONS`]).
    pub rejected: Vec<Rejection>,
    /// How many lines were refused in all.
    pub rejected_count: u64,
}

/// Collects parsed records and writes them in chunks.
struct Batcher<'a> {
    state: &'a AppState,
    kind: RecordKind,
    records: Vec<Record>,
    lines: Vec<usize>,
    summary: BatchSummary,
    /// Whether a non-blank line has been seen (the first one may open a JSON array).
    seen_content: bool,
    probe: KindProbe,
    /// The first lines' rejections, held while they may all be one upload of another kind.
    held: Vec<Rejection>,
}

impl Batcher<'_> {
    fn reject(&mut self, line: usize, code: &'static str, field: String, reason: String) {
        self.summary.rejected_count += 1;
        if self.summary.rejected.len() < MAX_REPORTED_REJECTIONS {
            self.summary.rejected.push(Rejection {
                line,
                code,
                field,
                reason,
            });
        }
    }

    /// Reports the held rejections: the upload is of its kind after all.
    fn release_held(&mut self) {
        for r in std::mem::take(&mut self.held) {
            self.reject(r.line, r.code, r.field, r.reason);
        }
    }

    /// Acts on what the kind probe concluded after a line (`rejection` is that line's, if bad).
    fn judge(
        &mut self,
        verdict: KindVerdict,
        rejection: Option<Rejection>,
    ) -> Result<(), AdminError> {
        match verdict {
            KindVerdict::Undecided => self.held.extend(rejection),
            KindVerdict::Settled => {
                self.release_held();
                if let Some(r) = rejection {
                    self.reject(r.line, r.code, r.field, r.reason);
                }
            }
            KindVerdict::OtherKind(other) => {
                let lines = self.held.len() + usize::from(rejection.is_some());
                return Err(other_kind_error(self.kind, lines, other));
            }
        }
        Ok(())
    }

    /// Takes one line (without its `\n`).
    async fn line(&mut self, line_no: usize, raw: &[u8]) -> Result<(), AdminError> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if line_no == 1 {
            jsonl::strip_bom(raw)
        } else {
            raw
        };
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            let verdict = self.probe.settle();
            let rejection = Rejection {
                line: line_no,
                code: "invalid_record",
                field: "(line)".to_string(),
                reason: "is not valid UTF-8".to_string(),
            };
            return self.judge(verdict, Some(rejection));
        };
        if !std::mem::replace(&mut self.seen_content, true) && jsonl::opens_json_array(text) {
            return Err(AdminError::bad_request(
                "invalid_body",
                jsonl::JSON_ARRAY_MESSAGE,
            ));
        }
        match parse_record_text(self.kind, text) {
            Ok(record) => {
                let verdict = self.probe.line(text, true);
                self.judge(verdict, None)?;
                self.records.push(record);
                self.lines.push(line_no);
                if self.records.len() >= BATCH_CHUNK {
                    self.flush().await?;
                }
            }
            Err(e) => {
                let verdict = self.probe.line(text, false);
                let rejection = Rejection {
                    line: line_no,
                    code: "invalid_record",
                    field: e.field,
                    reason: e.reason,
                };
                self.judge(verdict, Some(rejection))?;
            }
        }
        Ok(())
    }

    /// The end of the upload: a short upload whose every line reads as another kind is refused.
    fn finish_probe(&mut self) -> Result<(), AdminError> {
        let lines = self.held.len();
        match self.probe.finish() {
            KindVerdict::OtherKind(other) => Err(other_kind_error(self.kind, lines, other)),
            _ => {
                self.release_held();
                Ok(())
            }
        }
    }

    /// Writes the pending records in one transaction.
    async fn flush(&mut self) -> Result<(), AdminError> {
        if self.records.is_empty() {
            return Ok(());
        }
        let results = match self.state.store.upsert_batch(&self.records).await {
            Ok(r) => r,
            Err(e) => {
                let first = self.lines.first().copied().unwrap_or(0);
                let last = self.lines.last().copied().unwrap_or(0);
                let mut err = AdminError::from(e);
                err.message = format!(
                    "the store failed while writing lines {first}–{last}; earlier lines were \
                     committed, these and later ones were not (re-sending is safe: unchanged \
                     records are not rewritten); the server log has the detail"
                );
                return Err(err);
            }
        };
        if results.len() != self.records.len() {
            return Err(AdminError::internal(format!(
                "upsert_batch answered {} results for {} records",
                results.len(),
                self.records.len()
            )));
        }
        let lines = std::mem::take(&mut self.lines);
        let now = self.state.sandbox.now();
        let mut started = Vec::new();
        let mut plain = Vec::new();
        for (r, res) in self.records.iter().zip(&results) {
            if matches!(res, Ok(WriteOutcome::Inserted | WriteOutcome::Updated)) {
                let key = r.primary_key().to_string();
                if r.timeline().is_some() {
                    started.push((
                        r.kind(),
                        key,
                        tradeq_model::lifecycle::LifecycleState::new(now),
                    ));
                } else {
                    plain.push(key);
                }
            }
        }
        self.state.store.put_lifecycles(&started).await?;
        self.state
            .store
            .remove_lifecycles(self.kind, &plain)
            .await?;
        self.records.clear();
        let (mut inserted, mut updated, mut unchanged) = (0, 0, 0);
        for (line, result) in lines.into_iter().zip(results) {
            match result {
                Ok(WriteOutcome::Inserted) => inserted += 1,
                Ok(WriteOutcome::Updated) => updated += 1,
                Ok(WriteOutcome::Unchanged) => unchanged += 1,
                Err(e) => {
                    let (code, field) = match &e {
                        StoreError::Stale { .. } => ("stale_write", "gmt_modified".to_string()),
                        StoreError::KeyConflict { field, .. } => {
                            ("key_conflict", (*field).to_string())
                        }
                        _ => ("store_error", "(record)".to_string()),
                    };
                    self.reject(line, code, field, e.to_string());
                }
            }
        }
        self.summary.inserted += inserted;
        self.summary.updated += updated;
        self.summary.unchanged += unchanged;
        count_write(self.kind, "inserted", inserted);
        count_write(self.kind, "updated", updated);
        count_write(self.kind, "unchanged", unchanged);
        Ok(())
    }

    fn progress(&self, last_line: usize) -> String {
        format!(
            "lines 1–{last_line} were processed (inserted {}, updated {}, unchanged {}, rejected {})",
            self.summary.inserted,
            self.summary.updated,
            self.summary.unchanged,
            self.summary.rejected_count
        )
    }
}

/// The answer to an upload whose first `lines` lines all read as records of `other`.
fn other_kind_error(kind: RecordKind, lines: usize, other: RecordKind) -> AdminError {
    AdminError::bad_request(
        "invalid_body",
        format!(
            "nothing was written: {} upload? (POST it to /v1/records/{other}/_batch)",
            jsonl::other_kind_question(kind, lines, other)
        ),
    )
}

/// `POST /v1/records/{kind}/_batch`: upserts every line of an NDJSON body, streaming it in
/// chunks of [`BATCH_CHUNK`] records. Bad lines are reported, never fatal: the answer is 200
/// with the counts and the rejected lines.
pub async fn batch(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Json<BatchSummary>, AdminError> {
    let Path(kind) = path.map_err(AdminError::from_path_rejection)?;
    let kind = parse_kind(&kind)?;
    match media_type(&headers) {
        Some(m) if NDJSON_TYPES.contains(&m.as_str()) => {}
        _ => return Err(AdminError::unsupported_media_type("application/x-ndjson")),
    }
    let limit = state.config.max_admin_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AdminError::body_too_large(limit));
    }

    let mut batcher = Batcher {
        state: &state,
        kind,
        records: Vec::with_capacity(BATCH_CHUNK),
        lines: Vec::with_capacity(BATCH_CHUNK),
        summary: BatchSummary::default(),
        seen_content: false,
        probe: KindProbe::new(kind),
        held: Vec::new(),
    };
    let mut received = 0usize;
    let mut buf: Vec<u8> = Vec::new();
    let mut line_no = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            AdminError::bad_request(
                "invalid_body",
                format!("the request body could not be read: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received = received.saturating_add(data.len());
        if received > limit {
            // Everything up to the last complete line is written, so the client can resume.
            batcher.release_held();
            batcher.flush().await?;
            let mut err = AdminError::body_too_large(limit);
            err.message = format!(
                "{}; {}; send the rest from line {} in another request",
                err.message,
                batcher.progress(line_no),
                line_no + 1
            );
            return Err(err);
        }
        buf.extend_from_slice(&data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            line_no += 1;
            let end = start + pos;
            batcher.line(line_no, &buf[start..end]).await?;
            start = end + 1;
        }
        buf.drain(..start);
    }
    if !buf.is_empty() {
        line_no += 1;
        batcher.line(line_no, &buf).await?;
    }
    batcher.finish_probe()?;
    batcher.flush().await?;
    tracing::info!(
        kind = kind.as_str(),
        lines = line_no,
        inserted = batcher.summary.inserted,
        updated = batcher.summary.updated,
        unchanged = batcher.summary.unchanged,
        rejected = batcher.summary.rejected_count,
        "admin batch upload"
    );
    Ok(Json(batcher.summary))
}

/// Query parameters of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Entries with a sequence number greater than this (default 0).
    pub after: Option<i64>,
    /// How many at most (1–1000, default 100).
    pub limit: Option<u32>,
}

/// The answer of `GET /v1/audit`.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// The `after` to ask for the next page with (the last entry's `seq`, or the `after` asked
    /// for when the page is empty).
    pub next_after: i64,
}

/// The largest audit page.
pub const MAX_AUDIT_LIMIT: u32 = 1000;

/// `GET /v1/audit?after=0&limit=100`: accepted writes, oldest first.
pub async fn audit(
    State(state): State<AppState>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, AdminError> {
    let Query(params) = params.map_err(AdminError::from_query_rejection)?;
    let after = params.after.unwrap_or(0);
    if after < 0 {
        return Err(AdminError::bad_request(
            "invalid_query",
            "after must be 0 or a sequence number",
        ));
    }
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(AdminError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_AUDIT_LIMIT}"),
        ));
    }
    let entries = state.store.audit_since(after, limit).await?;
    let next_after = entries.last().map_or(after, |e| e.seq);
    Ok(Json(AuditPage {
        entries,
        next_after,
    }))
}
