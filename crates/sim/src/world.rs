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

use std::collections::{BTreeMap, BTreeSet};

use gamecore::{
    CallId, Config, Entropy, GameCore, OpId, Output, PeerError, RequestId, ServerInfo, SessionId,
    ZoneMap,
};
use routing::{RoleId, Srvno};
use store::StoreError;
use wire::client::ServerAddress;
use wire::client::server_frame::Body as Out;

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

/// Tokens for the cores, from the run's PRNG.
struct PrngEntropy<'a>(&'a mut Prng);

impl Entropy for PrngEntropy<'_> {
    fn token(&mut self) -> u128 {
        self.0.token()
    }
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
        let clients = (0..mix.clients)
            .map(|index| {
                let home = index % mix.nodes;
                let account_id = 1_000 + index as u64;
                let roleid = dbs[home].create_role(START_MS, account_id, &format!("p{index}"));
                Client::new(account_id, roleid, home)
            })
            .collect();
        let nodes = (0..mix.nodes)
            .map(|index| Node {
                name: srvname(index),
                srvno: srvno_of(index + 1),
                offset_ms: clock_offset_ms(&mut prng, mix.skew_max_ms),
                core: None,
                incarnation: 0,
                timer_generation: 0,
                timer_at_ms: None,
                paused_until_ms: 0,
            })
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
        for node in 0..world.nodes.len() {
            if world.nodes[node].offset_ms != 0 {
                world.inject(FaultKind::ClockSkew);
            }
            world.start_node(node);
        }
        for client in 0..world.clients.len() {
            let delay = world.prng.between(0, world.mix.think_max_ms);
            world.wake_client_in(client, delay);
        }
        world.schedule_fault_ticks();
        world
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

    /// Delivers one event; false when it was stale or lost (not a step).
    fn deliver(&mut self, event: SimEvent) -> bool {
        let now = self.now_ms;
        match event {
            SimEvent::NodeTimer {
                node,
                incarnation,
                generation,
            } => {
                let slot = &self.nodes[node];
                if !self.alive(node, incarnation) || slot.timer_generation != generation {
                    return false;
                }
                self.trace.add(&[now, 1, node as u64]);
                self.nodes[node].timer_at_ms = None;
                let own = self.nodes[node].own_now(now);
                self.core_mut(node).handle_timeout(own);
                self.after_core(node);
                true
            }
            SimEvent::BusRequest {
                from,
                from_incarnation,
                call,
                to,
                message,
            } => self.request_arrives(from, from_incarnation, call, to, message),
            SimEvent::BusAnswer {
                from,
                to,
                incarnation,
                call,
                answer,
            } => self.answer_arrives(from, to, incarnation, call, answer),
            SimEvent::BusDeadline {
                to,
                incarnation,
                call,
            } => self.deadline_passes(to, incarnation, call),
            SimEvent::Topic {
                from,
                node,
                incarnation,
                message,
            } => self.topic_arrives(from, node, incarnation, message),
            SimEvent::StorePump {
                node,
                incarnation,
                db,
            } => self.pump_to_db(node, incarnation, db),
            SimEvent::AnswerPump {
                node,
                incarnation,
                db,
            } => self.pump_to_node(node, incarnation, db),
            SimEvent::StoreDeadline {
                node,
                incarnation,
                op,
            } => {
                if !self.pending_ops.remove(&(node, incarnation, op))
                    || !self.alive(node, incarnation)
                {
                    return false;
                }
                self.trace.add(&[now, 8, node as u64, op]);
                let answer = Err(StoreError::Backend(
                    "no answer before the shell's deadline".to_owned(),
                ));
                let own = self.nodes[node].own_now(now);
                self.core_mut(node)
                    .handle_store_answer(own, OpId(op), answer);
                self.after_core(node);
                true
            }
            SimEvent::DataCenterWritten { batch } => self.datacenter_written(batch),
            SimEvent::Connect { session } => self.connect_arrives(session),
            SimEvent::FrameAtNode { session, frame } => {
                let Some(node) = self.frame_reaches_node(session) else {
                    return false;
                };
                self.log(|| {
                    format!(
                        "{} gets #{} on session {session}",
                        srvname(node),
                        frame.request_id
                    )
                });
                self.trace.add(&[now, 10, session, frame.request_id]);
                let own = self.nodes[node].own_now(now);
                let core = self.nodes[node]
                    .core
                    .as_mut()
                    .expect("frame_reaches_node checked");
                core.handle_client_frame(
                    own,
                    SessionId(session),
                    frame,
                    &mut PrngEntropy(&mut self.prng),
                );
                self.after_core(node);
                true
            }
            SimEvent::ClosedAtNode { session } => self.close_reaches_node(session),
            SimEvent::FrameAtClient {
                session,
                frame,
                close,
            } => self.frame_reaches_client(session, frame, close),
            SimEvent::ClientWake { client, generation } => {
                if self.clients[client].generation != generation {
                    return false;
                }
                self.trace.add(&[now, 13, client as u64]);
                self.client_wakes(client);
                true
            }
            SimEvent::ClientTimeout { client, request } => {
                if self.clients[client].pending_request() != Some(request) {
                    return false;
                }
                self.trace.add(&[now, 14, client as u64, request]);
                self.client_backs_off(client);
                true
            }
            SimEvent::LoginAtAccount { client, attempt } => {
                if self.cut_until(CLIENTS_BIT, ACCOUNT_BIT).is_some() {
                    return false;
                }
                self.trace.add(&[now, 15, client as u64, attempt]);
                self.login_arrives(client, attempt);
                true
            }
            SimEvent::LoginAnswer {
                client,
                attempt,
                granted,
            } => {
                if self.cut_until(ACCOUNT_BIT, CLIENTS_BIT).is_some() {
                    return false;
                }
                self.trace.add(&[
                    now,
                    16,
                    client as u64,
                    attempt,
                    u64::from(granted.is_some()),
                ]);
                self.login_answered(client, attempt, granted);
                true
            }
            SimEvent::CrashTick => self.crash_tick(),
            SimEvent::Restart { node } => {
                if self.nodes[node].core.is_some() {
                    return false;
                }
                self.trace.add(&[now, 18, node as u64]);
                self.start_node(node);
                true
            }
            SimEvent::PartitionTick => self.partition_tick(),
            SimEvent::PartitionEnd { id } => self.partition_ends(id),
            SimEvent::CutTick => self.cut_tick(),
            SimEvent::PauseTick => self.pause_tick(),
            SimEvent::LivenessDeadline => {
                self.trace.add(&[now, 22]);
                self.liveness_deadline();
                true
            }
        }
    }

    /// If `event` goes into a paused node's process, when the node resumes.
    fn paused_target(&self, event: &SimEvent) -> Option<u64> {
        let node = match event {
            SimEvent::NodeTimer { node, .. }
            | SimEvent::Topic { node, .. }
            | SimEvent::AnswerPump { node, .. }
            | SimEvent::StoreDeadline { node, .. } => *node,
            SimEvent::BusRequest {
                to: Endpoint::Node(node),
                ..
            }
            | SimEvent::BusAnswer {
                to: Endpoint::Node(node),
                ..
            }
            | SimEvent::BusDeadline {
                to: Endpoint::Node(node),
                ..
            } => *node,
            SimEvent::Connect { session }
            | SimEvent::FrameAtNode { session, .. }
            | SimEvent::ClosedAtNode { session } => self.links.get(session)?.node,
            _ => return None,
        };
        let resume_ms = self.nodes[node].paused_until_ms;
        (resume_ms > self.now_ms).then_some(resume_ms)
    }

    // ----- game servers -----

    pub(crate) fn alive(&self, node: usize, incarnation: u64) -> bool {
        let slot = &self.nodes[node];
        slot.incarnation == incarnation && slot.core.is_some()
    }

    pub(crate) fn core_mut(&mut self, node: usize) -> &mut GameCore {
        self.nodes[node].core.as_mut().expect("a live node")
    }

    fn core_config(&self, node: usize, incarnation: u64) -> Config {
        let slot = &self.nodes[node];
        let mut config = Config::new(&slot.name, incarnation, slot.srvno, self.zone.clone());
        config.account_node = "account".to_owned();
        config.datacenter_node = "datacenter".to_owned();
        config.lease_ttl_ms = LEASE_TTL_MS;
        config.lease_renew_interval_ms = LEASE_RENEW_INTERVAL_MS;
        config.skew_margin_ms = SKEW_MARGIN_MS;
        config.handoff_ttl_ms = HANDOFF_TTL_MS;
        config.token_ttl_ms = TOKEN_TTL_MS;
        config.save_interval_ms = SAVE_INTERVAL_MS;
        config.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS;
        config.players_max = 1_000;
        config.tokens_max = 10_000;
        config.marks_max = 10_000;
        config.mutations = gamecore::Mutations {
            no_skew_margin: self.config.mutation == Some(Mutation::NoSkewMargin),
            reusable_tokens: self.config.mutation == Some(Mutation::ReusableTokens),
            redirect_before_commit: self.config.mutation == Some(Mutation::RedirectBeforeCommit),
            notes_not_resent: self.config.mutation == Some(Mutation::NotesNotResent),
            marks_cleared_on_misses: self.config.mutation == Some(Mutation::MarksClearedOnMisses),
            crossing_token_admits_any_role: self.config.mutation
                == Some(Mutation::CrossingTokenAdmitsAnyRole),
            double_credit: self.config.mutation == Some(Mutation::DoubleCredit),
        };
        config
    }

    /// Starts (or restarts) a node with a new incarnation and empty memory.
    pub(crate) fn start_node(&mut self, node: usize) {
        let incarnation = self.prng.next_u64() | 1;
        let config = self.core_config(node, incarnation);
        let own = self.nodes[node].own_now(self.now_ms);
        let slot = &mut self.nodes[node];
        slot.incarnation = incarnation;
        slot.core = Some(GameCore::new(config, own));
        slot.timer_at_ms = None;
        slot.paused_until_ms = 0;
        self.log(|| format!("{} starts as incarnation {incarnation:x}", srvname(node)));
        self.after_core(node);
    }

    /// The node dies: its memory is gone; its clients see their connections
    /// reset; requests it was answering are never answered. Its store ops
    /// already sent still reach the database.
    pub(crate) fn crash(&mut self, node: usize) {
        self.inject(FaultKind::Crash);
        self.log(|| format!("{} crashes", srvname(node)));
        let slot = &mut self.nodes[node];
        slot.core = None;
        slot.timer_at_ms = None;
        slot.paused_until_ms = 0;
        self.inbound.retain(|_, inbound| inbound.target != node);
        self.node_links_reset(node);
    }

    /// After any input to a core: carry out its outputs, then re-arm its timer.
    pub(crate) fn after_core(&mut self, node: usize) {
        let mut outputs = std::mem::take(&mut self.outputs);
        let core = self.nodes[node].core.as_mut().expect("a live node");
        while let Some(output) = core.poll_output() {
            outputs.push(output);
        }
        for output in outputs.drain(..) {
            self.carry_out(node, output);
        }
        self.outputs = outputs;
        self.arm_timer(node);
    }

    fn arm_timer(&mut self, node: usize) {
        let now_ms = self.now_ms;
        let slot = &mut self.nodes[node];
        let Some(core) = &slot.core else { return };
        let at_ms = slot.own_to_true(core.poll_timeout()).max(now_ms + 1);
        if slot.timer_at_ms == Some(at_ms) {
            return;
        }
        slot.timer_generation += 1;
        slot.timer_at_ms = Some(at_ms);
        let event = SimEvent::NodeTimer {
            node,
            incarnation: slot.incarnation,
            generation: slot.timer_generation,
        };
        self.queue.push(at_ms, event);
    }

    fn carry_out(&mut self, node: usize, output: Output) {
        match output {
            Output::Send { session, frame } => {
                if matches!(frame.body, Some(Out::CallReply(_))) {
                    self.check_serving(node, session.0);
                }
                self.send_to_client(session.0, Some(frame), false);
            }
            Output::Close { session, last } => self.send_to_client(session.0, last, true),
            Output::Request { call, to, message } => {
                let incarnation = self.nodes[node].incarnation;
                self.request(Endpoint::Node(node), incarnation, call.0, &to, message);
            }
            Output::Reply { request, message } => self.reply(node, RequestId(request.0), message),
            Output::Publish { message, .. } => self.publish(node, message),
            Output::Store {
                op,
                srvno,
                operation,
            } => self.submit_store(node, op.0, srvno, operation),
            Output::Event(event) => {
                let owner = self.nodes[node]
                    .core
                    .as_ref()
                    .expect("live")
                    .owner()
                    .clone();
                self.log(|| format!("{} event {event:?}", srvname(node)));
                if let gamecore::Event::MarkExpired { roleid } = event {
                    self.check_mark_cleared(node, roleid);
                }
                self.checker.observe(&owner, &event);
            }
        }
    }

    /// Gives a call answer to a live core.
    pub(crate) fn core_call_answer(
        &mut self,
        node: usize,
        call: u64,
        answer: Result<wire::node::NodeMessage, PeerError>,
    ) {
        let own = self.nodes[node].own_now(self.now_ms);
        self.core_mut(node)
            .handle_call_answer(own, CallId(call), answer);
        self.after_core(node);
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
