//! Friends through the core's API: the friend list's bounds and refusals,
//! the friends' subscriptions at the data center, and the summaries a push
//! brings into the list and to the client (`FriendChanged`).

mod harness;

use gamecore::limits::FRIENDS_MAX;
use harness::Harness;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{AddFriend, ErrorCode, FriendList, ListFriends, RemoveFriend};
use wire::node::node_message::Body;
use wire::node::{NodeMessage, Summary, SummaryPush, SummarySnapshot};

/// A role of another server.
const FRIEND: u64 = 2_000_001;

fn list(harness: &Harness, session: gamecore::SessionId, request_id: u64) -> FriendList {
    match harness.reply(session, request_id) {
        Some(Out::FriendList(list)) => list.clone(),
        other => panic!("a friend list expected: {other:?}"),
    }
}

fn summary(version: u64, level: u32, srvname: &str) -> Summary {
    Summary {
        roleid: FRIEND,
        version,
        name: "friend".into(),
        level,
        srvname: srvname.into(),
        online: true,
        ..Summary::default()
    }
}

#[test]
fn a_player_keeps_at_most_friends_max_friends_and_bad_ones_are_refused() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(1);
    let session = harness.log_in_and_enter(1, roleid);
    for seq in 1..=FRIENDS_MAX as u64 {
        let request = harness.call(
            session,
            Call::AddFriend(AddFriend {
                roleid: FRIEND + seq,
            }),
        );
        assert_eq!(list(&harness, session, request).friends.len() as u64, seq);
    }
    let refusals = [
        (FRIEND + FRIENDS_MAX as u64 + 1, ErrorCode::BadArgument),
        (FRIEND + 1, ErrorCode::BadArgument),
        (roleid.get(), ErrorCode::BadArgument),
        (7, ErrorCode::UnknownRole),
    ];
    for (friend, code) in refusals {
        let request = harness.call(session, Call::AddFriend(AddFriend { roleid: friend }));
        assert_eq!(harness.error(session, request), Some(code), "{friend}");
    }
    let request = harness.call(session, Call::RemoveFriend(RemoveFriend { roleid: 42 }));
    assert_eq!(
        harness.error(session, request),
        Some(ErrorCode::BadArgument)
    );
}

#[test]
fn a_friend_is_subscribed_to_and_its_pushes_reach_the_list_and_the_client_in_order() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(1);
    let session = harness.log_in_and_enter(1, roleid);
    let request = harness.call(session, Call::AddFriend(AddFriend { roleid: FRIEND }));
    assert!(!list(&harness, session, request).friends[0].known);
    let (call, subscribe) = loop {
        let (call, message) = harness.take_request("datacenter");
        if let Some(Body::SubscribeSummaries(subscribe)) = message.body {
            break (call, subscribe);
        }
        harness.answer_call(call, Ok(Harness::ack()));
    };
    assert_eq!(
        (subscribe.node.as_str(), subscribe.roleids.as_slice()),
        ("gs1", &[FRIEND][..])
    );
    let snapshot = SummarySnapshot {
        summaries: vec![summary(3, 7, "gs2")],
    };
    let body = Some(Body::SummarySnapshot(snapshot));
    harness.answer_call(call, Ok(NodeMessage { body }));
    for pushed in [
        summary(4, 8, "gs3"),
        summary(4, 8, "gs3"),
        summary(2, 1, "gs1"),
    ] {
        let push = SummaryPush {
            summaries: vec![pushed],
        };
        harness.topic(NodeMessage {
            body: Some(Body::SummaryPush(push)),
        });
    }
    let changes: Vec<(u64, u32)> = harness
        .frames_to(session)
        .into_iter()
        .filter_map(|frame| match &frame.body {
            Some(Out::FriendChanged(changed)) => changed.friend.as_ref(),
            _ => None,
        })
        .map(|friend| (friend.version, friend.level))
        .collect();
    assert_eq!(
        changes,
        vec![(3, 7), (4, 8)],
        "in order, a duplicate and an older one ignored"
    );
    let request = harness.call(session, Call::ListFriends(ListFriends {}));
    let shown = &list(&harness, session, request).friends[0];
    assert_eq!(
        (shown.level, shown.srvname.as_str(), shown.online),
        (8, "gs3", true)
    );
}
