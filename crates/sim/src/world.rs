//! One simulated zone and its run: the game servers (production
//! [`GameCore`]s, each with its own clock), the databases ([`SimDb`]), the
//! account center and the data center (their production cores, in
//! [`crate::account_link`] and [`crate::datacenter_link`]), the simulated
//! players, and the links between them ([`crate::bus`],
//! [`crate::store_link`], [`crate::client_link`]), all driven by one
//! [`Queue`] and one [`Prng`].
//!
//! A step delivers one event. After every input to a core the run drains
//! `poll_output()` and turns each output into scheduled events, and re-arms
//! the core's timer from `poll_timeout()`. After every step it checks every
//! writable copy against its row in the store (the authority). A node's clock
//! is true time plus a constant offset; the databases' clock is true time.
//!
//! Not modelled: computation time (every handler takes zero virtual time)
//! and clock drift within a run.

mod deliver;
mod nodes;

use std::collections::{BTreeMap, BTreeSet};

use gamecore::{GameCore, Output, ServerInfo, ZoneMap};
use routing::{RoleId, Srvno};
use wire::client::ServerAddress;

use crate::account_link::AccountLink;
use crate::bus::Inbound;
use crate::checker::Checker;
use crate::client_link::Link;
use crate::clients::Client;
use crate::datacenter_link::DataCenterLink;
use crate::db::SimDb;
use crate::fault_kinds::{FaultCounts, FaultKind};
use crate::faults::{FaultMix, SKEW_MAX_MS};
use crate::inject::Partition;
use crate::prng::Prng;
use crate::queue::{Queue, SimEvent};
use crate::store_link::Connection;
use crate::trace::Trace;
use crate::{Mutation, Property, SeedConfig, SeedReport, Violation};

/// Virtual time at the start of a run; above every clock offset, so no
/// node's clock reads below zero.
pub const START_MS: u64 = 1_000_000;
/// Lease length of a claim or renewal.
pub const LEASE_TTL_MS: u64 = 3_000;
/// How often a core renews its leases.
pub const LEASE_RENEW_INTERVAL_MS: u64 = 500;
/// The cores' skew margin: above the largest clock offset.
pub const SKEW_MARGIN_MS: u64 = 1_000;
/// How long a crossing target has to claim.
pub const HANDOFF_TTL_MS: u64 = 2_000;
/// How long a login or crossing token is valid.
pub const TOKEN_TTL_MS: u64 = 2_000;
/// How often dirty players are saved.
pub const SAVE_INTERVAL_MS: u64 = 300;
/// How often a home server checks its kuafu marks.
pub const HEARTBEAT_INTERVAL_MS: u64 = 1_000;
/// After healing, every player must be playable within this much virtual time.
pub const LIVENESS_BOUND_MS: u64 = 30_000;
/// Steps the liveness phase may take at most.
pub const LIVENESS_STEPS_MAX: u64 = 2_000_000;
/// Once every player is playable after healing, the data center's current
/// servers must match the rows within this much virtual time.
pub const DATACENTER_CONVERGENCE_BOUND_MS: u64 = 10_000;

const _: () = assert!(
    SKEW_MARGIN_MS > SKEW_MAX_MS,
    "the margin must exceed the largest skew"
);
const _: () = assert!(LEASE_RENEW_INTERVAL_MS + SKEW_MARGIN_MS < LEASE_TTL_MS);

/// The partition bit of the account center (game servers use bits 0..8).
pub(crate) const ACCOUNT_BIT: u32 = 1 << 8;
/// The partition bit of the data center.
pub(crate) const DATACENTER_BIT: u32 = 1 << 9;
/// The partition bit of the databases.
pub(crate) const DB_BIT: u32 = 1 << 10;
/// The partition bit of the players' side of the Internet.
pub(crate) const CLIENTS_BIT: u32 = 1 << 11;

/// A bus participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    /// Game server by index (`gs{index + 1}`).
    Node(usize),
    /// The account center.
    Account,
    /// The data center.
    DataCenter,
}

impl Endpoint {
    /// The endpoint's partition bit.
    pub(crate) fn bit(self) -> u32 {
        match self {
            Endpoint::Node(index) => node_bit(index),
            Endpoint::Account => ACCOUNT_BIT,
            Endpoint::DataCenter => DATACENTER_BIT,
        }
    }

    /// A number for the trace hash.
    pub(crate) fn tag(self) -> u64 {
        match self {
            Endpoint::Node(index) => index as u64,
            Endpoint::Account => 100,
            Endpoint::DataCenter => 101,
        }
    }
}

/// The partition bit of game server `index`.
pub(crate) fn node_bit(index: usize) -> u32 {
    1 << index
}

/// The incarnation of the account and data centers (they never restart).
pub(crate) const SERVICE_INCARNATION: u64 = 1;

/// One game server slot: its identity, clock, and the core while it runs.
pub(crate) struct Node {
    pub(crate) name: String,
    srvno: Srvno,
    /// This node's clock minus true time.
    offset_ms: i64,
    pub(crate) core: Option<GameCore>,
    pub(crate) incarnation: u64,
    timer_generation: u64,
    timer_at_ms: Option<u64>,
    /// Until when the process is frozen (0: running).
    pub(crate) paused_until_ms: u64,
}

impl Node {
    /// Game server `index`, not yet started, its clock `offset_ms` off true
    /// time.
    fn new(index: usize, offset_ms: i64) -> Self {
        Self {
            name: srvname(index),
            srvno: srvno_of(index + 1),
            offset_ms,
            core: None,
            incarnation: 0,
            timer_generation: 0,
            timer_at_ms: None,
            paused_until_ms: 0,
        }
    }

    pub(crate) fn own_now(&self, now_ms: u64) -> u64 {
        now_ms
            .checked_add_signed(self.offset_ms)
            .expect("START_MS exceeds every offset")
    }

    fn own_to_true(&self, own_ms: u64) -> u64 {
        own_ms.saturating_add_signed(-self.offset_ms)
    }
}

/// Where the run stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Faults on.
    Safety,
    /// Healed at `healed_at_ms`; every player must become playable.
    Liveness { healed_at_ms: u64 },
    /// Done.
    Finished,
}

/// The simulated zone.
pub(crate) struct World {
    pub(crate) seed: u64,
    config: SeedConfig,
    pub(crate) now_ms: u64,
    pub(crate) step: u64,
    pub(crate) prng: Prng,
    pub(crate) mix: FaultMix,
    /// The mix as drawn (`mix` is healed after the safety phase).
    mix_drawn: FaultMix,
    fault_mix_text: String,
    pub(crate) queue: Queue,
    zone: ZoneMap,
    pub(crate) nodes: Vec<Node>,
    pub(crate) dbs: Vec<SimDb>,
    pub(crate) account: AccountLink,
    pub(crate) datacenter: DataCenterLink,
    pub(crate) clients: Vec<Client>,
    pub(crate) links: BTreeMap<u64, Link>,
    pub(crate) next_session: u64,
    pub(crate) partitions: Vec<Partition>,
    pub(crate) next_partition: u64,
    pub(crate) pending_calls: BTreeSet<(Endpoint, u64, u64)>,
    pub(crate) inbound: BTreeMap<u64, Inbound>,
    pub(crate) next_request: u64,
    pub(crate) connections: BTreeMap<(usize, u64, usize), Connection>,
    pub(crate) pending_ops: BTreeSet<(usize, u64, u64)>,
    pub(crate) checker: Checker,
    pub(crate) trace: Trace,
    pub(crate) faults: FaultCounts,
    pub(crate) phase: Phase,
    pub(crate) playable_after_heal: usize,
    /// When the data center must have converged (set once every player is
    /// playable after healing).
    pub(crate) converge_by_ms: Option<u64>,
    outputs: Vec<Output>,
}

impl World {
    /// Builds the zone of `seed`: draws the fault mix, creates the roles,
    /// starts every node and schedules the first client actions and faults.
    pub(crate) fn new(seed: u64, config: &SeedConfig) -> Self {
        let mix = FaultMix::draw(&mut Prng::new(seed, 1));
        let mut prng = Prng::new(seed, 2);
        let rules = ownership::Rules {
            handoff_checks_epoch: config.mutation != Some(Mutation::HandoffWithoutEpochCheck),
            renew_checks_epoch: config.mutation != Some(Mutation::RenewWithoutEpochCheck),
        };
        let sqlite = config.sqlite_every > 0 && Prng::new(seed, 3).below(config.sqlite_every) == 0;
        let mut dbs: Vec<SimDb> = (1..=mix.nodes)
            .map(|number| SimDb::new(srvno_of(number), rules, sqlite))
            .collect();
        let clients = create_players(&mut dbs, &mix);
        let nodes = (0..mix.nodes)
            .map(|index| Node::new(index, clock_offset_ms(&mut prng, mix.skew_max_ms)))
            .collect();
        let account = AccountLink::new(&zone_map(mix.nodes), config.mutation);
        let mut world = Self {
            seed,
            config: config.clone(),
            now_ms: START_MS,
            step: 0,
            prng,
            fault_mix_text: mix.to_string(),
            zone: zone_map(mix.nodes),
            mix_drawn: mix.clone(),
            mix,
            queue: Queue::new(),
            nodes,
            dbs,
            account,
            datacenter: DataCenterLink::default(),
            clients,
            links: BTreeMap::new(),
            next_session: 1,
            partitions: Vec::new(),
            next_partition: 1,
            pending_calls: BTreeSet::new(),
            inbound: BTreeMap::new(),
            next_request: 1,
            connections: BTreeMap::new(),
            pending_ops: BTreeSet::new(),
            checker: Checker::default(),
            trace: Trace::new(seed),
            faults: FaultCounts::default(),
            phase: Phase::Safety,
            playable_after_heal: 0,
            converge_by_ms: None,
            outputs: Vec::new(),
        };
        world.start();
        world
    }

    /// Starts every node, schedules every player's first action and the
    /// fault ticks.
    fn start(&mut self) {
        for node in 0..self.nodes.len() {
            if self.nodes[node].offset_ms != 0 {
                self.inject(FaultKind::ClockSkew);
            }
            self.start_node(node);
        }
        for client in 0..self.clients.len() {
            let delay = self.prng.between(0, self.mix.think_max_ms);
            self.wake_client_in(client, delay);
        }
        self.schedule_fault_ticks();
    }

    /// Runs the safety phase for the configured steps, heals, and runs the
    /// liveness phase; stops at the first violation.
    pub(crate) fn run_with_progress(mut self, progress: &std::cell::Cell<u64>) -> SeedReport {
        let liveness_steps_max = self.config.steps + LIVENESS_STEPS_MAX;
        while self.phase != Phase::Finished {
            let Some((at_ms, event)) = self.queue.pop() else {
                let what = "the event queue ran dry".to_owned();
                self.violate(Property::EveryPlayerPlayableAfterHealing, what);
                break;
            };
            debug_assert!(at_ms >= self.now_ms, "time runs forward");
            self.now_ms = at_ms;
            if let Some(resume_ms) = self.paused_target(&event) {
                self.queue.push(resume_ms, event);
                continue;
            }
            if !self.deliver(event) {
                continue;
            }
            self.step += 1;
            progress.set(self.step);
            self.check_writable_copies();
            if let Some((property, what)) = self.checker.take_violation() {
                self.violate(property, what);
                break;
            }
            match self.phase {
                Phase::Safety if self.step >= self.config.steps => self.heal(),
                Phase::Liveness { .. } if self.playable_after_heal == self.clients.len() => {
                    self.await_convergence();
                }
                Phase::Liveness { .. } if self.step >= liveness_steps_max => {
                    let what = format!(
                        "liveness phase ran {LIVENESS_STEPS_MAX} steps without every player playable"
                    );
                    self.violate(Property::EveryPlayerPlayableAfterHealing, what);
                }
                _ => {}
            }
        }
        self.report()
    }

    fn report(mut self) -> SeedReport {
        for db in &self.dbs {
            db.hash_into(&mut self.trace);
        }
        SeedReport {
            seed: self.seed,
            steps: self.step,
            virtual_ms: self.now_ms - START_MS,
            faults: {
                self.faults.ran(&self.mix_drawn, self.step);
                self.faults
            },
            violations: std::mem::take(&mut self.checker.violations),
            waived: std::mem::take(&mut self.checker.waived),
            trace_hash: self.trace.finish(),
            fault_mix: std::mem::take(&mut self.fault_mix_text),
            sometimes: self.checker.sometimes,
            sqlite: self.dbs.first().is_some_and(SimDb::has_sqlite),
        }
    }

    /// Counts one injected fault of `kind`.
    pub(crate) fn inject(&mut self, kind: FaultKind) {
        self.faults.injected(kind);
    }

    pub(crate) fn violate(&mut self, property: Property, what: String) {
        let violation = Violation {
            seed: self.seed,
            step: self.step,
            time_ms: self.now_ms - START_MS,
            property,
            what,
        };
        if self.config.waived.contains(&property) {
            self.checker.waived.push(violation);
        } else {
            self.checker.violations.push(violation);
        }
        self.phase = Phase::Finished;
    }

    pub(crate) fn log(&self, text: impl FnOnce() -> String) {
        if self.config.log {
            eprintln!(
                "[{:>9} #{:>7}] {}",
                self.now_ms - START_MS,
                self.step,
                text()
            );
        }
    }

    /// Ends the safety phase: no new faults, partitions healed, crashed
    /// nodes restarted; skews stay.
    pub(crate) fn heal(&mut self) {
        self.log(|| "heal".to_owned());
        self.mix = self.mix.healed();
        self.partitions.clear();
        for node in 0..self.nodes.len() {
            self.nodes[node].paused_until_ms = 0;
            if self.nodes[node].core.is_none() {
                self.start_node(node);
            }
        }
        self.phase = Phase::Liveness {
            healed_at_ms: self.now_ms,
        };
        self.checker.gifts_heal();
        self.queue
            .push(self.now_ms + LIVENESS_BOUND_MS, SimEvent::LivenessDeadline);
        for client in 0..self.clients.len() {
            self.client_healed(client);
        }
    }

    fn liveness_deadline(&mut self) {
        let Phase::Liveness { healed_at_ms } = self.phase else {
            return;
        };
        let stuck: Vec<String> = self
            .clients
            .iter()
            .enumerate()
            .filter(|(_, client)| client.playable_at_ms <= healed_at_ms)
            .map(|(index, client)| {
                format!(
                    "player {index} (role {}) {}",
                    client.roleid,
                    client.describe()
                )
            })
            .collect();
        if !stuck.is_empty() {
            let what = format!(
                "not playable {LIVENESS_BOUND_MS}ms after healing: {}",
                stuck.join("; ")
            );
            self.violate(Property::EveryPlayerPlayableAfterHealing, what);
        }
    }
}

/// The simulated players, one per role, created in their home databases.
fn create_players(dbs: &mut [SimDb], mix: &FaultMix) -> Vec<Client> {
    (0..mix.clients)
        .map(|index| {
            let home = index % mix.nodes;
            let account_id = 1_000 + index as u64;
            let roleid = dbs[home].create_role(START_MS, account_id, &format!("p{index}"));
            Client::new(account_id, roleid, home)
        })
        .collect()
}

/// A node's clock offset in `±skew_max_ms`: half of the nodes sit at one of
/// the extremes, where clock bugs show.
fn clock_offset_ms(prng: &mut Prng, skew_max_ms: u64) -> i64 {
    let skew = skew_max_ms as i64;
    if prng.chance(crate::prng::PPM / 2) {
        if prng.chance(crate::prng::PPM / 2) {
            skew
        } else {
            -skew
        }
    } else {
        prng.between(0, 2 * skew_max_ms) as i64 - skew
    }
}

/// The name of game server `index` (0-based).
pub(crate) fn srvname(index: usize) -> String {
    format!("gs{}", index + 1)
}

/// The index of the database that holds `roleid` (its home srvno's).
pub(crate) fn db_of(roleid: RoleId) -> usize {
    roleid.home_srvno().get() as usize - 1
}

fn srvno_of(number: usize) -> Srvno {
    Srvno::new(number as u32).expect("a small srvno")
}

fn zone_map(nodes: usize) -> ZoneMap {
    ZoneMap::new((0..nodes).map(|index| {
        let name = srvname(index);
        ServerInfo {
            address: ServerAddress {
                srvname: name.clone(),
                tcp_addr: format!("{name}:7001"),
                ws_addr: String::new(),
            },
            srvnos: vec![srvno_of(index + 1)],
        }
    }))
}
