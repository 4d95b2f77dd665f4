//! Length-prefixed frames: a big-endian `u32` byte length, then the message.
//!
//! A frame longer than the reader's cap is refused before its body is read, so a
//! peer cannot make us allocate more than the cap. The same messages travel over
//! WebSocket, one message per binary WebSocket message, with the same cap.
//!
//! With the `transport` feature (which brings tokio), frames are read from and
//! written to async streams, and the `transport` module reads and writes them
//! over either socket kind; without it this module is pure.

use bytes::{Bytes, BytesMut};
use prost::Message;

#[cfg(feature = "transport")]
mod stream;
#[cfg(feature = "transport")]
pub mod transport;

#[cfg(feature = "transport")]
pub use stream::{read_frame, read_message, write_message};

pub use crate::limits::FRAME_BYTES_MAX;
use crate::limits::PREFIX_BYTES;

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
    /// The frame is zero bytes long: it carries neither a request id nor a
    /// message. The gateway refuses it as malformed.
    #[error("empty frame: no request id and no message")]
    Empty,
    /// The connection closed cleanly between frames.
    #[error("connection closed")]
    Closed,
    /// The socket failed, or closed in the middle of a frame.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
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
