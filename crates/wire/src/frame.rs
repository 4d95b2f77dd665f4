//! Length-prefixed frames: a big-endian `u32` byte length, then the message.
//!
//! A frame longer than the reader's cap is refused before its body is read, so a
//! peer cannot make us allocate more than the cap. The same messages travel over
//! WebSocket, one message per binary WebSocket message, with the same cap.
//!
//! With the `transport` feature, [`read_frame`], [`read_message`] and
//! [`write_message`] read and write these frames over any tokio stream, and the
//! `transport` module over either socket kind; without it, this module has no
//! async code and pulls no tokio.

use bytes::{Bytes, BytesMut};
use prost::Message;
#[cfg(feature = "transport")]
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[cfg(feature = "transport")]
pub mod transport;

/// Default largest frame body, in bytes, that a server accepts from a client.
pub const FRAME_BYTES_MAX: usize = 64 * 1024;

/// Most bytes reserved for a frame body before any of it has arrived.
#[cfg(feature = "transport")]
const BODY_FIRST_READ_BYTES: usize = 4096;

/// Bytes of the length prefix.
const PREFIX_BYTES: usize = 4;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer announced a frame longer than the cap.
    #[error("frame of {announced} bytes exceeds the cap of {cap} bytes")]
    TooLarge {
        /// Length the prefix announced.
        announced: usize,
        /// The reader's cap.
        cap: usize,
    },
    /// The bytes are not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(#[from] prost::DecodeError),
    /// A WebSocket text message arrived where a binary frame was expected.
    #[error("WebSocket text message where a binary frame was expected")]
    TextMessage,
    /// The frame decoded but carries no message body.
    #[error("frame has no body")]
    Empty,
    /// The connection closed cleanly between frames.
    #[error("connection closed")]
    Closed,
    /// The socket failed, or closed in the middle of a frame.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one length-prefixed frame body of at most `cap` bytes.
#[cfg(feature = "transport")]
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    cap: usize,
) -> Result<Bytes, FrameError> {
    let mut prefix = [0u8; PREFIX_BYTES];
    match reader.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(FrameError::Closed);
        }
        Err(error) => return Err(error.into()),
    }
    let announced = u32::from_be_bytes(prefix) as usize;
    if announced > cap {
        return Err(FrameError::TooLarge { announced, cap });
    }
    // Grow the buffer as the body arrives: a peer that announces a large
    // frame and sends nothing holds no more than a small buffer.
    let mut body = Vec::with_capacity(announced.min(BODY_FIRST_READ_BYTES));
    (&mut *reader)
        .take(announced as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < announced {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed inside a frame",
        );
        return Err(FrameError::Io(eof));
    }
    Ok(Bytes::from(body))
}

/// Reads and decodes one frame as message `M`.
#[cfg(feature = "transport")]
pub async fn read_message<M: Message + Default, R: AsyncRead + Unpin>(
    reader: &mut R,
    cap: usize,
) -> Result<M, FrameError> {
    let body = read_frame(reader, cap).await?;
    Ok(M::decode(body)?)
}

/// Encodes `message` as one frame: prefix and body in a single buffer.
pub fn encode_frame<M: Message>(message: &M) -> Bytes {
    let body_len = message.encoded_len();
    let mut buffer = BytesMut::with_capacity(PREFIX_BYTES + body_len);
    let prefix = u32::try_from(body_len).expect("a message is shorter than 4 GiB");
    buffer.extend_from_slice(&prefix.to_be_bytes());
    message
        .encode(&mut buffer)
        .expect("the buffer was sized for the message");
    buffer.freeze()
}

/// Writes `message` as one frame and flushes it.
#[cfg(feature = "transport")]
pub async fn write_message<M: Message, W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &M,
) -> std::io::Result<()> {
    writer.write_all(&encode_frame(message)).await?;
    writer.flush().await
}

#[cfg(all(test, feature = "transport"))]
mod tests {
    use super::*;
    use crate::client::{ClientFrame, Ping, client_frame::Body};

    #[tokio::test]
    async fn a_frame_round_trips() {
        let sent = ClientFrame {
            request_id: 7,
            body: Some(Body::Ping(Ping { nonce: 9 })),
        };
        let bytes = encode_frame(&sent);
        let received: ClientFrame = read_message(&mut &bytes[..], FRAME_BYTES_MAX)
            .await
            .unwrap();
        assert_eq!(received, sent);
    }

    #[tokio::test]
    async fn an_oversized_prefix_is_refused_before_reading_the_body() {
        let prefix = (FRAME_BYTES_MAX as u32 + 1).to_be_bytes();
        let error = read_frame(&mut &prefix[..], FRAME_BYTES_MAX)
            .await
            .unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_truncated_body_is_an_io_error_and_a_clean_close_is_closed() {
        let mut truncated = 10u32.to_be_bytes().to_vec();
        truncated.extend_from_slice(b"abc");
        let error = read_frame(&mut &truncated[..], FRAME_BYTES_MAX)
            .await
            .unwrap_err();
        assert!(matches!(error, FrameError::Io(_)), "{error}");
        let error = read_frame(&mut &[][..], FRAME_BYTES_MAX).await.unwrap_err();
        assert!(matches!(error, FrameError::Closed), "{error}");
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let mut frame = 3u32.to_be_bytes().to_vec();
        frame.extend_from_slice(&[0xff, 0xff, 0xff]);
        let error = read_message::<ClientFrame, _>(&mut &frame[..], FRAME_BYTES_MAX)
            .await
            .unwrap_err();
        assert!(matches!(error, FrameError::Malformed(_)), "{error}");
    }
}
