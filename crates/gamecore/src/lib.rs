//! The protocol core of a game server (DESIGN §5, §6, §11, §12), as a state
//! machine in the shape of quinn-proto: inputs are `handle_*(now_ms, …)`,
//! outputs are drained with [`GameCore::poll_output`], and
//! [`GameCore::poll_timeout`] says when to call [`GameCore::handle_timeout`].
//!
//! The core never does I/O, never reads a clock and never draws randomness:
//! time comes in as `now_ms` (the node's own clock), one-time tokens from an
//! [`Entropy`] the caller passes, store answers and peer answers as inputs. So
//! the same code runs in the `game` node (tokio shell, SQLite, the bus) and in
//! the deterministic simulator.
//!
//! Public modules: [`limits`] (every named limit of the crate),
//! [`tokens`] (one-time tokens), [`marks`] (the kuafu mark book),
//! [`gameplay`] (gold, items, level and their ledger), [`summaries`] (the
//! node's summary cache: references, version order, gaps).
//!
//! The core's own modules, one per sub-protocol: `core` (the state, outputs,
//! timers, store-answer dispatch), `sessions` (client connections and
//! roles), `crossing` (a crossing read top to bottom: `crossing::source`
//! from `GoServer` to the redirect, `crossing::target` from `Prepare` and
//! `Authenticate` to `Entered`, which is also how a login enters), `hosting`
//! (a hosted player's lease, renewal, release and drop), `write_path`
//! (saves, releases and handoffs, and reading back a lost answer),
//! `playing` (gameplay calls, fights, horns), `gifts` (gifts between
//! players, exactly once: the sender's debit and outbox, delivery until
//! acknowledged, the receiver's credit), `durable` (answers held until the
//! player's next write commits), `home` (the home server's
//! side of kuafu marks), `peers` (node requests and answers), `messages`
//! (the node messages it builds), `zone` (the zone map), `subscriptions`
//! (the owner's summary updates, and the cache's subscriptions, snapshots
//! and pushes), `friends` (friend calls and `FriendChanged` pushes).

pub mod calls;
pub mod gameplay;
pub mod limits;
pub mod marks;
pub mod summaries;
pub mod tokens;

mod core;
mod crossing;
mod durable;
mod friends;
mod gifts;
mod home;
mod hosting;
mod messages;
mod notes;
mod peers;
mod playing;
mod sessions;
mod subscriptions;
mod transfers;
mod write_path;
mod zone;

pub use crate::core::GameCore;
pub use peers::HORN_TOPIC;
pub use subscriptions::{SummaryFields, default_summary_fields};
pub use zone::{ServerInfo, ZoneMap};

use ownership::OwnerId;
use routing::{RoleId, Srvno};
use store::PlayerOp;
use wire::client::ServerFrame;
use wire::node::NodeMessage;

/// A client connection, as numbered by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// A store operation in flight, numbered by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

/// A request this node sent to a peer, numbered by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// A request a peer sent to this node, numbered by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Where randomness comes from: the OS in production, the seeded PRNG in the
/// simulator.
pub trait Entropy {
    /// 128 unpredictable bits for a one-time token.
    fn token(&mut self) -> u128;
}

/// Why a request to a peer got no answer, as the core needs to tell them
/// apart (the shell maps its bus errors onto these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// The peer is unknown, stopped or overloaded: it did not get the request.
    Unreachable,
    /// The peer answered with an error.
    Remote(wire::client::ErrorCode),
    /// No answer in time: the outcome is unknown.
    Timeout,
}

/// Deliberate bugs, each off in production, so the simulator can prove it
/// catches them (issue "the broken variants"). The zone config cannot set them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutations {
    /// Ignore the skew margin: serve until the lease end by the own clock.
    pub no_skew_margin: bool,
    /// Tokens stay valid after redemption.
    pub reusable_tokens: bool,
    /// Send the redirect when the handoff is submitted, before it commits.
    pub redirect_before_commit: bool,
    /// A crossing token admits a role other than its own.
    pub crossing_token_admits_any_role: bool,
    /// A note to a peer is sent once and never again, even unacknowledged.
    pub notes_not_resent: bool,
    /// The home clears a kuafu mark when its heartbeat misses reach the
    /// bound, without reading the row (a slow server loses its mark).
    pub marks_cleared_on_misses: bool,
    /// An `AddGold` is applied twice, with two ledger lines.
    pub double_credit: bool,
    /// A receiver forgets the gifts it was credited before each delivery,
    /// so a gift delivered again is credited again.
    pub gifts_not_remembered: bool,
}

/// How a game server behaves; every duration in milliseconds.
#[derive(Clone, Debug)]
pub struct Config {
    /// This server's name; also its node name and owner name.
    pub srvname: String,
    /// Drawn at start; a restarted server is a new owner.
    pub incarnation: u64,
    /// Where new roles of this server are numbered (its first srvno).
    pub srvno: Srvno,
    /// The home server's level sent as crossing context (seed `player_data`).
    pub server_level: u32,
    /// The zone's servers and where their roles live.
    pub zone: ZoneMap,
    /// The account center's node name.
    pub account_node: String,
    /// The data center's node name.
    pub datacenter_node: String,
    /// The rank server's node name: each player's level goes to its
    /// `level` board (`notes`); none, no rank updates.
    pub rank_node: Option<String>,
    /// This server's battle server's node name.
    pub battle_node: String,
    /// Lease length a claim or renewal asks for.
    pub lease_ttl_ms: u64,
    /// How often all leases are renewed (one batch per database).
    pub lease_renew_interval_ms: u64,
    /// How far this node's clock may lag the database's.
    pub skew_margin_ms: u64,
    /// How long a crossing target has to claim a handed-off player.
    pub handoff_ttl_ms: u64,
    /// How long a crossing token stays valid.
    pub token_ttl_ms: u64,
    /// How long a crossing waits for the target's answer to `Prepare`
    /// before it aborts by the core's own timer (and never longer than
    /// `token_ttl_ms`). The shell's bus deadline usually answers first; this
    /// ends a crossing whose answer never comes back.
    pub prepare_timeout_ms: u64,
    /// How often dirty players are saved.
    pub save_interval_ms: u64,
    /// How often the home server checks its kuafu marks.
    pub heartbeat_interval_ms: u64,
    /// Heartbeat misses in a row that clear a mark (the seed's 3).
    pub heartbeat_misses_max: u32,
    /// Most players hosted at once.
    pub players_max: usize,
    /// Most store operations in flight. New work (a client request, a
    /// renewal batch, a marks read) is admitted only while room is left for
    /// the writes of `players_max` players, which cannot wait.
    pub pending_ops_max: usize,
    /// Most requests to peers in flight (fire-and-forget notes are not
    /// tracked). A client request beyond it is refused `OVERLOADED`; a
    /// heartbeat asks the rest of its marks next time.
    pub pending_calls_max: usize,
    /// Most outstanding tokens.
    pub tokens_max: usize,
    /// Most kuafu marks.
    pub marks_max: usize,
    /// Shortest gap between two horns of one player.
    pub horn_interval_ms: u64,
    /// The fields this game puts in its players' summaries.
    pub summary_fields: SummaryFields,
    /// How often every cached summary is subscribed to again (a snapshot
    /// repairs a lost last push or a restarted data center).
    pub summary_refresh_interval_ms: u64,
    /// Most roles the summary cache holds.
    pub summary_cache_roles_max: usize,
    /// The player methods this server serves to player calls (DESIGN §9):
    /// the built-ins, plus what the game registers.
    pub methods: calls::Methods,
    /// Deliberate bugs for the simulator; all off in production.
    pub mutations: Mutations,
}

impl Config {
    /// A config with production defaults for server `srvname`.
    pub fn new(srvname: &str, incarnation: u64, srvno: Srvno, zone: ZoneMap) -> Self {
        Self {
            srvname: srvname.to_owned(),
            incarnation,
            srvno,
            server_level: 1,
            zone,
            account_node: "account".to_owned(),
            datacenter_node: "datacenter".to_owned(),
            rank_node: None,
            battle_node: format!("{srvname}.battle"),
            lease_ttl_ms: 15_000,
            lease_renew_interval_ms: 3_000,
            skew_margin_ms: 2_000,
            handoff_ttl_ms: 30_000,
            token_ttl_ms: 30_000,
            // The bus request deadline the zone gives its game servers by
            // default (`zone::TimingConfig::request_deadline_ms`).
            prepare_timeout_ms: 3_000,
            save_interval_ms: 5_000,
            heartbeat_interval_ms: 10_000,
            heartbeat_misses_max: limits::HEARTBEAT_MISSES_MAX_DEFAULT,
            players_max: limits::PLAYERS_MAX_DEFAULT,
            pending_ops_max: limits::PENDING_OPS_MAX_DEFAULT,
            pending_calls_max: limits::PENDING_CALLS_MAX_DEFAULT,
            tokens_max: limits::TOKENS_MAX_DEFAULT,
            marks_max: limits::MARKS_MAX_DEFAULT,
            horn_interval_ms: 1_000,
            summary_fields: default_summary_fields,
            summary_refresh_interval_ms: 5_000,
            summary_cache_roles_max: limits::SUMMARY_CACHE_ROLES_MAX_DEFAULT,
            methods: calls::Methods::default(),
            mutations: Mutations::default(),
        }
    }

    /// This server as an owner of player rows.
    pub fn owner(&self) -> OwnerId {
        OwnerId {
            node: self.srvname.clone(),
            incarnation: self.incarnation,
        }
    }

    /// Checks the relations between the config's values (and the limits
    /// they meet); [`GameCore::new`] refuses a config that fails.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_renew_interval_ms + self.skew_margin_ms >= self.lease_ttl_ms {
            return Err(ConfigError::LeaseTooShort {
                lease_ttl_ms: self.lease_ttl_ms,
                lease_renew_interval_ms: self.lease_renew_interval_ms,
                skew_margin_ms: self.skew_margin_ms,
            });
        }
        if self.zone.server(&self.srvname).is_none() {
            return Err(ConfigError::NotInZone(self.srvname.clone()));
        }
        if self.players_max >= self.pending_ops_max {
            return Err(ConfigError::NoRoomForPlayersWrites {
                players_max: self.players_max,
                pending_ops_max: self.pending_ops_max,
            });
        }
        if self.marks_max > self.pending_calls_max {
            return Err(ConfigError::NoRoomForHeartbeat {
                marks_max: self.marks_max,
                pending_calls_max: self.pending_calls_max,
            });
        }
        if self.pending_ops_max + self.pending_calls_max >= limits::OUTPUTS_MAX {
            return Err(ConfigError::PendingAboveOutputs {
                pending_ops_max: self.pending_ops_max,
                pending_calls_max: self.pending_calls_max,
            });
        }
        if self.heartbeat_misses_max == 0 {
            return Err(ConfigError::NoHeartbeatMisses);
        }
        Ok(())
    }
}

/// Why [`Config::validate`] refused a config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The lease must outlast a renewal interval plus the skew margin.
    #[error(
        "lease_renew_interval_ms ({lease_renew_interval_ms}) + skew_margin_ms \
         ({skew_margin_ms}) must be below lease_ttl_ms ({lease_ttl_ms})"
    )]
    LeaseTooShort {
        /// The lease length.
        lease_ttl_ms: u64,
        /// The renewal interval.
        lease_renew_interval_ms: u64,
        /// The skew margin.
        skew_margin_ms: u64,
    },
    /// The server is not in its own zone map.
    #[error("server {0} is not in its zone")]
    NotInZone(String),
    /// The ops bound must keep room for every hosted player's write.
    #[error("players_max ({players_max}) must be below pending_ops_max ({pending_ops_max})")]
    NoRoomForPlayersWrites {
        /// Most players hosted.
        players_max: usize,
        /// Most store operations in flight.
        pending_ops_max: usize,
    },
    /// A heartbeat must be able to ask every mark at once.
    #[error("marks_max ({marks_max}) must not exceed pending_calls_max ({pending_calls_max})")]
    NoRoomForHeartbeat {
        /// Most marks.
        marks_max: usize,
        /// Most requests in flight.
        pending_calls_max: usize,
    },
    /// One input's outputs must fit the output queue.
    #[error(
        "pending_ops_max ({pending_ops_max}) + pending_calls_max ({pending_calls_max}) \
         must be below {} outputs",
        limits::OUTPUTS_MAX
    )]
    PendingAboveOutputs {
        /// Most store operations in flight.
        pending_ops_max: usize,
        /// Most requests in flight.
        pending_calls_max: usize,
    },
    /// A mark needs at least one heartbeat miss before its row is read.
    #[error("heartbeat_misses_max must be at least 1")]
    NoHeartbeatMisses,
}

/// What the core asks its shell to do, drained by [`GameCore::poll_output`].
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a frame to a client.
    Send {
        /// The connection.
        session: SessionId,
        /// The frame.
        frame: ServerFrame,
    },
    /// Send `last` (if any), then close the connection.
    Close {
        /// The connection.
        session: SessionId,
        /// A last frame: `Kicked` or `Redirect`.
        last: Option<ServerFrame>,
    },
    /// Send a request to a peer; answer with `handle_call_answer(now_ms, call, …)`.
    Request {
        /// Names the answer.
        call: CallId,
        /// The peer's node name.
        to: String,
        /// The request.
        message: NodeMessage,
    },
    /// Answer a peer's request.
    Reply {
        /// The request answered.
        request: RequestId,
        /// The answer.
        message: NodeMessage,
    },
    /// Publish on a zone topic.
    Publish {
        /// The topic name.
        topic: String,
        /// The message.
        message: NodeMessage,
    },
    /// Run a store operation on the database of `srvno`; answer with
    /// `handle_store_answer(now_ms, op, …)`.
    Store {
        /// Names the answer.
        op: OpId,
        /// Whose database.
        srvno: Srvno,
        /// The operation.
        operation: PlayerOp,
    },
    /// Something worth counting or checking happened.
    Event(Event),
}

/// Facts the core reports for metrics, logs and the simulator's checkers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A player entered this server (by login or by crossing).
    Entered {
        /// The role.
        roleid: RoleId,
        /// Whether it came by a crossing token.
        by_crossing: bool,
    },
    /// A one-time token admitted a client.
    TokenRedeemed {
        /// The token.
        token: u128,
    },
    /// Tokens expired unused.
    TokensExpired {
        /// How many.
        count: usize,
    },
    /// The redirect of a crossing was sent.
    Redirected {
        /// The role.
        roleid: RoleId,
        /// Where to.
        target: String,
    },
    /// A crossing was abandoned; the player stayed.
    CrossingAborted {
        /// The role.
        roleid: RoleId,
    },
    /// A write of this node was refused by the fence: it was a zombie.
    Fenced {
        /// The role.
        roleid: RoleId,
    },
    /// The lease could have expired: the player was dropped.
    LeaseLost {
        /// The role.
        roleid: RoleId,
    },
    /// A player logged off and was released.
    Released {
        /// The role.
        roleid: RoleId,
    },
    /// A kuafu mark was cleared by the heartbeat.
    MarkExpired {
        /// The role.
        roleid: RoleId,
    },
}

/// Frame constructor shared by the core's modules.
pub(crate) fn frame(request_id: u64, body: wire::client::server_frame::Body) -> ServerFrame {
    ServerFrame {
        request_id,
        body: Some(body),
    }
}
