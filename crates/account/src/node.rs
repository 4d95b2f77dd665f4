//! The account center's task: client frames from its gateway (each login on
//! its own task, at most `LOGINS_INFLIGHT_MAX` at once) and role notes from
//! game servers on the bus (new roles, and each role's level when a server
//! lets it go).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bus::{Bus, BusError, Incoming};
use gateway::{GatewayEvent, GatewayHandle, SessionId};
use routing::RoleId;
use store_sqlite::{AccountError, AccountRole, AccountStore};
use tokio::sync::Semaphore;
use wire::client::client_frame::Body as In;
use wire::client::server_frame::Body as Out;
use wire::client::{ClientFrame, Error, ErrorCode, ServerFrame};
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
        let logins = Arc::new(Logins {
            config,
            store: Arc::new(Mutex::new(store)),
            bus,
        });
        let task = tokio::spawn(serve(logins, gateway.events, handle.clone(), inbox));
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

async fn serve(
    logins: Arc<Logins>,
    mut events: tokio::sync::mpsc::Receiver<GatewayEvent>,
    clients: GatewayHandle,
    mut inbox: bus::Inbox,
) {
    let permits = Arc::new(Semaphore::new(LOGINS_INFLIGHT_MAX));
    loop {
        tokio::select! {
            Some(event) = events.recv() => {
                let GatewayEvent::Frame { session, frame } = event else { continue };
                let Ok(permit) = permits.clone().acquire_owned().await else { return };
                let (logins, clients) = (logins.clone(), clients.clone());
                tokio::spawn(async move {
                    answer_client(&logins, &clients, session, frame).await;
                    drop(permit);
                });
            }
            Some(incoming) = inbox.recv() => {
                let logins = logins.clone();
                tokio::spawn(async move { note_role(&logins, incoming).await });
            }
            else => return,
        }
    }
}

async fn answer_client(
    logins: &Logins,
    clients: &GatewayHandle,
    session: SessionId,
    frame: ClientFrame,
) {
    let answer = match frame.body {
        Some(In::Register(register)) => logins.register(register).await.map(Out::LoginOk),
        Some(In::Login(login)) => logins.login(login).await.map(Out::LoginOk),
        _ => Err((
            ErrorCode::UnexpectedMessage,
            "the account center takes Register and Login".into(),
        )),
    };
    let body = answer.unwrap_or_else(|(code, message)| {
        Out::Error(Error {
            code: code as i32,
            message,
        })
    });
    clients.send(
        session,
        ServerFrame {
            request_id: frame.request_id,
            body: Some(body),
        },
    );
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
