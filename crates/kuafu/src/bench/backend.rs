//! Where a benchmark's zone runs ([`Backend`]): embedded in this process on
//! SQLite, or distributed as processes on NATS and PostgreSQL
//! ([`distributed`](super::distributed)); each backend's targets; and the
//! zone under a bench in either mode ([`BenchZone`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use bus_nats::{NatsBus, NatsBusConfig};

use zone::{Zone, ZoneConfig};

use super::distributed::{DistributedSettings, DistributedZone};
use super::floor::{self, Floor};
use super::hop::HopError;

/// Targets of one backend: the serial crossing's p50 over the floor and its
/// p99 at most, crossings per second in the concurrent phase at least.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets {
    /// p50 / floor, at most.
    pub ratio: f64,
    /// The serial p99, at most.
    pub p99: Duration,
    /// Crossings per second under load, at least.
    pub crossings_per_s: f64,
}

/// The embedded mode's targets.
pub const EMBEDDED_TARGETS: Targets = Targets {
    ratio: 3.0,
    p99: Duration::from_millis(5),
    crossings_per_s: 5_000.0,
};
/// The distributed mode's targets (with 200 crossings in flight).
pub const DISTRIBUTED_TARGETS: Targets = Targets {
    ratio: 2.5,
    p99: Duration::from_millis(10),
    crossings_per_s: 2_000.0,
};

/// Where the bench's zone runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// In this process, on SQLite files.
    #[default]
    Embedded,
    /// As processes of this binary, on NATS and PostgreSQL.
    Distributed(DistributedSettings),
}

impl Backend {
    /// The backend's name, as `--backend` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Distributed(_) => "distributed",
        }
    }

    /// The backend's targets.
    pub fn targets(&self) -> Targets {
        match self {
            Backend::Embedded => EMBEDDED_TARGETS,
            Backend::Distributed(_) => DISTRIBUTED_TARGETS,
        }
    }
}

/// The zone under a bench, in either mode.
pub(crate) enum BenchZone {
    Embedded(Box<Zone>),
    Distributed(Box<DistributedZone>),
}

impl BenchZone {
    pub(crate) async fn start(
        backend: &Backend,
        game_servers: u32,
        data_dir: &Path,
    ) -> Result<Self, HopError> {
        Ok(match backend {
            Backend::Embedded => {
                let zone = Zone::start(ZoneConfig::demo(data_dir, game_servers)).await?;
                BenchZone::Embedded(Box::new(zone))
            }
            Backend::Distributed(settings) => {
                let run = super::distributed::run_name("kuafu_bench");
                let template = ZoneConfig::demo(data_dir, game_servers);
                let zone = DistributedZone::start(settings, &run, template, data_dir).await?;
                BenchZone::Distributed(Box::new(zone))
            }
        })
    }

    pub(crate) fn account_addr(&self) -> String {
        match self {
            BenchZone::Embedded(zone) => zone.account_addr().to_string(),
            BenchZone::Distributed(zone) => zone.processes.account_addr.clone(),
        }
    }

    pub(crate) fn game_names(&self) -> Vec<String> {
        match self {
            BenchZone::Embedded(zone) => zone.game_names(),
            BenchZone::Distributed(zone) => zone.game_names.clone(),
        }
    }

    /// A count the servers raise by [`Self::marks_per_crossing`] with every
    /// crossing that lands (and by nothing else while the players stay in).
    pub(crate) async fn crossing_marks(&self) -> Result<u64, HopError> {
        Ok(match self {
            BenchZone::Embedded(zone) => zone
                .status()
                .await
                .iter()
                .map(|status| status.arrivals_total)
                .sum(),
            BenchZone::Distributed(zone) => zone.epochs_total().await?,
        })
    }

    /// A bus to call the zone's players on, as an operator, and the zone
    /// file they are in.
    pub(crate) async fn operator(&self) -> Result<(Arc<dyn Bus>, ZoneConfig), HopError> {
        Ok(match self {
            BenchZone::Embedded(zone) => (zone.bus(), zone.config().clone()),
            BenchZone::Distributed(zone) => {
                let nats = &zone.settings().nats;
                let config = NatsBusConfig::new(nats, &zone.config.zone, zone::OPERATOR_NODE);
                let bus = NatsBus::connect(&config)
                    .await
                    .map_err(|error| HopError::Invalid(format!("NATS: {error}")))?;
                (Arc::new(bus), zone.config.clone())
            }
        })
    }

    pub(crate) fn marks_per_crossing(&self) -> u64 {
        match self {
            BenchZone::Embedded(_) => 1,
            // The handoff and the target's claim each raise the epoch.
            BenchZone::Distributed(_) => 2,
        }
    }

    pub(crate) async fn floor(&self, data_dir: &Path, samples: usize) -> Result<Floor, HopError> {
        Ok(match self {
            BenchZone::Embedded(_) => floor::measure(data_dir, samples).await?,
            BenchZone::Distributed(zone) => {
                let nats = &zone.settings().nats;
                floor::measure_distributed(
                    &zone.player_database("gs1").unwrap_or_default(),
                    nats,
                    samples,
                )
                .await?
            }
        })
    }

    pub(crate) async fn shutdown(self) -> Result<(), HopError> {
        match self {
            BenchZone::Embedded(zone) => zone.shutdown().await,
            BenchZone::Distributed(zone) => zone.stop().await?,
        }
        Ok(())
    }
}
