//! The proxy player over real nodes (DESIGN §9): an operator's call runs
//! where the player is — on another server, after a crossing, while it
//! crosses — fails with the right typed error for an offline player, a
//! missing method and bad arguments, and a durable call retried returns
//! the first answer and applies once.

use game::Players;
use gamecore::calls::CallError;
use routing::RoleId;

use crate::helpers::*;
use crate::{TestZone, demo_zone};

/// Calls a test makes while a player crosses back and forth.
const CALLS_WHILE_CROSSING: u64 = 20;

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).expect("a role id")
}

/// A proxy call reaches a player on another server: an operator's call
/// goes to the home server, follows its kuafu mark, and the player's own
/// client sees the gold it added.
pub async fn a_proxy_call_reaches_a_player_on_another_server<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut session) = register_and_enter(&zone, "pia").await;
    let roleid = roleid_of(&session);
    session.go_server("gs2").await.expect("crossed");
    expect_current(&zone, roleid, "gs2", true).await;
    let players: Players = zone.players();
    let player = players.player(role(roleid));
    assert_eq!(player.add_gold(10, "test:rpc").await, Ok(10));
    assert_eq!(player.add_items(105_001, 3, "test:rpc").await, Ok(3));
    let view = player.view().await.expect("a view");
    assert_eq!(
        (view.gold, view.items.as_slice()),
        (10, &[(105_001, 3)][..])
    );
    assert_eq!(gold(&mut session).await, 10, "the owner's copy changed");
    zone.shutdown().await;
}

/// A call follows a player who crossed since the caller last found it,
/// and calls made while it crosses reach it after arrival: none is lost
/// and each applies once.
pub async fn a_proxy_call_follows_a_player_who_crossed_mid_call<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut session) = register_and_enter(&zone, "cole").await;
    let roleid = role(roleid_of(&session));
    let players = zone.players();
    assert_eq!(players.player(roleid).add_gold(1, "test:rpc").await, Ok(1));
    session.go_server("gs2").await.expect("crossed");
    assert_eq!(
        players.player(roleid).add_gold(1, "test:rpc").await,
        Ok(1),
        "the caller's hint (gs1) points on to gs2"
    );
    let calls = async {
        for _ in 0..CALLS_WHILE_CROSSING {
            let added = players.player(roleid).add_gold(1, "test:rpc").await;
            assert_eq!(added, Ok(1));
        }
    };
    let crossings = async {
        session.go_server("gs3").await.expect("crossed");
        session.go_home().await.expect("crossed home");
        session
    };
    let (_, mut session) = tokio::join!(calls, crossings);
    assert_eq!(gold(&mut session).await, 2 + CALLS_WHILE_CROSSING);
    zone.shutdown().await;
}

/// An offline player, a missing method and bad arguments each fail with
/// their typed error, and change nothing.
pub async fn proxy_calls_fail_with_typed_errors<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, session) = register_and_enter(&zone, "otto").await;
    let roleid = role(roleid_of(&session));
    let players = zone.players();
    let player = players.player(roleid);
    let missing = player.call_raw("fly", 1, b"{}".to_vec()).await;
    assert!(
        matches!(missing, Err(CallError::NoSuchMethod(_))),
        "{missing:?}"
    );
    let zero = player.add_gold(0, "test:rpc").await;
    assert!(matches!(zero, Err(CallError::BadArguments(_))), "{zero:?}");
    let not_json = player.call_raw("add_gold", 1, b"ten".to_vec()).await;
    assert!(
        matches!(not_json, Err(CallError::BadArguments(_))),
        "{not_json:?}"
    );
    let spend = player.spend_gold(1, "test:shop").await;
    assert!(matches!(spend, Err(CallError::Refused(_))), "{spend:?}");
    session.logoff().await.expect("logged off");
    expect_current(&zone, roleid.get(), "gs1", false).await;
    assert_eq!(
        player.add_gold(1, "test:rpc").await,
        Err(CallError::Offline)
    );
    let stored = zone.load_readonly(roleid.get()).await.expect("the row");
    assert_eq!(stored.data.gold, 0);
    zone.shutdown().await;
}

/// A durable call is saved before it answers; retried with its request
/// id (also from another caller, after the player crossed) it returns the
/// first answer and applies once: one ledger line.
pub async fn a_durable_call_retried_returns_the_first_answer_and_applies_once<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut session) = register_and_enter(&zone, "dora").await;
    let roleid = role(roleid_of(&session));
    let players = zone.players();
    let gift = players.player(roleid).durable(b"gift-1".to_vec());
    assert_eq!(gift.add_gold(10, "test:gift").await, Ok(10));
    let stored = zone.load_readonly(roleid.get()).await.expect("the row");
    assert_eq!(stored.data.gold, 10, "saved before answered");
    assert_eq!(
        gift.add_gold(10, "test:gift").await,
        Ok(10),
        "the first answer"
    );
    session.go_server("gs2").await.expect("crossed");
    let other_caller = zone.players();
    let retry = other_caller.player(roleid).durable(b"gift-1".to_vec());
    assert_eq!(
        retry.add_gold(10, "test:gift").await,
        Ok(10),
        "after crossing"
    );
    assert_eq!(gold(&mut session).await, 10, "applied once");
    let stored = zone.load_readonly(roleid.get()).await.expect("the row");
    assert_eq!(stored.data.next_ledger_seq, 2, "one ledger line");
    zone.shutdown().await;
}
