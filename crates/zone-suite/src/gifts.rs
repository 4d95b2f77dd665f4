//! Gifts between players on different servers over real sockets (DESIGN
//! §9): the sender's debit and the receiver's credit each happen exactly
//! once — delivered while the receiver's server is stalled (so the
//! delivery is retried), to an offline receiver on its next load, and when
//! the sender's or the receiver's server is killed between the debit and
//! the credit. Each test waits until the sender's saved outbox is empty
//! (every delivery acknowledged) before it checks the receiver's gold and
//! ledger-backed row, so a late second credit would show.

use std::time::Duration;

use client::GameSession;
use wire::client::SendGift;
use wire::client::game_call::Call;

use crate::helpers::*;
use crate::{TestZone, fast_zone};

/// How long a stall keeps a delivery from being acknowledged: longer than
/// the fast zone's bus deadline (so attempts time out and are retried; a delivery queued meanwhile is
/// handled when the stall ends),
/// shorter than its lease less the skew margin (the receiver stays).
const STALL: Duration = Duration::from_millis(900);

/// Sends `gold` of the session's player's gold to `to`; returns the gold
/// the sender has left, as the durable answer says.
pub async fn send_gift(session: &mut GameSession, to: u64, gold: u64) -> u64 {
    let gift = SendGift {
        to_roleid: to,
        gold,
    };
    let reply = call(session, Call::SendGift(gift))
        .await
        .expect("send gift");
    assert_eq!(reply.applied, gold);
    reply.player.expect("a player view").gold
}

/// Waits until `roleid`'s saved outbox is empty: every gift it sent was
/// acknowledged and the acknowledgement saved.
pub async fn expect_outbox_empty(zone: &impl TestZone, roleid: u64) {
    let what = format!("the outbox of {roleid} to empty");
    eventually(&what, || async {
        let stored = zone.load_readonly(roleid).await.ok()?;
        stored.data.gifts_out.is_empty().then_some(())
    })
    .await;
}

/// `name` registers at gs1 with `gold` gold, and `receiver` registers and
/// crosses to gs2; returns both sessions.
async fn sender_and_receiver_on_two_servers(
    zone: &impl TestZone,
    name: &str,
    gold: u64,
    receiver: &str,
) -> (GameSession, GameSession) {
    let (_, mut sender) = register_and_enter(zone, name).await;
    add_gold(&mut sender, gold).await;
    let (_, mut receiver) = register_and_enter(zone, receiver).await;
    if receiver.current_srvname() != "gs2" {
        receiver.go_server("gs2").await.expect("cross to gs2");
    }
    if sender.current_srvname() == "gs2" {
        sender.go_server("gs1").await.expect("cross to gs1");
    }
    let roleid = roleid_of(&receiver);
    expect_current(zone, roleid, "gs2", true).await;
    (sender, receiver)
}

/// Checks the receiver got `gold` once: its saved row holds it, it
/// remembers one gift, and its session sees it.
async fn expect_credited_once(zone: &impl TestZone, receiver: u64, gold: u64) {
    expect_saved_gold(zone, receiver, gold).await;
    let stored = zone.load_readonly(receiver).await.expect("the row");
    assert_eq!(stored.data.gifts_received.len(), 1, "one gift remembered");
}

/// A gift to a player on another server is credited once, also when its
/// delivery is retried while the receiver's server is stalled.
pub async fn a_gift_to_a_player_on_another_server_is_credited_once_under_retries<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (mut ann, mut bob) = sender_and_receiver_on_two_servers(&zone, "ann", 100, "bob").await;
    let (ann_id, bob_id) = (roleid_of(&ann), roleid_of(&bob));
    assert_eq!(send_gift(&mut ann, bob_id, 30).await, 70);
    expect_saved_gold(&zone, bob_id, 30).await;
    zone.stall("gs2", STALL).await;
    assert_eq!(send_gift(&mut ann, bob_id, 12).await, 58);
    zone.awake("gs2").await;
    expect_outbox_empty(&zone, ann_id).await;
    assert_eq!(gold(&mut bob).await, 42, "each gift credited once");
    expect_saved_gold(&zone, bob_id, 42).await;
    expect_saved_gold(&zone, ann_id, 58).await;
    zone.shutdown().await;
}

/// A gift to an offline player waits in its inbox and is credited once on
/// its next login.
pub async fn a_gift_to_an_offline_player_is_credited_on_its_next_login<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (mut ann, bob) = sender_and_receiver_on_two_servers(&zone, "ann", 100, "bob").await;
    let (ann_id, bob_id) = (roleid_of(&ann), roleid_of(&bob));
    bob.logoff().await.expect("logoff");
    expect_current(&zone, bob_id, "gs2", false).await;
    send_gift(&mut ann, bob_id, 30).await;
    expect_outbox_empty(&zone, ann_id).await;
    assert_eq!(zone.load_readonly(bob_id).await.unwrap().data.gold, 0);
    let mut bob = relogin(&zone, "bob").await;
    assert_eq!(gold(&mut bob).await, 30);
    expect_credited_once(&zone, bob_id, 30).await;
    zone.shutdown().await;
}

/// The sender's server is killed after the debit and before the credit
/// (the receiver's server is stalled meanwhile): the saved outbox is
/// delivered when the sender is loaded again, and credited once.
pub async fn a_gift_is_credited_once_when_the_senders_server_is_killed<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (mut ann, mut bob) = sender_and_receiver_on_two_servers(&zone, "ann", 100, "bob").await;
    let (ann_id, bob_id) = (roleid_of(&ann), roleid_of(&bob));
    zone.stall("gs2", STALL).await;
    send_gift(&mut ann, bob_id, 30).await;
    zone.kill_game("gs1").await;
    zone.awake("gs2").await;
    zone.restart_game("gs1").await;
    let mut ann = relogin(&zone, "ann").await;
    assert_eq!(
        gold(&mut ann).await,
        70,
        "the debit was saved before the answer"
    );
    expect_outbox_empty(&zone, ann_id).await;
    assert_eq!(gold(&mut bob).await, 30);
    expect_credited_once(&zone, bob_id, 30).await;
    zone.shutdown().await;
}

/// The receiver's server is killed between the debit and the credit: the
/// gift is credited once when the receiver is loaded again.
pub async fn a_gift_is_credited_once_when_the_receivers_server_is_killed<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (mut ann, bob) = sender_and_receiver_on_two_servers(&zone, "ann", 100, "bob").await;
    let (ann_id, bob_id) = (roleid_of(&ann), roleid_of(&bob));
    zone.stall("gs2", STALL).await;
    send_gift(&mut ann, bob_id, 30).await;
    zone.kill_game("gs2").await;
    drop(bob);
    zone.restart_game("gs2").await;
    let mut bob = relogin(&zone, "bob").await;
    expect_outbox_empty(&zone, ann_id).await;
    assert_eq!(gold(&mut bob).await, 30);
    expect_credited_once(&zone, bob_id, 30).await;
    assert_eq!(gold(&mut ann).await, 70);
    zone.shutdown().await;
}
