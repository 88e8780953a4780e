//! Record lifecycles on the request path, and the named templates that attach one.
//!
//! A record's timeline is evaluated when a query finds it (no background timer, so every node
//! sharing a database agrees): the store counts the query and applies the due steps in one
//! transaction, and the method answers with the record as it then stands. A record without a
//! timeline never reaches this module's store call.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use tradeq_model::lifecycle::{LifecycleState, Step, Timeline, NOW};
use tradeq_model::{KoubeiStatus, Record, RecordKind, Timestamp, TradeStatus};
use tradeq_store::{Store, StoreError, WriteOutcome};

use crate::methods::{system_error, Method, MethodCtx, MethodError};

/// The record a query answers with: `found` itself, or, when it has a timeline, the record
/// after this query was counted and the steps then due were applied.
pub async fn on_read(
    ctx: &MethodCtx<'_>,
    method: Method,
    system_code: &'static str,
    found: Option<Arc<Record>>,
) -> Result<Option<Arc<Record>>, MethodError> {
    let Some(record) = found else {
        return Ok(None);
    };
    if record.timeline().is_none() {
        return Ok(Some(record));
    }
    let kind = record.kind();
    let advanced = ctx
        .store
        .advance_lifecycle(kind, record.primary_key(), ctx.now)
        .await
        .map_err(|e| system_error(method, system_code, e))?;
    let Some(advance) = advanced else {
        // Deleted, or rewritten without a timeline, since the lookup: answer as found.
        return Ok(Some(record));
    };
    for refused in &advance.refused {
        tracing::warn!(
            kind = kind.as_str(),
            key = record.primary_key(),
            step = refused.step,
            field = %refused.field,
            reason = %refused.reason,
            "lifecycle step refused: it would break an invariant"
        );
    }
    if advance.changed {
        tracing::info!(
            kind = kind.as_str(),
            key = record.primary_key(),
            applied = advance.state.applied,
            queries = advance.state.queries,
            "lifecycle step applied"
        );
    }
    Ok(Some(Arc::new(advance.record)))
}

/// A named timeline that one call attaches to a record.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// The name used by the admin API and the command line.
    pub name: &'static str,
    /// The kind of record it fits.
    pub kind: RecordKind,
    /// What it does, for a person.
    pub description: &'static str,
    build: fn(&Record, DateTime<Utc>) -> Result<Timeline, String>,
}

impl Template {
    /// The timeline this template gives `record` at `now`, or why it does not fit it.
    pub fn timeline_for(&self, record: &Record, now: DateTime<Utc>) -> Result<Timeline, String> {
        if record.kind() != self.kind {
            return Err(format!(
                "template `{}` is for {} records, not {}",
                self.name,
                self.kind,
                record.kind()
            ));
        }
        (self.build)(record, now)
    }
}

/// Every template, by name.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "trade-paid-on-third-query",
        kind: RecordKind::AlipayTrade,
        description: "A WAIT_BUYER_PAY trade that is TRADE_SUCCESS from its 3rd query on: paid \
                      in full through ALIPAYACCOUNT, send_pay_date the time of that query.",
        build: paid_on_third_query,
    },
    Template {
        name: "trade-closed-after-15-minutes",
        kind: RecordKind::AlipayTrade,
        description: "A WAIT_BUYER_PAY trade that is TRADE_CLOSED once 15 minutes of virtual \
                      time have passed since it was attached.",
        build: closed_after_15_minutes,
    },
    Template {
        name: "koubei-pay-then-finish",
        kind: RecordKind::KoubeiOrder,
        description: "A WAIT_PAY Koubei order that is PAID from its 2nd query on (gmt_payment \
                      that query's time) and FINISH from its 4th.",
        build: koubei_pay_then_finish,
    },
    Template {
        name: "xlife-bill-disbursed",
        kind: RecordKind::OnsiteTrade,
        description: "A paid onsite trade whose pending fund bills are disbursed on its 2nd \
                      query: they move from store_pending_fund_bill_list to \
                      store_received_fund_bill_list.",
        build: xlife_bill_disbursed,
    },
];

/// A template by name.
pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

fn step(trigger: (&str, u64), set: Value) -> Result<Step, String> {
    let Value::Object(set) = set else {
        return Err("a template built a step without fields".into());
    };
    let mut s = Step {
        after_queries: None,
        after_secs: None,
        set,
    };
    match trigger.0 {
        "after_queries" => s.after_queries = Some(trigger.1),
        _ => s.after_secs = Some(trigger.1),
    }
    Ok(s)
}

fn unpaid_alipay(record: &Record) -> Result<&tradeq_model::AlipayTrade, String> {
    match record {
        Record::AlipayTrade(t) if t.trade_status == TradeStatus::WaitBuyerPay => Ok(t),
        Record::AlipayTrade(t) => Err(format!(
            "the trade is {}; this template starts from WAIT_BUYER_PAY",
            serde_json::to_value(t.trade_status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )),
        _ => Err("not an Alipay trade".into()),
    }
}

fn paid_on_third_query(record: &Record, _now: DateTime<Utc>) -> Result<Timeline, String> {
    let t = unpaid_alipay(record)?;
    let total = t.total_amount;
    Ok(vec![step(
        ("after_queries", 3),
        json!({
            "trade_status": "TRADE_SUCCESS",
            "send_pay_date": NOW,
            "buyer_pay_amount": total,
            "receipt_amount": total,
            "invoice_amount": total,
            "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": total}],
        }),
    )?])
}

fn closed_after_15_minutes(record: &Record, _now: DateTime<Utc>) -> Result<Timeline, String> {
    unpaid_alipay(record)?;
    Ok(vec![step(
        ("after_secs", 900),
        json!({"trade_status": "TRADE_CLOSED"}),
    )?])
}

fn koubei_pay_then_finish(record: &Record, _now: DateTime<Utc>) -> Result<Timeline, String> {
    match record {
        Record::KoubeiOrder(o) if o.status == KoubeiStatus::WaitPay => {}
        Record::KoubeiOrder(o) => {
            return Err(format!(
                "the order is {}; this template starts from WAIT_PAY",
                o.status.as_str()
            ))
        }
        _ => return Err("not a Koubei order".into()),
    }
    Ok(vec![
        step(
            ("after_queries", 2),
            json!({"status": "PAID", "gmt_payment": NOW}),
        )?,
        step(("after_queries", 4), json!({"status": "FINISH"}))?,
    ])
}

fn xlife_bill_disbursed(record: &Record, now: DateTime<Utc>) -> Result<Timeline, String> {
    let Record::OnsiteTrade(t) = record else {
        return Err("not an onsite trade".into());
    };
    if t.gmt_payment.is_none() {
        return Err(
            "the trade is not paid (no gmt_payment), so it has no bills to disburse".into(),
        );
    }
    let mut bills = Vec::with_capacity(t.store_fund_bills.len());
    let mut pending = 0;
    for (i, bill) in t.store_fund_bills.iter().enumerate() {
        let mut b = serde_json::to_value(bill).map_err(|e| e.to_string())?;
        if bill.disbursed_at.is_none_or(|at| at.0 > now) {
            pending += 1;
            b["disbursed_at"] = Value::String(NOW.into());
            if bill.payment_seq_no.is_none() {
                b["payment_seq_no"] = Value::String(format!("{}{:02}", t.trade_no, i + 1));
            }
        }
        bills.push(b);
    }
    if pending == 0 {
        return Err("every fund bill of the trade is already disbursed".into());
    }
    Ok(vec![step(
        ("after_queries", 2),
        json!({ "store_fund_bills": bills }),
    )?])
}

/// Why a template could not be attached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// No template has this name.
    #[error("unknown template `{0}`; GET /v1/lifecycle-templates (or `tradeq lifecycle templates`) lists them")]
    UnknownTemplate(String),
    /// The record does not exist.
    #[error("no {0} with {1} `{2}`")]
    NotFound(RecordKind, &'static str, String),
    /// The template does not fit the record.
    #[error("template `{0}` does not fit this record: {1}")]
    DoesNotFit(&'static str, String),
    /// The record with the timeline failed validation.
    #[error(transparent)]
    Invalid(#[from] tradeq_model::ValidationError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Attaches the named template's timeline to a stored record, replacing any timeline it had,
/// and starts its lifecycle at `now`.
pub async fn attach(
    store: &dyn Store,
    kind: RecordKind,
    key: &str,
    template_name: &str,
    now: DateTime<Utc>,
) -> Result<(Record, LifecycleState), AttachError> {
    let template = template(template_name)
        .ok_or_else(|| AttachError::UnknownTemplate(template_name.to_string()))?;
    let mut record = store
        .get(kind, key)
        .await?
        .ok_or_else(|| AttachError::NotFound(kind, kind.primary_key_name(), key.to_string()))?;
    let timeline = template
        .timeline_for(&record, now)
        .map_err(|reason| AttachError::DoesNotFit(template.name, reason))?;
    record.set_timeline(Some(timeline));
    // Through the door a PUT takes, so the timeline is checked exactly as a written one is.
    let record = Record::from_json(kind, &record.to_json())?;
    start(store, &record, now).await?;
    let state = LifecycleState::new(now);
    Ok((record, state))
}

/// Writes a record and, when the write changed it, starts its lifecycle at `now` if it has a
/// timeline (a rewrite restarts it: its steps count from the new write) or forgets any earlier
/// progress if it has none.
pub async fn start(
    store: &dyn Store,
    record: &Record,
    now: DateTime<Utc>,
) -> Result<WriteOutcome, StoreError> {
    let outcome = store.upsert(record).await?;
    if outcome != WriteOutcome::Unchanged {
        let key = record.primary_key().to_string();
        if record.timeline().is_some() {
            store
                .put_lifecycles(&[(record.kind(), key, LifecycleState::new(now))])
                .await?;
        } else {
            // Progress of an earlier timeline must not carry over to a later one.
            store.remove_lifecycles(record.kind(), &[key]).await?;
        }
    }
    Ok(outcome)
}

/// The progress of a record's timeline as the admin API shows it: every step with its trigger
/// and status (`applied`, `refused` or `pending`, with the time a delay falls due), the query
/// count, the base time and the refusals. `None` for a record without a timeline.
pub fn progress_view(record: &Record, state: Option<&LifecycleState>) -> Option<Value> {
    let timeline = record.timeline()?;
    let (applied, queries, base_at, refused, started) = match state {
        Some(s) => (
            s.applied,
            s.queries,
            Some(s.base_at),
            s.refused.clone(),
            true,
        ),
        None => (0, 0, None, Vec::new(), false),
    };
    let steps: Vec<Value> = timeline
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let status = if refused.iter().any(|r| r.step == i) {
                "refused"
            } else if i < applied {
                "applied"
            } else {
                "pending"
            };
            let mut v = json!({"step": i, "status": status});
            if let Some(n) = step.after_queries {
                v["after_queries"] = json!(n);
            }
            if let Some(secs) = step.after_secs {
                v["after_secs"] = json!(secs);
                let due = base_at.and_then(|b| {
                    chrono::Duration::try_seconds(i64::try_from(secs).ok()?)
                        .and_then(|d| b.checked_add_signed(d))
                });
                if let Some(due) = due {
                    v["due_at"] = json!(Timestamp(due).to_string());
                }
            }
            v
        })
        .collect();
    let refused: Vec<Value> = refused
        .iter()
        .map(|r| {
            json!({"step": r.step, "field": r.field, "reason": r.reason,
                   "at": Timestamp(r.at).to_string()})
        })
        .collect();
    Some(json!({
        "started": started,
        "base_at": base_at.map(|b| Timestamp(b).to_string()),
        "queries": queries,
        "applied": applied,
        "steps": steps,
        "refused": refused,
    }))
}
