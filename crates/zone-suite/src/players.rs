//! Players over real sockets (issue "a whole zone on one machine"):
//! register, log in without choosing a server, enter, play, log off and back
//! in, a second login kicking the first, horns across servers, WebSocket,
//! fights on the battle server, the levels a login lists.

use wire::client::client_frame::Body;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Reply;
use wire::client::{AddItem, Authenticate, ErrorCode, LevelUp, ListRoles, LoginOk, RoleSummary};

use crate::helpers::*;
use crate::{TestZone, demo_zone};

/// A new player registers enters the recommended server and plays.
pub async fn a_new_player_registers_enters_the_recommended_server_and_plays<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let login = client::account::register(&zone.account(), "alice", "pw")
        .await
        .unwrap();
    let server = login.server.clone().unwrap();
    assert_eq!(
        server.srvname, "gs1",
        "no selection step: the recommended server"
    );
    assert!(login.roles.is_empty());
    let mut session = enter(&login, "Alice").await.unwrap();
    let player = session.entered().player.clone().unwrap();
    assert_eq!(player.roleid, 1_000_001, "srvno 1, first sequence number");
    assert_eq!(session.home_srvname(), "gs1");

    assert_eq!(
        add_gold(&mut session, 10).await,
        10,
        "the seed's addgold(10, \"test:rpc\")"
    );
    assert_eq!(
        spend_gold(&mut session, 4)
            .await
            .unwrap()
            .player
            .unwrap()
            .gold,
        6
    );
    assert_eq!(
        code(spend_gold(&mut session, 7).await),
        ErrorCode::InsufficientGold
    );
    let items = call(
        &mut session,
        Call::AddItem(AddItem {
            item_type: 105_001,
            count: 10,
            reason: "test:rpc".into(),
        }),
    );
    let items = items.await.unwrap().player.unwrap().items;
    assert_eq!((items[0].item_type, items[0].count), (105_001, 10));
    let level = call(&mut session, Call::LevelUp(LevelUp {}))
        .await
        .unwrap()
        .player
        .unwrap()
        .level;
    assert_eq!(level, 2);
    assert_eq!(
        gold(&mut session).await,
        6,
        "a refused spend changed nothing"
    );
    zone.shutdown().await;
}

/// Logoff and login again keep the player.
pub async fn logoff_and_login_again_keep_the_player<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut session) = register_and_enter(&zone, "bob").await;
    add_gold(&mut session, 25).await;
    session.logoff().await.unwrap();

    let login = client::account::login_password(&zone.account(), "bob", "pw")
        .await
        .unwrap();
    assert_eq!(login.roles.len(), 1, "the account center lists the role");
    assert_eq!(
        login.server.as_ref().unwrap().srvname,
        "gs1",
        "the role's home"
    );
    let mut session = enter(&login, "bob").await.unwrap();
    assert_eq!(gold(&mut session).await, 25);
    zone.shutdown().await;
}

/// A second login kicks the first connection and finds the same live copy
/// (in process, the servers' counters also show one player online).
pub async fn a_second_login_kicks_the_first_connection<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut first) = register_and_enter(&zone, "carol").await;
    add_gold(&mut first, 7).await;

    let login = client::account::login_password(&zone.account(), "carol", "pw")
        .await
        .unwrap();
    let mut second = enter(&login, "carol").await.unwrap();
    assert_eq!(
        gold(&mut second).await,
        7,
        "the same live copy, not a reload"
    );
    assert_eq!(
        kicked_code(first.call(Call::LevelUp(LevelUp {})).await),
        ErrorCode::LoggedInElsewhere
    );
    if let Some(zone) = zone.in_process() {
        let statuses = zone.status().await;
        let online: usize = statuses.iter().map(|status| status.online).sum();
        assert_eq!(online, 1, "one live copy in the zone");
    }
    zone.shutdown().await;
}

/// A horn reaches players on every server of the zone.
pub async fn a_horn_reaches_players_on_every_server_of_the_zone<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, alice) = register_and_enter(&zone, "hornalice").await;
    let (_, mut bob) = register_and_enter(&zone, "hornbob").await;
    bob.go_server("gs3").await.unwrap();
    alice.horn("team up at the bridge").await.unwrap();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let push = bob.pushes().recv().await.expect("pushes while connected");
            if let Some(wire::client::server_frame::Body::HornHeard(heard)) = push.body {
                return heard;
            }
        }
    });
    let heard = heard.await.expect("bob hears the horn on another server");
    assert_eq!(
        (heard.from_name.as_str(), heard.text.as_str()),
        ("hornalice", "team up at the bridge")
    );
    assert_eq!(
        code(alice.horn("again").await),
        ErrorCode::RateLimited,
        "one horn per second"
    );
    zone.shutdown().await;
}

/// The same messages work over websocket.
pub async fn the_same_messages_work_over_websocket<Z: TestZone>() {
    use wire::client::{CreateRole, EnterGame, Login, Register, login::Credential};

    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let account_ws = zone.account_ws();
    let connection = client::Connection::connect_ws(&account_ws).await.unwrap();
    let register = Body::Register(Register {
        account: "wsuser".into(),
        password: "pw".into(),
    });
    assert!(matches!(
        connection.request(register).await.unwrap(),
        Reply::LoginOk(_)
    ));
    let device = Body::Login(Login {
        credential: Some(Credential::DeviceId("phone-42".into())),
    });
    let Reply::LoginOk(login) = connection.request(device).await.unwrap() else {
        panic!("LoginOk")
    };

    let server = login.server.unwrap();
    let game = client::Connection::connect_ws(&server.ws_addr)
        .await
        .unwrap();
    let authenticate = Body::Authenticate(Authenticate {
        token: login.login_token,
        roleid: 0,
    });
    assert!(matches!(
        game.request(authenticate).await.unwrap(),
        Reply::Authenticated(_)
    ));
    let Reply::RoleCreated(created) = game
        .request(Body::CreateRole(CreateRole {
            name: "Phone".into(),
        }))
        .await
        .unwrap()
    else {
        panic!("RoleCreated")
    };
    let roleid = created.role.unwrap().roleid;
    let Reply::Entered(entered) = game
        .request(Body::EnterGame(EnterGame { roleid }))
        .await
        .unwrap()
    else {
        panic!("Entered")
    };
    assert_eq!(entered.srvname, "gs1");
    zone.shutdown().await;
}

/// Fights run on the battle server and wins pay gold.
pub async fn fights_run_on_the_battle_server_and_wins_pay_gold<Z: TestZone>() {
    use wire::client::Fight;
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut lena) = register_and_enter(&zone, "lena").await;
    level_up(&mut lena, 20).await;
    let win = call(&mut lena, Call::Fight(Fight { monster_level: 1 }))
        .await
        .unwrap();
    assert_eq!(
        (win.applied, win.player.unwrap().gold),
        (10, 10),
        "level 21 always beats level 1"
    );
    let loss = call(
        &mut lena,
        Call::Fight(Fight {
            monster_level: 1000,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        (loss.applied, loss.player.unwrap().gold),
        (0, 10),
        "level 1000 always wins"
    );
    let refused = call(&mut lena, Call::Fight(Fight { monster_level: 0 })).await;
    assert_eq!(code(refused), ErrorCode::BadArgument);
    zone.shutdown().await;
}

/// What the game server `login` names lists for the account (`ListRoles`),
/// entered with the login's token.
async fn roles_listed_by_the_game_server(login: &LoginOk) -> Vec<RoleSummary> {
    let server = login.server.as_ref().expect("a login names the server");
    let connection = client::Connection::connect_tcp(&server.tcp_addr)
        .await
        .unwrap();
    let authenticate = Body::Authenticate(Authenticate {
        token: login.login_token.clone(),
        roleid: 0,
    });
    connection.request(authenticate).await.unwrap();
    match connection.request(Body::ListRoles(ListRoles {})).await {
        Ok(Reply::RoleList(list)) => list.roles,
        other => panic!("expected a role list, got {other:?}"),
    }
}

/// Levels up `session`'s player `times` times.
async fn level_up(session: &mut client::GameSession, times: u32) {
    for _ in 0..times {
        call(session, Call::LevelUp(LevelUp {})).await.unwrap();
    }
}

/// A login lists the level list roles shows after a level up and logoff.
pub async fn a_login_lists_the_level_list_roles_shows_after_a_level_up_and_logoff<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut session) = register_and_enter(&zone, "ivy").await;
    level_up(&mut session, 2).await;
    session.logoff().await.unwrap();
    // The release and its note to the account center finish after the
    // connection closes: wait for them, as a client logging in again would.
    let roles = eventually("the login to list the role at level 3", || async {
        let login = client::account::login_password(&zone.account(), "ivy", "pw")
            .await
            .unwrap();
        let listed = roles_listed_by_the_game_server(&login).await;
        (login.roles == listed && listed.first()?.level == 3).then_some(listed)
    })
    .await;
    assert_eq!(roles.len(), 1);
    zone.shutdown().await;
}

/// A login lists the level a role crossed with and then logged off with.
pub async fn a_login_lists_the_level_a_role_crossed_with_and_then_logged_off_with<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut session) = register_and_enter(&zone, "jack").await;
    level_up(&mut session, 1).await;
    let entered = session.go_server("gs2").await.unwrap();
    let crossed_level = entered.player.unwrap().level;
    assert_eq!(crossed_level, 2);
    let login_level = || async {
        let login = client::account::login_password(&zone.account(), "jack", "pw")
            .await
            .unwrap();
        login.roles.first().map(|role| role.level)
    };
    eventually("the login to list the level handed off", || async {
        (login_level().await == Some(crossed_level)).then_some(())
    })
    .await;
    level_up(&mut session, 3).await;
    session.logoff().await.unwrap();
    eventually(
        "the login to list the level of the logoff at gs2",
        || async { (login_level().await == Some(5)).then_some(()) },
    )
    .await;
    zone.shutdown().await;
}
