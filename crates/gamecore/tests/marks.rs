//! Kuafu marks through the core's API (DESIGN §6): a mark is a view of the
//! player's row. A slow marked server does not lose its visitor's mark, a
//! restarted home gets its marks back from the rows, and a lapsed row clears
//! the mark.

mod harness;

use gamecore::{Event, PeerError};
use harness::Harness;
use ownership::OwnerId;
use routing::RoleId;
use store::PlayerOp;
use wire::node::node_message::Body;
use wire::node::{Arrived, IsOnline};

/// The lease gs2 holds its visitor's row with in these tests.
const VISIT_LEASE_MS: u64 = 600_000;

/// A role of gs1 whose row gs2 holds, as after a crossing.
fn role_visiting_gs2(harness: &mut Harness) -> RoleId {
    let roleid = harness.create_role(1);
    let gs2 = OwnerId {
        node: "gs2".to_owned(),
        incarnation: 9,
    };
    let claim = PlayerOp::Claim {
        roleid,
        owner: gs2,
        lease_ttl_ms: VISIT_LEASE_MS,
    };
    harness.commit(claim).expect("gs2 claims the visitor");
    roleid
}

fn mark(harness: &Harness, roleid: RoleId) -> Option<String> {
    let mark = harness.core.kuafu_mark(roleid)?;
    Some(mark.go_srvname.clone())
}

/// Timers the harness fires at most while waiting for one heartbeat.
const TIMERS_PER_HEARTBEAT_MAX: usize = 1_000;

/// Runs the core's timers until it asks gs2 whether `roleid` is online,
/// and answers that with `answer`.
fn heartbeat(harness: &mut Harness, roleid: RoleId, answer: Result<bool, PeerError>) {
    let mut timers = 0;
    let call = loop {
        timers += 1;
        assert!(
            timers < TIMERS_PER_HEARTBEAT_MAX,
            "no heartbeat: {:?}",
            harness.outputs
        );
        let asked = harness
            .outputs
            .iter()
            .any(|output| matches!(output, gamecore::Output::Request { to, .. } if to == "gs2"));
        if asked {
            let (call, message) = harness.take_request("gs2");
            let Some(Body::IsOnline(IsOnline { roleid: asked })) = message.body else {
                panic!("not a heartbeat: {message:?}");
            };
            assert_eq!(asked, roleid.get());
            break call;
        }
        harness.fire_next_timer();
    };
    let answer = answer.map(|online| wire::node::NodeMessage {
        body: Some(Body::OnlineAnswer(wire::node::OnlineAnswer { online })),
    });
    harness.answer_call(call, answer);
}

#[test]
fn a_slow_marked_server_keeps_the_mark_while_it_holds_the_row() {
    let mut harness = Harness::new();
    let roleid = role_visiting_gs2(&mut harness);
    let arrived = Arrived {
        roleid: roleid.get(),
        at_srvname: "gs2".to_owned(),
        epoch: 1,
    };
    harness.peer_request("gs2", Body::Arrived(arrived));
    assert_eq!(mark(&harness, roleid).as_deref(), Some("gs2"));

    for _ in 0..10 {
        heartbeat(&mut harness, roleid, Err(PeerError::Timeout));
    }
    assert_eq!(
        mark(&harness, roleid).as_deref(),
        Some("gs2"),
        "ten timeouts in a row, but the row is still gs2's"
    );
    assert!(!harness.reported(&Event::MarkExpired { roleid }));

    harness.advance_to(harness.now_ms + VISIT_LEASE_MS);
    for _ in 0..3 {
        if mark(&harness, roleid).is_some() {
            heartbeat(&mut harness, roleid, Err(PeerError::Timeout));
        }
    }
    assert_eq!(mark(&harness, roleid), None, "the lease lapsed in the row");
    assert!(harness.reported(&Event::MarkExpired { roleid }));
}

#[test]
fn a_restarted_home_rebuilds_its_marks_from_the_rows() {
    let mut harness = Harness::new();
    let away = role_visiting_gs2(&mut harness);
    let at_home = harness.create_role(2);
    harness.restart();
    assert_eq!(mark(&harness, away).as_deref(), Some("gs2"));
    assert_eq!(mark(&harness, at_home), None);
}

#[test]
fn a_late_arrival_note_never_undoes_a_newer_mark() {
    let mut harness = Harness::new();
    let roleid = role_visiting_gs2(&mut harness);
    harness.restart(); // marked at gs2 from the row, epoch 1
    let stale = Arrived {
        roleid: roleid.get(),
        at_srvname: "gs1".to_owned(),
        epoch: 0,
    };
    harness.peer_request("gs2", Body::Arrived(stale));
    assert_eq!(mark(&harness, roleid).as_deref(), Some("gs2"));
}
