//! The data center's transfer table through the core's API: durable before
//! answered and pushed, versions one by one, idempotent records, typed
//! refusals, one write at a time.

use routing::{Router, Srvno, TRANSFERS_TOPIC, Transfer};
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{GetTransfers, NodeMessage, RecordTransfer, SetCurrent, TransferPush};

use crate::{DataCenterCore, Output, RecordError, RequestId, TransferWrite};

fn moved(raw: u64, from: u32, to: u32) -> Transfer {
    Transfer {
        roleid: routing::RoleId::from_raw(raw).unwrap(),
        to: Srvno::new(to).unwrap(),
        from: Srvno::new(from).unwrap(),
    }
}

fn record(transfer: Transfer) -> NodeMessage {
    let entry = Some(transfer.to_entry());
    NodeMessage {
        body: Some(Body::RecordTransfer(RecordTransfer { entry })),
    }
}

fn push(version: u64, transfer: Transfer) -> NodeMessage {
    NodeMessage {
        body: Some(Body::TransferPush(transfer.to_push(version))),
    }
}

struct Harness {
    core: DataCenterCore,
    next_request: u64,
}

impl Harness {
    fn new(table: Router) -> Self {
        Self {
            core: DataCenterCore::new([]).with_transfers(table),
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

    /// Records `transfer` and makes its write durable; the outputs after.
    fn record_durably(&mut self, transfer: Transfer) -> (RequestId, Vec<Output>) {
        let request = self.request(record(transfer));
        let write = match self.drain().as_slice() {
            [Output::RecordTransfer(write)] => *write,
            other => panic!("expected one write, got {other:?}"),
        };
        assert_eq!(write.transfer, transfer);
        self.core.handle_transfer_answer(write.version, Ok(()));
        (request, self.drain())
    }

    fn refusal(&mut self, message: NodeMessage) -> ErrorCode {
        let request = self.request(message);
        match self.drain().as_slice() {
            [
                Output::Reply {
                    request: answered,
                    message,
                },
            ] if *answered == request => match &message.body {
                Some(Body::Error(error)) => error.code(),
                other => panic!("expected a refusal, got {other:?}"),
            },
            other => panic!("expected one reply, got {other:?}"),
        }
    }
}

#[test]
fn an_override_is_answered_and_pushed_only_once_durable_as_the_next_version() {
    let mut harness = Harness::new(Router::new());
    let transfer = moved(1_000_001, 1, 2);
    let request = harness.request(record(transfer));
    let write = match harness.drain().as_slice() {
        [Output::RecordTransfer(write)] => *write,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        write,
        TransferWrite {
            transfer,
            version: 1
        }
    );
    assert_eq!(harness.core.transfers().version(), 0, "not before durable");
    harness.core.handle_transfer_answer(1, Ok(()));
    assert_eq!(
        harness.drain(),
        [
            Output::Reply {
                request,
                message: push(1, transfer)
            },
            Output::Publish {
                topic: TRANSFERS_TOPIC,
                message: push(1, transfer)
            },
        ]
    );
    assert_eq!(
        harness.core.transfers().home_of(transfer.roleid),
        transfer.to
    );
    let (_, outputs) = harness.record_durably(moved(2_000_001, 2, 3));
    assert!(outputs.contains(&Output::Publish {
        topic: TRANSFERS_TOPIC,
        message: push(2, moved(2_000_001, 2, 3))
    }));
}

#[test]
fn recording_the_override_the_table_has_answers_its_version_with_no_write() {
    let mut harness = Harness::new(Router::new());
    let transfer = moved(1_000_001, 1, 2);
    harness.record_durably(transfer);
    let again = harness.request(record(transfer));
    assert_eq!(
        harness.drain(),
        [Output::Reply {
            request: again,
            message: push(1, transfer)
        }]
    );
    assert_eq!(harness.core.transfers().version(), 1);
}

#[test]
fn a_failed_write_is_refused_unavailable_and_changes_nothing() {
    let mut harness = Harness::new(Router::new());
    let transfer = moved(1_000_001, 1, 2);
    let request = harness.request(record(transfer));
    assert!(matches!(
        harness.drain().as_slice(),
        [Output::RecordTransfer(_)]
    ));
    harness
        .core
        .handle_transfer_answer(1, Err(RecordError("disk".into())));
    match harness.drain().as_slice() {
        [
            Output::Reply {
                request: answered,
                message,
            },
        ] => {
            assert_eq!(*answered, request);
            assert!(
                matches!(&message.body, Some(Body::Error(e)) if e.code() == ErrorCode::Unavailable)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(harness.core.transfers(), &Router::new());
    let (_, outputs) = harness.record_durably(transfer);
    assert!(outputs.contains(&Output::Publish {
        topic: TRANSFERS_TOPIC,
        message: push(1, transfer)
    }));
}

#[test]
fn a_role_not_at_home_on_from_the_same_srvno_and_bad_entries_are_refused() {
    let mut harness = Harness::new(Router::new());
    assert_eq!(
        harness.refusal(record(moved(1_000_001, 2, 3))),
        ErrorCode::BadArgument
    );
    assert_eq!(
        harness.refusal(record(moved(1_000_001, 1, 1))),
        ErrorCode::AlreadyThere
    );
    harness.record_durably(moved(1_000_001, 1, 2));
    assert_eq!(
        harness.refusal(record(moved(1_000_001, 3, 2))),
        ErrorCode::AlreadyThere
    );
    assert_eq!(
        harness.refusal(record(moved(1_000_001, 1, 3))),
        ErrorCode::BadArgument
    );
    let empty = NodeMessage {
        body: Some(Body::RecordTransfer(RecordTransfer { entry: None })),
    };
    assert_eq!(harness.refusal(empty), ErrorCode::BadArgument);
    // Moving on from the new home is allowed, back to the first one too.
    harness.record_durably(moved(1_000_001, 2, 1));
    assert_eq!(harness.core.transfers().version(), 2);
}

#[test]
fn one_write_at_a_time_and_the_snapshot_is_the_durable_table() {
    let mut harness = Harness::new(Router::new());
    let first = moved(1_000_001, 1, 2);
    harness.request(record(first));
    let note = NodeMessage {
        body: Some(Body::SetCurrent(SetCurrent {
            roleid: 1_000_002,
            srvname: "gs1".into(),
            online: true,
            epoch: 1,
        })),
    };
    harness.request(note);
    harness.request(record(moved(1_000_003, 1, 3)));
    let outputs = harness.drain();
    assert!(
        matches!(outputs.as_slice(), [Output::RecordTransfer(_)]),
        "{outputs:?}"
    );
    let snapshot = harness.request(NodeMessage {
        body: Some(Body::GetTransfers(GetTransfers {})),
    });
    match harness.drain().as_slice() {
        [Output::Reply { request, message }] => {
            assert_eq!(*request, snapshot);
            assert_eq!(
                message.body,
                Some(Body::TransferTable(Router::new().to_table()))
            );
        }
        other => panic!("{other:?}"),
    }
    harness.core.handle_transfer_answer(1, Ok(()));
    let outputs = harness.drain();
    let written: Vec<_> = outputs
        .iter()
        .filter(|output| matches!(output, Output::RecordTransfer(_) | Output::Record { .. }))
        .collect();
    assert_eq!(
        written.len(),
        1,
        "the next write waits for this one: {outputs:?}"
    );
    assert!(matches!(
        written[0],
        Output::RecordTransfer(TransferWrite { version: 2, .. })
    ));
}

#[test]
fn a_push_parses_back_to_the_override() {
    let transfer = moved(1_000_001, 1, 2);
    let TransferPush { version, entry } = transfer.to_push(7);
    assert_eq!(version, 7);
    assert_eq!(Transfer::from_entry(&entry.unwrap()), Ok(transfer));
}
