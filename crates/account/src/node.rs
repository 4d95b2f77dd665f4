//! The account center's task: the tokio shell around the login core.
//!
//! Client frames come from its gateway. A password login or a registration
//! goes through admission (the attempt limits and the login queue, see
//! `admission`) and, once admitted, hashes on the pool (`hashing`); a
//! `ResumeQueue` takes a waiting login back on a new connection with its
//! queue ticket (drawn, like login tokens, from the OS's CSPRNG); a
//! device-id login, which needs no hash, is checked at once (at most
//! `device_logins_inflight_max` at a time). Each check runs on its own task
//! and hands the checked login to the node's task, which owns the
//! [`AccountCore`]; a login whose client has gone meanwhile is dropped. The core's requests go out on the bus with the bus
//! deadline, each on its own task, and their answers (or the bus error) come
//! back as the core's inputs; its answers go to the clients. Role notes from
//! game servers (new roles, and each role's level when a server lets it go)
//! are stored on tasks of their own.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use accountcore::queue::Ticket;
use accountcore::{AccountCore, CallFailed, CallId, Entropy, LoginId, LoginRequest, Output};
use bus::{Bus, BusError, Incoming};
use gateway::{GatewayEvent, GatewayHandle, SessionId};
use routing::RoleId;
use store::{AccountError, AccountRole, AccountStore};
use tokio::sync::{Semaphore, mpsc};
use wire::client::client_frame::Body as In;
use wire::client::login::Credential;
use wire::client::server_frame::Body as Out;
use wire::client::{ClientFrame, Error, ErrorCode, RetryLater, ServerFrame};
use wire::node::NodeMessage;
use wire::node::node_message::Body;
use wire::node::{RoleCreatedNote, RoleLevelNote};

use crate::AccountConfig;
use crate::admission::{Admission, Decision, Pending, Work};
use crate::hashing::HashPool;
use crate::homes::RoleHomes;
use crate::limits::{DEVICE_RETRY_AFTER_MS, ROLE_NOTES_INFLIGHT_MAX};
use crate::login::{Logins, Refusal, blocking, check_login, check_register, lock};
use crate::metrics::LoginMetrics;

/// A running account center.
pub struct AccountCenter {
    task: tokio::task::JoinHandle<()>,
    gateway: GatewayHandle,
    /// Where clients connect over TCP.
    pub tcp_addr: SocketAddr,
    /// Where clients connect over WebSocket.
    pub ws_addr: Option<SocketAddr>,
}

/// Why the account center could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The account database could not be opened.
    #[error(transparent)]
    Store(#[from] AccountError),
    /// The name is taken on the bus.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// The hashing pool could not start (bad argon2 parameters, no threads).
    #[error("{0}")]
    Hashing(String),
}

impl AccountCenter {
    /// Binds the bus name and starts serving the clients of `gateway`
    /// (already listening) from `store`, the account database (SQLite in
    /// the embedded mode, PostgreSQL in the distributed mode), each role's
    /// home by `homes` (the transfer table, already loaded).
    pub fn start(
        config: AccountConfig,
        gateway: gateway::Gateway,
        bus: Arc<dyn Bus>,
        store: Box<dyn AccountStore>,
        homes: RoleHomes,
    ) -> Result<Self, StartError> {
        let inbox = bus.bind(&config.name, bus::INBOX_MESSAGES_MAX)?;
        let (tcp_addr, ws_addr, handle) = (
            gateway.tcp_local_addr,
            gateway.ws_local_addr,
            gateway.handle.clone(),
        );
        let answers_max = config.logins.logins_max.max(1);
        let queue = config.login.queue();
        let pool = HashPool::start(
            queue.hash_workers,
            queue.jobs_per_worker,
            config.login.cost(),
        )
        .map_err(StartError::Hashing)?;
        let device_max = config.login.device_logins_inflight_max.max(1);
        let checked_max = queue.slots() + device_max;
        let shell = Shell {
            name: config.name,
            request_deadline: config.request_deadline,
            started: Instant::now(),
            core: AccountCore::new(config.logins),
            admission: Admission::new(&config.login),
            metrics: config.metrics,
            logins: Arc::new(Logins {
                store: Arc::new(Mutex::new(store)),
                pool,
                homes,
            }),
            bus,
            clients: handle.clone(),
            events: gateway.events,
            inbox,
            device_permits: Arc::new(Semaphore::new(device_max)),
            note_permits: Arc::new(Semaphore::new(ROLE_NOTES_INFLIGHT_MAX)),
            checked: mpsc::channel(checked_max),
            call_answers: mpsc::channel(answers_max),
            waiting: BTreeMap::new(),
            peers: BTreeMap::new(),
        };
        let task = tokio::spawn(shell.run());
        Ok(Self {
            task,
            gateway: handle,
            tcp_addr,
            ws_addr,
        })
    }

    /// Stops serving and closes every client connection.
    pub fn stop(self) {
        self.task.abort();
        self.gateway.shutdown();
    }
}

/// Tokens from the operating system's CSPRNG (through `rand`'s thread RNG).
struct OsEntropy;

impl Entropy for OsEntropy {
    fn token(&mut self) -> u128 {
        rand::random()
    }
}

/// A credential check that ended, on its way to the node's task.
struct Checked {
    session: SessionId,
    request_id: u64,
    /// The queue's ticket of a login that hashed.
    ticket: Option<Ticket>,
    /// The account and address of a password attempt, for the limits.
    attempt: Option<(String, IpAddr)>,
    outcome: Result<LoginRequest, Refusal>,
}

type CallAnswer = (CallId, Result<NodeMessage, CallFailed>);

/// The node's task and everything it owns.
struct Shell {
    name: String,
    request_deadline: Duration,
    /// The core's clock: milliseconds since the node started (monotonic).
    started: Instant,
    core: AccountCore,
    admission: Admission,
    metrics: LoginMetrics,
    logins: Arc<Logins>,
    bus: Arc<dyn Bus>,
    clients: GatewayHandle,
    events: mpsc::Receiver<GatewayEvent>,
    inbox: bus::Inbox,
    device_permits: Arc<Semaphore>,
    /// Role notes being written; the inbox is read only while one is free.
    note_permits: Arc<Semaphore>,
    checked: (mpsc::Sender<Checked>, mpsc::Receiver<Checked>),
    call_answers: (mpsc::Sender<CallAnswer>, mpsc::Receiver<CallAnswer>),
    /// Who each login in the core answers to: the session and the request.
    waiting: BTreeMap<LoginId, (SessionId, u64)>,
    /// Each open session's client address (as many as the gateway's
    /// connections).
    peers: BTreeMap<SessionId, IpAddr>,
}

impl Shell {
    async fn run(mut self) {
        loop {
            let due = self
                .admission
                .poll_timeout()
                .map(|due_ms| self.instant(due_ms));
            tokio::select! {
                Some(event) = self.events.recv() => self.client_event(event),
                Some(incoming) = self.inbox.recv(), if self.note_permits.available_permits() > 0 => {
                    self.note(incoming);
                }
                Some(checked) = self.checked.1.recv() => self.checked(checked),
                Some((call, answer)) = self.call_answers.1.recv() => {
                    let now_ms = self.now_ms();
                    self.core.handle_call_answer(now_ms, call, answer, &mut OsEntropy);
                }
                () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    let now_ms = self.now_ms();
                    self.admission.handle_timeout(now_ms);
                }
            }
            self.carry_out_decisions();
            self.carry_out_outputs();
            let (waiting, hashing) = self.admission.depth();
            self.metrics.queue_depth(waiting, hashing);
        }
    }

    /// Sends `frame` to the client of `session`, counting a `RetryLater`.
    fn answer(&self, session: SessionId, frame: ServerFrame) {
        if let Some(Out::RetryLater(retry)) = &frame.body {
            self.metrics.refused(retry.code);
        }
        self.clients.send(session, frame);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant of the core's time `at_ms`.
    fn instant(&self, at_ms: u64) -> Instant {
        self.started + Duration::from_millis(at_ms)
    }

    /// A session opened or closed, or a client frame.
    fn client_event(&mut self, event: GatewayEvent) {
        match event {
            GatewayEvent::Opened { session, peer } => {
                self.peers.insert(session, peer.ip());
            }
            GatewayEvent::Closed { session } => {
                self.peers.remove(&session);
                let now_ms = self.now_ms();
                self.admission.left(now_ms, session);
            }
            GatewayEvent::Frame { session, frame } => self.client_frame(session, frame),
        }
    }

    /// `Register` and a password `Login` go through admission; a device-id
    /// `Login` is checked at once; `ResumeQueue` takes back a waiting login.
    fn client_frame(&mut self, session: SessionId, frame: ClientFrame) {
        let ClientFrame { request_id, body } = frame;
        if let Some(In::ResumeQueue(resume)) = body {
            return self.resume(session, request_id, &resume.ticket);
        }
        if let Some(full) = self.zone_full(matches!(body, Some(In::Login(_) | In::Register(_)))) {
            return self.answer(session, reply(request_id, full));
        }
        let work = match body {
            Some(In::Register(register)) => {
                check_register(&register).map(|()| Work::Register(register))
            }
            Some(In::Login(login)) => match check_login(login) {
                Ok(Credential::Password(password)) => Ok(Work::Password(password)),
                Ok(Credential::DeviceId(device_id)) => {
                    return self.check_device(session, request_id, device_id);
                }
                Err(refusal) => Err(refusal),
            },
            _ => Err((
                ErrorCode::UnexpectedMessage,
                "the account center takes Register, Login and ResumeQueue".into(),
            )),
        };
        let work = match work {
            Ok(work) => work,
            Err((code, message)) => {
                return self.answer(session, error_frame(request_id, code, message));
            }
        };
        let Some(&address) = self.peers.get(&session) else {
            return;
        };
        let pending = Pending {
            session,
            request_id,
            address,
            work,
            queued_ms: self.now_ms(),
        };
        let now_ms = self.now_ms();
        if let Err(retry) = self.admission.arrive(now_ms, pending, &mut OsEntropy) {
            self.answer(session, reply(request_id, Out::RetryLater(retry)));
        }
    }

    /// A queue ticket presented on `session`: the login answers here now; the
    /// connection it answered before, if still open, is told so.
    fn resume(&mut self, session: SessionId, request_id: u64, ticket: &[u8]) {
        let now_ms = self.now_ms();
        let resumed = self
            .admission
            .resume(now_ms, (session, request_id), ticket, &mut OsEntropy);
        match resumed {
            Ok(None) => {}
            Ok(Some((before, before_request))) => {
                let message = "the login was resumed on another connection".to_owned();
                let code = ErrorCode::LoggedInElsewhere;
                self.answer(before, error_frame(before_request, code, message));
            }
            Err((code, message)) => {
                self.answer(session, error_frame(request_id, code, message));
            }
        }
    }

    /// The `SERVER_FULL` refusal of a login when every game server is known
    /// to be full: it is refused before it queues or hashes (a client let
    /// through the queue is then not refused for capacity).
    fn zone_full(&self, is_login: bool) -> Option<Out> {
        let retry_after_ms = self.core.zone_full_retry_after_ms(self.now_ms())?;
        is_login.then(|| {
            Out::RetryLater(RetryLater {
                code: ErrorCode::ServerFull as i32,
                message: "every game server is full".into(),
                retry_after_ms,
            })
        })
    }

    /// A role note, written on a task of its own; at most
    /// `ROLE_NOTES_INFLIGHT_MAX` at once (the loop reads the inbox only while
    /// a permit is free, and only the loop takes them).
    fn note(&self, incoming: Incoming) {
        let Ok(permit) = self.note_permits.clone().try_acquire_owned() else {
            return incoming.reply(bus::error_reply(
                ErrorCode::Busy,
                "too many role notes at once",
            ));
        };
        let logins = self.logins.clone();
        tokio::spawn(async move {
            note_role(&logins, incoming).await;
            drop(permit);
        });
    }

    /// A device-id login, on a task of its own unless too many are.
    fn check_device(&mut self, session: SessionId, request_id: u64, device_id: String) {
        let Ok(permit) = self.device_permits.clone().try_acquire_owned() else {
            let busy = RetryLater {
                code: ErrorCode::Busy as i32,
                message: "too many device logins at once".into(),
                retry_after_ms: DEVICE_RETRY_AFTER_MS,
            };
            return self.answer(session, reply(request_id, Out::RetryLater(busy)));
        };
        let (logins, checked) = (self.logins.clone(), self.checked.0.clone());
        tokio::spawn(async move {
            let outcome = logins.login_device(device_id).await;
            drop(permit);
            let done = Checked {
                session,
                request_id,
                ticket: None,
                attempt: None,
                outcome,
            };
            let _stopped = checked.send(done).await;
        });
    }

    /// Carries out admission's decisions: hashes to start, places to tell,
    /// refusals.
    fn carry_out_decisions(&mut self) {
        while let Some(decision) = self.admission.poll() {
            match decision {
                Decision::Start(ticket, pending) => self.start_hash(ticket, pending),
                Decision::Tell(session, request_id, queued) => {
                    self.answer(session, reply(request_id, Out::LoginQueued(queued)));
                }
                Decision::Refuse(session, request_id, retry) => {
                    self.answer(session, reply(request_id, Out::RetryLater(retry)));
                }
            }
        }
    }

    /// An admitted login hashes on the pool, on a task of its own; the login
    /// queue starts at most its `slots` at once, which bounds these tasks.
    fn start_hash(&self, ticket: Ticket, pending: Pending) {
        let waited_ms = self.now_ms().saturating_sub(pending.queued_ms);
        self.metrics.admitted(waited_ms);
        let (logins, checked) = (self.logins.clone(), self.checked.0.clone());
        tokio::spawn(async move {
            let (attempt, outcome) = match pending.work {
                Work::Register(register) => (None, logins.register(register).await),
                Work::Password(password) => {
                    let attempt = Some((password.account.clone(), pending.address));
                    (attempt, logins.login_password(password).await)
                }
            };
            let done = Checked {
                session: pending.session,
                request_id: pending.request_id,
                ticket: Some(ticket),
                attempt,
                outcome,
            };
            let _stopped = checked.send(done).await;
        });
    }

    /// A check ended: admission learns of it; a checked login whose client
    /// is still here goes to the core, a refusal to the client.
    fn checked(&mut self, checked: Checked) {
        let now_ms = self.now_ms();
        if let Some(ticket) = checked.ticket {
            self.admission
                .done(now_ms, ticket, checked.attempt, &checked.outcome);
        }
        let (session, request_id) = (checked.session, checked.request_id);
        match checked.outcome {
            Ok(request) if self.peers.contains_key(&session) => {
                let login = self.core.handle_login(now_ms, request, &mut OsEntropy);
                self.waiting.insert(login, (session, request_id));
            }
            Ok(_client_gone) => {}
            Err((code, message)) => self.answer(session, error_frame(request_id, code, message)),
        }
    }

    fn carry_out_outputs(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Request { call, to, message } => self.request(call, to, message),
                Output::Answer { login, answer } => {
                    let Some((session, request_id)) = self.waiting.remove(&login) else {
                        continue;
                    };
                    let frame = match answer {
                        Ok(login_ok) => reply(request_id, Out::LoginOk(login_ok)),
                        Err(refusal) => refusal_frame(request_id, refusal),
                    };
                    self.answer(session, frame);
                }
                Output::GrantFailed {
                    srvname, failure, ..
                } => tracing::warn!(
                    srvname,
                    reason = failure.0,
                    "login token not granted; trying the next server"
                ),
            }
        }
    }

    /// Sends the core's request on the bus; its answer, or the bus error
    /// (the deadline passing among them), comes back to the core. A login has
    /// at most one request in flight, so these tasks are bounded by the
    /// core's `Config::logins_max`.
    fn request(&self, call: CallId, to: String, message: NodeMessage) {
        let answer = self
            .bus
            .request(&self.name, &to, message, self.request_deadline);
        let answers = self.call_answers.0.clone();
        tokio::spawn(async move {
            let answer = match answer.await {
                Err(BusError::Remote { code, message }) => Ok(bus::error_reply(code, message)),
                answer => answer.map_err(|error| CallFailed(error.to_string())),
            };
            let _stopped = answers.send((call, answer)).await;
        });
    }
}

fn reply(request_id: u64, body: Out) -> ServerFrame {
    ServerFrame {
        request_id,
        body: Some(body),
    }
}

/// A refusal with a retry-after is a `RetryLater`, others an `Error`.
fn refusal_frame(request_id: u64, refusal: accountcore::Refusal) -> ServerFrame {
    match refusal.retry_after_ms {
        Some(retry_after_ms) => {
            let retry = RetryLater {
                code: refusal.code as i32,
                message: refusal.message,
                retry_after_ms,
            };
            reply(request_id, Out::RetryLater(retry))
        }
        None => error_frame(request_id, refusal.code, refusal.message),
    }
}

fn error_frame(request_id: u64, code: ErrorCode, message: String) -> ServerFrame {
    ServerFrame {
        request_id,
        body: Some(Out::Error(Error {
            code: code as i32,
            message,
        })),
    }
}

/// A role note from a game server: a new role (`RoleCreated`) or the level a
/// server let a role go with (`RoleLevel`), kept for the account's logins.
async fn note_role(logins: &Logins, incoming: Incoming) {
    let store = logins.store.clone();
    let noted = match incoming.message.body.clone() {
        Some(Body::RoleCreated(note)) => blocking(move || add_role(&store, note)).await,
        Some(Body::RoleLevel(note)) => blocking(move || set_level(&store, &note)).await,
        _ => Err((
            ErrorCode::UnexpectedMessage,
            "the account center takes RoleCreated and RoleLevel".into(),
        )),
    };
    let reply = match noted {
        Ok(()) => bus::ack(),
        Err((code, message)) => bus::error_reply(code, message),
    };
    incoming.reply(reply);
}

fn add_role(store: &Mutex<Box<dyn AccountStore>>, note: RoleCreatedNote) -> Result<(), Refusal> {
    let role = note.role.ok_or((
        ErrorCode::BadArgument,
        "a role note carries the role".into(),
    ))?;
    let role = AccountRole {
        roleid: role_id(role.roleid)?,
        name: role.name,
        srvname: role.home_srvname,
        level: role.level,
    };
    lock(store)
        .add_role(note.account_id, &role)
        .map_err(unavailable)
}

fn set_level(store: &Mutex<Box<dyn AccountStore>>, note: &RoleLevelNote) -> Result<(), Refusal> {
    lock(store)
        .set_level(role_id(note.roleid)?, note.level, note.epoch)
        .map_err(unavailable)
}

fn role_id(raw: u64) -> Result<RoleId, Refusal> {
    RoleId::from_raw(raw).map_err(|error| (ErrorCode::UnknownRole, error.to_string()))
}

fn unavailable(error: AccountError) -> Refusal {
    (ErrorCode::Unavailable, error.to_string())
}
