//! Summaries through the core's API: ordering by the owner's `(epoch,
//! seq)`, contiguous versions, pushes only once durable and only to
//! subscribers, snapshots, bounds; and the ordering property over every
//! arrival order of a set of racing, duplicated updates.

use wire::node::{SubscribeSummaries, SummaryField, SummaryUpdate, UnsubscribeSummaries};

use super::*;
use crate::summaries::{FIELDS_MAX, SUBSCRIBE_ROLEIDS_MAX, Subscriptions};

fn update(roleid: u64, epoch: u64, seq: u64, level: u32) -> NodeMessage {
    message(Body::SummaryUpdate(SummaryUpdate {
        roleid,
        epoch,
        seq,
        name: "ann".to_owned(),
        level,
        home_srvno: 1,
        fields: vec![SummaryField {
            name: "power".to_owned(),
            value: (level * 10).to_string(),
        }],
    }))
}

fn subscribe(node: &str, roleids: &[u64]) -> NodeMessage {
    message(Body::SubscribeSummaries(SubscribeSummaries {
        node: node.to_owned(),
        roleids: roleids.to_vec(),
    }))
}

fn unsubscribe(node: &str, roleids: &[u64]) -> NodeMessage {
    message(Body::UnsubscribeSummaries(UnsubscribeSummaries {
        node: node.to_owned(),
        roleids: roleids.to_vec(),
    }))
}

/// The pushes among `outputs`: (node, summaries).
fn pushes(outputs: &[Output]) -> Vec<(String, Vec<Summary>)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Push { node, message } => match &message.body {
                Some(Body::SummaryPush(push)) => Some((node.clone(), push.summaries.clone())),
                _ => panic!("a push carries a SummaryPush"),
            },
            _ => None,
        })
        .collect()
}

impl Harness {
    /// Sends `messages`, writes every batch they make durably, and returns
    /// every output.
    fn settle(&mut self, messages: &[NodeMessage]) -> Vec<Output> {
        for message in messages {
            self.request(message.clone());
        }
        let mut all = Vec::new();
        loop {
            let outputs = self.drain();
            let batch = outputs.iter().find_map(|output| match output {
                Output::Record { batch, .. } => Some(*batch),
                _ => None,
            });
            all.extend(outputs);
            match batch {
                Some(batch) => self.core.handle_record_answer(batch, Ok(())),
                None => return all,
            }
        }
    }

    /// The snapshot a subscribe answers.
    fn subscribe(&mut self, node: &str, roleids: &[u64]) -> Vec<Summary> {
        let outputs = self.settle(&[subscribe(node, roleids)]);
        match replies(&outputs).as_slice() {
            [
                (
                    _,
                    NodeMessage {
                        body: Some(Body::SummarySnapshot(snapshot)),
                    },
                ),
            ] => snapshot.summaries.clone(),
            other => panic!("a snapshot expected: {other:?}"),
        }
    }
}

#[test]
fn an_accepted_update_is_pushed_to_subscribers_only_once_durable() {
    let mut harness = Harness::new();
    assert_eq!(harness.subscribe("gs2", &[ROLE]), vec![]);
    harness.request(update(ROLE, 1, 1, 5));
    let outputs = harness.drain();
    assert!(pushes(&outputs).is_empty(), "nothing pushed before durable");
    let Some(Output::Record {
        batch, summaries, ..
    }) = outputs.last()
    else {
        panic!("a batch expected: {outputs:?}");
    };
    assert_eq!(summaries[0].version, 1);
    harness.core.handle_record_answer(*batch, Ok(()));
    let pushed = pushes(&harness.drain());
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].0, "gs2");
    assert_eq!((pushed[0].1[0].version, pushed[0].1[0].level), (1, 5));
    assert_eq!(harness.core.summary(role(ROLE)).unwrap().level, 5);
}

#[test]
fn a_failed_batch_pushes_nothing_and_its_retry_takes_the_same_version() {
    let mut harness = Harness::new();
    harness.subscribe("gs2", &[ROLE]);
    harness.request(update(ROLE, 1, 1, 5));
    let (batch, _) = harness.batch();
    harness
        .core
        .handle_record_answer(batch, Err(RecordError("disk".to_owned())));
    assert!(pushes(&harness.drain()).is_empty());
    assert_eq!(harness.core.summary(role(ROLE)), None);
    let pushed = pushes(&harness.settle(&[update(ROLE, 1, 1, 5)]));
    assert_eq!(pushed[0].1[0].version, 1);
}

#[test]
fn a_late_or_duplicated_update_never_overwrites_a_newer_one() {
    let mut harness = Harness::new();
    harness.subscribe("gs2", &[ROLE]);
    harness.settle(&[update(ROLE, 2, 5, 9)]);
    let stale = [
        update(ROLE, 2, 5, 9),
        update(ROLE, 2, 4, 3),
        update(ROLE, 1, 99, 7),
    ];
    let outputs = harness.settle(&stale);
    assert!(pushes(&outputs).is_empty(), "{outputs:?}");
    let summary = harness.core.summary(role(ROLE)).unwrap();
    assert_eq!((summary.version, summary.level), (1, 9));
}

#[test]
fn versions_grow_by_one_per_change_of_profile_or_whereabouts() {
    let mut harness = Harness::new();
    harness.subscribe("gs2", &[ROLE]);
    let changes = [
        update(ROLE, 1, 1, 1),
        set_current(ROLE, "gs1", true, 1),
        // Where it is, unchanged: no new version.
        set_current(ROLE, "gs1", true, 1),
        // The same profile, newer: no new version.
        update(ROLE, 1, 2, 1),
        update(ROLE, 1, 3, 2),
    ];
    let pushed: Vec<Summary> = pushes(&harness.settle(&changes))
        .into_iter()
        .flat_map(|(_, summaries)| summaries)
        .collect();
    let versions: Vec<u64> = pushed.iter().map(|summary| summary.version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(
        (pushed[1].srvname.as_str(), pushed[1].online),
        ("gs1", true)
    );
    assert_eq!(pushed[2].level, 2);
    let crossed = harness.settle(&[set_current(ROLE, "gs3", true, 2)]);
    assert_eq!(pushes(&crossed)[0].1[0].version, 4);
    assert_eq!(pushes(&crossed)[0].1[0].srvname, "gs3");
}

#[test]
fn a_snapshot_shows_the_durable_summaries_and_unsubscribing_stops_the_pushes() {
    let mut harness = Harness::new();
    harness.settle(&[update(ROLE, 1, 1, 4), set_current(ROLE, "gs1", true, 1)]);
    let snapshot = harness.subscribe("gs3", &[ROLE, 2_000_001]);
    assert_eq!(snapshot.len(), 1, "an unknown role is left out");
    assert_eq!(
        (
            snapshot[0].version,
            snapshot[0].level,
            snapshot[0].srvname.as_str()
        ),
        (2, 4, "gs1")
    );
    assert_eq!(harness.core.subscriptions(), 2);
    let outputs = harness.settle(&[unsubscribe("gs3", &[ROLE])]);
    assert_eq!(replies(&outputs)[0].1, ack());
    assert!(pushes(&harness.settle(&[update(ROLE, 1, 2, 5)])).is_empty());
}

#[test]
fn each_subscriber_gets_its_own_push_and_others_get_none() {
    let mut harness = Harness::new();
    harness.subscribe("gs2", &[ROLE]);
    harness.subscribe("gs3", &[ROLE]);
    harness.subscribe("gs4", &[2_000_001]);
    let pushed = pushes(&harness.settle(&[update(ROLE, 1, 1, 2)]));
    let nodes: Vec<&str> = pushed.iter().map(|(node, _)| node.as_str()).collect();
    assert_eq!(nodes, vec!["gs2", "gs3"]);
}

#[test]
fn bad_updates_and_subscriptions_get_typed_refusals() {
    let mut harness = Harness::new();
    let too_many_fields = SummaryUpdate {
        roleid: ROLE,
        fields: (0..=FIELDS_MAX)
            .map(|field| SummaryField {
                name: format!("f{field}"),
                value: String::new(),
            })
            .collect(),
        ..SummaryUpdate::default()
    };
    let twice = SummaryUpdate {
        roleid: ROLE,
        fields: vec![SummaryField::default(); 2],
        ..SummaryUpdate::default()
    };
    let too_many_roles: Vec<u64> = (1..=SUBSCRIBE_ROLEIDS_MAX as u64 + 1)
        .map(|seq| 1_000_000 + seq)
        .collect();
    let cases = [
        (
            message(Body::SummaryUpdate(too_many_fields)),
            ErrorCode::BadArgument,
        ),
        (message(Body::SummaryUpdate(twice)), ErrorCode::BadArgument),
        (update(7, 1, 1, 1), ErrorCode::UnknownRole),
        (subscribe("gs2", &too_many_roles), ErrorCode::BadArgument),
        (subscribe("", &[ROLE]), ErrorCode::BadArgument),
        (subscribe("gs2", &[7]), ErrorCode::UnknownRole),
        (unsubscribe("gs2", &[7]), ErrorCode::UnknownRole),
    ];
    for (bad, code) in cases {
        let outputs = harness.settle(std::slice::from_ref(&bad));
        assert_eq!(error_code(&replies(&outputs)[0].1), Some(code), "{bad:?}");
    }
    assert_eq!(harness.core.subscriptions(), 0);
}

#[test]
fn subscriptions_past_their_bound_are_refused_whole() {
    let mut table = Subscriptions::new(2);
    let roles = [role(1_000_001), role(1_000_002), role(1_000_003)];
    table.subscribe("gs1", &roles[..2]).unwrap();
    table.subscribe("gs1", &roles[..2]).unwrap();
    let refused = table.subscribe("gs2", &roles[2..]).unwrap_err();
    assert_eq!(refused.0, ErrorCode::Overloaded);
    assert!(!table.is_subscribed("gs2", roles[2]));
    table.unsubscribe("gs1", &roles[..1]);
    table.subscribe("gs2", &roles[2..]).unwrap();
    assert_eq!(table.len(), 2);
}

/// Every permutation of `items` (Heap's algorithm).
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    fn heap<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(j, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(items.len(), &mut items.to_vec(), &mut out);
    out
}

/// The ordering property: whatever order racing updates arrive in (a
/// duplicate and a late one among them), and however they are split into
/// batches, a subscriber's pushes carry versions 1, 2, 3… with no gap, each
/// pushed profile is newer by `(epoch, seq)` than the one before, and the
/// summary ends as the newest update says.
#[test]
fn racing_updates_in_every_order_and_batching_push_contiguous_versions_ending_at_the_newest() {
    // (epoch, seq, level): the newest is (2, 1).
    let updates = [(1, 1, 10), (1, 2, 11), (2, 1, 12), (1, 2, 11), (1, 3, 13)];
    let level_order = |level: u32| match level {
        10 => (1, 1),
        11 => (1, 2),
        13 => (1, 3),
        _ => (2, 1),
    };
    for order in permutations(&updates) {
        for split in 0..=order.len() {
            let mut harness = Harness::new();
            harness.subscribe("gs2", &[ROLE]);
            let messages: Vec<NodeMessage> = order
                .iter()
                .map(|(epoch, seq, level)| update(ROLE, *epoch, *seq, *level))
                .collect();
            let mut pushed = pushes(&harness.settle(&messages[..split]));
            pushed.extend(pushes(&harness.settle(&messages[split..])));
            let summaries: Vec<Summary> = pushed.into_iter().flat_map(|(_, s)| s).collect();
            for (index, summary) in summaries.iter().enumerate() {
                assert_eq!(summary.version, index as u64 + 1, "{order:?} split {split}");
            }
            let orders: Vec<(u64, u64)> = summaries
                .iter()
                .map(|summary| level_order(summary.level))
                .collect();
            assert!(orders.windows(2).all(|pair| pair[0] < pair[1]), "{order:?}");
            assert_eq!(harness.core.summary(role(ROLE)).unwrap().level, 12);
        }
    }
}

#[test]
fn a_restarted_core_continues_the_versions_it_loaded() {
    let loaded = SummaryRecord {
        version: 5,
        epoch: 3,
        seq: 9,
        ..SummaryRecord::empty(role(ROLE))
    };
    let mut harness = Harness::new();
    harness.core = DataCenterCore::new([]).with_summaries([loaded]);
    harness.subscribe("gs2", &[ROLE]);
    assert!(
        pushes(&harness.settle(&[update(ROLE, 3, 9, 8)])).is_empty(),
        "not newer"
    );
    let pushed = pushes(&harness.settle(&[update(ROLE, 3, 10, 8)]));
    assert_eq!(pushed[0].1[0].version, 6);
}
