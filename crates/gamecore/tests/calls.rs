//! The owner's side of player calls through the core's API (DESIGN §9):
//! a call on a player served here runs its method; refusals are typed and
//! change nothing; a durable call is answered only once its save is
//! durable, a retry gets the first answer and applies nothing, also after
//! the player left and came back (the record travels with the data); a
//! server that does not serve the player says where it is.

mod harness;

use gamecore::Output;
use gamecore::calls::{AddGold, PlayerMethod, SpendGold, View, call_message};
use gamecore::limits::{DURABLE_RECORD_HORIZON_MS, DURABLE_RECORDS_MAX};
use harness::Harness;
use routing::RoleId;
use store::{OpOutcome, PlayerOp, StoreError};
use wire::client::GoServer;
use wire::client::game_call::Call;
use wire::node::node_message::Body;
use wire::node::{PlayerCallAnswer, PlayerCallStatus};

const ACCOUNT: u64 = 1_000;

/// Sends `method` as a call from node `ops` (durable with a non-empty
/// `request_id`).
fn call<M: PlayerMethod>(harness: &mut Harness, roleid: RoleId, method: &M, request_id: &[u8]) {
    let args = serde_json::to_vec(method).unwrap();
    let message = call_message(roleid, M::NAME, M::VERSION, args, request_id.to_vec());
    harness.peer_request("ops", message.body.unwrap());
}

/// Every answer to a player call so far, in order.
fn answers(harness: &Harness) -> Vec<PlayerCallAnswer> {
    harness
        .outputs
        .iter()
        .filter_map(|output| match output {
            Output::Reply {
                message:
                    wire::node::NodeMessage {
                        body: Some(Body::PlayerCallAnswer(answer)),
                    },
                ..
            } => Some(answer.clone()),
            _ => None,
        })
        .collect()
}

fn last_answer(harness: &Harness) -> PlayerCallAnswer {
    answers(harness).pop().expect("a call was answered")
}

fn add_gold(amount: u64) -> AddGold {
    AddGold {
        amount,
        reason: "test:rpc".into(),
    }
}

fn gold_in_db(harness: &mut Harness, roleid: RoleId) -> u64 {
    match harness.commit(PlayerOp::LoadReadOnly { roleid }) {
        Ok(OpOutcome::Loaded(player)) => player.data.gold,
        other => panic!("load answered {other:?}"),
    }
}

/// Commits the held save and delivers its answer.
fn commit_held_save(harness: &mut Harness) {
    let (op, save) = harness.take_held(|op| matches!(op, PlayerOp::Save(_)));
    let saved = harness.commit(save);
    harness.deliver(op, saved);
}

fn served(harness: &mut Harness) -> RoleId {
    let roleid = harness.create_role(ACCOUNT);
    harness.log_in_and_enter(ACCOUNT, roleid);
    roleid
}

#[test]
fn a_call_on_a_player_served_here_runs_its_method_and_answers_its_result() {
    let mut harness = Harness::new();
    let roleid = served(&mut harness);
    call(&mut harness, roleid, &add_gold(10), b"");
    let answer = last_answer(&harness);
    assert_eq!(answer.status(), PlayerCallStatus::Done);
    assert_eq!(serde_json::from_slice::<u64>(&answer.result).unwrap(), 10);
    call(&mut harness, roleid, &View {}, b"");
    let view: gamecore::calls::PlayerSnapshot =
        serde_json::from_slice(&last_answer(&harness).result).unwrap();
    assert_eq!((view.roleid, view.gold), (roleid.get(), 10));
}

#[test]
fn a_missing_method_bad_arguments_and_a_refusal_are_typed_and_change_nothing() {
    let mut harness = Harness::new();
    let roleid = served(&mut harness);
    call(&mut harness, roleid, &add_gold(5), b"");
    let status = |harness: &mut Harness, method: &str, version: u32, args: &[u8]| {
        let message = call_message(roleid, method, version, args.to_vec(), Vec::new());
        harness.peer_request("ops", message.body.unwrap());
        last_answer(harness).status()
    };
    let no_method = status(&mut harness, "fly", 1, b"{}");
    assert_eq!(no_method, PlayerCallStatus::NoSuchMethod);
    let not_json = status(&mut harness, AddGold::NAME, 1, b"ten gold");
    assert_eq!(not_json, PlayerCallStatus::BadArguments);
    let old_version = status(
        &mut harness,
        AddGold::NAME,
        0,
        br#"{"amount":1,"reason":"x"}"#,
    );
    assert_eq!(old_version, PlayerCallStatus::BadArguments);
    call(&mut harness, roleid, &add_gold(0), b"");
    assert_eq!(
        last_answer(&harness).status(),
        PlayerCallStatus::BadArguments
    );
    let spend = SpendGold {
        amount: 6,
        reason: "shop".into(),
    };
    call(&mut harness, roleid, &spend, b"");
    assert_eq!(last_answer(&harness).status(), PlayerCallStatus::Refused);
    call(&mut harness, roleid, &View {}, b"");
    let view: gamecore::calls::PlayerSnapshot =
        serde_json::from_slice(&last_answer(&harness).result).unwrap();
    assert_eq!(view.gold, 5, "only the first call changed the player");
}

#[test]
fn a_durable_call_is_answered_after_its_save_and_a_retry_gets_the_first_answer_once() {
    let mut harness = Harness::new();
    let roleid = served(&mut harness);
    harness.hold_store = true;
    call(&mut harness, roleid, &add_gold(10), b"gift-1");
    assert!(answers(&harness).is_empty(), "not answered before durable");
    call(&mut harness, roleid, &add_gold(10), b"gift-1");
    assert!(
        answers(&harness).is_empty(),
        "a retry waits for the same save"
    );
    commit_held_save(&mut harness);
    let both = answers(&harness);
    assert_eq!(both.len(), 2);
    assert!(
        both.iter()
            .all(|answer| answer.status() == PlayerCallStatus::Done)
    );
    assert!(both.iter().all(|answer| answer.result == b"10"));
    assert_eq!(gold_in_db(&mut harness, roleid), 10);
    call(&mut harness, roleid, &add_gold(10), b"gift-1");
    assert_eq!(
        last_answer(&harness).result,
        b"10",
        "the first answer again"
    );
    assert_eq!(
        harness.held().count(),
        0,
        "a retry of a durable call saves nothing"
    );
    assert_eq!(harness.db.ledger(roleid).len(), 1, "one ledger line");
}

#[test]
fn a_durable_call_made_while_a_save_is_in_flight_waits_for_the_next_save() {
    let mut harness = Harness::new();
    let roleid = served(&mut harness);
    harness.hold_store = true;
    call(&mut harness, roleid, &add_gold(1), b"first");
    call(&mut harness, roleid, &add_gold(2), b"second");
    commit_held_save(&mut harness);
    assert_eq!(
        answers(&harness).len(),
        1,
        "the first save carries only the first"
    );
    commit_held_save(&mut harness);
    assert_eq!(answers(&harness).len(), 2);
    assert_eq!(gold_in_db(&mut harness, roleid), 3);
}

#[test]
fn a_durable_call_whose_save_is_fenced_answers_fenced() {
    let mut harness = Harness::new();
    let roleid = served(&mut harness);
    harness.hold_store = true;
    call(&mut harness, roleid, &add_gold(10), b"gift-1");
    let (op, _) = harness.take_held(|op| matches!(op, PlayerOp::Save(_)));
    let read = harness.commit(PlayerOp::ReadOwnership { roleid });
    let Ok(OpOutcome::OwnershipRead { mut ownership, .. }) = read else {
        panic!("the row is read: {read:?}");
    };
    ownership.epoch += 1; // as the store sees it after a newer claim
    let fenced = ownership::Refused::Fenced { current: ownership };
    harness.deliver(op, Err(StoreError::Refused(fenced)));
    assert_eq!(last_answer(&harness).status(), PlayerCallStatus::Fenced);
    assert_eq!(gold_in_db(&mut harness, roleid), 0);
}

#[test]
fn the_record_travels_with_the_data_so_a_retry_after_logoff_and_login_applies_nothing() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    call(&mut harness, roleid, &add_gold(10), b"gift-1");
    assert_eq!(last_answer(&harness).status(), PlayerCallStatus::Done);
    harness.core.handle_session_closed(session);
    harness.fire_next_timer();
    harness.log_in_and_enter(ACCOUNT, roleid);
    call(&mut harness, roleid, &add_gold(10), b"gift-1");
    assert_eq!(last_answer(&harness).result, b"10");
    assert_eq!(gold_in_db(&mut harness, roleid), 10);
    assert_eq!(harness.db.ledger(roleid).len(), 1);
}

#[test]
fn durable_records_are_bounded_and_the_oldest_is_forgotten_only_past_the_horizon() {
    let mut harness = Harness::new();
    let roleid = served(&mut harness);
    for index in 0..DURABLE_RECORDS_MAX {
        call(
            &mut harness,
            roleid,
            &add_gold(1),
            format!("r{index}").as_bytes(),
        );
        assert_eq!(last_answer(&harness).status(), PlayerCallStatus::Done);
    }
    call(&mut harness, roleid, &add_gold(1), b"one more");
    assert_eq!(last_answer(&harness).status(), PlayerCallStatus::Busy);
    harness.advance_to(harness.now_ms + DURABLE_RECORD_HORIZON_MS);
    // The lease ran out meanwhile: enter again (the records are in the row).
    harness.hold_store = false;
    let roleid_again = {
        harness.core.handle_timeout(harness.now_ms);
        harness.log_in_and_enter(ACCOUNT, roleid);
        roleid
    };
    call(&mut harness, roleid_again, &add_gold(1), b"one more");
    assert_eq!(last_answer(&harness).status(), PlayerCallStatus::Done);
    call(&mut harness, roleid_again, &add_gold(1), b"r1");
    assert_eq!(last_answer(&harness).result, b"1", "r1 is still remembered");
    assert_eq!(
        gold_in_db(&mut harness, roleid),
        DURABLE_RECORDS_MAX as u64 + 1
    );
}

#[test]
fn a_server_that_does_not_serve_the_player_says_where_it_is() {
    let mut harness = Harness::new();
    let offline = harness.create_role(ACCOUNT);
    call(&mut harness, offline, &View {}, b"");
    assert_eq!(
        last_answer(&harness).status(),
        PlayerCallStatus::Offline,
        "home, no mark"
    );
    let of_gs2 = RoleId::from_raw(2_000_001).unwrap();
    call(&mut harness, of_gs2, &View {}, b"");
    assert_eq!(last_answer(&harness).status(), PlayerCallStatus::NotHere);
    harness.prepare_arrival(77, of_gs2);
    call(&mut harness, of_gs2, &View {}, b"");
    assert_eq!(
        last_answer(&harness).status(),
        PlayerCallStatus::Crossing,
        "arriving"
    );

    let roleid = harness.create_role(ACCOUNT + 1);
    let session = harness.log_in_and_enter(ACCOUNT + 1, roleid);
    harness.call(
        session,
        Call::GoServer(GoServer {
            srvname: "gs2".into(),
        }),
    );
    call(&mut harness, roleid, &View {}, b"");
    assert_eq!(
        last_answer(&harness).status(),
        PlayerCallStatus::Crossing,
        "leaving"
    );
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Ok(Harness::ack()));
    call(&mut harness, roleid, &View {}, b"");
    let moved = last_answer(&harness);
    assert_eq!(
        (moved.status(), moved.moved_to.as_str()),
        (PlayerCallStatus::Moved, "gs2")
    );
}
