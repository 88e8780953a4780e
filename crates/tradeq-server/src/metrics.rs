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
    // The registry lookup behind `counter!` hashes the name and labels on every call; the few
    // series that exist are looked up once per thread and kept.
    type Series = (&'static str, &'static str, &'static str, metrics::Counter);
    thread_local! {
        static COUNTERS: std::cell::RefCell<Vec<Series>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    COUNTERS.with(|counters| {
        let Ok(mut counters) = counters.try_borrow_mut() else {
            return;
        };
        if let Some((.., counter)) = counters
            .iter()
            .find(|(d, m, o, _)| *d == front_door && *m == method && *o == outcome)
        {
            counter.increment(1);
            return;
        }
        let counter = metrics::counter!(
            "tradeq_requests_total",
            "front_door" => front_door,
            "method" => method,
            "outcome" => outcome
        );
        counter.increment(1);
        counters.push((front_door, method, outcome, counter));
    });
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

    #[test]
    fn every_request_is_counted_once() {
        let metrics = Metrics::global();
        let series = r#"tradeq_requests_total{front_door="counting-test",method="alibaba.omni.order.query",outcome="success"}"#;
        let value = |text: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(series))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        assert_eq!(value(&metrics.render()), 0);
        for _ in 0..3 {
            record_request("counting-test", "alibaba.omni.order.query", "success");
        }
        // Another thread keeps its own handles on the same series.
        std::thread::spawn(|| {
            record_request("counting-test", "alibaba.omni.order.query", "success")
        })
        .join()
        .unwrap();
        assert_eq!(value(&metrics.render()), 4, "{}", metrics.render());
    }
}
