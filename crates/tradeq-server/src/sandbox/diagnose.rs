//! Runs the signature and timestamp diagnosis of `tradeq-wire` for a refused request: gathers the
//! registered keys and secrets it compares against, logs the findings at `info` (target
//! `tradeq::diagnosis`, shown at the default level) and shortens them into a hint for
//! `explain_in_errors`. Called only after a check failed.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Public};

use tradeq_model::credentials::TopApp;
use tradeq_wire::alipay::keys::parse_public_key;
use tradeq_wire::diagnosis::alipay_v2::{diagnose_v2_signature, V2Keys};
use tradeq_wire::diagnosis::alipay_v3::{diagnose_v3_signature, V3Signed};
use tradeq_wire::diagnosis::timestamp::{diagnose_skew, diagnose_unreadable};
use tradeq_wire::diagnosis::top::{diagnose_top_signature, TopSecret};
use tradeq_wire::diagnosis::{KnownKey, MAX_OTHER_CREDENTIALS};
use tradeq_wire::params::Charset;

use super::Trace;
use crate::credentials::ResolvedAlipayApp;
use crate::state::AppState;

/// Signature diagnoses allowed per second on one node. A diagnosis costs one RSA operation per
/// registered key (about a millisecond with dozens of apps) where a refusal costs microseconds:
/// the budget keeps a flood of bad signatures from turning into a flood of diagnoses.
pub const DIAGNOSES_PER_SECOND: u32 = 20;

/// How many signature diagnoses were run in the current second.
#[derive(Debug)]
pub struct Budget {
    window: Mutex<(Instant, u32)>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            window: Mutex::new((Instant::now(), 0)),
        }
    }
}

impl Budget {
    /// Takes one diagnosis from this second's budget; `false` when it is spent.
    pub fn take(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        if w.0.elapsed() >= std::time::Duration::from_secs(1) {
            *w = (Instant::now(), 0);
        }
        if w.1 >= DIAGNOSES_PER_SECOND {
            return false;
        }
        w.1 += 1;
        true
    }
}

/// Whether a live request may be diagnosed now (explaining on demand is not budgeted).
pub fn within_budget(state: &AppState) -> bool {
    state.sandbox.diagnosis_budget.take()
}

/// The finding recorded in place of a diagnosis over the budget.
pub fn skipped() -> Vec<String> {
    vec![format!(
        "Diagnosis skipped: more than {DIAGNOSES_PER_SECOND} refused signatures a second on \
         this node. `POST /v1/explain` (or `tradeq explain --request`) analyses any one of them."
    )]
}

/// The public keys of the registered Alipay apps: each app's own, and the platform key tradeq
/// gives it.
struct RegisteredKeys {
    apps: Vec<(String, PKey<Public>)>,
    platform: Vec<(String, PKey<Public>)>,
}

async fn registered_alipay_keys(state: &AppState) -> RegisteredKeys {
    let mut keys = RegisteredKeys {
        apps: Vec::new(),
        platform: Vec::new(),
    };
    let apps = match state.store.list_alipay_apps().await {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "diagnosis: cannot list the registered apps");
            return keys;
        }
    };
    for app in apps.into_iter().take(MAX_OTHER_CREDENTIALS) {
        if let Ok(k) = parse_public_key(&app.app_public_key_pem) {
            keys.apps.push((app.app_id.clone(), k));
        }
        if let Ok(k) = parse_public_key(&app.platform_public_key_pem) {
            keys.platform.push((app.app_id, k));
        }
    }
    keys
}

fn known(list: &[(String, PKey<Public>)]) -> Vec<KnownKey<'_>> {
    list.iter()
        .map(|(label, key)| KnownKey { label, key })
        .collect()
}

/// Why a v2 signature was refused. `params` are every received parameter, `sign` included.
pub async fn v2_signature(
    state: &AppState,
    app: &ResolvedAlipayApp,
    params: &[(&str, &str)],
    charset: Charset,
) -> Vec<String> {
    let keys = registered_alipay_keys(state).await;
    let (others, platform) = (known(&keys.apps), known(&keys.platform));
    diagnose_v2_signature(
        params,
        charset,
        &V2Keys {
            app_id: &app.app.app_id,
            app_key: app.app_public_key.key(),
            other_apps: &others,
            platform_keys: &platform,
        },
    )
}

/// Why a v3 signature was refused.
pub async fn v3_signature(
    state: &AppState,
    app: &ResolvedAlipayApp,
    signed: &V3Signed<'_>,
    token_shown: Option<&str>,
) -> Vec<String> {
    let keys = registered_alipay_keys(state).await;
    let others = known(&keys.apps);
    let mut findings = diagnose_v3_signature(
        signed,
        &app.app.app_id,
        app.app_public_key.key(),
        &others,
        token_shown,
    );
    if let Some(p) = keys
        .platform
        .iter()
        .find(|(_, k)| tradeq_wire::alipay::keys::same_public_key(app.app_public_key.key(), k))
    {
        findings.insert(
            0,
            format!(
                "The public key registered for app {} is a platform public key (the one tradeq \
                 gives app {} for its SDK's `alipayPublicKey`), not the app's own: register the \
                 public key that pairs with the app's private key.",
                app.app.app_id, p.0
            ),
        );
    }
    findings
}

/// Why a TOP signature was refused. `params` are every received parameter, `sign` included.
pub async fn top_signature(state: &AppState, app: &TopApp, params: &[(&str, &str)]) -> Vec<String> {
    let others = match state.store.list_top_apps().await {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "diagnosis: cannot list the registered TOP apps");
            Vec::new()
        }
    };
    let secrets: Vec<TopSecret<'_>> = others
        .iter()
        .map(|a| TopSecret {
            app_key: &a.app_key,
            secret: &a.app_secret,
        })
        .collect();
    diagnose_top_signature(
        params,
        TopSecret {
            app_key: &app.app_key,
            secret: &app.app_secret,
        },
        &secrets,
    )
}

/// Why a `yyyy-MM-dd HH:mm:ss` (or, for TOP, epoch-milliseconds) timestamp was refused.
pub fn timestamp(
    value: Option<&str>,
    parsed: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
    accepts_epoch_millis: bool,
) -> Vec<String> {
    match (value, parsed) {
        (_, Some(t)) => diagnose_skew(t, now, window.num_seconds()),
        (Some(v), None) => diagnose_unreadable(v, accepts_epoch_millis),
        (None, None) => Vec::new(),
    }
}

/// Logs the findings for a refused request at `info`, where the default level shows them.
pub fn log(trace: &Trace, what: &str, findings: &[String]) {
    if findings.is_empty() {
        return;
    }
    tracing::info!(
        target: "tradeq::diagnosis",
        id = %trace.id,
        front_door = trace.front_door.as_str(),
        app = trace.app.as_deref().unwrap_or("-"),
        "{what}: {}",
        findings.join(" ")
    );
}

/// The hint `explain_in_errors` appends to a `sub_msg`: the first finding.
pub fn hint(findings: &[String]) -> Option<String> {
    findings.first().map(|f| format!(" (tradeq: {f})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refills_every_second() {
        let b = Budget::default();
        for _ in 0..DIAGNOSES_PER_SECOND {
            assert!(b.take());
        }
        assert!(!b.take());
        if let Ok(mut w) = b.window.lock() {
            w.0 -= std::time::Duration::from_secs(2);
        }
        assert!(b.take());
    }
}
