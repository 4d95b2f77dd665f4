//! Frames over client sockets: one reader and one writer type for both transports.
//!
//! On TCP a frame is the length-prefixed encoding of the parent module; on
//! WebSocket a frame is one binary message (no prefix), a text message is refused
//! as [`FrameError::TextMessage`], and the cap is enforced by tungstenite before
//! it buffers a frame (configure it with [`websocket_config`]) and checked again
//! here. Control messages (ping, pong) are answered by tungstenite and skipped.
//!
//! Both ends of the client protocol use these types: the gateway (server side)
//! and the client library. A connection is split into a [`FrameReader`] and a
//! [`FrameWriter`] so one task can read while another writes.

use super::{FrameError, encode_frame, read_frame};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use prost::Message;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

/// A WebSocket over a plain TCP stream, as both ends of the client protocol use it.
pub type WebSocket = WebSocketStream<TcpStream>;

/// The read half of a client connection.
pub struct FrameReader(ReadHalf);

/// The write half of a client connection.
pub struct FrameWriter(WriteHalf);

enum ReadHalf {
    Tcp(OwnedReadHalf),
    WebSocket(SplitStream<WebSocket>),
}

enum WriteHalf {
    Tcp(OwnedWriteHalf),
    WebSocket(SplitSink<WebSocket, WsMessage>),
}

/// Splits a TCP connection into a frame reader and a frame writer.
pub fn split_tcp(stream: TcpStream) -> (FrameReader, FrameWriter) {
    let (read, write) = stream.into_split();
    (
        FrameReader(ReadHalf::Tcp(read)),
        FrameWriter(WriteHalf::Tcp(write)),
    )
}

/// Splits an established WebSocket into a frame reader and a frame writer.
pub fn split_websocket(socket: WebSocket) -> (FrameReader, FrameWriter) {
    let (write, read) = socket.split();
    (
        FrameReader(ReadHalf::WebSocket(read)),
        FrameWriter(WriteHalf::WebSocket(write)),
    )
}

/// The WebSocket configuration that caps every message and frame at `cap` bytes,
/// so an oversized message is refused before it is buffered.
pub fn websocket_config(cap: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap))
}

impl FrameReader {
    /// Reads one frame body of at most `cap` bytes.
    pub async fn read_frame(&mut self, cap: usize) -> Result<Bytes, FrameError> {
        match &mut self.0 {
            ReadHalf::Tcp(read) => read_frame(read, cap).await,
            ReadHalf::WebSocket(read) => read_websocket_frame(read, cap).await,
        }
    }

    /// Reads and decodes one frame as message `M`.
    pub async fn read_message<M: Message + Default>(
        &mut self,
        cap: usize,
    ) -> Result<M, FrameError> {
        let body = self.read_frame(cap).await?;
        Ok(M::decode(body)?)
    }

    /// Reads and drops whatever the peer still sends until it closes or fails.
    ///
    /// Used after closing the write half, so that unread input does not make the
    /// kernel reset the connection before the peer has read the last frames. It
    /// ends only when the peer closes: the caller bounds it with a timeout.
    pub async fn discard_until_closed(&mut self) {
        match &mut self.0 {
            ReadHalf::Tcp(read) => {
                let _ = tokio::io::copy(read, &mut tokio::io::sink()).await;
            }
            ReadHalf::WebSocket(read) => while let Some(Ok(_)) = read.next().await {},
        }
    }
}

impl FrameWriter {
    /// Writes `message` as one frame and flushes it.
    pub async fn write_message<M: Message>(&mut self, message: &M) -> std::io::Result<()> {
        match &mut self.0 {
            WriteHalf::Tcp(write) => {
                write.write_all(&encode_frame(message)).await?;
                write.flush().await
            }
            WriteHalf::WebSocket(write) => {
                let body = Bytes::from(message.encode_to_vec());
                write
                    .send(WsMessage::Binary(body))
                    .await
                    .map_err(std::io::Error::other)
            }
        }
    }

    /// Closes the write direction: a TCP shutdown, or a WebSocket close message.
    pub async fn close(&mut self) -> std::io::Result<()> {
        match &mut self.0 {
            WriteHalf::Tcp(write) => write.shutdown().await,
            WriteHalf::WebSocket(write) => write.close().await.map_err(std::io::Error::other),
        }
    }
}

/// Reads WebSocket messages until one carries a frame. The loop only skips control
/// messages, which carry no frame; the caller's timeout bounds it.
async fn read_websocket_frame(
    read: &mut SplitStream<WebSocket>,
    cap: usize,
) -> Result<Bytes, FrameError> {
    loop {
        let message = match read.next().await {
            None => return Err(FrameError::Closed),
            Some(Err(error)) => return Err(websocket_error(error)),
            Some(Ok(message)) => message,
        };
        match message {
            WsMessage::Binary(body) if body.len() > cap => {
                return Err(FrameError::TooLarge {
                    announced: body.len(),
                    cap,
                });
            }
            WsMessage::Binary(body) => return Ok(body),
            WsMessage::Text(_) => return Err(FrameError::TextMessage),
            WsMessage::Close(_) => return Err(FrameError::Closed),
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
        }
    }
}

/// Maps a tungstenite read error onto the frame errors TCP gives for the same cause.
fn websocket_error(error: WsError) -> FrameError {
    match error {
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => FrameError::Closed,
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            FrameError::TooLarge {
                announced: size,
                cap: max_size,
            }
        }
        WsError::Utf8(_) => FrameError::TextMessage,
        WsError::Io(error) => FrameError::Io(error),
        other => FrameError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientFrame, Ping, client_frame::Body};
    use tokio::net::TcpListener;

    const CAP: usize = 1024;

    fn ping() -> ClientFrame {
        ClientFrame {
            request_id: 3,
            body: Some(Body::Ping(Ping { nonce: 4 })),
        }
    }

    async fn websocket_pair() -> (WebSocket, WebSocket) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let accept = async {
            let (stream, _) = listener.accept().await.unwrap();
            tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config(CAP)))
                .await
                .unwrap()
        };
        let connect = async {
            let stream = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let config = Some(websocket_config(CAP));
            let (socket, _) = tokio_tungstenite::client_async_with_config(url, stream, config)
                .await
                .unwrap();
            socket
        };
        tokio::join!(accept, connect)
    }

    #[tokio::test]
    async fn frames_round_trip_over_tcp_and_close_cleanly() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_, mut writer) = split_tcp(client);
        let (mut reader, _) = split_tcp(server);
        writer.write_message(&ping()).await.unwrap();
        writer.close().await.unwrap();
        let received: ClientFrame = reader.read_message(CAP).await.unwrap();
        assert_eq!(received, ping());
        let error = reader.read_frame(CAP).await.unwrap_err();
        assert!(matches!(error, FrameError::Closed), "{error}");
    }

    #[tokio::test]
    async fn websocket_frames_round_trip_and_text_and_oversize_are_refused() {
        let (server, client) = websocket_pair().await;
        let (mut reader, _) = split_websocket(server);
        let (_, mut writer) = split_websocket(client);
        writer.write_message(&ping()).await.unwrap();
        let received: ClientFrame = reader.read_message(CAP).await.unwrap();
        assert_eq!(received, ping());
        let FrameWriter(WriteHalf::WebSocket(sink)) = &mut writer else {
            unreachable!("a WebSocket writer")
        };
        sink.send(WsMessage::text("hello")).await.unwrap();
        let error = reader.read_frame(CAP).await.unwrap_err();
        assert!(matches!(error, FrameError::TextMessage), "{error}");
        let oversized = Bytes::from(vec![0u8; CAP + 1]);
        sink.send(WsMessage::Binary(oversized)).await.unwrap();
        let error = reader.read_frame(CAP).await.unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { .. }), "{error}");
    }
}
