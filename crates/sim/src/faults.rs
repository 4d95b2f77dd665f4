//! The fault mix of one seed (swarm testing): each seed draws which faults are
//! on and how hard, so a sweep covers runs with one fault alone as well as
//! runs with many at once (Groce et al., "Swarm testing", 2012; TigerBeetle's
//! VOPR does the same). The mix is printed with the seed.
//!
//! Modelled: the zone's size, clock skew per node (on in three seeds of
//! four), bus latency (with jitter, which reorders), loss, duplication,
//! delay spikes, store-commit outcomes (applied and acknowledged, applied
//! with the reply lost, not applied), node crashes, process pauses,
//! partitions (also one-way; a store link stalls rather than drops, as TCP
//! does), client connection cuts and half-open connections, and how the
//! simulated players behave. Not modelled: disk corruption, a store that
//! loses committed data, clock drift within a run (each node's offset is
//! constant), and byzantine nodes.

use std::fmt;

use crate::prng::{PPM, Prng};

/// Largest clock offset of a node from true time; the cores' skew margin
/// (`SKEW_MARGIN_MS` in `world`) is set above it.
pub const SKEW_MAX_MS: u64 = 800;

/// Which faults one seed runs with, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultMix {
    /// Game servers in the zone.
    pub nodes: usize,
    /// Simulated players (one role each).
    pub clients: usize,
    /// Largest clock offset of a node; offsets are drawn in `±skew_max_ms`,
    /// half of them at one of the two extremes.
    pub skew_max_ms: u64,
    /// Bus and client-link latency, drawn in `1..=latency_max_ms` per message.
    pub latency_max_ms: u64,
    /// Store round-trip latency per direction, in `1..=store_latency_max_ms`.
    pub store_latency_max_ms: u64,
    /// Bus messages lost.
    pub loss_ppm: u32,
    /// Bus messages delivered twice.
    pub duplicate_ppm: u32,
    /// Messages and store ops delayed by up to `spike_max_ms` more.
    pub spike_ppm: u32,
    /// Longest delay spike.
    pub spike_max_ms: u64,
    /// Store commits applied whose reply is lost.
    pub reply_lost_ppm: u32,
    /// Store commits not applied (the writer gets an error).
    pub not_applied_ppm: u32,
    /// Mean time between node crashes (0: no crashes).
    pub crash_every_ms: u64,
    /// Longest time a crashed node stays down.
    pub downtime_max_ms: u64,
    /// Mean time between partitions (0: none).
    pub partition_every_ms: u64,
    /// Longest partition.
    pub partition_max_ms: u64,
    /// Partitions that cut one direction only.
    pub one_way_ppm: u32,
    /// Mean time between client connection cuts (0: none).
    pub cut_every_ms: u64,
    /// Longest time a server takes to notice a dead client connection.
    pub half_open_max_ms: u64,
    /// Mean time between process pauses (0: none).
    pub pause_every_ms: u64,
    /// Longest pause.
    pub pause_max_ms: u64,
    /// How long a player waits for an answer before it drops the connection.
    pub client_timeout_ms: u64,
    /// Longest pause of a player between two actions.
    pub think_max_ms: u64,
    /// Player actions that cross to another server.
    pub cross_ppm: u32,
    /// Player actions that log off.
    pub logoff_ppm: u32,
    /// Player actions that replay an old token on a second connection.
    pub replay_ppm: u32,
    /// Redirects whose crossing token the player also presents, on a second
    /// connection, with another role's id.
    pub forged_role_ppm: u32,
}

impl FaultMix {
    /// Draws a mix: each fault is on with probability one half.
    pub fn draw(prng: &mut Prng) -> Self {
        let nodes = prng.between(3, 4) as usize;
        let clients = prng.between(3, 10) as usize;
        let skew_max_ms = if prng.chance(PPM / 4 * 3) {
            prng.between(100, SKEW_MAX_MS)
        } else {
            0
        };
        let latency_max_ms = if on(prng) { prng.between(2, 120) } else { 5 };
        let store_latency_max_ms = if on(prng) { prng.between(2, 60) } else { 3 };
        let loss_ppm = ppm_if_on(prng, 1_000, 80_000);
        let duplicate_ppm = ppm_if_on(prng, 1_000, 50_000);
        let (spike_ppm, spike_max_ms) = if on(prng) {
            (prng.between(1_000, 30_000) as u32, prng.between(500, 6_000))
        } else {
            (0, 0)
        };
        let reply_lost_ppm = ppm_if_on(prng, 1_000, 50_000);
        let not_applied_ppm = ppm_if_on(prng, 1_000, 50_000);
        let (crash_every_ms, downtime_max_ms) = every_if_on(prng, (3_000, 40_000), (200, 8_000));
        let (partition_every_ms, partition_max_ms) =
            every_if_on(prng, (3_000, 40_000), (300, 8_000));
        let one_way_ppm = ppm_if_on(prng, 100_000, 900_000);
        let (cut_every_ms, half_open_max_ms) = every_if_on(prng, (1_000, 20_000), (0, 6_000));
        let (pause_every_ms, pause_max_ms) = every_if_on(prng, (2_000, 40_000), (200, 6_000));
        Self {
            nodes,
            clients,
            skew_max_ms,
            latency_max_ms,
            store_latency_max_ms,
            loss_ppm,
            duplicate_ppm,
            spike_ppm,
            spike_max_ms,
            reply_lost_ppm,
            not_applied_ppm,
            crash_every_ms,
            downtime_max_ms,
            partition_every_ms,
            partition_max_ms,
            one_way_ppm,
            cut_every_ms,
            half_open_max_ms,
            pause_every_ms,
            pause_max_ms,
            client_timeout_ms: prng.between(500, 3_000),
            think_max_ms: prng.between(20, 600),
            cross_ppm: prng.between(20_000, 200_000) as u32,
            logoff_ppm: prng.between(0, 40_000) as u32,
            replay_ppm: ppm_if_on(prng, 1_000, 30_000),
            forged_role_ppm: ppm_if_on(prng, 50_000, 300_000),
        }
    }

    /// The mix after healing: no loss, duplication, spikes or commit
    /// faults, and no new crash, partition or cut. Skews stay.
    pub fn healed(&self) -> Self {
        Self {
            loss_ppm: 0,
            duplicate_ppm: 0,
            spike_ppm: 0,
            reply_lost_ppm: 0,
            not_applied_ppm: 0,
            crash_every_ms: 0,
            partition_every_ms: 0,
            cut_every_ms: 0,
            pause_every_ms: 0,
            cross_ppm: 0,
            logoff_ppm: 0,
            replay_ppm: 0,
            forged_role_ppm: 0,
            ..self.clone()
        }
    }
}

impl fmt::Display for FaultMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nodes={} clients={} skew={}ms latency={}ms store={}ms",
            self.nodes,
            self.clients,
            self.skew_max_ms,
            self.latency_max_ms,
            self.store_latency_max_ms
        )?;
        if self.loss_ppm > 0 {
            write!(f, " loss={:.1}%", percent(self.loss_ppm))?;
        }
        if self.duplicate_ppm > 0 {
            write!(f, " dup={:.1}%", percent(self.duplicate_ppm))?;
        }
        if self.spike_ppm > 0 {
            write!(
                f,
                " spike={:.1}%/{}ms",
                percent(self.spike_ppm),
                self.spike_max_ms
            )?;
        }
        if self.reply_lost_ppm > 0 {
            write!(f, " reply-lost={:.1}%", percent(self.reply_lost_ppm))?;
        }
        if self.not_applied_ppm > 0 {
            write!(f, " not-applied={:.1}%", percent(self.not_applied_ppm))?;
        }
        self.fmt_outages(f)?;
        self.fmt_players(f)
    }
}

impl FaultMix {
    /// The crashes, partitions, connection cuts and pauses of the mix.
    fn fmt_outages(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.crash_every_ms > 0 {
            write!(
                f,
                " crash=every~{}ms,down<={}ms",
                self.crash_every_ms, self.downtime_max_ms
            )?;
        }
        if self.partition_every_ms > 0 {
            write!(
                f,
                " partition=every~{}ms,<={}ms,one-way={:.0}%",
                self.partition_every_ms,
                self.partition_max_ms,
                percent(self.one_way_ppm)
            )?;
        }
        if self.cut_every_ms > 0 {
            write!(
                f,
                " cut=every~{}ms,half-open<={}ms",
                self.cut_every_ms, self.half_open_max_ms
            )?;
        }
        if self.pause_every_ms > 0 {
            write!(
                f,
                " pause=every~{}ms,<={}ms",
                self.pause_every_ms, self.pause_max_ms
            )?;
        }
        Ok(())
    }

    /// How the mix's simulated players behave.
    fn fmt_players(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " client-timeout={}ms", self.client_timeout_ms)?;
        write!(
            f,
            " think<={}ms cross={:.1}% logoff={:.1}%",
            self.think_max_ms,
            percent(self.cross_ppm),
            percent(self.logoff_ppm)
        )?;
        if self.replay_ppm > 0 {
            write!(f, " replay={:.1}%", percent(self.replay_ppm))?;
        }
        if self.forged_role_ppm > 0 {
            write!(f, " forged-role={:.1}%", percent(self.forged_role_ppm))?;
        }
        Ok(())
    }
}

/// Whether a fault is on in a mix: with probability one half.
fn on(prng: &mut Prng) -> bool {
    prng.chance(PPM / 2)
}

/// A rate in `low..=high` ppm if the fault is on, else 0.
fn ppm_if_on(prng: &mut Prng, low: u64, high: u64) -> u32 {
    if on(prng) {
        prng.between(low, high) as u32
    } else {
        0
    }
}

/// A mean time between faults in `every_ms` and a longest duration in
/// `longest_ms` (both `(low, high)` ranges) if the fault is on, else zeros.
fn every_if_on(prng: &mut Prng, every_ms: (u64, u64), longest_ms: (u64, u64)) -> (u64, u64) {
    if on(prng) {
        (
            prng.between(every_ms.0, every_ms.1),
            prng.between(longest_ms.0, longest_ms.1),
        )
    } else {
        (0, 0)
    }
}

/// A ppm rate as a percentage.
fn percent(ppm: u32) -> f64 {
    f64::from(ppm) / 10_000.0
}
