//! The game server node: a thin tokio shell around [`gamecore::GameCore`].
//!
//! One task owns the core and feeds it, in arrival order, the client events of
//! its [`gateway`], the requests of its bus inbox, the zone's horn topic, the
//! answers of the player stores and of its own peer requests, operator
//! commands, and its timer. After every input it drains the core's outputs:
//! frames to clients, bus requests and replies, store operations (each routed
//! by srvno to that database's writer), and events it counts.
//!
//! Architecture invariant: all protocol decisions are the core's; this shell
//! only moves bytes, reads the clock and draws token randomness.

mod crossing_timer;
mod proxy;
mod shell;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use routing::{RoleId, Srvno};
use store_sqlite::PlayerStoreWriter;
use tokio::sync::{mpsc, oneshot};

pub use crossing_timer::TIMED_PREPARES_MAX;
pub use gamecore::marks::Mark;
pub use proxy::{LOCATION_HINTS_MAX, Players, ProxyPlayer};

/// Every player database of the zone by srvno: a game server can load any
/// role from its home database (DESIGN §7: a dead home does not stop its players).
pub type StoreRoutes = Arc<BTreeMap<Srvno, Arc<PlayerStoreWriter>>>;

/// Operator commands queued for one node.
pub const COMMANDS_MAX: usize = 64;
/// Store and peer answers queued for the node's task.
pub const ANSWERS_MAX: usize = 8192;
/// How long a graceful shutdown waits for final saves.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// How to run one game server node.
#[derive(Clone, Debug)]
pub struct GameNodeConfig {
    /// The core's configuration (name, srvno, zone map, leases…).
    pub core: gamecore::Config,
    /// Deadline of every bus request this node makes.
    pub request_deadline: Duration,
    /// Where crossing latencies are recorded (Prepare arriving here to the
    /// player entering); `Histogram::noop()` records nothing.
    pub crossing_seconds: metrics::Histogram,
    /// Test-only fault: drop every n-th summary push received (0: none).
    pub drop_summary_pushes_every: u32,
}

/// What a node reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// The server's name.
    pub srvname: String,
    /// Players in the game here now.
    pub online: usize,
    /// Client connections now.
    pub connections: usize,
    /// Players that entered, by login or crossing, since start.
    pub entered_total: u64,
    /// Players that entered by a crossing token since start.
    pub arrivals_total: u64,
    /// Crossings that left this server (redirect sent) since start.
    pub departures_total: u64,
    /// Writes refused by the fence since start.
    pub fenced_total: u64,
    /// Players dropped because their lease could have expired.
    pub leases_lost_total: u64,
}

/// Commands an operator (or a test) sends a running node.
#[derive(Debug)]
pub(crate) enum Command {
    Status(oneshot::Sender<NodeStatus>),
    Mark(RoleId, oneshot::Sender<Option<Mark>>),
    Marks(oneshot::Sender<Vec<(RoleId, Mark)>>),
    Shutdown(oneshot::Sender<()>),
    Stall(std::time::Duration, oneshot::Sender<()>),
    ClockLag(u64, oneshot::Sender<()>),
}

/// Why a node could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A listener could not bind.
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    /// The node's name is already on the bus.
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    /// The node's task has stopped.
    #[error("the node has stopped")]
    Stopped,
}

/// A running game server node.
pub struct GameNode {
    handle: GameHandle,
    task: tokio::task::JoinHandle<()>,
    gateway: gateway::GatewayHandle,
    bus: Arc<dyn bus::Bus>,
    /// Where its TCP clients connect.
    pub tcp_addr: SocketAddr,
    /// Where its WebSocket clients connect.
    pub ws_addr: Option<SocketAddr>,
}

/// A cloneable handle to ask a running node things.
#[derive(Clone, Debug)]
pub struct GameHandle {
    srvname: String,
    commands: mpsc::Sender<Command>,
}

impl GameNode {
    /// Binds the bus name and starts the node's task, serving the clients
    /// of `gateway` (already listening, so the zone knew its addresses) and
    /// routing roles by `transfers`, the transfer table already loaded.
    pub fn start(
        config: GameNodeConfig,
        gateway: gateway::Gateway,
        bus: Arc<dyn bus::Bus>,
        stores: StoreRoutes,
        transfers: datacenter::table::TableFollower,
    ) -> Result<Self, NodeError> {
        let srvname = config.core.srvname.clone();
        let inbox = match bus.bind(&srvname, bus::INBOX_MESSAGES_MAX) {
            Ok(inbox) => inbox,
            Err(error) => {
                gateway.handle.shutdown();
                return Err(error.into());
            }
        };
        let (commands, command_queue) = mpsc::channel(COMMANDS_MAX);
        let (tcp_addr, ws_addr) = (gateway.tcp_local_addr, gateway.ws_local_addr);
        let gateway_handle = gateway.handle.clone();
        let queues = (inbox, command_queue);
        let shell = shell::Shell::new(config, bus.clone(), stores, gateway, queues, transfers);
        let task = tokio::spawn(shell.run());
        let handle = GameHandle { srvname, commands };
        Ok(Self {
            handle,
            task,
            gateway: gateway_handle,
            bus,
            tcp_addr,
            ws_addr,
        })
    }

    /// A handle for queries and shutdown.
    pub fn handle(&self) -> GameHandle {
        self.handle.clone()
    }

    /// Graceful stop: kick clients, release every player (final saves), stop.
    pub async fn shutdown(self) {
        let _stopped = self.handle.shutdown().await;
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.task).await;
        self.gateway.shutdown();
    }

    /// Crash: stop at once, losing every in-memory player (no final save,
    /// no release). The stores keep what was durable; leases run out.
    pub fn kill(self) {
        self.task.abort();
        self.gateway.shutdown();
        self.bus.unbind(&self.handle.srvname);
    }
}

impl GameHandle {
    /// The node's name.
    pub fn srvname(&self) -> &str {
        &self.srvname
    }

    /// The node's counters.
    pub async fn status(&self) -> Result<NodeStatus, NodeError> {
        self.ask(Command::Status).await
    }

    /// The kuafu mark of one of this server's players (seed
    /// `playermgr.getkuafuplayer(pid)`).
    pub async fn kuafu_mark(&self, roleid: RoleId) -> Result<Option<Mark>, NodeError> {
        self.ask(|reply| Command::Mark(roleid, reply)).await
    }

    /// Every kuafu mark of this server, by role id.
    pub async fn kuafu_marks(&self) -> Result<Vec<(RoleId, Mark)>, NodeError> {
        self.ask(Command::Marks).await
    }

    /// Asks the node to stop gracefully and waits until it has.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.ask(Command::Shutdown).await
    }

    /// Fault injection: the node's task stops processing anything for
    /// `duration` (a stop-the-world pause, as a long GC or a frozen VM would
    /// cause); the answer comes when the pause begins. Its leases keep
    /// running out meanwhile.
    pub async fn stall(&self, duration: std::time::Duration) -> Result<(), NodeError> {
        self.ask(|reply| Command::Stall(duration, reply)).await
    }

    /// Fault injection: the node's clock runs `lag_ms` behind the database's
    /// from now on (clock skew; 0 restores it).
    pub async fn set_clock_lag(&self, lag_ms: u64) -> Result<(), NodeError> {
        self.ask(|reply| Command::ClockLag(lag_ms, reply)).await
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }
}
