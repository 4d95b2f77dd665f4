//! Crossing servers over real sockets (DESIGN §6; seed "Cross-server flows"):
//! every seed flow with the data center's current server (and, in process,
//! the kuafu marks) checked after each step, the typed refusals, and the
//! failures of §6 a crash or a lost client makes.

use std::time::Duration;

use wire::client::ErrorCode;
use wire::client::client_frame::Body;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Reply;
use wire::client::{GameCall, GoServer, LevelUp};

use crate::embedded::expect_mark_in_process;
use crate::helpers::*;
use crate::{TestZone, fast_zone};

/// A `go_server` call to `srvname`, as a raw request body.
pub fn go_server(srvname: &str) -> Body {
    Body::Call(GameCall {
        call: Some(Call::GoServer(GoServer {
            srvname: srvname.into(),
        })),
    })
}

/// Every seed flow moves the player and keeps the data center's record of
/// where it is right (in process, also the home server's kuafu marks).
pub async fn every_seed_flow_moves_the_player_and_keeps_routing_right<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut c) = register_and_enter(&zone, "c").await;
    let roleid = c.entered().player.as_ref().unwrap().roleid;
    add_gold(&mut c, 10).await;
    expect_current(&zone, roleid, "gs1", true).await;

    // C goes from HS (gs1) to GS1 (gs2).
    let entered = c.go_server("gs2").await.unwrap();
    assert_eq!(
        (entered.srvname.as_str(), entered.home_srvname.as_str()),
        ("gs2", "gs1")
    );
    assert_eq!(
        entered.context.unwrap().home_server_level,
        10,
        "player_data: the home server's level"
    );
    assert_eq!(
        entered.player.unwrap().gold,
        10,
        "saved before the redirect, loaded on the target"
    );
    expect_mark_in_process(&zone, "gs1", roleid, Some("gs2")).await;
    expect_current(&zone, roleid, "gs2", true).await;
    add_gold(&mut c, 5).await;

    // C goes from GS1 (gs2) to GS2 (gs3).
    let entered = c.go_server("gs3").await.unwrap();
    assert_eq!(entered.player.unwrap().gold, 15);
    assert_eq!(entered.home_srvname, "gs1");
    expect_mark_in_process(&zone, "gs1", roleid, Some("gs3")).await;
    expect_current(&zone, roleid, "gs3", true).await;

    // C comes back from GS2 (gs3) to HS (gs1): the mark is deleted.
    let entered = c.go_home().await.unwrap();
    assert_eq!(entered.srvname, "gs1");
    expect_mark_in_process(&zone, "gs1", roleid, None).await;
    expect_current(&zone, roleid, "gs1", true).await;

    // C goes out again and logs off at gs2: the mark goes (Left, or the heartbeat).
    c.go_server("gs2").await.unwrap();
    expect_mark_in_process(&zone, "gs1", roleid, Some("gs2")).await;
    c.logoff().await.unwrap();
    expect_mark_in_process(&zone, "gs1", roleid, None).await;
    expect_current(&zone, roleid, "gs2", false).await;

    // Logging in again lands home, with everything kept.
    let mut c = relogin(&zone, "c").await;
    assert_eq!(c.current_srvname(), "gs1");
    assert_eq!(gold(&mut c).await, 15);
    zone.shutdown().await;
}

/// Refused crossings get typed errors and leave the player where it was.
pub async fn refused_crossings_get_typed_errors_and_leave_the_player_where_it_was<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut d) = register_and_enter(&zone, "d").await;
    add_gold(&mut d, 3).await;
    assert_eq!(code(d.go_server("gs9").await), ErrorCode::UnknownServer);
    assert_eq!(code(d.go_server("gs1").await), ErrorCode::AlreadyThere);
    assert_eq!(code(d.go_home().await), ErrorCode::AlreadyThere);
    zone.kill_game("gs3").await;
    assert_eq!(code(d.go_server("gs3").await), ErrorCode::ServerDown);
    assert_eq!(gold(&mut d).await, 3, "still playing on gs1");

    // Two crossings at once on one connection: the second is refused.
    let connection = d.connection();
    let (first, second) = tokio::join!(
        connection.request(go_server("gs2")),
        connection.request(go_server("gs2"))
    );
    let refused = [&first, &second]
        .iter()
        .filter(|reply| {
            matches!(
                reply,
                Err(client::ClientError::Server {
                    code: ErrorCode::CrossingInProgress,
                    ..
                })
            )
        })
        .count();
    let redirected = [&first, &second]
        .iter()
        .filter(|reply| matches!(reply, Ok(Reply::Redirect(_))))
        .count();
    assert_eq!((refused, redirected), (1, 1), "{first:?} / {second:?}");
    zone.shutdown().await;
}

/// A client that never arrives goes home on its next login.
pub async fn a_client_that_never_arrives_goes_home_on_its_next_login<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut e) = register_and_enter(&zone, "e").await;
    add_gold(&mut e, 8).await;
    let redirect = redirect_to(&e, "gs2").await;
    drop(e); // the client never connects to gs2

    tokio::time::sleep(Duration::from_millis(1_200)).await; // the token (1 s) expires
    let gs2 = zone.game_addr("gs2");
    let late = client::Connection::connect_tcp(&gs2).await.unwrap();
    let authenticate = Body::Authenticate(wire::client::Authenticate {
        token: redirect.token,
        roleid: redirect.roleid,
    });
    let refused = code(late.request(authenticate).await);
    assert!(
        matches!(refused, ErrorCode::TokenExpired | ErrorCode::BadToken),
        "{refused:?}"
    );

    // The data center last placed e on gs1 (only an arrival moves it) and
    // gs1 is e's home: the next login goes there, once the handoff lapses.
    let mut e = relogin(&zone, "e").await;
    assert_eq!(e.current_srvname(), "gs1", "home");
    assert_eq!(gold(&mut e).await, 8, "the handoff's save");
    zone.shutdown().await;
}

/// Asks to cross to `srvname` and returns the redirect, without following it.
async fn redirect_to(session: &client::GameSession, srvname: &str) -> wire::client::Redirect {
    match session.connection().request(go_server(srvname)).await {
        Ok(Reply::Redirect(redirect)) => redirect,
        other => panic!("a redirect: {other:?}"),
    }
}

/// A crossing token presented for another role still admits its own.
pub async fn a_crossing_token_presented_for_another_role_still_admits_its_own<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, k) = register_and_enter(&zone, "k").await;
    let redirect = redirect_to(&k, "gs2").await;
    drop(k);
    let gs2 = zone.game_addr("gs2");
    let connection = client::Connection::connect_tcp(&gs2).await.unwrap();
    let authenticate = |roleid| {
        Body::Authenticate(wire::client::Authenticate {
            token: redirect.token.clone(),
            roleid,
        })
    };
    let wrong = connection.request(authenticate(redirect.roleid + 1)).await;
    assert_eq!(code(wrong), ErrorCode::BadToken);
    let admitted = connection.request(authenticate(redirect.roleid)).await;
    assert!(
        matches!(admitted, Ok(Reply::Authenticated(_))),
        "{admitted:?}"
    );
    let enter = Body::EnterGame(wire::client::EnterGame {
        roleid: redirect.roleid,
    });
    let entered = connection.request(enter).await;
    assert!(matches!(entered, Ok(Reply::Entered(_))), "{entered:?}");
    zone.shutdown().await;
}

/// A login after an abandoned crossing names the server the data center last placed it on.
pub async fn a_login_after_an_abandoned_crossing_names_the_server_the_data_center_last_placed_it_on<
    Z: TestZone,
>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut m) = register_and_enter(&zone, "m").await;
    let roleid = m.entered().player.as_ref().unwrap().roleid;
    m.go_server("gs2").await.unwrap();
    add_gold(&mut m, 4).await;
    expect_current(&zone, roleid, "gs2", true).await;
    let Ok(Reply::Redirect(_)) = m.connection().request(go_server("gs3")).await else {
        panic!("a redirect")
    };
    drop(m); // the client never connects to gs3

    // Only an arrival moves the data center's record: it still places m on
    // gs2, the crossing's source, so the account center names gs2 (not the
    // home, gs1), and gs2 takes the player back once the handoff lapses.
    let login = client::account::login_password(&zone.account(), "m", "pw")
        .await
        .unwrap();
    assert_eq!(login.server.unwrap().srvname, "gs2");
    let mut m = relogin(&zone, "m").await;
    assert_eq!(m.current_srvname(), "gs2");
    assert_eq!(gold(&mut m).await, 4, "the handoff's save");
    zone.shutdown().await;
}

/// A target that dies after arrival frees the player (in process, the
/// home's heartbeat also deletes its kuafu mark).
pub async fn a_target_that_dies_after_arrival_frees_the_player<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut g) = register_and_enter(&zone, "g").await;
    let roleid = g.entered().player.as_ref().unwrap().roleid;
    g.go_server("gs2").await.unwrap();
    add_gold(&mut g, 30).await;
    expect_mark_in_process(&zone, "gs1", roleid, Some("gs2")).await;
    expect_saved_gold(&zone, roleid, 30).await; // saved by gs2
    zone.kill_game("gs2").await;

    // The home's heartbeat misses three times and deletes the mark.
    expect_mark_in_process(&zone, "gs1", roleid, None).await;
    // The lease runs out; g logs in elsewhere (gs2 is down) and keeps its gold.
    let mut g = relogin(&zone, "g").await;
    assert_ne!(g.current_srvname(), "gs2");
    assert_eq!(gold(&mut g).await, 30);
    zone.shutdown().await;
}

/// A read only copy shows an away player and its owner.
pub async fn a_read_only_copy_shows_an_away_player_and_its_owner<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut k) = register_and_enter(&zone, "k").await;
    let roleid = roleid_of(&k);
    add_gold(&mut k, 9).await;
    k.go_server("gs2").await.unwrap();
    let copy = zone.load_readonly(roleid).await.unwrap();
    assert_eq!(copy.data.gold, 9, "the handoff's save");
    let ownership::Holder::Held(owner) = &copy.ownership.holder else {
        panic!("{:?}", copy.ownership)
    };
    assert_eq!(owner.node, "gs2", "the one writable copy is on gs2");
    zone.shutdown().await;
}

/// A source that dies before the handoff leaves the last save (a stall of
/// the target holds the crossing frozen while the source is killed).
pub async fn a_source_that_dies_before_the_handoff_leaves_the_last_save<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut f) = register_and_enter(&zone, "f").await;
    let roleid = roleid_of(&f);
    add_gold(&mut f, 20).await;
    expect_saved_gold(&zone, roleid, 20).await;

    // gs2 stalls, so gs1's Prepare goes unanswered: f is frozen, crossing,
    // and nothing is handed off yet when gs1 dies.
    zone.stall("gs2", Duration::from_millis(1_000)).await;
    let connection = f.connection();
    let crossing = connection.request(go_server("gs2"));
    let kill_while_frozen = async {
        eventually("f to be frozen by its crossing", || async {
            let refused = connection.request(Body::Call(GameCall {
                call: Some(Call::LevelUp(LevelUp {})),
            }));
            let frozen = matches!(
                refused.await,
                Err(client::ClientError::Server {
                    code: ErrorCode::CrossingInProgress,
                    ..
                })
            );
            frozen.then_some(())
        })
        .await;
        zone.kill_game("gs1").await;
    };
    let (crossed, ()) = tokio::join!(crossing, kill_while_frozen);
    assert!(
        crossed.is_err(),
        "the source died mid-crossing: {crossed:?}"
    );

    zone.restart_game("gs1").await;
    let mut f = relogin(&zone, "f").await;
    assert_eq!(f.current_srvname(), "gs1", "the crossing never happened");
    assert_eq!(gold(&mut f).await, 20, "the last save");
    zone.shutdown().await;
}
