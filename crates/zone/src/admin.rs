//! The zone's side of DESIGN §15: which series each node gets in the
//! [`telemetry::Registry`], the probes `/metrics` and `/healthz` run, and
//! the admin listeners of the zone file's `admin` addresses.
//!
//! The embedded zone owns one registry for all its nodes and serves it, with
//! the whole zone's health, on every admin address its file gives; a
//! distributed node owns one registry for itself and serves it on its own.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use game::GameHandle;
use metrics::{Counter, Gauge};
use store_sqlite::WriterMetrics;
use telemetry::admin::{Admin, AdminServer, Probe};
use telemetry::{Registry, names};

use crate::embedded::ZoneError;

/// Label of the store series: the database's game server.
pub(crate) const DB_LABEL: &str = "db";

/// The series of a player database's writer, in node `node` (the process
/// that owns the writer) for game server `db`'s database.
pub(crate) fn writer_metrics(registry: &Registry, node: &str, db: &str) -> WriterMetrics {
    let labels = [(DB_LABEL, db)];
    WriterMetrics {
        batches: registry.counter(&names::STORE_BATCHES, node, &labels),
        batch_ops: registry.histogram(&names::STORE_BATCH_OPS, node, &labels),
        commit_seconds: registry.histogram(&names::STORE_COMMIT_SECONDS, node, &labels),
    }
}

/// The account center's login series on `registry`.
pub(crate) fn login_metrics(registry: &Registry, node: &str) -> account::LoginMetrics {
    let refusals = |label: &str| registry.counter(&names::LOGIN_REFUSALS, node, &[("code", label)]);
    let codes = account::COUNTED_REFUSALS;
    account::LoginMetrics {
        waiting: registry.gauge(&names::LOGIN_QUEUE_WAITING, node),
        hashing: registry.gauge(&names::LOGIN_HASHING, node),
        queue_seconds: registry.histogram(&names::LOGIN_QUEUE_SECONDS, node, &[]),
        refusals: std::array::from_fn(|index| {
            let code = codes.get(index);
            refusals(code.map_or(account::OTHER_REFUSAL, |code| code.as_str_name()))
        }),
    }
}

/// A game server's probe: its task answers a status query, whose counters
/// become its series.
pub(crate) struct GameProbe {
    handle: GameHandle,
    online: Gauge,
    connections: Gauge,
    logins: Counter,
    crossings_in: Counter,
    crossings_out: Counter,
    fenced: Counter,
    leases_lost: Counter,
}

impl GameProbe {
    pub(crate) fn new(registry: &Registry, node: &str, handle: GameHandle) -> Arc<Self> {
        let counter = |metric| registry.counter(metric, node, &[]);
        Arc::new(Self {
            handle,
            online: registry.gauge(&names::PLAYERS_ONLINE, node),
            connections: registry.gauge(&names::CONNECTIONS, node),
            logins: counter(&names::LOGINS),
            crossings_in: counter(&names::CROSSINGS_IN),
            crossings_out: counter(&names::CROSSINGS_OUT),
            fenced: counter(&names::FENCED),
            leases_lost: counter(&names::LEASES_LOST),
        })
    }
}

impl Probe for GameProbe {
    fn probe(&self) -> BoxFuture<'_, Result<(), String>> {
        async move {
            let status = self
                .handle
                .status()
                .await
                .map_err(|error| error.to_string())?;
            self.online.set(status.online as f64);
            self.connections.set(status.connections as f64);
            let logins = status.entered_total.saturating_sub(status.arrivals_total);
            self.logins.absolute(logins);
            self.crossings_in.absolute(status.arrivals_total);
            self.crossings_out.absolute(status.departures_total);
            self.fenced.absolute(status.fenced_total);
            self.leases_lost.absolute(status.leases_lost_total);
            Ok(())
        }
        .boxed()
    }
}

/// The account center's probe: its client connections become its gauge.
pub(crate) struct ConnectionsProbe {
    gateway: gateway::GatewayHandle,
    connections: Gauge,
}

impl ConnectionsProbe {
    pub(crate) fn new(registry: &Registry, node: &str, gateway: &gateway::Gateway) -> Arc<Self> {
        Arc::new(Self {
            gateway: gateway.handle.clone(),
            connections: registry.gauge(&names::CONNECTIONS, node),
        })
    }
}

impl Probe for ConnectionsProbe {
    fn probe(&self) -> BoxFuture<'_, Result<(), String>> {
        self.connections.set(self.gateway.connections() as f64);
        futures_util::future::ready(Ok(())).boxed()
    }
}

/// A distributed node's probe: its NATS connection is up.
pub(crate) struct NatsProbe(pub(crate) bus_nats::NatsBus);

impl Probe for NatsProbe {
    fn probe(&self) -> BoxFuture<'_, Result<(), String>> {
        let connected = self.0.is_connected();
        futures_util::future::ready(if connected {
            Ok(())
        } else {
            Err("NATS is disconnected".to_owned())
        })
        .boxed()
    }
}

/// Starts an admin listener serving `admin` on each of `addresses` and
/// writes back the address each got (port 0 picks a free port).
pub(crate) async fn serve<'a>(
    addresses: impl Iterator<Item = &'a mut Option<SocketAddr>>,
    admin: &Arc<Admin>,
) -> Result<Vec<AdminServer>, ZoneError> {
    let mut servers = Vec::new();
    for address in addresses {
        if let Some(addr) = address {
            let server = AdminServer::start(*addr, admin.clone())
                .await
                .map_err(ZoneError::Listen)?;
            *address = Some(server.local_addr);
            servers.push(server);
        }
    }
    Ok(servers)
}
