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
/// returns it and its call. The summary updates sent on the way (their
/// own notes) are acknowledged.
fn next_set_current(harness: &mut Harness) -> (gamecore::CallId, wire::node::SetCurrent) {
    for _ in 0..TIMERS_PER_NOTE_MAX {
        let sent = harness.outputs.iter().any(
            |output| matches!(output, gamecore::Output::Request { to, .. } if to == "datacenter"),
        );
        if sent {
            let (call, message) = harness.take_request("datacenter");
            match message.body {
                Some(Body::SetCurrent(note)) => return (call, note),
                Some(Body::SummaryUpdate(_)) => harness.answer_call(call, Ok(Harness::ack())),
                _ => panic!("not a SetCurrent: {message:?}"),
            }
            continue;
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

/// Fires timers until the core sends the data center a `SummaryUpdate`;
/// returns it (acknowledged, as the `SetCurrent`s on the way).
fn next_summary_update(harness: &mut Harness) -> wire::node::SummaryUpdate {
    for _ in 0..TIMERS_PER_NOTE_MAX {
        let sent = harness.outputs.iter().any(
            |output| matches!(output, gamecore::Output::Request { to, .. } if to == "datacenter"),
        );
        if !sent {
            harness.fire_next_timer();
            continue;
        }
        let (call, message) = harness.take_request("datacenter");
        harness.answer_call(call, Ok(Harness::ack()));
        if let Some(Body::SummaryUpdate(update)) = message.body {
            return update;
        }
    }
    panic!("no SummaryUpdate sent: {:?}", harness.outputs)
}

#[test]
fn the_owner_sends_its_players_summary_at_entry_and_at_every_level_up_in_order() {
    use wire::client::client_frame::Body as In;
    use wire::client::{GameCall, LevelUp, game_call::Call};

    let mut harness = Harness::new();
    let roleid = harness.create_role(1);
    let session = harness.log_in_and_enter(1, roleid);
    let entered = next_summary_update(&mut harness);
    assert_eq!(
        (entered.roleid, entered.level, entered.home_srvno),
        (roleid.get(), 1, 1)
    );
    assert!(entered.epoch > 0, "the row's epoch");
    let level_up = In::Call(GameCall {
        call: Some(Call::LevelUp(LevelUp {})),
    });
    harness.send(session, level_up);
    let leveled = next_summary_update(&mut harness);
    assert_eq!(leveled.level, 2);
    assert!((leveled.epoch, leveled.seq) > (entered.epoch, entered.seq));
    let power = leveled.fields.iter().find(|field| field.name == "power");
    assert_eq!(power.map(|field| field.value.as_str()), Some("200"));
    assert_eq!(harness.core.notes_owed(), 0);
}
