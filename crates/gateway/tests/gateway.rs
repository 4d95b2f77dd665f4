//! The gateway over real loopback sockets: handshake, framing faults, limits,
//! owner sends and closes, WebSocket, and the `Opened`/`Closed` pairing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use gateway::{Gateway, GatewayConfig, GatewayEvent, SessionId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{ClientFrame, ErrorCode, Hello, Kicked, Login, Ping, Push, ServerFrame, push};
use wire::frame::FrameError;

/// Longest wait for anything a test expects to happen.
const WAIT: Duration = Duration::from_secs(5);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn config() -> GatewayConfig {
    GatewayConfig::new("gs-test", loopback(), Some(loopback()))
}

async fn start(config: GatewayConfig) -> Gateway {
    gateway::start(config).await.expect("gateway starts")
}

/// Largest frame a test client reads.
const CLIENT_FRAME_BYTES_MAX: usize = 1 << 20;

/// A test client speaking raw TCP frames.
struct Raw {
    stream: TcpStream,
}

impl Raw {
    async fn tcp(gateway: &Gateway) -> Self {
        let stream = TcpStream::connect(gateway.tcp_local_addr).await.unwrap();
        Self { stream }
    }

    async fn send(&mut self, request_id: u64, body: Body) {
        let frame = ClientFrame {
            request_id,
            body: Some(body),
        };
        wire::frame::write_message(&mut self.stream, &frame)
            .await
            .unwrap();
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn recv(&mut self) -> ServerFrame {
        let read = wire::frame::read_message(&mut self.stream, CLIENT_FRAME_BYTES_MAX);
        timeout(WAIT, read).await.expect("a frame in time").unwrap()
    }

    /// Sends `Hello` and returns the answer.
    async fn hello(&mut self, protocol_version: u32) -> ServerFrame {
        let hello = Hello {
            protocol_version,
            client_name: "test".into(),
        };
        self.send(1, Body::Hello(hello)).await;
        self.recv().await
    }

    async fn handshake(mut self) -> Self {
        let welcome = self.hello(wire::PROTOCOL_VERSION).await;
        assert!(
            matches!(welcome.body, Some(Reply::Welcome(_))),
            "{welcome:?}"
        );
        self
    }

    async fn ping(&mut self, request_id: u64, nonce: u64) {
        self.send(request_id, Body::Ping(Ping { nonce })).await;
        let pong = self.recv().await;
        assert_eq!(pong.request_id, request_id);
        assert!(matches!(pong.body, Some(Reply::Pong(p)) if p.nonce == nonce));
    }

    async fn expect_closed(&mut self) {
        let read = wire::frame::read_frame(&mut self.stream, CLIENT_FRAME_BYTES_MAX);
        let result = timeout(WAIT, read).await.expect("closed in time");
        assert!(matches!(result, Err(FrameError::Closed)), "{result:?}");
    }
}

fn error_code(frame: &ServerFrame) -> Option<ErrorCode> {
    match &frame.body {
        Some(Reply::Error(error)) => ErrorCode::try_from(error.code).ok(),
        _ => None,
    }
}

fn login() -> Body {
    Body::Login(Login { credential: None })
}

async fn next_event(gateway: &mut Gateway) -> GatewayEvent {
    let event = timeout(WAIT, gateway.events.recv())
        .await
        .expect("an event in time");
    event.expect("gateway alive")
}

async fn opened(gateway: &mut Gateway) -> SessionId {
    match next_event(gateway).await {
        GatewayEvent::Opened { session, .. } => session,
        other => panic!("expected Opened, got {other:?}"),
    }
}

async fn closed(gateway: &mut Gateway, expected: SessionId) {
    let event = next_event(gateway).await;
    assert_eq!(event, GatewayEvent::Closed { session: expected });
}

fn notice(text: &str) -> ServerFrame {
    let push = Push {
        push: Some(push::Push::Notice(text.into())),
    };
    ServerFrame {
        request_id: 0,
        body: Some(Reply::Push(push)),
    }
}

#[tokio::test]
async fn handshake_welcomes_and_reports_the_session() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await;
    let welcome = client.hello(wire::PROTOCOL_VERSION).await;
    assert_eq!(welcome.request_id, 1);
    let Some(Reply::Welcome(welcome)) = welcome.body else {
        panic!("expected Welcome, got {welcome:?}");
    };
    assert_eq!(welcome.protocol_version, wire::PROTOCOL_VERSION);
    assert_eq!(welcome.server_name, "gs-test");
    let GatewayEvent::Opened { peer, .. } = next_event(&mut gateway).await else {
        panic!("expected Opened");
    };
    assert_eq!(peer.ip(), gateway.tcp_local_addr.ip());
    assert_eq!(gateway.handle.connections(), 1);
}

#[tokio::test]
async fn a_wrong_version_or_a_first_frame_other_than_hello_is_refused() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await;
    let answer = client.hello(wire::PROTOCOL_VERSION + 1).await;
    assert_eq!(error_code(&answer), Some(ErrorCode::UnsupportedVersion));
    assert_eq!(answer.request_id, 1);
    client.expect_closed().await;

    let mut client = Raw::tcp(&gateway).await;
    client.send(5, login()).await;
    let answer = client.recv().await;
    assert_eq!(error_code(&answer), Some(ErrorCode::UnexpectedMessage));
    assert_eq!(answer.request_id, 5);
    client.expect_closed().await;
    assert!(gateway.events.try_recv().is_err(), "no session was opened");
}

#[tokio::test]
async fn no_hello_within_the_handshake_timeout_is_refused() {
    let mut config = config();
    config.handshake_timeout = Duration::from_millis(100);
    let gateway = start(config).await;
    let mut client = Raw::tcp(&gateway).await;
    let answer = client.recv().await;
    assert_eq!(error_code(&answer), Some(ErrorCode::UnexpectedMessage));
    client.expect_closed().await;
}

#[tokio::test]
async fn ping_is_answered_by_the_gateway_and_other_frames_are_forwarded() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    client.ping(7, 42).await;
    client.send(8, login()).await;
    let event = next_event(&mut gateway).await;
    let GatewayEvent::Frame {
        session: from,
        frame,
    } = event
    else {
        panic!("expected the Login frame, got {event:?}");
    };
    assert_eq!(from, session);
    assert_eq!(frame.request_id, 8);
    assert_eq!(frame.body, Some(login()));
}

#[tokio::test]
async fn malformed_bytes_are_answered_then_closed_while_another_connection_works() {
    let bytes = [0, 0, 0, 3, 0xff, 0xff, 0xff];
    refused_then_closed_while_another_works(config(), &bytes, ErrorCode::MalformedFrame).await;
}

/// Sends `bytes` on one connection, expects `code` and the close, and checks
/// that a second connection still gets its pong.
async fn refused_then_closed_while_another_works(
    config: GatewayConfig,
    bytes: &[u8],
    code: ErrorCode,
) {
    let mut gateway = start(config).await;
    let mut other = Raw::tcp(&gateway).await.handshake().await;
    opened(&mut gateway).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    client.send_bytes(bytes).await;
    let answer = client.recv().await;
    assert_eq!(error_code(&answer), Some(code));
    assert_eq!(answer.request_id, 0, "a framing error answers no request");
    client.expect_closed().await;
    closed(&mut gateway, session).await;
    other.ping(2, 3).await;
}

#[tokio::test]
async fn an_empty_frame_is_malformed_and_closes_while_another_connection_works() {
    let empty = 0u32.to_be_bytes();
    refused_then_closed_while_another_works(config(), &empty, ErrorCode::MalformedFrame).await;
}

#[tokio::test]
async fn an_empty_first_frame_is_malformed_and_opens_no_session() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await;
    client.send_bytes(&0u32.to_be_bytes()).await;
    let answer = client.recv().await;
    assert_eq!(error_code(&answer), Some(ErrorCode::MalformedFrame));
    assert_eq!(answer.request_id, 0);
    client.expect_closed().await;
    assert!(gateway.events.try_recv().is_err(), "no session was opened");
}

#[tokio::test]
async fn an_oversized_frame_is_refused_before_its_body_while_another_connection_works() {
    let mut config = config();
    config.frame_bytes_max = 100;
    // Only the prefix: the gateway must answer without waiting for the body.
    refused_then_closed_while_another_works(
        config,
        &101u32.to_be_bytes(),
        ErrorCode::FrameTooLarge,
    )
    .await;
}

#[tokio::test]
async fn an_unknown_message_type_is_answered_and_the_connection_stays() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    opened(&mut gateway).await;
    // request_id = 9 (field 1), then field 99 (a message type from a newer
    // protocol) as an empty length-delimited value.
    let body = [0x08, 9, 0x9a, 0x06, 0x00];
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    client.send_bytes(&frame).await;
    let answer = client.recv().await;
    assert_eq!(error_code(&answer), Some(ErrorCode::UnexpectedMessage));
    assert_eq!(answer.request_id, 9);
    client.ping(10, 11).await;
    assert!(gateway.events.try_recv().is_err(), "nothing forwarded");
}

#[tokio::test]
async fn the_owner_sends_and_closes_with_a_last_frame() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    gateway.handle.send(session, notice("hello"));
    assert_eq!(client.recv().await, notice("hello"));
    let kicked = ServerFrame {
        request_id: 0,
        body: Some(Reply::Kicked(Kicked {
            code: ErrorCode::LoggedInElsewhere as i32,
            message: "logged in elsewhere".into(),
        })),
    };
    gateway.handle.send(session, notice("before"));
    gateway.handle.close(session, Some(kicked.clone()));
    gateway
        .handle
        .send(session, notice("after the close: ignored"));
    assert_eq!(client.recv().await, notice("before"));
    assert_eq!(client.recv().await, kicked);
    client.expect_closed().await;
    closed(&mut gateway, session).await;
    gateway
        .handle
        .send(session, notice("unknown session: ignored"));
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let mut config = config();
    config.idle_timeout = Duration::from_millis(150);
    let mut gateway = start(config).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    client.expect_closed().await;
    closed(&mut gateway, session).await;
}

#[tokio::test]
async fn connections_beyond_the_maximum_are_refused_as_overloaded() {
    let mut config = config();
    config.connections_max = 1;
    let mut gateway = start(config).await;
    let mut first = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    let mut second = Raw::tcp(&gateway).await;
    let answer = second.recv().await;
    assert_eq!(error_code(&answer), Some(ErrorCode::Overloaded));
    second.expect_closed().await;
    assert_eq!(gateway.handle.connections(), 1);
    first.ping(2, 3).await;
    drop(first);
    closed(&mut gateway, session).await;
    wait_for_connections(&gateway, 0).await;
    Raw::tcp(&gateway).await.handshake().await;
}

/// With no graceful refusal affordable (`refusals_inflight_max` 0), a
/// refused TCP client still gets its `OVERLOADED` frame, and the refusal is
/// counted as framed; a refused WebSocket client is closed without one, and
/// counted so.
#[tokio::test]
async fn a_refused_connection_gets_its_frame_even_beyond_the_refusal_bound() {
    let mut config = config();
    config.connections_max = 1;
    config.refusals_inflight_max = 0;
    let mut gateway = start(config).await;
    let _first = Raw::tcp(&gateway).await.handshake().await;
    opened(&mut gateway).await;
    let mut refused = Raw::tcp(&gateway).await;
    let answer = refused.hello(wire::PROTOCOL_VERSION).await;
    assert_eq!(error_code(&answer), Some(ErrorCode::Overloaded));
    let framed = gateway::Refusals {
        with_frame: 1,
        without_frame: 0,
    };
    assert_eq!(gateway.handle.refusals(), framed);
    let url = format!("ws://{}", gateway.ws_local_addr.unwrap());
    let websocket = tokio_tungstenite::connect_async(url).await;
    assert!(websocket.is_err(), "closed before the WebSocket handshake");
    let counted = gateway::Refusals {
        without_frame: 1,
        ..framed
    };
    assert_eq!(gateway.handle.refusals(), counted);
}

async fn wait_for_connections(gateway: &Gateway, expected: usize) {
    let waiting = async {
        while gateway.handle.connections() != expected {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    timeout(WAIT, waiting)
        .await
        .expect("connection count in time");
}

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_when_its_outbox_fills() {
    let mut config = config();
    config.outbox_frames_max = 4;
    let mut gateway = start(config).await;
    let _client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    let big = notice(&"x".repeat(60_000));
    // The kernel's socket buffers absorb some frames first; the loop is bounded.
    for _ in 0..10_000 {
        gateway.handle.send(session, big.clone());
        tokio::task::yield_now().await;
        if let Ok(event) = gateway.events.try_recv() {
            assert_eq!(event, GatewayEvent::Closed { session });
            return;
        }
    }
    panic!("the session was never closed");
}

#[tokio::test]
async fn a_full_events_channel_makes_readers_wait_without_losing_frames() {
    let mut config = config();
    config.events_max = 1;
    let mut gateway = start(config).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    for request_id in 1..=20 {
        client.send(request_id, login()).await;
    }
    for request_id in 1..=20 {
        let event = next_event(&mut gateway).await;
        let GatewayEvent::Frame {
            session: from,
            frame,
        } = event
        else {
            panic!("expected a frame, got {event:?}");
        };
        assert_eq!((from, frame.request_id), (session, request_id));
    }
}

#[tokio::test]
async fn shutdown_kicks_every_session_and_stops_accepting() {
    let mut gateway = start(config()).await;
    let mut client = Raw::tcp(&gateway).await.handshake().await;
    let session = opened(&mut gateway).await;
    gateway.handle.shutdown();
    let kicked = client.recv().await;
    let Some(Reply::Kicked(kicked)) = kicked.body else {
        panic!("expected Kicked, got {kicked:?}");
    };
    assert_eq!(kicked.code, ErrorCode::ShuttingDown as i32);
    client.expect_closed().await;
    drop(client);
    closed(&mut gateway, session).await;
    wait_for_connections(&gateway, 0).await;
    let refused = async {
        while TcpStream::connect(gateway.tcp_local_addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    timeout(WAIT, refused).await.expect("the listener closes");
}

#[tokio::test]
async fn closed_is_reported_exactly_once_however_a_session_ends() {
    let mut config = config();
    config.idle_timeout = Duration::from_millis(300);
    let mut gateway = start(config).await;
    let mut sessions = BTreeMap::new();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Raw::tcp(&gateway).await.handshake().await);
        sessions.insert(opened(&mut gateway).await, 0);
    }
    let ids: Vec<SessionId> = sessions.keys().copied().collect();
    // One hangs up, one sends garbage, one is closed by the owner twice, one idles.
    drop(clients.remove(0));
    clients[0].send_bytes(&[0, 0, 0, 1, 0xff]).await;
    gateway.handle.close(ids[2], None);
    gateway.handle.close(ids[2], None);
    while sessions.values().any(|count| *count == 0) {
        match next_event(&mut gateway).await {
            GatewayEvent::Closed { session } => *sessions.get_mut(&session).unwrap() += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(gateway.events.try_recv().is_err(), "no second Closed");
    assert!(sessions.values().all(|count| *count == 1));
}

/// A WebSocket test client.
type WebSocket = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn websocket(gateway: &Gateway) -> WebSocket {
    let addr = gateway.ws_local_addr.expect("a WebSocket listener");
    let stream = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}/");
    let (socket, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    socket
}

async fn ws_send(socket: &mut WebSocket, request_id: u64, body: Body) {
    let frame = ClientFrame {
        request_id,
        body: Some(body),
    };
    let bytes = Bytes::from(wire::Message::encode_to_vec(&frame));
    socket.send(WsMessage::Binary(bytes)).await.unwrap();
}

/// The next frame, or `None` once the server closed the WebSocket.
async fn ws_recv(socket: &mut WebSocket) -> Option<ServerFrame> {
    loop {
        let message = timeout(WAIT, socket.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(WsMessage::Binary(bytes))) => {
                return Some(wire::Message::decode(bytes).unwrap());
            }
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

async fn ws_handshake(gateway: &Gateway) -> WebSocket {
    let mut socket = websocket(gateway).await;
    let hello = Hello {
        protocol_version: wire::PROTOCOL_VERSION,
        client_name: "ws".into(),
    };
    ws_send(&mut socket, 1, Body::Hello(hello)).await;
    let welcome = ws_recv(&mut socket).await.expect("Welcome");
    assert!(
        matches!(welcome.body, Some(Reply::Welcome(_))),
        "{welcome:?}"
    );
    socket
}

#[tokio::test]
async fn websocket_carries_the_same_flow() {
    let mut gateway = start(config()).await;
    let mut socket = ws_handshake(&gateway).await;
    let session = opened(&mut gateway).await;
    ws_send(&mut socket, 2, Body::Ping(Ping { nonce: 5 })).await;
    let pong = ws_recv(&mut socket).await.expect("Pong");
    assert!(matches!(pong.body, Some(Reply::Pong(p)) if p.nonce == 5));
    ws_send(&mut socket, 3, login()).await;
    let event = next_event(&mut gateway).await;
    assert!(matches!(event, GatewayEvent::Frame { frame, .. } if frame.request_id == 3));
    gateway.handle.send(session, notice("over ws"));
    assert_eq!(ws_recv(&mut socket).await, Some(notice("over ws")));
    socket.send(WsMessage::text("not a frame")).await.unwrap();
    let answer = ws_recv(&mut socket).await.expect("an error");
    assert_eq!(error_code(&answer), Some(ErrorCode::MalformedFrame));
    assert_eq!(ws_recv(&mut socket).await, None);
    closed(&mut gateway, session).await;
}

#[tokio::test]
async fn websocket_refuses_an_empty_message_as_malformed_and_closes() {
    let mut gateway = start(config()).await;
    let mut socket = ws_handshake(&gateway).await;
    let session = opened(&mut gateway).await;
    socket.send(WsMessage::Binary(Bytes::new())).await.unwrap();
    let answer = ws_recv(&mut socket).await.expect("an error");
    assert_eq!(error_code(&answer), Some(ErrorCode::MalformedFrame));
    assert_eq!(answer.request_id, 0);
    assert_eq!(ws_recv(&mut socket).await, None);
    closed(&mut gateway, session).await;
}

#[tokio::test]
async fn websocket_refuses_an_oversized_message() {
    let mut config = config();
    config.frame_bytes_max = 100;
    let mut gateway = start(config).await;
    let mut socket = ws_handshake(&gateway).await;
    let session = opened(&mut gateway).await;
    let oversized = Bytes::from(vec![0u8; 101]);
    socket.send(WsMessage::Binary(oversized)).await.unwrap();
    let answer = ws_recv(&mut socket).await.expect("an error");
    assert_eq!(error_code(&answer), Some(ErrorCode::FrameTooLarge));
    assert_eq!(ws_recv(&mut socket).await, None);
    closed(&mut gateway, session).await;
}
