//! Kuafu's Rust client library, used by bots and tests.
//!
//! - [`Connection`]: one connection to an account center or a game server, over
//!   TCP or WebSocket, with the `Hello`/`Welcome` handshake done; requests are
//!   matched to replies by request id, pushes arrive on a bounded channel.
//! - [`account`]: register and log in, returning the `LoginOk` that names the
//!   server to enter; a login queued at the account center whose connection
//!   is lost resumes on a new one with its queue ticket.
//! - [`GameSession`]: a role in the game on one server; authenticates, creates
//!   the role if needed, enters (retrying `PLAYER_BUSY` and `OVERLOADED`),
//!   makes calls, and follows crossing redirects to the next server.
//! - [`retry`]: which errors are retryable, and capped exponential backoff
//!   with full jitter; a login waits in the account center's queue as long as
//!   `LoginQueued` frames come.
//!
//! The wire protocol is described in `docs/protocol.md`.

pub mod account;
mod connection;
pub mod retry;
mod session;

use std::time::Duration;

use wire::client::server_frame::Body as Reply;
use wire::client::{ErrorCode, Kicked};
use wire::frame::FrameError;

pub use connection::Connection;
pub use session::{CallOutcome, CrossingSteps, GameSession};

/// Default time a request (or a connect with its handshake) may take.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Default largest server frame a client reads.
pub const SERVER_FRAME_BYTES_MAX_DEFAULT: usize = 1 << 20;
/// Default pushes kept for the application before newer ones are dropped.
pub const PUSHES_MAX_DEFAULT: usize = 256;
/// Default frames queued for the connection's writer.
pub const OUTBOX_FRAMES_MAX_DEFAULT: usize = 64;
/// Default requests waiting for a reply at once; more wait for a place.
pub const REQUESTS_INFLIGHT_MAX_DEFAULT: usize = 64;
/// Default silence after which the client sends a `Ping`, well under the
/// servers' default idle timeout of 60 s.
pub const KEEPALIVE_INTERVAL_DEFAULT: Duration = Duration::from_secs(20);

/// How a client connects and the limits it keeps.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Name sent in `Hello`.
    pub client_name: String,
    /// Time a request may wait for its reply; also bounds connect plus handshake.
    pub request_timeout: Duration,
    /// Largest server frame body read; a longer one closes the connection.
    pub frame_bytes_max: usize,
    /// Pushes queued for the application; when full, new pushes are dropped
    /// (counted by [`Connection::pushes_dropped`]) so replies keep flowing.
    pub pushes_max: usize,
    /// Frames queued for the writer; requests wait for a place.
    pub outbox_frames_max: usize,
    /// Requests waiting for replies at once; more wait for a place.
    pub requests_inflight_max: usize,
    /// Silence after which a `Ping` keeps the connection alive.
    pub keepalive_interval: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            client_name: "kuafu-client".into(),
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            frame_bytes_max: SERVER_FRAME_BYTES_MAX_DEFAULT,
            pushes_max: PUSHES_MAX_DEFAULT,
            outbox_frames_max: OUTBOX_FRAMES_MAX_DEFAULT,
            requests_inflight_max: REQUESTS_INFLIGHT_MAX_DEFAULT,
            keepalive_interval: KEEPALIVE_INTERVAL_DEFAULT,
        }
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting or the socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection; `kicked` says why, if it said.
    #[error("connection closed by the server (kicked: {kicked:?})")]
    Closed {
        /// The `Kicked` (or request-less `Error`) the server sent before closing.
        kicked: Option<Kicked>,
    },
    /// The server answered with an `Error` (or a `RetryLater`).
    #[error("server error {code:?}: {message}")]
    Server {
        /// The error code (`ERROR_CODE_UNSPECIFIED` for a code this build does
        /// not know).
        code: ErrorCode,
        /// The server's explanation.
        message: String,
        /// When the server said to retry (`RetryLater`); `None` for an `Error`.
        retry_after: Option<Duration>,
    },
    /// No reply within the request timeout.
    #[error("timed out")]
    Timeout,
    /// The server answered with a message that does not fit the request.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A frame from the server could not be read.
    #[error("frame: {0}")]
    Frame(FrameError),
}

impl From<FrameError> for ClientError {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Closed => ClientError::Closed { kicked: None },
            FrameError::Io(error) => ClientError::Io(error),
            other => ClientError::Frame(other),
        }
    }
}

/// Turns a reply's body into a result: an `Error` or a `Kicked` becomes the typed
/// error, a missing body a protocol error.
fn reply_result(body: Option<Reply>) -> Result<Reply, ClientError> {
    match body {
        Some(Reply::Error(error)) => Err(ClientError::Server {
            code: ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified),
            message: error.message,
            retry_after: None,
        }),
        Some(Reply::RetryLater(retry)) => Err(ClientError::Server {
            code: ErrorCode::try_from(retry.code).unwrap_or(ErrorCode::Unspecified),
            message: retry.message,
            retry_after: Some(Duration::from_millis(retry.retry_after_ms)),
        }),
        Some(Reply::Kicked(kicked)) => Err(ClientError::Closed {
            kicked: Some(kicked),
        }),
        Some(reply) => Ok(reply),
        None => Err(ClientError::Protocol(
            "a reply of a type this build does not know".into(),
        )),
    }
}

/// The error for a reply of another type than the request expects.
fn unexpected(expected: &str, reply: &Reply) -> ClientError {
    ClientError::Protocol(format!("expected {expected}, got {reply:?}"))
}

/// Takes the `$variant` payload out of a reply, or fails with a protocol error.
macro_rules! expect_reply {
    ($reply:expr, $variant:ident) => {
        match $reply {
            wire::client::server_frame::Body::$variant(inner) => Ok(inner),
            other => Err($crate::unexpected(stringify!($variant), &other)),
        }
    };
}
use expect_reply;
