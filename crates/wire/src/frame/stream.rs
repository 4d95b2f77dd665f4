//! Frames over async byte streams (tokio): read one length-prefixed frame with
//! a cap, write one and flush.

use bytes::Bytes;
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{FrameError, PREFIX_BYTES, encode_frame};
use crate::limits::BODY_FIRST_READ_BYTES;

/// Reads one length-prefixed frame body of at most `cap` bytes.
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
pub async fn read_message<M: Message + Default, R: AsyncRead + Unpin>(
    reader: &mut R,
    cap: usize,
) -> Result<M, FrameError> {
    let body = read_frame(reader, cap).await?;
    Ok(M::decode(body)?)
}

/// Writes `message` as one frame and flushes it.
pub async fn write_message<M: Message, W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &M,
) -> std::io::Result<()> {
    writer.write_all(&encode_frame(message)).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientFrame, Ping, client_frame::Body};
    use crate::frame::FRAME_BYTES_MAX;

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
