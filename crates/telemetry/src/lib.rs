//! A Kuafu node's metrics and health (DESIGN §15).
//!
//! [`Registry`] is one Prometheus registry owned by whoever runs nodes: the
//! embedded zone (every node of the zone, one registry) or a distributed node
//! process (one node). Every series carries a `node` label. It is not the
//! `metrics` crate's process-global recorder: several zones run in one test
//! process, and each must render only its own series, so handles are
//! registered on the registry directly ([`Registry::counter`] and friends)
//! and the nodes keep them.
//!
//! [`MeteredBus`] counts and times every bus request a node makes;
//! [`admin`] serves `/metrics` and `/healthz` over HTTP. The metric names
//! are the constants of [`names`] (docs/deploy.md "What to watch" lists them).

pub mod admin;
mod metered_bus;
pub mod names;

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub use metered_bus::MeteredBus;
pub use names::Metric;

/// Buckets of every `_seconds` histogram: 0.5 ms to 10 s.
pub const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the store's batch size histogram, in ops (up to
/// `store::BATCH_OPS_MAX` and beyond).
pub const BATCH_OPS_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// The label every series carries: the node it measures.
pub const NODE_LABEL: &str = "node";

const METADATA: Metadata<'static> = Metadata::new("kuafu", metrics::Level::INFO, None);

/// One registry of series, rendered in the Prometheus text format. Cloning
/// shares it.
#[derive(Clone)]
pub struct Registry {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Registry")
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry, with the help text of every metric of [`names`]
    /// and real histograms (buckets, not summaries).
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(names::STORE_BATCH_OPS.name.to_owned()),
                    &BATCH_OPS_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        for metric in names::ALL {
            let help = SharedString::const_str(metric.help);
            let name = KeyName::from_const_str(metric.name);
            match metric.kind {
                names::Kind::Counter => recorder.describe_counter(name, None, help),
                names::Kind::Gauge => recorder.describe_gauge(name, None, help),
                names::Kind::Histogram => recorder.describe_histogram(name, None, help),
            }
        }
        let handle = recorder.handle();
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// Node `node`'s counter `metric`, with `labels` beside its node label.
    pub fn counter(&self, metric: &Metric, node: &str, labels: &[(&str, &str)]) -> Counter {
        self.recorder
            .register_counter(&key(metric, node, labels), &METADATA)
    }

    /// Node `node`'s gauge `metric`.
    pub fn gauge(&self, metric: &Metric, node: &str) -> Gauge {
        self.recorder
            .register_gauge(&key(metric, node, &[]), &METADATA)
    }

    /// Node `node`'s histogram `metric`, with `labels` beside its node label.
    pub fn histogram(&self, metric: &Metric, node: &str, labels: &[(&str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&key(metric, node, labels), &METADATA)
    }

    /// Every series, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

fn key(metric: &Metric, node: &str, labels: &[(&str, &str)]) -> Key {
    let node = Label::new(NODE_LABEL, node.to_owned());
    let others = labels
        .iter()
        .map(|(name, value)| Label::new((*name).to_owned(), (*value).to_owned()));
    Key::from_parts(
        metric.name,
        std::iter::once(node).chain(others).collect::<Vec<_>>(),
    )
}
