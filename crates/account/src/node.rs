//! The account center's task: the tokio shell around the login core.
//!
//! Client frames come from its gateway; each credential check (argon2, the
//! account database) runs on its own task, at most `LOGINS_INFLIGHT_MAX` at
//! once, and hands the checked login to the task, which owns the
//! [`AccountCore`]. The core's requests go out on the bus with the bus
//! deadline, each on its own task, and their answers (or the bus error) come
//! back as the core's inputs; its answers go to the clients. Role notes from
//! game servers (new roles, and each role's level when a server lets it go)
//! are stored on tasks of their own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accountcore::{AccountCore, CallFailed, CallId, Entropy, LoginId, LoginRequest, Output};
use bus::{Bus, BusError, Incoming};
use gateway::{GatewayEvent, GatewayHandle, SessionId};
use routing::RoleId;
use store_sqlite::{AccountError, AccountRole, AccountStore};
use tokio::sync::{Semaphore, mpsc};
use wire::client::client_frame::Body as In;
use wire::client::server_frame::Body as Out;
use wire::client::{ClientFrame, Error, ErrorCode, ServerFrame};
use wire::node::NodeMessage;
use wire::node::node_message::Body;
use wire::node::{RoleCreatedNote, RoleLevelNote};

use crate::login::{Logins, Refusal, blocking, lock};
use crate::{AccountConfig, LOGINS_INFLIGHT_MAX};

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
    /// `account.db` could not be opened.
    #[error(transparent)]
    Store(#[from] AccountError),
    /// The name is taken on the bus.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

impl AccountCenter {
    /// Opens the account database, binds the bus name, and starts serving
    /// the clients of `gateway` (already listening).
    pub fn start(
        config: AccountConfig,
        gateway: gateway::Gateway,
        bus: Arc<dyn Bus>,
    ) -> Result<Self, StartError> {
        let store = AccountStore::open(config.data_dir.join(store_sqlite::ACCOUNT_DB_FILE))?;
        let inbox = bus.bind(&config.name, bus::INBOX_MESSAGES_MAX)?;
        let (tcp_addr, ws_addr, handle) = (
            gateway.tcp_local_addr,
            gateway.ws_local_addr,
            gateway.handle.clone(),
        );
        let answers_max = config.logins.logins_max.max(1);
        let shell = Shell {
            name: config.name,
            request_deadline: config.request_deadline,
            started: Instant::now(),
            core: AccountCore::new(config.logins),
            logins: Arc::new(Logins {
                store: Arc::new(Mutex::new(store)),
            }),
            bus,
            clients: handle.clone(),
            events: gateway.events,
            inbox,
            permits: Arc::new(Semaphore::new(LOGINS_INFLIGHT_MAX)),
            checked: mpsc::channel(LOGINS_INFLIGHT_MAX),
            call_answers: mpsc::channel(answers_max),
            waiting: BTreeMap::new(),
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

/// A login whose credential checked out, on its way to the core.
struct Checked {
    session: SessionId,
    request_id: u64,
    request: LoginRequest,
}

type CallAnswer = (CallId, Result<NodeMessage, CallFailed>);

/// The node's task and everything it owns.
struct Shell {
    name: String,
    request_deadline: Duration,
    /// The core's clock: milliseconds since the node started (monotonic).
    started: Instant,
    core: AccountCore,
    logins: Arc<Logins>,
    bus: Arc<dyn Bus>,
    clients: GatewayHandle,
    events: mpsc::Receiver<GatewayEvent>,
    inbox: bus::Inbox,
    permits: Arc<Semaphore>,
    checked: (mpsc::Sender<Checked>, mpsc::Receiver<Checked>),
    call_answers: (mpsc::Sender<CallAnswer>, mpsc::Receiver<CallAnswer>),
    /// Who each login in the core answers to: the session and the request.
    waiting: BTreeMap<LoginId, (SessionId, u64)>,
}

impl Shell {
    async fn run(mut self) {
        loop {
            tokio::select! {
                Some(event) = self.events.recv() => self.client_event(event).await,
                Some(incoming) = self.inbox.recv() => {
                    let logins = self.logins.clone();
                    tokio::spawn(async move { note_role(&logins, incoming).await });
                }
                Some(checked) = self.checked.1.recv() => {
                    let now_ms = self.now_ms();
                    let login = self.core.handle_login(now_ms, checked.request, &mut OsEntropy);
                    self.waiting.insert(login, (checked.session, checked.request_id));
                }
                Some((call, answer)) = self.call_answers.1.recv() => {
                    let now_ms = self.now_ms();
                    self.core.handle_call_answer(now_ms, call, answer, &mut OsEntropy);
                }
            }
            self.carry_out_outputs();
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A client frame: its credential is checked on a task of its own (once
    /// a permit is free), which hands the login to the core or refuses it.
    async fn client_event(&mut self, event: GatewayEvent) {
        let GatewayEvent::Frame { session, frame } = event else {
            return;
        };
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return;
        };
        let (logins, clients) = (self.logins.clone(), self.clients.clone());
        let checked = self.checked.0.clone();
        tokio::spawn(async move {
            let ClientFrame { request_id, body } = frame;
            let outcome = check_credential(&logins, body).await;
            drop(permit);
            match outcome {
                Ok(request) => {
                    let login = Checked {
                        session,
                        request_id,
                        request,
                    };
                    let _stopped = checked.send(login).await;
                }
                Err((code, message)) => {
                    clients.send(session, error_frame(request_id, code, message))
                }
            }
        });
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
                        Ok(login_ok) => ServerFrame {
                            request_id,
                            body: Some(Out::LoginOk(login_ok)),
                        },
                        Err(refusal) => error_frame(request_id, refusal.code, refusal.message),
                    };
                    self.clients.send(session, frame);
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
    /// (the deadline passing among them), comes back to the core.
    fn request(&self, call: CallId, to: String, message: NodeMessage) {
        let answer = self
            .bus
            .request(&self.name, &to, message, self.request_deadline);
        let answers = self.call_answers.0.clone();
        tokio::spawn(async move {
            let answer = answer.await.map_err(|error| CallFailed(error.to_string()));
            let _stopped = answers.send((call, answer)).await;
        });
    }
}

/// Checks a `Register` or `Login`: what the core needs, or the refusal.
async fn check_credential(logins: &Logins, body: Option<In>) -> Result<LoginRequest, Refusal> {
    match body {
        Some(In::Register(register)) => logins.register(register).await,
        Some(In::Login(login)) => logins.login(login).await,
        _ => Err((
            ErrorCode::UnexpectedMessage,
            "the account center takes Register and Login".into(),
        )),
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

fn add_role(store: &Mutex<AccountStore>, note: RoleCreatedNote) -> Result<(), Refusal> {
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

fn set_level(store: &Mutex<AccountStore>, note: &RoleLevelNote) -> Result<(), Refusal> {
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
