//! The data center core through its API: ordering by epoch, batching,
//! durability before the acknowledgement, and typed refusals.

use super::*;
use wire::node::GetCurrent;

const ROLE: u64 = 1_000_001;

fn set_current(roleid: u64, srvname: &str, online: bool, epoch: u64) -> NodeMessage {
    message(Body::SetCurrent(SetCurrent {
        roleid,
        srvname: srvname.to_owned(),
        online,
        epoch,
    }))
}

fn get_current(roleid: u64) -> NodeMessage {
    message(Body::GetCurrent(GetCurrent { roleid }))
}

fn current(srvname: &str, online: bool, epoch: u64) -> Current {
    Current {
        srvname: srvname.to_owned(),
        online,
        epoch,
    }
}

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).unwrap()
}

/// A core and the requests it was given, numbered in order.
struct Harness {
    core: DataCenterCore,
    next_request: u64,
}

impl Harness {
    fn new() -> Self {
        Self {
            core: DataCenterCore::new([]),
            next_request: 1,
        }
    }

    fn request(&mut self, message: NodeMessage) -> RequestId {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.core.handle_request(request, message);
        request
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.core.poll_output()).collect()
    }

    /// Drains, expecting one batch and no reply; returns it.
    fn batch(&mut self) -> (BatchId, Vec<CurrentNote>) {
        match self.drain().as_slice() {
            [Output::Record { batch, notes, .. }] => (*batch, notes.clone()),
            other => panic!("one batch expected: {other:?}"),
        }
    }

    /// Answers a current-server query.
    fn ask(&mut self, roleid: u64) -> NodeMessage {
        let request = self.request(get_current(roleid));
        let outputs = self.drain();
        let reply = outputs.iter().find_map(|output| match output {
            Output::Reply {
                request: to,
                message,
            } if *to == request => Some(message.clone()),
            _ => None,
        });
        reply.expect("a query is answered at once")
    }

    /// Records notes through one durable batch.
    fn record(&mut self, notes: &[NodeMessage]) {
        for note in notes {
            self.request(note.clone());
        }
        let (batch, _) = self.batch();
        self.core.handle_record_answer(batch, Ok(()));
        self.drain();
    }
}

fn known(srvname: &str, online: bool) -> NodeMessage {
    message(Body::CurrentAnswer(CurrentAnswer {
        known: true,
        srvname: srvname.to_owned(),
        online,
    }))
}

fn replies(outputs: &[Output]) -> Vec<(RequestId, NodeMessage)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Reply { request, message } => Some((*request, message.clone())),
            Output::Record { .. } | Output::Push { .. } => None,
            _ => None,
        })
        .collect()
}

fn error_code(message: &NodeMessage) -> Option<ErrorCode> {
    match &message.body {
        Some(Body::Error(error)) => ErrorCode::try_from(error.code).ok(),
        _ => None,
    }
}

#[test]
fn a_note_is_acknowledged_and_answered_only_once_its_batch_is_durable() {
    let mut harness = Harness::new();
    let note = harness.request(set_current(ROLE, "gs2", true, 3));
    let (batch, notes) = harness.batch();
    assert_eq!(
        notes,
        vec![CurrentNote {
            roleid: role(ROLE),
            current: current("gs2", true, 3)
        }]
    );
    assert_eq!(
        harness.ask(ROLE),
        message(Body::CurrentAnswer(CurrentAnswer::default())),
        "not yet durable, not yet known"
    );
    harness.core.handle_record_answer(batch, Ok(()));
    assert_eq!(replies(&harness.drain()), vec![(note, ack())]);
    assert_eq!(harness.ask(ROLE), known("gs2", true));
}

#[test]
fn an_older_epoch_never_overwrites_a_newer_one() {
    let mut harness = Harness::new();
    harness.record(&[set_current(ROLE, "gs2", true, 5)]);
    let late = harness.request(set_current(ROLE, "gs1", false, 4));
    assert_eq!(
        replies(&harness.drain()),
        vec![(late, ack())],
        "a stale note is acknowledged at once, with no write"
    );
    assert_eq!(harness.ask(ROLE), known("gs2", true));
    // Within one batch too: the newer note wins whichever comes first.
    harness.request(set_current(ROLE, "gs3", true, 7));
    harness.request(set_current(ROLE, "gs1", false, 6));
    let (batch, notes) = harness.batch();
    assert_eq!(notes[0].current, current("gs3", true, 7));
    harness.core.handle_record_answer(batch, Ok(()));
    harness.drain();
    assert_eq!(harness.ask(ROLE), known("gs3", true));
}

#[test]
fn notes_of_one_epoch_apply_in_arrival_order() {
    let mut harness = Harness::new();
    harness.record(&[set_current(ROLE, "gs2", true, 5)]);
    harness.record(&[set_current(ROLE, "gs2", false, 5)]);
    assert_eq!(harness.ask(ROLE), known("gs2", false));
    harness.record(&[
        set_current(ROLE, "gs3", true, 6),
        set_current(ROLE, "gs3", false, 6),
    ]);
    assert_eq!(harness.ask(ROLE), known("gs3", false));
}

#[test]
fn notes_that_arrive_while_a_batch_is_written_share_the_next_write() {
    let mut harness = Harness::new();
    let first = harness.request(set_current(ROLE, "gs1", true, 1));
    let (batch, _) = harness.batch();
    let waiting: Vec<RequestId> = (2..=4)
        .map(|srvno| harness.request(set_current(srvno * 1_000_000 + 1, "gs1", true, 1)))
        .collect();
    assert_eq!(harness.drain(), vec![], "one batch in flight at a time");
    harness.core.handle_record_answer(batch, Ok(()));
    let outputs = harness.drain();
    assert_eq!(replies(&outputs), vec![(first, ack())]);
    let Some(Output::Record { batch, notes, .. }) = outputs.last() else {
        panic!("the waiting notes form the next batch: {outputs:?}")
    };
    assert_eq!(notes.len(), 3);
    harness.core.handle_record_answer(*batch, Ok(()));
    let acked: Vec<RequestId> = replies(&harness.drain())
        .into_iter()
        .map(|(request, _)| request)
        .collect();
    assert_eq!(acked, waiting);
}

#[test]
fn a_batch_takes_at_most_its_limit_and_one_record_per_role() {
    let mut harness = Harness::new();
    for epoch in 0..(BATCH_NOTES_MAX as u64 + 10) {
        harness.request(set_current(ROLE, "gs1", epoch % 2 == 0, epoch));
    }
    let (batch, notes) = harness.batch();
    assert_eq!(notes.len(), 1, "one record per role");
    assert_eq!(notes[0].current.epoch, BATCH_NOTES_MAX as u64 - 1);
    harness.core.handle_record_answer(batch, Ok(()));
    let outputs = harness.drain();
    assert_eq!(replies(&outputs).len(), BATCH_NOTES_MAX);
    assert!(
        matches!(outputs.last(), Some(Output::Record { .. })),
        "the rest follow"
    );
}

#[test]
fn a_failed_write_refuses_its_notes_and_keeps_the_state() {
    let mut harness = Harness::new();
    harness.record(&[set_current(ROLE, "gs1", true, 1)]);
    let note = harness.request(set_current(ROLE, "gs2", true, 2));
    let (batch, _) = harness.batch();
    harness
        .core
        .handle_record_answer(batch, Err(RecordError("disk full".to_owned())));
    let outputs = replies(&harness.drain());
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].0, note);
    assert_eq!(error_code(&outputs[0].1), Some(ErrorCode::Unavailable));
    assert_eq!(harness.ask(ROLE), known("gs1", true));
}

#[test]
fn an_answer_to_a_batch_not_in_flight_is_ignored() {
    let mut harness = Harness::new();
    harness.request(set_current(ROLE, "gs1", true, 1));
    let (batch, _) = harness.batch();
    harness
        .core
        .handle_record_answer(BatchId(batch.0 + 1), Ok(()));
    assert_eq!(harness.drain(), vec![]);
    harness.core.handle_record_answer(batch, Ok(()));
    harness.core.handle_record_answer(batch, Ok(()));
    assert_eq!(replies(&harness.drain()).len(), 1, "answered once");
}

#[test]
fn bad_requests_get_typed_refusals() {
    let mut harness = Harness::new();
    let cases = [
        (set_current(7, "gs1", true, 1), ErrorCode::UnknownRole),
        (set_current(ROLE, "", true, 1), ErrorCode::BadArgument),
        (get_current(0), ErrorCode::UnknownRole),
        (message(Body::Ack(Ack {})), ErrorCode::UnexpectedMessage),
        (NodeMessage { body: None }, ErrorCode::UnexpectedMessage),
    ];
    for (request, code) in cases {
        let id = harness.request(request.clone());
        let outputs = replies(&harness.drain());
        assert_eq!(outputs.len(), 1, "{request:?}");
        assert_eq!(outputs[0].0, id);
        assert_eq!(error_code(&outputs[0].1), Some(code), "{request:?}");
    }
    assert_eq!(harness.core.records().count(), 0);
}

#[test]
fn notes_beyond_the_waiting_limit_are_refused_overloaded() {
    let mut harness = Harness::new();
    harness.request(set_current(ROLE, "gs1", true, 1));
    let _in_flight = harness.batch();
    for _ in 0..WAITING_NOTES_MAX {
        harness.request(set_current(ROLE, "gs1", true, 1));
    }
    assert_eq!(harness.drain(), vec![]);
    harness.request(set_current(ROLE, "gs1", true, 1));
    let outputs = replies(&harness.drain());
    assert_eq!(error_code(&outputs[0].1), Some(ErrorCode::Overloaded));
}

#[test]
fn the_state_loaded_at_start_answers_and_orders() {
    let loaded = CurrentNote {
        roleid: role(ROLE),
        current: current("gs4", false, 9),
    };
    let mut harness = Harness {
        core: DataCenterCore::new([loaded]),
        next_request: 1,
    };
    assert_eq!(harness.ask(ROLE), known("gs4", false));
    let late = harness.request(set_current(ROLE, "gs1", true, 8));
    assert_eq!(replies(&harness.drain()), vec![(late, ack())]);
    assert_eq!(
        harness.core.current(role(ROLE)),
        Some(&current("gs4", false, 9))
    );
}

mod summaries;
