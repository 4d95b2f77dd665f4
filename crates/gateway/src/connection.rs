//! One client connection: the reader (the connection's own task) and its writer task.
//!
//! The reader does the handshake, answers `Ping` and framing faults itself, and
//! forwards every other frame as an event. The writer drains a bounded outbox.
//! Either side ending stops the other: the writer through the connection's stop
//! latch, the reader by dropping its outbox sender. The reader alone emits
//! `Opened` and `Closed`, so `Closed` follows every `Opened` exactly once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wire::Message;
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{ClientFrame, ErrorCode, Kicked, Pong, ServerFrame, Welcome};
use wire::frame::FrameError;
use wire::frame::transport::{FrameReader, FrameWriter};

use crate::handle::{Latch, Outbound, Shared, offer};
use crate::limits::CLOSE_LINGER_MAX;
use crate::{GatewayEvent, SessionId, error_frame};

/// Serves one connection to its end: handshake, session, close.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    (reader, writer): (FrameReader, FrameWriter),
    peer: SocketAddr,
) {
    let stop = Latch::new();
    let (outbox, queue) = mpsc::channel(shared.config.outbox_frames_max);
    let writing = tokio::spawn(write_loop(writer, queue, stop.clone()));
    let mut connection = Connection {
        shared,
        reader,
        outbox,
        stop,
    };
    if let Some(session) = connection.handshake().await {
        connection.run_session(session, peer).await;
    }
    connection.finish(writing).await;
}

/// Closes the write direction, then reads until the peer closes too, so that the
/// last frames are not lost to a reset; bounded by `CLOSE_LINGER_MAX`.
pub(crate) async fn close_gracefully(mut reader: FrameReader, mut writer: FrameWriter) {
    let closing = async {
        if writer.close().await.is_ok() {
            reader.discard_until_closed().await;
        }
    };
    let _ = tokio::time::timeout(CLOSE_LINGER_MAX, closing).await;
}

/// The reader's side of a connection.
struct Connection {
    shared: Arc<Shared>,
    reader: FrameReader,
    outbox: mpsc::Sender<Outbound>,
    stop: Latch,
}

/// What one read step produced.
enum Next {
    Frame(ClientFrame),
    End(End),
}

/// Why a connection stops reading.
#[derive(Debug)]
enum End {
    /// The client closed, or the bytes could not be read as a frame.
    Failed(FrameError),
    /// No frame within the handshake or idle timeout.
    TimedOut,
    /// The writer ended, or the owner closed the session.
    Stopped,
    /// The gateway is shutting down.
    ShuttingDown,
}

impl Connection {
    /// Reads the next frame within `limit`, unless the connection or the gateway stops.
    async fn next_frame(&mut self, limit: Duration) -> Next {
        let cap = self.shared.config.frame_bytes_max;
        let read = tokio::time::timeout(limit, self.reader.read_frame(cap));
        let result = tokio::select! {
            biased;
            () = self.stop.wait() => return Next::End(End::Stopped),
            () = self.shared.shutdown.wait() => return Next::End(End::ShuttingDown),
            result = read => result,
        };
        let decoded = match result {
            Err(_elapsed) => return Next::End(End::TimedOut),
            Ok(read) => read.and_then(|body| decode(&body)),
        };
        match decoded {
            Ok(frame) => Next::Frame(frame),
            Err(error) => Next::End(End::Failed(error)),
        }
    }

    /// Expects `Hello` with our protocol version; answers `Welcome` and opens a
    /// session, or answers the typed error and gives up.
    async fn handshake(&mut self) -> Option<SessionId> {
        let frame = match self.next_frame(self.shared.config.handshake_timeout).await {
            Next::Frame(frame) => frame,
            Next::End(End::TimedOut) => {
                let message = "no Hello within the handshake timeout";
                self.reply(error_frame(0, ErrorCode::UnexpectedMessage, message));
                return None;
            }
            Next::End(end) => {
                self.farewell(end);
                return None;
            }
        };
        let request_id = frame.request_id;
        let Some(Body::Hello(hello)) = frame.body else {
            let message = "the first frame must be Hello";
            self.reply(error_frame(
                request_id,
                ErrorCode::UnexpectedMessage,
                message,
            ));
            return None;
        };
        if hello.protocol_version != wire::PROTOCOL_VERSION {
            let message = format!(
                "protocol version {} is not supported; this server speaks {}",
                hello.protocol_version,
                wire::PROTOCOL_VERSION
            );
            self.reply(error_frame(
                request_id,
                ErrorCode::UnsupportedVersion,
                message,
            ));
            return None;
        }
        self.welcome(request_id)
    }

    /// Answers `Welcome` and makes the session reachable through the handle.
    fn welcome(&self, request_id: u64) -> Option<SessionId> {
        let welcome = Welcome {
            protocol_version: wire::PROTOCOL_VERSION,
            server_name: self.shared.config.server_name.clone(),
        };
        let frame = ServerFrame {
            request_id,
            body: Some(Reply::Welcome(welcome)),
        };
        self.reply(frame).then(|| {
            self.shared
                .open_session(self.outbox.clone(), self.stop.clone())
        })
    }

    /// Reports `Opened`, serves frames until the session ends, reports `Closed`.
    async fn run_session(&mut self, session: SessionId, peer: SocketAddr) {
        let opened = GatewayEvent::Opened { session, peer };
        if self.shared.events.send(opened).await.is_err() {
            self.shared.forget_session(session);
            return;
        }
        let end = loop {
            match self.next_frame(self.shared.config.idle_timeout).await {
                Next::Frame(frame) => {
                    if !self.dispatch(session, frame).await {
                        break End::Stopped;
                    }
                }
                Next::End(end) => break end,
            }
        };
        tracing::debug!(?session, %peer, ?end, "session ends");
        self.farewell(end);
        self.shared.forget_session(session);
        let _ = self
            .shared
            .events
            .send(GatewayEvent::Closed { session })
            .await;
    }

    /// Handles one frame of an open session; returns whether the session goes on.
    async fn dispatch(&self, session: SessionId, frame: ClientFrame) -> bool {
        let request_id = frame.request_id;
        match frame.body {
            None => {
                let message = "unknown message type";
                self.reply(error_frame(
                    request_id,
                    ErrorCode::UnexpectedMessage,
                    message,
                ))
            }
            Some(Body::Ping(ping)) => {
                let pong = Reply::Pong(Pong { nonce: ping.nonce });
                self.reply(ServerFrame {
                    request_id,
                    body: Some(pong),
                })
            }
            Some(Body::Hello(_)) => {
                let message = "Hello after the handshake";
                self.reply(error_frame(
                    request_id,
                    ErrorCode::UnexpectedMessage,
                    message,
                ))
            }
            Some(body) => {
                let frame = ClientFrame {
                    request_id,
                    body: Some(body),
                };
                self.forward(GatewayEvent::Frame { session, frame }).await
            }
        }
    }

    /// Sends an event to the owner, waiting while the channel is full (backpressure
    /// on this client) unless the connection stops meanwhile.
    async fn forward(&self, event: GatewayEvent) -> bool {
        tokio::select! {
            biased;
            () = self.stop.wait() => false,
            sent = self.shared.events.send(event) => sent.is_ok(),
        }
    }

    /// Queues a frame the gateway answers itself; false if the connection must end.
    fn reply(&self, frame: ServerFrame) -> bool {
        offer(&self.outbox, &self.stop, Outbound::Frame(frame))
    }

    /// Queues the last frame that explains `end` to the client, if it has one.
    fn farewell(&self, end: End) {
        let last = match end {
            End::Failed(error) => failure_reply(&error),
            End::ShuttingDown => Some(kicked(ErrorCode::ShuttingDown, "server shutting down")),
            End::TimedOut | End::Stopped => None,
        };
        if let Some(frame) = last {
            self.reply(frame);
        }
    }

    /// Lets the writer drain, then closes gracefully; a writer that failed, was
    /// stopped or does not drain in time leaves the socket to be dropped.
    async fn finish(self, writing: JoinHandle<Option<FrameWriter>>) {
        let Connection {
            reader,
            outbox,
            stop,
            ..
        } = self;
        drop(outbox);
        match tokio::time::timeout(CLOSE_LINGER_MAX, writing).await {
            Ok(Ok(Some(writer))) => close_gracefully(reader, writer).await,
            _ => stop.trigger(),
        }
    }
}

/// Decodes a client frame. An empty frame (zero bytes) is refused: it has no
/// request id an answer could carry, so it is a framing fault like any
/// undecodable frame, not a request.
fn decode(body: &[u8]) -> Result<ClientFrame, FrameError> {
    if body.is_empty() {
        return Err(FrameError::Empty);
    }
    Ok(ClientFrame::decode(body)?)
}

/// The typed error for a framing fault, or `None` when the client is gone anyway.
fn failure_reply(error: &FrameError) -> Option<ServerFrame> {
    let code = match error {
        FrameError::TooLarge { .. } => ErrorCode::FrameTooLarge,
        FrameError::Malformed(_) | FrameError::TextMessage | FrameError::Empty => {
            ErrorCode::MalformedFrame
        }
        FrameError::Closed | FrameError::Io(_) => return None,
    };
    Some(error_frame(0, code, error.to_string()))
}

/// A `Kicked` push: the connection is about to close, and why.
fn kicked(code: ErrorCode, message: &str) -> ServerFrame {
    let kicked = Kicked {
        code: code as i32,
        message: message.to_owned(),
    };
    ServerFrame {
        request_id: 0,
        body: Some(Reply::Kicked(kicked)),
    }
}

/// Writes queued frames in order until the outbox closes, a `Close` is queued,
/// the connection stops or the socket fails. Returns the write half for a graceful
/// close, or `None` when the socket should just be dropped.
async fn write_loop(
    mut writer: FrameWriter,
    mut queue: mpsc::Receiver<Outbound>,
    stop: Latch,
) -> Option<FrameWriter> {
    loop {
        let next = tokio::select! {
            biased;
            () = stop.wait() => return None,
            next = queue.recv() => next,
        };
        let frame = match next {
            Some(Outbound::Frame(frame)) => frame,
            Some(Outbound::Close) => {
                stop.trigger();
                return Some(writer);
            }
            None => return Some(writer),
        };
        let written = tokio::select! {
            biased;
            () = stop.wait() => return None,
            written = writer.write_message(&frame) => written,
        };
        if let Err(error) = written {
            tracing::debug!(%error, "write failed");
            stop.trigger();
            return None;
        }
    }
}
