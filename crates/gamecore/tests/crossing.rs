//! The source side of a crossing through the core's API (DESIGN §6): a
//! `Prepare` that never comes back ends by the core's own timer, and a
//! handoff whose answer and read-backs are all lost drops the player after
//! a bounded number of reads.

mod harness;

use gamecore::Event;
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
    let get = harness.call(session, Call::GetPlayer(GetPlayer {}));
    assert!(
        matches!(harness.reply(session, get), Some(Out::CallReply(_))),
        "the player is served again: {:?}",
        harness.reply(session, get)
    );

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
