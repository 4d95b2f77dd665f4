//! Accept loops: admit a connection within `connections_max`, or refuse it with
//! `OVERLOADED`; upgrade WebSocket connections before framing starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use wire::client::ErrorCode;
use wire::frame::transport::{
    FrameReader, FrameWriter, split_tcp, split_websocket, websocket_config,
};

use crate::connection::{self, close_gracefully};
use crate::error_frame;
use crate::handle::{Shared, Slot};

/// Pause after a failed accept (out of file descriptors, for example), so the loop
/// does not spin while the condition lasts.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

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

/// Answers `OVERLOADED` and closes, all within the handshake timeout, in a task of
/// its own counted against `REFUSALS_INFLIGHT_MAX`.
fn refuse(shared: &Arc<Shared>, stream: TcpStream, transport: Transport) {
    let Some(slot) = shared.refusals.try_take() else {
        return;
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let limit = shared.config.handshake_timeout;
        let refusal = async {
            let (reader, mut writer) = upgrade(&shared, stream, transport).await?;
            let frame = error_frame(0, ErrorCode::Overloaded, "too many connections");
            writer.write_message(&frame).await.ok()?;
            close_gracefully(reader, writer).await;
            Some(())
        };
        let _ = tokio::time::timeout(limit, refusal).await;
    });
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
