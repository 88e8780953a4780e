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

/// Counts one answered request. `method` is whatever the client named: only a served method
/// becomes a label value (else `-`), so clients cannot mint new series.
pub fn record_request(front_door: &'static str, method: &str, outcome: &'static str) {
    let method = crate::methods::Method::from_name(method).map_or("-", |m| m.name());
    metrics::counter!(
        "tradeq_requests_total",
        "front_door" => front_door,
        "method" => method,
        "outcome" => outcome
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_method_names_do_not_become_label_values() {
        let metrics = Metrics::global();
        record_request("top", "made.up.method.12345", "error");
        record_request("top", "alibaba.omni.order.query", "success");
        let text = metrics.render();
        assert!(!text.contains("made.up.method.12345"), "{text}");
        assert!(text.contains(r#"method="-""#), "{text}");
        assert!(
            text.contains(r#"method="alibaba.omni.order.query""#),
            "{text}"
        );
    }
}
