//! Accept loops: admit a connection within `connections_max`, or refuse it with
//! `OVERLOADED` (counted: [`crate::Refusals`]); upgrade WebSocket connections
//! before framing starts.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use wire::client::{ErrorCode, ServerFrame};
use wire::frame::encode_frame;
use wire::frame::transport::{
    FrameReader, FrameWriter, split_tcp, split_websocket, websocket_config,
};

use crate::connection::{self, close_gracefully};
use crate::error_frame;
use crate::handle::{Shared, Slot};
use crate::limits::ACCEPT_RETRY_DELAY;

/// Which protocol a listener speaks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Transport {
    /// Length-prefixed frames on TCP.
    Tcp,
    /// One binary WebSocket message per frame.
    WebSocket,
}

/// Accepts connections until shutdown or until the owner drops the events.
pub(crate) async fn accept_loop(listener: TcpListener, transport: Transport, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = shared.shutdown.wait() => return,
            () = shared.events.closed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => admit(&shared, stream, peer, transport),
            Err(error) => {
                tracing::warn!(%error, ?transport, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
        }
    }
}

/// Serves an accepted socket, or refuses it when all connection places are taken.
fn admit(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr, transport: Transport) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, %peer, "TCP_NODELAY refused");
    }
    match shared.connections.try_take() {
        Some(slot) => {
            tokio::spawn(serve(shared.clone(), stream, peer, transport, slot));
        }
        None => refuse(shared, stream, transport),
    }
}

/// Upgrades and serves one connection; its place is held until it is done.
async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    _slot: Slot,
) {
    if let Some(halves) = upgrade(&shared, stream, transport).await {
        connection::serve(shared, halves, peer).await;
    }
}

/// Refuses a connection beyond `connections_max` with `Error{OVERLOADED}`
/// (docs/protocol.md, section 3), counted in [`crate::Refusals`].
///
/// On TCP the frame is written at once, without waiting (a fresh socket's
/// send buffer holds it), and then, within `refusals_inflight_max` refusals
/// at a time, a task of its own closes gracefully (reads until the client
/// closes, at most the handshake timeout), so the client reads the frame
/// before the close; beyond that bound the write side is shut and the socket
/// dropped. A WebSocket refusal needs its handshake first, so it is only
/// made within the bound; beyond it the socket is closed without a frame,
/// and counted so.
fn refuse(shared: &Arc<Shared>, stream: TcpStream, transport: Transport) {
    let frame = error_frame(0, ErrorCode::Overloaded, "too many connections");
    let slot = shared.refusals.try_take();
    let framed = match transport {
        Transport::Tcp => write_at_once(&stream, &frame),
        Transport::WebSocket => false,
    };
    let Some(slot) = slot else {
        shared.refusals_counted.record(framed);
        if let Ok(stream) = stream.into_std() {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        return;
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let limit = shared.config.handshake_timeout;
        let refusal = async {
            let (reader, mut writer) = upgrade(&shared, stream, transport).await?;
            if !framed {
                writer.write_message(&frame).await.ok()?;
            }
            Some((reader, writer))
        };
        let halves = tokio::time::timeout(limit, refusal).await.ok().flatten();
        shared.refusals_counted.record(framed || halves.is_some());
        if let Some((reader, writer)) = halves {
            let _ = tokio::time::timeout(limit, close_gracefully(reader, writer)).await;
        }
    });
}

/// Writes `frame` on a TCP socket without waiting; whether all of it went.
fn write_at_once(stream: &TcpStream, frame: &ServerFrame) -> bool {
    let bytes = encode_frame(frame);
    matches!(stream.try_write(&bytes), Ok(written) if written == bytes.len())
}

/// Turns an accepted socket into frame halves: at once for TCP, after the
/// WebSocket handshake (within the handshake timeout, with the frame cap) otherwise.
async fn upgrade(
    shared: &Shared,
    stream: TcpStream,
    transport: Transport,
) -> Option<(FrameReader, FrameWriter)> {
    match transport {
        Transport::Tcp => Some(split_tcp(stream)),
        Transport::WebSocket => {
            let config = Some(websocket_config(shared.config.frame_bytes_max));
            let handshake = tokio_tungstenite::accept_async_with_config(stream, config);
            match tokio::time::timeout(shared.config.handshake_timeout, handshake).await {
                Ok(Ok(socket)) => Some(split_websocket(socket)),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "WebSocket handshake failed");
                    None
                }
                Err(_) => None,
            }
        }
    }
}
