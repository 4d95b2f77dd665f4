//! The node's task: one loop that feeds the core and carries out its outputs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bus::{Bus, BusError, Replier};
use datacenter::table::TableFollower;
use gamecore::{CallId, Entropy, Event, GameCore, OpId, Output, PeerError, RequestId, SessionId};
use gateway::{Gateway, GatewayEvent};
use routing::Router;
use store::{OpOutcome, StoreError};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use wire::node::NodeMessage;

use crate::crossing_timer::CrossingTimer;
use crate::{ANSWERS_MAX, Command, GameNodeConfig, NodeStatus, StoreRoutes};

/// The system clock, in milliseconds since the Unix epoch.
fn system_now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// Tokens from the operating system's CSPRNG (through `rand`'s thread RNG).
struct OsEntropy;

impl Entropy for OsEntropy {
    fn token(&mut self) -> u128 {
        rand::random()
    }
}

/// Longest the node's task sleeps without calling the core's timeout.
const WAKE_INTERVAL_MAX: Duration = Duration::from_secs(1);

type StoreAnswer = (OpId, Result<OpOutcome, StoreError>);
type CallAnswer = (CallId, Result<NodeMessage, PeerError>);

pub(crate) struct Shell {
    core: GameCore,
    bus: Arc<dyn Bus>,
    stores: StoreRoutes,
    gateway: Gateway,
    inbox: bus::Inbox,
    horns: bus::Subscription,
    summary_pushes: bus::Subscription,
    /// Test-only fault: every n-th summary push is dropped (0: none).
    drop_summary_pushes_every: u32,
    summary_pushes_received: u64,
    commands: mpsc::Receiver<Command>,
    store_answers: (mpsc::Sender<StoreAnswer>, mpsc::Receiver<StoreAnswer>),
    call_answers: (mpsc::Sender<CallAnswer>, mpsc::Receiver<CallAnswer>),
    repliers: BTreeMap<RequestId, Replier>,
    next_request: u64,
    request_deadline: Duration,
    status: NodeStatus,
    crossings: CrossingTimer,
    shutdown_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Injected clock skew: how far this node's clock lags (0 in production).
    clock_lag_ms: u64,
    /// When the core's timeout was last called.
    last_tick: Instant,
    /// The transfer table's newer versions.
    transfers: watch::Receiver<Arc<Router>>,
    /// Keeps the transfer table current while the node runs.
    _follower: TableFollower,
}

impl Shell {
    pub(crate) fn new(
        config: GameNodeConfig,
        bus: Arc<dyn Bus>,
        stores: StoreRoutes,
        gateway: Gateway,
        (inbox, commands): (bus::Inbox, mpsc::Receiver<Command>),
        follower: TableFollower,
    ) -> Self {
        let horns = bus.subscribe(gamecore::HORN_TOPIC);
        let summary_pushes = bus.subscribe(&wire::summary_topic(&config.core.srvname));
        let status = NodeStatus {
            srvname: config.core.srvname.clone(),
            ..NodeStatus::default()
        };
        let token_ttl = Duration::from_millis(config.core.token_ttl_ms);
        // Routes by the table loaded before the node serves (DESIGN §7).
        let mut core = GameCore::new(config.core, system_now_ms());
        core.handle_transfer_table(Router::clone(&follower.table()));
        Self {
            crossings: CrossingTimer::new(token_ttl, config.crossing_seconds),
            core,
            bus,
            stores,
            gateway,
            inbox,
            horns,
            summary_pushes,
            drop_summary_pushes_every: config.drop_summary_pushes_every,
            summary_pushes_received: 0,
            commands,
            store_answers: mpsc::channel(crate::ANSWERS_MAX),
            call_answers: mpsc::channel(ANSWERS_MAX),
            repliers: BTreeMap::new(),
            next_request: 1,
            request_deadline: config.request_deadline,
            status,
            shutdown_waiters: Vec::new(),
            clock_lag_ms: 0,
            last_tick: Instant::now(),
            transfers: follower.changes(),
            _follower: follower,
        }
    }

    /// A newer transfer table, for the core.
    fn transfer_table_changed(&mut self) {
        let table = Router::clone(&self.transfers.borrow_and_update());
        self.core.handle_transfer_table(table);
    }

    /// The node's own clock, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64 {
        system_now_ms().saturating_sub(self.clock_lag_ms)
    }

    pub(crate) async fn run(mut self) {
        // A new core's first outputs rebuild its kuafu marks from the rows.
        self.carry_out_outputs();
        loop {
            let wake_at = self.wake_instant();
            if Instant::now() >= wake_at {
                // Due timers go first: after a stall, the lease checks must
                // run before any queued input is applied.
                self.tick();
                self.carry_out_outputs();
                continue;
            }
            tokio::select! {
                Some(event) = self.gateway.events.recv() => self.client_event(event),
                Some(incoming) = self.inbox.recv() => self.peer_request(incoming),
                Some(message) = self.horns.recv() => self.core.handle_topic(message),
                Some(message) = self.summary_pushes.recv() => self.summary_push(message),
                Some((op, answer)) = self.store_answers.1.recv() => self.core.handle_store_answer(self.now_ms(), op, answer),
                Some((call, answer)) = self.call_answers.1.recv() => self.core.handle_call_answer(self.now_ms(), call, answer),
                Some(command) = self.commands.recv() => self.command(command).await,
                Ok(()) = self.transfers.changed() => self.transfer_table_changed(),
                () = tokio::time::sleep_until(wake_at) => self.tick(),
            }
            self.carry_out_outputs();
            if !self.shutdown_waiters.is_empty() && self.core.is_idle() {
                break;
            }
        }
        self.bus.unbind(self.core.srvname());
        for waiter in self.shutdown_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    /// When to call the core's timeout: when it asks, but at least
    /// [`WAKE_INTERVAL_MAX`] after the last call, so a clock that jumped back
    /// cannot stall it (anchored to the last call, so steady traffic cannot
    /// keep pushing it away either).
    fn wake_instant(&self) -> Instant {
        let wait = Duration::from_millis(self.core.poll_timeout().saturating_sub(self.now_ms()));
        (Instant::now() + wait).min(self.last_tick + WAKE_INTERVAL_MAX)
    }

    fn tick(&mut self) {
        self.last_tick = Instant::now();
        self.core.handle_timeout(self.now_ms());
    }

    fn client_event(&mut self, event: GatewayEvent) {
        match event {
            GatewayEvent::Opened { session, .. } => {
                self.core.handle_session_opened(SessionId(session.0))
            }
            GatewayEvent::Frame { session, frame } => self.core.handle_client_frame(
                self.now_ms(),
                SessionId(session.0),
                frame,
                &mut OsEntropy,
            ),
            GatewayEvent::Closed { session } => {
                self.core.handle_session_closed(SessionId(session.0))
            }
        }
    }

    /// A push on this server's summary topic, unless the test-only fault
    /// drops it.
    fn summary_push(&mut self, message: NodeMessage) {
        self.summary_pushes_received += 1;
        let every = u64::from(self.drop_summary_pushes_every);
        if every > 0 && self.summary_pushes_received.is_multiple_of(every) {
            return;
        }
        self.core.handle_topic(message);
    }

    fn peer_request(&mut self, incoming: bus::Incoming) {
        let (from, message, replier) = incoming.into_parts();
        if let Some(wire::node::node_message::Body::Prepare(prepare)) = &message.body {
            self.crossings
                .prepared(prepare.roleid, Instant::now().into_std());
        }
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.repliers.insert(request, replier);
        self.core
            .handle_request(self.now_ms(), request, &from, message);
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Status(reply) => {
                let status = NodeStatus {
                    online: self.core.online_players(),
                    connections: self.gateway.handle.connections(),
                    ..self.status.clone()
                };
                let _ = reply.send(status);
            }
            Command::Mark(roleid, reply) => {
                let _ = reply.send(self.core.kuafu_mark(roleid).cloned());
            }
            Command::Marks(reply) => {
                let marks = self
                    .core
                    .kuafu_marks()
                    .map(|(roleid, mark)| (roleid, mark.clone()))
                    .collect();
                let _ = reply.send(marks);
            }
            Command::Shutdown(reply) => {
                self.core.handle_shutdown();
                self.shutdown_waiters.push(reply);
            }
            Command::Stall(duration, reply) => {
                let _ = reply.send(());
                tokio::time::sleep(duration).await;
            }
            Command::ClockLag(lag_ms, reply) => {
                self.clock_lag_ms = lag_ms;
                let _ = reply.send(());
            }
        }
    }

    fn carry_out_outputs(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Send { session, frame } => self
                    .gateway
                    .handle
                    .send(gateway::SessionId(session.0), frame),
                Output::Close { session, last } => self
                    .gateway
                    .handle
                    .close(gateway::SessionId(session.0), last),
                Output::Request { call, to, message } => self.send_request(call, to, message),
                Output::Reply { request, message } => {
                    if let Some(replier) = self.repliers.remove(&request) {
                        replier.reply(message);
                    }
                }
                Output::Publish { topic, message } => self.bus.publish(&topic, message),
                Output::Store {
                    op,
                    srvno,
                    operation,
                } => self.submit_store(op, srvno, operation),
                Output::Event(event) => self.count(event),
            }
        }
    }

    /// Sends the core's request on a task of its own. Each request is a call
    /// the core keeps pending until its answer, so these tasks are bounded by
    /// the core's `Config::pending_calls_max` (no second bound here).
    fn send_request(&self, call: CallId, to: String, message: NodeMessage) {
        let answer = self
            .bus
            .request(self.core.srvname(), &to, message, self.request_deadline);
        let answers = self.call_answers.0.clone();
        tokio::spawn(async move {
            let answer = answer.await.map_err(peer_error);
            let _ = answers.send((call, answer)).await;
        });
    }

    /// Submits the core's store operation on a task of its own. Each is an
    /// op the core keeps pending until its answer, so these tasks are bounded
    /// by the core's `Config::pending_ops_max` (no second bound here).
    fn submit_store(&self, op: OpId, srvno: routing::Srvno, operation: store::PlayerOp) {
        let writer = self.stores.get(&srvno).cloned();
        let answers = self.store_answers.0.clone();
        tokio::spawn(async move {
            let answer = match writer {
                Some(writer) => writer.submit(operation).await,
                None => Err(StoreError::WrongDatabase(srvno)),
            };
            let _ = answers.send((op, answer)).await;
        });
    }

    fn count(&mut self, event: Event) {
        let status = &mut self.status;
        match &event {
            Event::Entered {
                roleid,
                by_crossing,
            } => {
                self.crossings
                    .entered(roleid.get(), *by_crossing, Instant::now().into_std());
                status.entered_total += 1;
                status.arrivals_total += u64::from(*by_crossing);
            }
            Event::Redirected { .. } => status.departures_total += 1,
            Event::Fenced { .. } => status.fenced_total += 1,
            Event::LeaseLost { .. } => status.leases_lost_total += 1,
            _ => {}
        }
        tracing::debug!(srvname = self.core.srvname(), ?event);
    }
}

pub(crate) fn peer_error(error: BusError) -> PeerError {
    match error {
        BusError::Remote { code, .. } => PeerError::Remote(code),
        BusError::Timeout(_) | BusError::Transport(_) => PeerError::Timeout,
        BusError::UnknownNode(_)
        | BusError::NodeStopped(_)
        | BusError::Overloaded(_)
        | BusError::AlreadyBound(_) => PeerError::Unreachable,
    }
}
