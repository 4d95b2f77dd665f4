//! The admin listener: `GET /metrics` and `GET /healthz` over HTTP/1.1.
//!
//! `/metrics` first runs every [`Probe`] (so gauges read from a node's state
//! are fresh), then renders the [`Registry`] in the Prometheus text format.
//!
//! `/healthz` answers `200 ok` when the nodes behind the listener serve:
//! their [`Phase`] is [`Phase::Serving`] (set once every node has started,
//! left when a graceful stop begins) and every probe answers within
//! [`PROBE_DEADLINE`] (a game server's task answers, a NATS connection is
//! up). Otherwise `503` with one line per reason (`starting`, `stopping`,
//! `<node>: <why>`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::future::BoxFuture;

use crate::Registry;

/// Longest one probe may take before it counts as failed.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(2);
/// The content type of `/metrics` (Prometheus text format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A check of one node, run on every scrape and health check.
pub trait Probe: Send + Sync + 'static {
    /// Reads the node's state into its gauges; `Err` says why it does not
    /// serve.
    fn probe(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Where the nodes behind a listener are in their life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Not every node has started yet.
    Starting = 0,
    /// Every node has started.
    Serving = 1,
    /// A graceful stop has begun.
    Stopping = 2,
}

/// The state behind one admin listener: the registry, the phase and the
/// probes by node name. Shared by the listener and the nodes' owner.
pub struct Admin {
    registry: Registry,
    phase: AtomicU8,
    probes: Mutex<BTreeMap<String, Arc<dyn Probe>>>,
}

impl Admin {
    /// Starting, with no probes.
    pub fn new(registry: Registry) -> Arc<Self> {
        Arc::new(Self {
            registry,
            phase: AtomicU8::new(Phase::Starting as u8),
            probes: Mutex::new(BTreeMap::new()),
        })
    }

    /// The registry it renders.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Moves to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// The phase now.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Starting,
            1 => Phase::Serving,
            _ => Phase::Stopping,
        }
    }

    /// Sets (or replaces) node `node`'s probe.
    pub fn set_probe(&self, node: &str, probe: Arc<dyn Probe>) {
        self.lock_probes().insert(node.to_owned(), probe);
    }

    /// Runs every probe; the failures, as `<node>: <why>`.
    pub async fn run_probes(&self) -> Vec<String> {
        let probes: Vec<_> = self.lock_probes().clone().into_iter().collect();
        let mut failures = Vec::new();
        for (node, probe) in probes {
            let outcome = tokio::time::timeout(PROBE_DEADLINE, probe.probe()).await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failures.push(format!("{node}: {why}")),
                Err(_) => failures.push(format!("{node}: no answer within {PROBE_DEADLINE:?}")),
            }
        }
        failures
    }

    /// Why the nodes do not serve; empty when they do.
    pub async fn health(&self) -> Vec<String> {
        let mut reasons = match self.phase() {
            Phase::Serving => Vec::new(),
            Phase::Starting => vec!["starting".to_owned()],
            Phase::Stopping => vec!["stopping".to_owned()],
        };
        reasons.extend(self.run_probes().await);
        reasons
    }

    fn lock_probes(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<dyn Probe>>> {
        // A probe map is always whole: a panic elsewhere cannot leave it half-written.
        self.probes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A running admin listener; dropping it stops it.
pub struct AdminServer {
    /// Where it listens.
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    /// Binds `addr` (port 0 picks a free port) and serves `admin`.
    pub async fn start(addr: SocketAddr, admin: Arc<Admin>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(healthz))
            .with_state(admin);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the admin listener stopped");
            }
        });
        Ok(Self { local_addr, task })
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn metrics(State(admin): State<Arc<Admin>>) -> impl IntoResponse {
    // A failing probe leaves its gauges as they were; /healthz reports it.
    let _failures = admin.run_probes().await;
    let body = admin.registry().render();
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body)
}

async fn healthz(State(admin): State<Arc<Admin>>) -> impl IntoResponse {
    let reasons = admin.health().await;
    if reasons.is_empty() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        let mut body = reasons.join("\n");
        body.push('\n');
        (StatusCode::SERVICE_UNAVAILABLE, body)
    }
}
