//! The source side of a crossing through the core's API (DESIGN §6): a
//! refused `Prepare` aborts, one that never comes back ends by the core's
//! own timer, a handoff whose answer is lost is resolved by reading the row
//! back (redirect if it committed, abort if not), and one whose read-backs
//! are all lost too drops the player after a bounded number of reads.

mod harness;

use gamecore::{Event, OpId, PeerError, SessionId};
use harness::{Harness, T0, TOKEN_TTL_MS, is_handoff};
use store::{PlayerOp, StoreError};
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{ErrorCode, GetPlayer, GoServer};

const ACCOUNT: u64 = 1_000;

/// Timers the harness fires at most while waiting for one outcome.
const TIMERS_MAX: usize = 1_000;

/// A crossing whose target never answers `Prepare` (and whose shell never
/// reports the bus deadline) ends by the core's timer, no later than the
/// token's lifetime: the player serves again, and the late answer, if it
/// ever comes, does not move the player's next crossing on.
#[test]
fn a_prepare_that_is_never_answered_ends_by_the_cores_own_deadline() {
    let mut harness = Harness::new();
    let (roleid, session, go) = harness.start_crossing(ACCOUNT, "gs2");
    let (stale_prepare, _) = harness.take_request("gs2");
    harness.hold_store = false;
    let mut timers = 0;
    while harness.reply(session, go).is_none() {
        timers += 1;
        assert!(timers < TIMERS_MAX, "the crossing never ended");
        harness.fire_next_timer();
    }
    assert_eq!(harness.error(session, go), Some(ErrorCode::ServerDown));
    assert!(
        harness.now_ms <= T0 + TOKEN_TTL_MS,
        "ended by the token's lifetime"
    );
    assert!(harness.reported(&Event::CrossingAborted { roleid }));
    assert_eq!(harness.kicked(session), None);
    assert!(served(&mut harness, session), "the player is served again");

    harness.hold_store = true;
    let again = GoServer {
        srvname: "gs2".into(),
    };
    let again = harness.call(session, Call::GoServer(again));
    harness.answer_call(stale_prepare, Ok(Harness::ack()));
    assert!(
        !harness.held().any(is_handoff),
        "the first crossing's late Prepare answer submits no handoff for the second"
    );
    assert_eq!(harness.reply(session, again), None, "still preparing");
}

/// A handoff whose commit answer is lost is read back; when every read
/// fails too, the source gives up after `READ_BACK_ATTEMPTS_MAX` reads and
/// drops the player (it cannot know whether the row is the target's).
#[test]
fn a_handoff_whose_reads_all_fail_drops_the_player_after_a_bounded_number_of_reads() {
    let mut harness = Harness::new();
    let (roleid, session, _) = harness.start_crossing(ACCOUNT, "gs2");
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Ok(Harness::ack()));
    let (handoff, _) = harness.take_held(is_handoff);
    harness.deliver(handoff, Err(StoreError::Backend("reply lost".into())));
    let is_read = |op: &PlayerOp| matches!(op, PlayerOp::ReadOwnership { .. });
    for attempt in 1..=gamecore::limits::READ_BACK_ATTEMPTS_MAX {
        assert_eq!(
            harness.kicked(session),
            None,
            "read {attempt} not failed yet"
        );
        let (read, _) = harness.take_held(is_read);
        harness.deliver(read, Err(StoreError::Backend("read failed".into())));
    }
    assert!(!harness.held().any(is_read), "no read after the last");
    assert_eq!(harness.kicked(session), Some(ErrorCode::Unavailable));
    assert!(!harness.core.is_online(roleid));
}

/// Whether `session` is served: a `GetPlayer` gets its reply.
fn served(harness: &mut Harness, session: SessionId) -> bool {
    let get = harness.call(session, Call::GetPlayer(GetPlayer {}));
    matches!(harness.reply(session, get), Some(Out::CallReply(_)))
}

/// A target that refuses the `Prepare` ends the crossing: nothing is handed
/// off, the client gets the target's error, and the player stays here.
#[test]
fn a_refused_prepare_aborts_the_crossing_and_the_player_stays() {
    let mut harness = Harness::new();
    let (roleid, session, go) = harness.start_crossing(ACCOUNT, "gs2");
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Err(PeerError::Remote(ErrorCode::ServerFull)));
    assert_eq!(harness.error(session, go), Some(ErrorCode::ServerFull));
    assert!(!harness.held().any(is_handoff), "nothing is handed off");
    assert!(harness.reported(&Event::CrossingAborted { roleid }));
    assert_eq!(harness.kicked(session), None);
    assert!(harness.writable(roleid), "the copy here is still the one");
    harness.hold_store = false;
    assert!(served(&mut harness, session), "the player stays here");
}

/// gs2 acknowledges the `Prepare`; the handoff is submitted, its answer is
/// lost, and the row is read back. Returns the read's id and operation.
fn lose_the_handoff_reply(harness: &mut Harness, committed: bool) -> (OpId, PlayerOp) {
    let (prepare, _) = harness.take_request("gs2");
    harness.answer_call(prepare, Ok(Harness::ack()));
    let (handoff, operation) = harness.take_held(is_handoff);
    if committed {
        harness.commit(operation).expect("the handoff commits");
    }
    harness.deliver(handoff, Err(StoreError::Backend("reply lost".into())));
    harness.take_held(|op| matches!(op, PlayerOp::ReadOwnership { .. }))
}

/// A handoff whose answer is lost but that committed: the read-back shows
/// the row handed to gs2, and the client is redirected there.
#[test]
fn a_lost_handoff_reply_read_back_as_committed_redirects() {
    let mut harness = Harness::new();
    let (roleid, session, go) = harness.start_crossing(ACCOUNT, "gs2");
    let (read, operation) = lose_the_handoff_reply(&mut harness, true);
    let row = harness.commit(operation);
    harness.deliver(read, row);
    assert!(
        matches!(harness.reply(session, go), Some(Out::Redirect(_))),
        "{:?}",
        harness.frames_to(session)
    );
    let redirected = Event::Redirected {
        roleid,
        target: "gs2".into(),
    };
    assert!(harness.reported(&redirected));
    assert!(!harness.core.is_online(roleid), "the copy here is gone");
}

/// A handoff whose answer is lost and that never reached the store: the
/// read-back shows the row still ours, the crossing aborts and the player
/// stays here.
#[test]
fn a_lost_handoff_reply_read_back_as_not_committed_aborts() {
    let mut harness = Harness::new();
    let (roleid, session, go) = harness.start_crossing(ACCOUNT, "gs2");
    let (read, operation) = lose_the_handoff_reply(&mut harness, false);
    let row = harness.commit(operation);
    harness.deliver(read, row);
    assert_eq!(harness.error(session, go), Some(ErrorCode::Unavailable));
    assert!(harness.reported(&Event::CrossingAborted { roleid }));
    assert_eq!(harness.kicked(session), None);
    harness.hold_store = false;
    assert!(served(&mut harness, session), "the player stays here");
}
