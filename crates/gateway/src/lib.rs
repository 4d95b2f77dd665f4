//! Kuafu's client-facing listeners, used by the account center and every game server.
//!
//! [`start`] binds a TCP listener and, optionally, a WebSocket listener, and serves
//! every connection with one reader task and one writer task. Each connection does
//! the handshake itself (`Hello` → `Welcome`), answers `Ping` itself, and turns
//! framing faults into typed `Error` frames; everything else arrives as
//! [`GatewayEvent`]s on one bounded channel, and the owner answers through the
//! cloneable [`GatewayHandle`].
//!
//! Limits: every queue is bounded ([`GatewayConfig`], defaults in [`limits`]). A full events channel makes
//! the connections' readers wait (backpressure on the clients); a full outbox means
//! a client that does not read, and closes its session.
//!
//! Architecture invariant: the gateway knows frames and sessions, never accounts,
//! roles or game rules; it never panics on a client's input.

mod connection;
mod handle;
pub mod limits;
mod listener;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wire::client::{ClientFrame, ServerFrame};

pub use handle::GatewayHandle;
use handle::Shared;
pub use limits::{
    CONNECTIONS_MAX_DEFAULT, EVENTS_MAX_DEFAULT, HANDSHAKE_TIMEOUT_DEFAULT, IDLE_TIMEOUT_DEFAULT,
    OUTBOX_FRAMES_MAX_DEFAULT, REFUSALS_INFLIGHT_MAX_DEFAULT,
};
use listener::Transport;

/// How a gateway listens and the limits it enforces.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Name sent in `Welcome` (the account center's or game server's name).
    pub server_name: String,
    /// TCP listener address (port 0 picks a free port).
    pub tcp_addr: SocketAddr,
    /// WebSocket listener address, if any (port 0 picks a free port).
    pub ws_addr: Option<SocketAddr>,
    /// Largest client frame body in bytes; a longer one closes the connection.
    pub frame_bytes_max: usize,
    /// Connections served at once; one more is answered `OVERLOADED` and closed.
    pub connections_max: usize,
    /// Refused connections closed gracefully at once (each waits up to the
    /// handshake timeout for its client to close); beyond it a TCP refusal
    /// still gets its frame, written without waiting, and a WebSocket one is
    /// closed without a frame. Counted in [`GatewayHandle::refusals`].
    pub refusals_inflight_max: usize,
    /// Time from accept to a valid `Hello`.
    pub handshake_timeout: Duration,
    /// Time a connection may go without sending a frame.
    pub idle_timeout: Duration,
    /// Frames queued for one connection's writer; a full outbox closes the session.
    pub outbox_frames_max: usize,
    /// Events queued for the owner; when full, connections' readers wait.
    pub events_max: usize,
}

impl GatewayConfig {
    /// A configuration with the default limits.
    pub fn new(
        server_name: impl Into<String>,
        tcp_addr: SocketAddr,
        ws_addr: Option<SocketAddr>,
    ) -> Self {
        Self {
            server_name: server_name.into(),
            tcp_addr,
            ws_addr,
            frame_bytes_max: limits::FRAME_BYTES_MAX_DEFAULT,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            refusals_inflight_max: REFUSALS_INFLIGHT_MAX_DEFAULT,
            handshake_timeout: HANDSHAKE_TIMEOUT_DEFAULT,
            idle_timeout: IDLE_TIMEOUT_DEFAULT,
            outbox_frames_max: OUTBOX_FRAMES_MAX_DEFAULT,
            events_max: EVENTS_MAX_DEFAULT,
        }
    }

    /// Refuses limits that would make a queue unusable.
    fn validate(&self) -> std::io::Result<()> {
        let zero = [
            ("frame_bytes_max", self.frame_bytes_max),
            ("outbox_frames_max", self.outbox_frames_max),
            ("events_max", self.events_max),
        ]
        .into_iter()
        .find(|(_, value)| *value == 0);
        match zero {
            Some((name, _)) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("gateway config: {name} must be at least 1"),
            )),
            None => Ok(()),
        }
    }
}

/// Connections refused at the connection limit, by whether they got their
/// `Error{OVERLOADED}` frame (a WebSocket client beyond
/// `refusals_inflight_max`, or one that closed first, did not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Refused with the frame written.
    pub with_frame: u64,
    /// Closed without a frame.
    pub without_frame: u64,
}

/// A connection that completed the handshake; unique for the gateway's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// What the gateway reports to its owner.
#[derive(Clone, Debug, PartialEq)]
pub enum GatewayEvent {
    /// A connection completed the handshake and can be sent frames.
    Opened {
        /// The new session.
        session: SessionId,
        /// The client's address.
        peer: SocketAddr,
    },
    /// A client frame for the owner (never `Hello` or `Ping`, which the gateway
    /// answers itself, and never a frame without a body).
    Frame {
        /// The session it came on.
        session: SessionId,
        /// The frame.
        frame: ClientFrame,
    },
    /// The session ended, however it ended; sent exactly once per `Opened`.
    Closed {
        /// The session that ended.
        session: SessionId,
    },
}

/// A running gateway: its events, its handle and the addresses it listens on.
pub struct Gateway {
    /// Session events, in order per session.
    pub events: mpsc::Receiver<GatewayEvent>,
    /// Sends frames to sessions and closes them.
    pub handle: GatewayHandle,
    /// The bound TCP address.
    pub tcp_local_addr: SocketAddr,
    /// The bound WebSocket address, if one was configured.
    pub ws_local_addr: Option<SocketAddr>,
}

/// Binds the listeners and spawns their accept loops.
///
/// The accept loops stop at [`GatewayHandle::shutdown`] or when `events` is dropped.
pub async fn start(config: GatewayConfig) -> std::io::Result<Gateway> {
    config.validate()?;
    let tcp = TcpListener::bind(config.tcp_addr).await?;
    let websocket = match config.ws_addr {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let tcp_local_addr = tcp.local_addr()?;
    let ws_local_addr = websocket
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let (events_sender, events) = mpsc::channel(config.events_max);
    let shared = Arc::new(Shared::new(config, events_sender));
    tokio::spawn(listener::accept_loop(tcp, Transport::Tcp, shared.clone()));
    if let Some(websocket) = websocket {
        let accepting = listener::accept_loop(websocket, Transport::WebSocket, shared.clone());
        tokio::spawn(accepting);
    }
    Ok(Gateway {
        events,
        handle: GatewayHandle::new(shared),
        tcp_local_addr,
        ws_local_addr,
    })
}

/// A frame answering `request_id` with an `Error`.
fn error_frame(
    request_id: u64,
    code: wire::client::ErrorCode,
    message: impl Into<String>,
) -> ServerFrame {
    let error = wire::client::Error {
        code: code as i32,
        message: message.into(),
    };
    ServerFrame {
        request_id,
        body: Some(wire::client::server_frame::Body::Error(error)),
    }
}
