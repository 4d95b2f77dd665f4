//! Player summaries and cross-server friends (DESIGN §8, issue 14): a
//! summary change on one server reaches the subscribers on two others in
//! version order without a gap, also when the updates race (many in flight
//! at once, and a crossing moving the owner) and when pushes are dropped
//! (the test-only fault `[testing] drop_summary_pushes_every`, which both
//! backends' game servers read from the zone file); the friend list shows a
//! friend's live level, server and online state after the friend crosses,
//! and the friends are kept in the player's data.

use client::GameSession;
use futures_util::future::join_all;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{ErrorCode, FriendView, LevelUp};

use crate::helpers::{code, eventually, register_and_enter, relogin, roleid_of};
use crate::{TestZone, demo_zone};

/// Level-ups the subject makes in the push tests.
const LEVEL_UPS: u32 = 24;

/// The `FriendChanged` pushes a session received so far (none waiting).
fn friend_changes(session: &mut GameSession) -> Vec<FriendView> {
    std::iter::from_fn(|| session.pushes().try_recv().ok())
        .filter_map(|frame| match frame.body {
            Some(Out::FriendChanged(changed)) => changed.friend,
            _ => None,
        })
        .collect()
}

/// Level-ups sent all at once on one connection: their summary updates are
/// in flight together.
async fn racing_level_ups(session: &GameSession, count: u32) {
    let calls = (0..count).map(|_| {
        let call = Call::LevelUp(LevelUp {});
        session
            .connection()
            .request(wire::client::client_frame::Body::Call(
                wire::client::GameCall { call: Some(call) },
            ))
    });
    for reply in join_all(calls).await {
        reply.expect("a level up");
    }
}

/// A watcher on its own server with `subject` as a friend, once its
/// server's cache knows the subject, and that first view of it.
async fn watcher<Z: TestZone>(
    zone: &Z,
    name: &str,
    srvname: &str,
    subject: u64,
) -> (GameSession, FriendView) {
    let (_, mut session) = register_and_enter(zone, name).await;
    if session.current_srvname() != srvname {
        session
            .go_server(srvname)
            .await
            .expect("the watcher crosses");
    }
    let list = session.add_friend(subject).await.expect("add a friend");
    assert_eq!(list.friends.len(), 1);
    let first = eventually("the subject's summary in the cache", || async {
        let list = session.friends().await.unwrap();
        list.friends.into_iter().find(|friend| friend.known)
    })
    .await;
    // The pushes up to the list's view came before its answer.
    friend_changes(&mut session);
    (session, first)
}

/// Collects a watcher's friend changes until one shows `done`; returns
/// them all, the friend list's first view first.
async fn changes_until(
    session: &mut GameSession,
    first: FriendView,
    done: impl Fn(&FriendView) -> bool,
) -> Vec<FriendView> {
    let mut seen = vec![first];
    eventually("the watcher to see the subject's last change", || {
        seen.extend(friend_changes(session));
        let reached = seen.iter().any(&done);
        async move { reached.then_some(()) }
    })
    .await;
    seen
}

/// The subject: levels up `LEVEL_UPS` times in racing bursts, crossing
/// to gs3 in the middle; returns its final level.
async fn subject_changes(subject: &mut GameSession) -> u32 {
    racing_level_ups(subject, LEVEL_UPS / 2).await;
    subject.go_server("gs3").await.expect("the subject crosses");
    racing_level_ups(subject, LEVEL_UPS / 2).await;
    1 + LEVEL_UPS
}

/// A subject on gs1 (accounts named after `prefix`), watched as a friend
/// by a player on gs2 and one on gs3, makes its changes
/// ([`subject_changes`]); returns the subject (kept online: dropping its
/// session logs it off, itself a change), its final level and the watchers.
async fn subject_watched_from_two_servers<Z: TestZone>(
    zone: &Z,
    prefix: &str,
) -> (GameSession, u32, Vec<(GameSession, FriendView)>) {
    let (_, mut subject) = register_and_enter(zone, &format!("{prefix}subject")).await;
    let roleid = roleid_of(&subject);
    let mut watchers = Vec::new();
    for srvname in ["gs2", "gs3"] {
        let name = format!("{prefix}watch{srvname}");
        watchers.push(watcher(zone, &name, srvname, roleid).await);
    }
    let level = subject_changes(&mut subject).await;
    (subject, level, watchers)
}

fn is_final(level: u32) -> impl Fn(&FriendView) -> bool {
    move |view| view.level == level && view.srvname == "gs3" && view.online
}

/// A summary change on one server reaches subscribers on two others in
/// version order with no gap, while the updates race and the owner moves.
pub async fn summary_changes_reach_subscribers_on_two_servers_in_order_without_gaps<Z: TestZone>() {
    let mut config = demo_zone(3);
    // No periodic snapshot during the test: every change arrives as a push.
    config.timing.summary_refresh_interval_ms = 600_000;
    let Some(zone) = Z::start(config).await else {
        return;
    };
    let (_subject, level, watchers) = subject_watched_from_two_servers(&zone, "sum").await;
    for (mut session, first) in watchers {
        let seen = changes_until(&mut session, first, is_final(level)).await;
        let versions: Vec<u64> = seen.iter().map(|view| view.version).collect();
        let expected: Vec<u64> = (versions[0]..versions[0] + versions.len() as u64).collect();
        assert_eq!(versions, expected, "every version once, in order");
        assert_eq!(session.connection().pushes_dropped(), 0);
    }
    zone.shutdown().await;
}

/// With every third push dropped, subscribers never go back a version and
/// still reach the subject's last change (a gap is resynced from a
/// snapshot; a lost last push is repaired by the periodic snapshot).
pub async fn subscribers_losing_pushes_never_regress_and_reach_the_last_change<Z: TestZone>() {
    let mut config = demo_zone(3);
    config.testing.drop_summary_pushes_every = 3;
    config.timing.summary_refresh_interval_ms = 500;
    let Some(zone) = Z::start(config).await else {
        return;
    };
    let (_subject, level, watchers) = subject_watched_from_two_servers(&zone, "loss").await;
    for (mut session, first) in watchers {
        let seen = changes_until(&mut session, first, is_final(level)).await;
        let versions: Vec<u64> = seen.iter().map(|view| view.version).collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "{versions:?}"
        );
        let list = session.friends().await.unwrap();
        assert!(is_final(level)(&list.friends[0]), "{list:?}");
    }
    zone.shutdown().await;
}

/// Friends by role id across servers: the list shows the friend's live
/// level, server and online state, follows the friend across a crossing
/// and a logoff, survives the player's own logoff and crossing, and bad
/// requests get typed errors.
pub async fn the_friend_list_shows_live_data_after_the_friend_crosses<Z: TestZone>() {
    let Some(zone) = Z::start(demo_zone(3)).await else {
        return;
    };
    let (_, mut friend) = register_and_enter(&zone, "livefriend").await;
    let (_, mut player) = register_and_enter(&zone, "liveplayer").await;
    let (friend_id, player_id) = (roleid_of(&friend), roleid_of(&player));
    player.go_server("gs2").await.unwrap();
    assert_eq!(
        code(player.add_friend(player_id).await),
        ErrorCode::BadArgument
    );
    assert_eq!(code(player.add_friend(7).await), ErrorCode::UnknownRole);
    player.add_friend(friend_id).await.unwrap();
    assert_eq!(
        code(player.add_friend(friend_id).await),
        ErrorCode::BadArgument
    );
    assert_eq!(
        code(player.remove_friend(42_000_001).await),
        ErrorCode::BadArgument
    );
    friend.call(Call::LevelUp(LevelUp {})).await.unwrap();
    friend.go_server("gs3").await.unwrap();
    expect_friend(&player, "the friend at level 2 on gs3", |view| {
        view.level == 2 && view.srvname == "gs3" && view.online
    })
    .await;
    friend.logoff().await.unwrap();
    expect_friend(&player, "the friend offline", |view| !view.online).await;
    player.go_server("gs1").await.unwrap();
    player.logoff().await.unwrap();
    let player = relogin(&zone, "liveplayer").await;
    expect_friend(&player, "the friend kept, on gs3 and offline", |view| {
        view.level == 2 && view.srvname == "gs3" && !view.online
    })
    .await;
    assert!(
        player
            .remove_friend(friend_id)
            .await
            .unwrap()
            .friends
            .is_empty()
    );
    zone.shutdown().await;
}

/// Waits until `session`'s only friend looks as `check` wants.
async fn expect_friend(session: &GameSession, what: &str, check: impl Fn(&FriendView) -> bool) {
    eventually(what, || async {
        let list = session.friends().await.unwrap();
        let friend = list.friends.first()?;
        check(friend).then_some(())
    })
    .await;
}
