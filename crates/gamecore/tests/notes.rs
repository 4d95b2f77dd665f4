//! Notes to peers through the core's API (DESIGN §6, §8): where a player is
//! now is told to the data center until the data center acknowledges it; a
//! newer note replaces an older one still owed.

mod harness;

use gamecore::PeerError;
use harness::Harness;
use wire::node::node_message::Body;

/// Timers the harness fires at most while waiting for a note.
const TIMERS_PER_NOTE_MAX: usize = 1_000;

/// Fires timers until the core sends the data center a `SetCurrent`;
/// returns it and its call.
fn next_set_current(harness: &mut Harness) -> (gamecore::CallId, wire::node::SetCurrent) {
    for _ in 0..TIMERS_PER_NOTE_MAX {
        let sent = harness.outputs.iter().any(
            |output| matches!(output, gamecore::Output::Request { to, .. } if to == "datacenter"),
        );
        if sent {
            let (call, message) = harness.take_request("datacenter");
            let Some(Body::SetCurrent(note)) = message.body else {
                panic!("not a SetCurrent: {message:?}");
            };
            return (call, note);
        }
        harness.fire_next_timer();
    }
    panic!("no SetCurrent sent: {:?}", harness.outputs)
}

#[test]
fn a_lost_note_is_sent_again_until_the_data_center_acknowledges_it() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(1);
    harness.log_in_and_enter(1, roleid);

    let (call, first) = next_set_current(&mut harness);
    assert!(first.online && first.srvname == "gs1");
    harness.answer_call(call, Err(PeerError::Timeout));
    let (call, again) = next_set_current(&mut harness);
    assert_eq!(again, first, "the same note, sent again");
    let unavailable = wire::node::NodeMessage {
        body: Some(Body::Error(wire::node::NodeError {
            code: wire::client::ErrorCode::Unavailable as i32,
            message: "the data center's write failed".into(),
        })),
    };
    harness.answer_call(call, Ok(unavailable));
    let (call, third) = next_set_current(&mut harness);
    assert_eq!(third, first);
    harness.answer_call(call, Ok(Harness::ack()));
    assert_eq!(harness.core.notes_owed(), 0, "acknowledged: owed no more");
}

#[test]
fn a_newer_note_replaces_an_older_one_still_owed() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(1);
    let session = harness.log_in_and_enter(1, roleid);
    let (arrived_call, arrived) = next_set_current(&mut harness);
    assert!(arrived.online);

    harness.send(
        session,
        wire::client::client_frame::Body::Logoff(Default::default()),
    );
    let (logoff_call, logoff) = next_set_current(&mut harness);
    assert!(!logoff.online, "the release is told");
    assert_eq!(
        harness.core.notes_owed(),
        2,
        "one note per role and kind: where it is now, and its level"
    );
    let (level_call, _) = harness.take_request("account");
    harness.answer_call(level_call, Ok(Harness::ack()));
    harness.answer_call(arrived_call, Err(PeerError::Timeout));
    harness.answer_call(logoff_call, Ok(Harness::ack()));
    assert_eq!(harness.core.notes_owed(), 0, "the older note is not resent");
}
