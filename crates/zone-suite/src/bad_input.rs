//! Bad input over real sockets gets a typed error (or a closed connection),
//! never a panic, and the server keeps serving everyone else.

use client::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{Authenticate, ClientFrame, EnterGame, ErrorCode, Hello, ServerFrame};
use wire::frame::{FRAME_BYTES_MAX, encode_frame, read_message};

use crate::helpers::*;
use crate::{TestZone, demo_zone};

/// Opens a raw TCP connection and does the handshake by hand.
async fn raw_connection(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let hello = ClientFrame {
        request_id: 1,
        body: Some(Body::Hello(Hello {
            protocol_version: wire::PROTOCOL_VERSION,
            client_name: "raw".into(),
        })),
    };
    stream.write_all(&encode_frame(&hello)).await.unwrap();
    let welcome: ServerFrame = read_message(&mut stream, FRAME_BYTES_MAX).await.unwrap();
    assert!(matches!(welcome.body, Some(Reply::Welcome(_))));
    stream
}

/// An `Authenticate` with a login token (`roleid` 0).
fn authenticate(token: &[u8]) -> Body {
    Body::Authenticate(Authenticate {
        token: token.to_vec(),
        roleid: 0,
    })
}

async fn error_code(stream: &mut TcpStream) -> ErrorCode {
    let frame: ServerFrame = read_message(stream, FRAME_BYTES_MAX).await.unwrap();
    match frame.body {
        Some(Reply::Error(error)) => ErrorCode::try_from(error.code).unwrap(),
        other => panic!("expected an error, got {other:?}"),
    }
}

async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte).await, Ok(0) | Err(_))
}

/// Malformed empty oversized and unknown frames get typed errors while others play.
pub async fn malformed_empty_oversized_and_unknown_frames_get_typed_errors_while_others_play<
    Z: TestZone,
>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut player) = register_and_enter(&zone, "steady").await;
    let gs1 = zone.game_addr("gs1");

    let mut malformed = raw_connection(&gs1).await;
    malformed
        .write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_eq!(error_code(&mut malformed).await, ErrorCode::MalformedFrame);
    assert!(is_closed(&mut malformed).await);

    let mut empty = raw_connection(&gs1).await;
    empty.write_all(&0u32.to_be_bytes()).await.unwrap();
    assert_eq!(error_code(&mut empty).await, ErrorCode::MalformedFrame);
    assert!(is_closed(&mut empty).await);

    let mut oversized = raw_connection(&gs1).await;
    oversized.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    assert_eq!(error_code(&mut oversized).await, ErrorCode::FrameTooLarge);
    assert!(is_closed(&mut oversized).await);

    let mut unknown = raw_connection(&gs1).await;
    // Field 999 of ClientFrame: a message type this server does not know.
    unknown
        .write_all(&[0, 0, 0, 4, 0xba, 0x3e, 0x01, 0x07])
        .await
        .unwrap();
    assert_eq!(error_code(&mut unknown).await, ErrorCode::UnexpectedMessage);

    assert_eq!(
        add_gold(&mut player, 1).await,
        1,
        "the server still serves others"
    );
    zone.shutdown().await;
}

/// Wrong passwords bad or reused tokens and unknown roles get typed errors.
pub async fn wrong_passwords_bad_or_reused_tokens_and_unknown_roles_get_typed_errors<
    Z: TestZone,
>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (login, mut player) = register_and_enter(&zone, "ivan").await;
    assert_eq!(
        code(client::account::login_password(&zone.account(), "ivan", "wrong").await),
        ErrorCode::BadCredentials
    );
    assert_eq!(
        code(client::account::login_password(&zone.account(), "nobody", "pw").await),
        ErrorCode::BadCredentials
    );

    let gs1 = zone.game_addr("gs1");
    let connection = Connection::connect_tcp(&gs1).await.unwrap();
    let bad = authenticate(&[7; 16]);
    assert_eq!(code(connection.request(bad).await), ErrorCode::BadToken);
    let short = authenticate(&[7; 3]);
    assert_eq!(code(connection.request(short).await), ErrorCode::BadToken);
    assert_eq!(
        code(connection.request(authenticate(&login.login_token)).await),
        ErrorCode::TokenUsed,
        "the token entered ivan already"
    );
    let enter = Body::EnterGame(EnterGame { roleid: 1_000_001 });
    assert_eq!(
        code(connection.request(enter).await),
        ErrorCode::NotAuthenticated
    );

    let fresh = client::account::login_password(&zone.account(), "ivan", "pw")
        .await
        .unwrap();
    assert_eq!(fresh.server.as_ref().unwrap().srvname, "gs1");
    let gs2 = zone.game_addr("gs2");
    let elsewhere = Connection::connect_tcp(&gs2).await.unwrap();
    assert_eq!(
        code(elsewhere.request(authenticate(&fresh.login_token)).await),
        ErrorCode::BadToken,
        "a login token is valid only at the server LoginOk names"
    );
    let connection = Connection::connect_tcp(&gs1).await.unwrap();
    connection
        .request(authenticate(&fresh.login_token))
        .await
        .unwrap();
    for unknown in [1_000_999, 9_000_001, 42] {
        let enter = Body::EnterGame(EnterGame { roleid: unknown });
        assert_eq!(
            code(connection.request(enter).await),
            ErrorCode::UnknownRole,
            "role {unknown}"
        );
    }
    assert_eq!(
        add_gold(&mut player, 2).await,
        2,
        "the server still serves others"
    );
    zone.shutdown().await;
}

/// A role of another account cannot be entered.
pub async fn a_role_of_another_account_cannot_be_entered<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, judy) = register_and_enter(&zone, "judy").await;
    let judy_role = judy.entered().player.as_ref().unwrap().roleid;
    judy.logoff().await.unwrap();
    let mallory = client::account::register(&zone.account(), "mallory", "pw")
        .await
        .unwrap();
    let server = mallory.server.clone().unwrap();
    let stolen =
        client::GameSession::enter(&server, &mallory.login_token, Some(judy_role), "x").await;
    assert_eq!(code(stolen.map(drop)), ErrorCode::NotYourRole);
    let again = client::account::login_password(&zone.account(), "judy", "pw")
        .await
        .unwrap();
    assert_eq!(
        again
            .roles
            .iter()
            .map(|role| role.roleid)
            .collect::<Vec<_>>(),
        [judy_role]
    );
    let judy = enter(&again, "judy").await;
    assert!(judy.is_ok(), "judy still enters her role: {:?}", judy.err());
    zone.shutdown().await;
}

/// Thousands of idle connections (each past its handshake) do not stop a
/// player (in process, the server also counts them).
pub async fn thousands_of_idle_connections_do_not_stop_a_player<Z: TestZone>() {
    const IDLE_CONNECTIONS: usize = 2_000;
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut player) = register_and_enter(&zone, "busy").await;
    let gs1 = zone.game_addr("gs1");
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        idle.push(raw_connection(&gs1).await);
    }
    if let Some(zone) = zone.in_process() {
        let status = zone.game("gs1").unwrap().status().await.unwrap();
        let connections = status.connections;
        assert!(connections > IDLE_CONNECTIONS, "{connections} connections");
    }
    for amount in 1..=20 {
        assert_eq!(add_gold(&mut player, amount).await, amount);
    }
    drop(idle);
    zone.shutdown().await;
}
