//! Prometheus metrics: one global recorder per process, rendered by the admin API.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// A handle to the process's metrics.
#[derive(Clone)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

impl Metrics {
    /// The process-wide recorder, installed on first use (several servers in one test process
    /// share it).
    pub fn global() -> Metrics {
        let handle = HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok());
        Metrics {
            handle: handle.clone(),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        match &self.handle {
            Some(h) => h.render(),
            None => String::new(),
        }
    }
}

/// Counts one answered request.
pub fn record_request(front_door: &'static str, method: &str, outcome: &'static str) {
    metrics::counter!(
        "tradeq_requests_total",
        "front_door" => front_door,
        "method" => method.to_string(),
        "outcome" => outcome
    )
    .increment(1);
}
