//! `/v1/faults` and `/v1/clock`: the sandbox's fault rules and business clock.
//!
//! Both are kept in the store, so a change made on one node reaches every node on the same
//! database within `sandbox_refresh_ms`; the node that took the change applies it at once.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::sandbox::clock::{ClockError, ClockSetting};
use crate::sandbox::faults::{self, FaultRuleView, RuleError};
use crate::state::AppState;

use super::extract::JsonBytes;
use super::AdminError;

fn rule_error(e: RuleError) -> AdminError {
    if e.field.is_empty() {
        AdminError::bad_request("invalid_json", format!("the rule {}", e.reason))
    } else {
        AdminError::invalid_field(&e.field, e.reason)
    }
}

fn clock_error(e: ClockError) -> AdminError {
    AdminError::invalid_field(e.field, e.reason)
}

fn body_value(bytes: &[u8]) -> Result<Value, AdminError> {
    serde_json::from_slice(bytes).map_err(|e| {
        AdminError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })
}

/// The answer of `GET /v1/faults`.
#[derive(Debug, Serialize)]
pub struct FaultList {
    /// Every rule, oldest first (the order they are tried in), with its counters.
    pub faults: Vec<FaultRuleView>,
}

/// Every stored rule with its counters.
pub async fn rule_views(state: &AppState) -> Result<Vec<FaultRuleView>, AdminError> {
    let rows = state.store.list_fault_rules().await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let rule = serde_json::from_str(&row.doc).ok()?;
            Some(FaultRuleView {
                rule,
                matched: row.matched,
                hits: row.hits,
                created_at: row.created_at,
            })
        })
        .collect())
}

/// `POST /v1/faults`: adds a rule; `201` with the rule and its `id`.
pub async fn create_fault(
    State(state): State<AppState>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, AdminError> {
    let value = body_value(&bytes)?;
    let id = faults::new_rule_id().map_err(AdminError::internal)?;
    let rule =
        faults::parse_rule(value, id, state.config.fault_max_timeout_ms).map_err(rule_error)?;
    if state.store.list_fault_rules().await?.len() >= faults::MAX_RULES {
        return Err(AdminError::bad_request(
            "too_many_rules",
            format!(
                "there are already {} fault rules, the most a sandbox keeps; remove some first",
                faults::MAX_RULES
            ),
        ));
    }
    // Milliseconds, as the store keeps it, so the answer equals what a list shows.
    let now = Utc::now();
    let now = DateTime::<Utc>::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let view = faults::store_rule(state.store.as_ref(), &rule, now).await?;
    state.sandbox.refresh().await?;
    tracing::info!(id = %rule.id, action = ?rule.action, "admin: fault rule added");
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/faults/{}", rule.id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `GET /v1/faults`.
pub async fn list_faults(State(state): State<AppState>) -> Result<Json<FaultList>, AdminError> {
    Ok(Json(FaultList {
        faults: rule_views(&state).await?,
    }))
}

/// `DELETE /v1/faults/{id}`: `204`, or `404` when there is no such rule.
pub async fn delete_fault(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AdminError> {
    let Path(id) = path.map_err(AdminError::from_path_rejection)?;
    if state.store.delete_fault_rule(&id).await? {
        state.sandbox.refresh().await?;
        tracing::info!(id = %id, "admin: fault rule removed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::not_found(format!("no fault rule `{id}`")))
    }
}

/// `DELETE /v1/faults`: removes every rule; `{"deleted": n}`.
pub async fn clear_faults(State(state): State<AppState>) -> Result<Json<Value>, AdminError> {
    let n = state.store.clear_fault_rules().await?;
    state.sandbox.refresh().await?;
    tracing::info!(deleted = n, "admin: fault rules cleared");
    Ok(Json(json!({ "deleted": n })))
}

/// The answer of the clock endpoints.
#[derive(Debug, Serialize)]
pub struct ClockView {
    /// What the business clock reads.
    pub now: String,
    /// `real`, `offset` or `frozen`.
    pub mode: &'static str,
    /// The offset from real time, in seconds (0 when real; frozen: how far the frozen instant
    /// is from real time now).
    pub offset_secs: i64,
    /// The frozen instant, when frozen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Real time.
    pub real_now: String,
    /// Whether request timestamps follow this clock (`request_timestamps_follow_clock`).
    pub request_timestamps_follow_clock: bool,
    /// How often other nodes pick up a change, in ms (`sandbox_refresh_ms`).
    pub refresh_ms: u64,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn clock_view(state: &AppState, setting: ClockSetting) -> ClockView {
    let real = Utc::now();
    let now = setting.now(real);
    ClockView {
        now: rfc3339(now),
        mode: setting.mode(),
        offset_secs: match setting {
            ClockSetting::Offset { offset_secs } => offset_secs,
            _ => (now - real).num_seconds(),
        },
        at: match setting {
            ClockSetting::Frozen { at } => Some(rfc3339(at)),
            _ => None,
        },
        real_now: rfc3339(real),
        request_timestamps_follow_clock: state.config.request_timestamps_follow_clock,
        refresh_ms: state.config.sandbox_refresh_ms,
    }
}

/// `GET /v1/clock`: the clock as stored (and so as every node will read it).
pub async fn get_clock(State(state): State<AppState>) -> Result<Json<ClockView>, AdminError> {
    let setting = state.sandbox.stored_clock().await?;
    Ok(Json(clock_view(&state, setting)))
}

fn object(value: Value, allowed: &[&str]) -> Result<Map<String, Value>, AdminError> {
    let Value::Object(map) = value else {
        return Err(AdminError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(AdminError::invalid_field(
            unknown,
            format!("unknown field; expected one of {}", allowed.join(", ")),
        ));
    }
    Ok(map)
}

fn integer(map: &Map<String, Value>, name: &str) -> Result<i64, AdminError> {
    match map.get(name) {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| AdminError::invalid_field(name, "must be a whole number of seconds")),
        Some(_) => Err(AdminError::invalid_field(name, "must be a number")),
        None => Err(AdminError::invalid_field(name, "is required")),
    }
}

/// Reads a `PUT /v1/clock` body.
pub fn parse_clock(value: Value) -> Result<ClockSetting, AdminError> {
    let mode = match value.get("mode") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(AdminError::invalid_field("mode", "must be a string")),
        None => {
            return Err(AdminError::invalid_field(
                "mode",
                "is required: real, offset or frozen",
            ))
        }
    };
    let setting = match mode.as_str() {
        "real" => {
            object(value, &["mode"])?;
            ClockSetting::Real
        }
        "offset" => {
            let map = object(value, &["mode", "offset_secs"])?;
            ClockSetting::Offset {
                offset_secs: integer(&map, "offset_secs")?,
            }
        }
        "frozen" => {
            let map = object(value, &["mode", "at"])?;
            let at = match map.get("at") {
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map_err(|e| {
                        AdminError::invalid_field(
                            "at",
                            format!("must be an RFC 3339 time such as 2030-01-01T00:00:00Z ({e})"),
                        )
                    })?
                    .with_timezone(&Utc),
                Some(_) => return Err(AdminError::invalid_field("at", "must be a string")),
                None => return Err(AdminError::invalid_field("at", "is required by `frozen`")),
            };
            ClockSetting::Frozen { at }
        }
        other => {
            return Err(AdminError::invalid_field(
                "mode",
                format!("unknown mode `{other}`; expected real, offset or frozen"),
            ))
        }
    };
    setting.checked().map_err(clock_error)
}

/// `PUT /v1/clock`.
pub async fn put_clock(
    State(state): State<AppState>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<ClockView>, AdminError> {
    let setting = parse_clock(body_value(&bytes)?)?;
    state.sandbox.set_clock(setting).await?;
    tracing::info!(clock = ?setting, "admin: clock set");
    Ok(Json(clock_view(&state, setting)))
}

/// `POST /v1/clock/advance` with `{"secs": N}`.
pub async fn advance_clock(
    State(state): State<AppState>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<ClockView>, AdminError> {
    let map = object(body_value(&bytes)?, &["secs"])?;
    let secs = integer(&map, "secs")?;
    let current = state.sandbox.stored_clock().await?;
    let next = current.advanced(secs).map_err(clock_error)?;
    state.sandbox.set_clock(next).await?;
    tracing::info!(clock = ?next, secs, "admin: clock advanced");
    Ok(Json(clock_view(&state, next)))
}
