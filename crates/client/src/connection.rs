//! One client connection: handshake, request/reply matching, pushes, keepalive.
//!
//! A reader task routes each server frame: a frame with a request id to the
//! request waiting for it, a frame with id 0 (a push) to the bounded push channel.
//! A writer task writes queued frames and sends a `Ping` after a silence. When the
//! server closes, every waiting request fails with `Closed`, carrying the `Kicked`
//! reason if one arrived. A `LoginQueued` is not a reply: it updates
//! [`Connection::queued`] and restarts the request timeout of the requests
//! waiting on the connection, whose answer follows later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{ClientFrame, Hello, Kicked, LoginQueued, Ping, ServerFrame};
use wire::frame::transport::{
    FrameReader, FrameWriter, split_tcp, split_websocket, websocket_config,
};

use crate::{ClientConfig, ClientError, expect_reply, reply_result};

/// The request id of the `Hello`; later requests count up from it.
const HELLO_REQUEST_ID: u64 = 1;

/// A connection to an account center or a game server, past the handshake.
///
/// Requests may run concurrently through `&self`. Dropping the connection closes it.
pub struct Connection {
    outbox: mpsc::Sender<ClientFrame>,
    state: Arc<State>,
    pushes: mpsc::Receiver<ServerFrame>,
    requests: Semaphore,
    next_request_id: AtomicU64,
    request_timeout: Duration,
    server_name: String,
    reading: JoinHandle<()>,
}

/// What the reader task shares with the requests.
struct State {
    routes: Mutex<Routes>,
    pushes_dropped: AtomicU64,
    /// The last `LoginQueued` the server sent.
    queued: watch::Sender<Option<LoginQueued>>,
}

/// Requests waiting for replies, and whether the connection is gone.
struct Routes {
    waiting: HashMap<u64, oneshot::Sender<ServerFrame>>,
    closed: bool,
    kicked: Option<Kicked>,
}

impl Connection {
    /// Connects over TCP to `addr` (`host:port`) with the default configuration.
    pub async fn connect_tcp(addr: &str) -> Result<Self, ClientError> {
        Self::connect_tcp_with(addr, ClientConfig::default()).await
    }

    /// Connects over TCP to `addr` (`host:port`) and does the handshake, within
    /// the request timeout.
    pub async fn connect_tcp_with(addr: &str, config: ClientConfig) -> Result<Self, ClientError> {
        let limit = config.request_timeout;
        let connecting = async {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Self::open(split_tcp(stream), config).await
        };
        within(limit, connecting).await
    }

    /// Connects over WebSocket with the default configuration; `target` is a
    /// `ws://host:port/path` URL or a bare `host:port` (as in `ServerAddress.ws_addr`).
    pub async fn connect_ws(target: &str) -> Result<Self, ClientError> {
        Self::connect_ws_with(target, ClientConfig::default()).await
    }

    /// Connects over WebSocket to `target` (a `ws://` URL or a bare `host:port`)
    /// and does the handshake, within the request timeout.
    pub async fn connect_ws_with(target: &str, config: ClientConfig) -> Result<Self, ClientError> {
        let limit = config.request_timeout;
        let connecting = async {
            let socket = websocket(target, config.frame_bytes_max).await?;
            Self::open(split_websocket(socket), config).await
        };
        within(limit, connecting).await
    }

    /// Sends `body` as a request and waits for the frame that answers it. An
    /// `Error` reply becomes [`ClientError::Server`]; a connection closed meanwhile
    /// [`ClientError::Closed`]. Each `LoginQueued` restarts the request timeout:
    /// a login waits in the account center's queue as long as it moves.
    pub async fn request(&self, body: Body) -> Result<Reply, ClientError> {
        let mut queued = self.state.queued.subscribe();
        let exchange = self.exchange(body);
        tokio::pin!(exchange);
        loop {
            tokio::select! {
                result = &mut exchange => return result,
                Ok(()) = queued.changed() => continue,
                () = tokio::time::sleep(self.request_timeout) => return Err(ClientError::Timeout),
            }
        }
    }

    /// The last `LoginQueued` (place in the account center's login queue) on
    /// this connection, and its updates.
    pub fn queued(&self) -> watch::Receiver<Option<LoginQueued>> {
        self.state.queued.subscribe()
    }

    /// Pushes (frames with request id 0, such as `Push`, `HornHeard`, `Kicked`),
    /// in arrival order; the channel ends when the connection closes.
    pub fn pushes(&mut self) -> &mut mpsc::Receiver<ServerFrame> {
        &mut self.pushes
    }

    /// Pushes dropped because the push channel was full.
    pub fn pushes_dropped(&self) -> u64 {
        self.state.pushes_dropped.load(Ordering::Relaxed)
    }

    /// The name the server gave in `Welcome`.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Does the handshake on fresh halves and starts the reader and writer tasks.
    async fn open(
        (mut reader, mut writer): (FrameReader, FrameWriter),
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let server_name = handshake(&mut reader, &mut writer, &config).await?;
        let state = Arc::new(State {
            routes: Mutex::new(Routes {
                waiting: HashMap::new(),
                closed: false,
                kicked: None,
            }),
            pushes_dropped: AtomicU64::new(0),
            queued: watch::Sender::new(None),
        });
        let (outbox, queue) = mpsc::channel(config.outbox_frames_max);
        let (pushes_sender, pushes) = mpsc::channel(config.pushes_max);
        tokio::spawn(write_loop(writer, queue, config.keepalive_interval));
        let reading = read_loop(reader, config.frame_bytes_max, state.clone(), pushes_sender);
        Ok(Self {
            outbox,
            state,
            pushes,
            requests: Semaphore::new(config.requests_inflight_max),
            next_request_id: AtomicU64::new(HELLO_REQUEST_ID + 1),
            request_timeout: config.request_timeout,
            server_name,
            reading: tokio::spawn(reading),
        })
    }

    /// Sends one request and waits for its reply, without a time limit.
    async fn exchange(&self, body: Body) -> Result<Reply, ClientError> {
        let _place = self
            .requests
            .acquire()
            .await
            .map_err(|_| self.state.closed_error())?;
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let (answer, reply) = oneshot::channel();
        let _waiting = Waiting::register(&self.state, request_id, answer)?;
        let frame = ClientFrame {
            request_id,
            body: Some(body),
        };
        if self.outbox.send(frame).await.is_err() {
            return Err(self.state.closed_error());
        }
        let frame = reply.await.map_err(|_| self.state.closed_error())?;
        reply_result(frame.body)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The writer ends by itself when the outbox sender drops; the reader
        // would wait for the server.
        self.reading.abort();
    }
}

/// Bounds `operation` by `limit`, failing with `Timeout`.
async fn within<T>(
    limit: Duration,
    operation: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(limit, operation)
        .await
        .map_err(|_| ClientError::Timeout)?
}

/// Opens a WebSocket to `target` over a TCP stream with `TCP_NODELAY`, reading at
/// most `cap` bytes per message. Only plain `ws://` is spoken (no TLS).
async fn websocket(
    target: &str,
    cap: usize,
) -> Result<wire::frame::transport::WebSocket, ClientError> {
    let url = if target.contains("://") {
        target.to_owned()
    } else {
        format!("ws://{target}/")
    };
    let request = url
        .as_str()
        .into_client_request()
        .map_err(websocket_error)?;
    let uri = request.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(ClientError::Protocol(format!(
            "{url}: only ws:// is supported"
        )));
    }
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Protocol(format!("{url}: no host")))?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let config = Some(websocket_config(cap));
    let (socket, _response) = tokio_tungstenite::client_async_with_config(request, stream, config)
        .await
        .map_err(websocket_error)?;
    Ok(socket)
}

/// A failed WebSocket setup as an i/o error.
fn websocket_error(error: tokio_tungstenite::tungstenite::Error) -> ClientError {
    match error {
        tokio_tungstenite::tungstenite::Error::Io(error) => ClientError::Io(error),
        other => ClientError::Io(std::io::Error::other(other)),
    }
}

/// Sends `Hello`, expects `Welcome` with our protocol version; returns the
/// server's name.
async fn handshake(
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
    config: &ClientConfig,
) -> Result<String, ClientError> {
    let hello = Hello {
        protocol_version: wire::PROTOCOL_VERSION,
        client_name: config.client_name.clone(),
    };
    let frame = ClientFrame {
        request_id: HELLO_REQUEST_ID,
        body: Some(Body::Hello(hello)),
    };
    writer.write_message(&frame).await?;
    let answer: ServerFrame = reader.read_message(config.frame_bytes_max).await?;
    let welcome = expect_reply!(reply_result(answer.body)?, Welcome)?;
    if welcome.protocol_version != wire::PROTOCOL_VERSION {
        let message = format!("server speaks protocol {}", welcome.protocol_version);
        return Err(ClientError::Protocol(message));
    }
    Ok(welcome.server_name)
}

/// A request's place in the routing table, removed when the request ends however
/// it ends (reply, timeout, cancellation).
struct Waiting<'a> {
    state: &'a State,
    request_id: u64,
}

impl<'a> Waiting<'a> {
    fn register(
        state: &'a State,
        request_id: u64,
        answer: oneshot::Sender<ServerFrame>,
    ) -> Result<Self, ClientError> {
        let mut routes = state.routes();
        if routes.closed {
            return Err(ClientError::Closed {
                kicked: routes.kicked.clone(),
            });
        }
        routes.waiting.insert(request_id, answer);
        Ok(Self { state, request_id })
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.state.routes().waiting.remove(&self.request_id);
    }
}

impl State {
    /// The routing table. Each operation on it is a single insert, remove or flag
    /// change, so a lock poisoned by a panic elsewhere is still consistent.
    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The error for a request on a closed connection.
    fn closed_error(&self) -> ClientError {
        ClientError::Closed {
            kicked: self.routes().kicked.clone(),
        }
    }

    /// Routes one server frame to its request, or to the pushes.
    fn deliver(&self, frame: ServerFrame, pushes: &mpsc::Sender<ServerFrame>) {
        if let Some(Reply::LoginQueued(queued)) = frame.body {
            self.queued.send_replace(Some(queued));
            return;
        }
        if frame.request_id != 0 {
            let waiting = self.routes().waiting.remove(&frame.request_id);
            match waiting {
                Some(answer) => {
                    let _ = answer.send(frame);
                }
                None => tracing::debug!(frame.request_id, "reply after its request ended"),
            }
            return;
        }
        match &frame.body {
            // The answer to a keepalive ping.
            Some(Reply::Pong(_)) => return,
            Some(Reply::Kicked(kicked)) => self.routes().kicked = Some(kicked.clone()),
            Some(Reply::Error(error)) => {
                self.routes().kicked = Some(Kicked {
                    code: error.code,
                    message: error.message.clone(),
                });
            }
            _ => {}
        }
        if pushes.try_send(frame).is_err() {
            self.pushes_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("push channel full: push dropped");
        }
    }

    /// Marks the connection closed and fails every waiting request.
    fn close(&self) {
        let mut routes = self.routes();
        routes.closed = true;
        routes.waiting.clear();
    }
}

/// Reads server frames until the connection ends, then fails what still waits.
async fn read_loop(
    mut reader: FrameReader,
    cap: usize,
    state: Arc<State>,
    pushes: mpsc::Sender<ServerFrame>,
) {
    loop {
        match reader.read_message::<ServerFrame>(cap).await {
            Ok(frame) => state.deliver(frame, &pushes),
            Err(error) => {
                tracing::debug!(%error, "connection ends");
                break;
            }
        }
    }
    state.close();
}

/// Writes queued frames; after `keepalive` without one, writes a `Ping`. Closes
/// the write direction when the connection is dropped.
async fn write_loop(
    mut writer: FrameWriter,
    mut queue: mpsc::Receiver<ClientFrame>,
    keepalive: Duration,
) {
    loop {
        let frame = match tokio::time::timeout(keepalive, queue.recv()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_silence) => ClientFrame {
                request_id: 0,
                body: Some(Body::Ping(Ping { nonce: 0 })),
            },
        };
        if let Err(error) = writer.write_message(&frame).await {
            tracing::debug!(%error, "write failed");
            return;
        }
    }
    let _ = writer.close().await;
}
