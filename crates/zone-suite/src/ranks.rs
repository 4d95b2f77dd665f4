//! The rank server in a running zone (DESIGN §10): game servers send each
//! player's level to the `level` board whenever it changes (and when they
//! let the player go), re-sent until acknowledged; an operator reads top N
//! and a role's rank and neighbours over the bus.

use wire::client::LevelUp;
use wire::client::game_call::Call;
use wire::node::RankPage;

use crate::helpers::*;
use crate::{TestZone, fast_zone};

/// The board game servers send levels to.
const LEVEL: &str = "level";

async fn level_up(session: &mut client::GameSession, times: u32) {
    for _ in 0..times {
        call(session, Call::LevelUp(LevelUp {})).await.unwrap();
    }
}

fn listed(page: &RankPage) -> Vec<(u64, u64, i64)> {
    page.entries
        .iter()
        .map(|e| (e.rank, e.roleid, e.score))
        .collect()
}

/// Waits until the level board's top 10 is `expected`.
async fn expect_top(zone: &impl TestZone, expected: &[(u64, u64, i64)]) {
    eventually("the level board to rank the players", || async {
        let page = zone.rank_top(LEVEL, 10).await.ok()?;
        (listed(&page) == expected).then_some(())
    })
    .await;
}

/// Three players level up, one of them after crossing to gs2 (its updates
/// come from two servers, the later under the handoff's newer epoch): the
/// board ranks them by level, each player's rank and neighbours agree with
/// it, and a zone restarted on its data ranks them the same.
pub async fn level_ups_on_several_servers_rank_right_and_survive_a_zone_restart<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(2)).await else {
        return;
    };
    let (_, mut ann) = register_and_enter(&zone, "rank-ann").await;
    let (_, mut bob) = register_and_enter(&zone, "rank-bob").await;
    let (_, mut cid) = register_and_enter(&zone, "rank-cid").await;
    let (ann_id, bob_id, cid_id) = (roleid_of(&ann), roleid_of(&bob), roleid_of(&cid));
    level_up(&mut ann, 2).await;
    level_up(&mut bob, 4).await;
    ann.go_server("gs2").await.unwrap();
    level_up(&mut ann, 3).await;
    level_up(&mut cid, 1).await;
    let expected = [(1, ann_id, 6), (2, bob_id, 5), (3, cid_id, 2)];
    expect_top(&zone, &expected).await;
    let around = zone.rank_around(LEVEL, bob_id, 1).await.unwrap();
    assert_eq!((around.own_rank, listed(&around)), (2, expected.to_vec()));
    let around = zone.rank_around(LEVEL, cid_id, 5).await.unwrap();
    assert_eq!((around.own_rank, around.total), (3, 3));
    for session in [ann, bob, cid] {
        session.logoff().await.unwrap();
    }

    let zone = zone.restart().await;
    expect_top(&zone, &expected).await;
    zone.shutdown().await;
}
