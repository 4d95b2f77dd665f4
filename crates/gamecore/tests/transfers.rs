//! The transfer table through the core's API (DESIGN §7): every store
//! operation on a role goes to the database the table routes it to, and
//! the role's home server is the one serving that srvno.

mod harness;

use harness::Harness;
use routing::{Router, Srvno, Transfer};
use wire::client::AddGold;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;

fn srvno(number: u32) -> Srvno {
    Srvno::new(number).unwrap()
}

#[test]
fn a_role_the_table_moved_is_claimed_saved_and_released_in_its_new_home_database() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(1);
    let moved = Transfer {
        roleid,
        to: srvno(2),
        from: srvno(1),
    };
    harness
        .core
        .handle_transfer_table(Router::from_snapshot(1, [moved]).unwrap());
    harness
        .core
        .handle_transfer_table(Router::from_snapshot(0, []).unwrap());
    assert_eq!(
        harness.core.transfer_table().version(),
        1,
        "an older table is ignored"
    );
    let session = harness.log_in(1);
    let request = harness.enter(session, roleid);
    match harness.reply(session, request) {
        Some(Out::Entered(entered)) => assert_eq!(entered.home_srvname, "gs2"),
        other => panic!("entered: {other:?}"),
    }
    let call = Call::AddGold(AddGold {
        amount: 3,
        reason: "test:rpc".into(),
    });
    harness.call(session, call);
    harness.core.handle_session_closed(session);
    for _ in 0..100 {
        harness.fire_next_timer();
        if harness.core.is_idle() {
            break;
        }
    }
    assert!(harness.core.is_idle(), "the player was released");
    let targets: Vec<Srvno> = harness
        .store_targets
        .iter()
        .filter(|(_, role)| *role == Some(roleid))
        .map(|(srvno, _)| *srvno)
        .collect();
    assert!(
        targets.len() >= 2,
        "a claim and a release at least: {targets:?}"
    );
    assert!(
        targets.iter().all(|target| *target == srvno(2)),
        "{targets:?}"
    );
}
