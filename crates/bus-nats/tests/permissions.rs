//! Node credentials on a private nats-server started with the
//! authorization block `authorization_block` prints: each node process is
//! its own nkey user and may use only the subjects its role needs. A node
//! with a wrong key (or none) is refused with a typed error; a node cannot
//! bind another node's name, answer its requests or hear a topic it was not
//! given (NATS refuses the subscription, and the bus ends the binding and
//! reports it), nor read another node's replies; a publish beyond its
//! permissions reaches no one; the
//! permitted traffic works and NATS logs no violation for it.
//!
//! Under `CI=true` the tests fail when nats-server is not installed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bus::contract::{horn, is_online};
use bus::{Bus, BusError};
use bus_nats::{Access, ConnectError, NatsBus, NodeKey, Subjects, User, authorization_block};
use common::HANG_GUARD;
use tempfile::TempDir;
use test_support::PrivateNats;

const DEADLINE: Duration = Duration::from_secs(2);

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// Two game servers that hear the horn (gs1 may also sound it) and an
/// account center that asks both.
fn zone_access() -> BTreeMap<&'static str, Access> {
    let game = |me: &str, peer: &str, publishes: &[&str]| Access {
        binds: names(&[me]),
        requests: names(&[peer]),
        publishes: names(publishes),
        subscribes: names(&["horn"]),
    };
    let account = Access {
        binds: names(&["account"]),
        requests: names(&["gs1", "gs2"]),
        ..Access::default()
    };
    BTreeMap::from([
        ("gs1", game("gs1", "gs2", &["horn"])),
        ("gs2", game("gs2", "gs1", &[])),
        ("account", account),
    ])
}

/// A private nats-server with the zone's authorization block.
struct Secured {
    zone: String,
    keys: BTreeMap<&'static str, NodeKey>,
    nats: PrivateNats,
    dir: TempDir,
}

impl Secured {
    async fn start() -> Option<Self> {
        let mut nats = PrivateNats::on_port(test_support::free_port())?;
        let zone = common::unique_zone("permissions");
        let access = zone_access();
        let keys: BTreeMap<_, _> = access
            .keys()
            .map(|&name| (name, NodeKey::generate()))
            .collect();
        let users: Vec<User> = access
            .into_iter()
            .map(|(process, access)| User {
                process: process.to_owned(),
                public_key: keys[process].public_key().to_owned(),
                access,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("nats.conf");
        std::fs::write(&config, authorization_block(&zone, &users)).unwrap();
        nats = nats
            .with_config(&config)
            .with_log(&dir.path().join("nats.log"));
        nats.start().await;
        Some(Self {
            zone,
            keys,
            nats,
            dir,
        })
    }

    async fn connect(&self, process: &str, key: Option<NodeKey>) -> Result<NatsBus, ConnectError> {
        let mut config = common::config(&self.nats.url(), &self.zone, process, 3);
        config.key = key;
        NatsBus::connect(&config).await
    }

    /// Process `process` with its own key.
    async fn node(&self, process: &str) -> NatsBus {
        let key = self.keys[process].clone();
        self.connect(process, Some(key))
            .await
            .expect("its own key is accepted")
    }

    /// The permission violations in the server's log.
    fn logged_violations(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default();
        log.lines()
            .filter(|line| line.contains("Violation"))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn a_node_with_a_wrong_key_or_none_is_refused_with_a_typed_error() {
    let Some(zone) = Secured::start().await else {
        return;
    };
    for key in [Some(NodeKey::generate()), None] {
        let refused = tokio::time::timeout(HANG_GUARD, zone.connect("gs1", key))
            .await
            .expect("refused at once, not retried");
        match refused {
            Err(error @ ConnectError::NotAuthorized { .. }) => {
                let shown = error.to_string();
                assert!(shown.contains("refused gs1's credentials"), "{shown}");
            }
            other => panic!("not refused as unauthorized: {:?}", other.err()),
        }
    }
    zone.node("gs1").await;
}

#[tokio::test]
async fn a_node_cannot_bind_another_nodes_name_nor_answer_its_requests() {
    let Some(zone) = Secured::start().await else {
        return;
    };
    let (impostor, account) = (zone.node("gs1").await, zone.node("account").await);
    let mut stolen = impostor.bind("gs2", 8).unwrap();
    let ended = tokio::time::timeout(HANG_GUARD, stolen.recv()).await;
    assert!(
        matches!(ended, Ok(None)),
        "the refused binding's inbox ends"
    );
    let gs2_subject = Subjects::new(&zone.zone).node("gs2");
    assert_eq!(
        impostor.refused_subscriptions(),
        std::slice::from_ref(&gs2_subject)
    );
    let flushed = impostor.flush().await;
    assert!(
        matches!(&flushed, Err(BusError::Transport(reason)) if reason.contains(&gs2_subject)),
        "{flushed:?}"
    );
    let reply = account
        .request("account", "gs2", is_online(1), DEADLINE)
        .await;
    assert_eq!(reply, Err(BusError::UnknownNode("gs2".into())));

    // The real gs2 takes its own requests; the impostor never sees one.
    let owner = zone.node("gs2").await;
    let mut inbox = owner.bind("gs2", 8).unwrap();
    owner.flush().await.unwrap();
    let (reply, ()) = tokio::join!(
        account.request("account", "gs2", is_online(2), DEADLINE),
        async { inbox.recv().await.unwrap().reply(bus::ack()) }
    );
    assert_eq!(reply, Ok(bus::ack()));
    assert!(owner.refused_subscriptions().is_empty());
}

#[tokio::test]
async fn a_node_hears_and_sounds_only_the_topics_its_role_needs() {
    let Some(zone) = Secured::start().await else {
        return;
    };
    let (gs1, gs2) = (zone.node("gs1").await, zone.node("gs2").await);
    let mut heard = gs1.subscribe("horn");
    gs1.flush().await.unwrap();
    // gs2 may hear the horn but not sound it: NATS drops its publish, which
    // it processes before gs2's flush returns and so before gs1's below.
    gs2.publish("horn", horn("forged"));
    gs2.flush().await.unwrap();
    gs1.publish("horn", horn("real"));
    let first = tokio::time::timeout(HANG_GUARD, heard.recv())
        .await
        .unwrap();
    assert_eq!(first, Some(horn("real")));
    let violations = zone.logged_violations();
    assert!(
        violations.len() == 1 && violations[0].contains("Publish Violation"),
        "{violations:?}"
    );

    let mut not_given = gs2.subscribe("secret");
    let ended = tokio::time::timeout(HANG_GUARD, not_given.recv()).await;
    assert_eq!(ended, Ok(None), "the refused topic's subscription ends");
    let secret = Subjects::new(&zone.zone).topic("secret");
    assert_eq!(gs2.refused_subscriptions(), [secret]);
}

#[tokio::test]
async fn the_permitted_requests_and_topics_work_and_nats_logs_no_violation() {
    let Some(zone) = Secured::start().await else {
        return;
    };
    let (gs1, gs2, account) = (
        zone.node("gs1").await,
        zone.node("gs2").await,
        zone.node("account").await,
    );
    let mut inboxes = [gs1.bind("gs1", 8).unwrap(), gs2.bind("gs2", 8).unwrap()];
    let mut horns = gs2.subscribe("horn");
    for bus in [&gs1, &gs2, &account] {
        bus.flush().await.expect("nothing refused");
    }
    let requests = [
        account.request("account", "gs1", is_online(1), DEADLINE),
        account.request("account", "gs2", is_online(2), DEADLINE),
        gs1.request("gs1", "gs2", is_online(3), DEADLINE),
        gs2.request("gs2", "gs1", is_online(4), DEADLINE),
    ];
    // Each node takes the two requests made to it.
    let answering = async {
        for inbox in &mut inboxes {
            for _ in 0..2 {
                let incoming = tokio::time::timeout(HANG_GUARD, inbox.recv())
                    .await
                    .unwrap();
                incoming.unwrap().reply(bus::ack());
            }
        }
    };
    let (replies, ()) = tokio::join!(futures_util::future::join_all(requests), answering);
    assert!(
        replies.iter().all(|reply| *reply == Ok(bus::ack())),
        "{replies:?}"
    );
    gs1.publish("horn", horn("hello"));
    let heard = tokio::time::timeout(HANG_GUARD, horns.recv())
        .await
        .unwrap();
    assert_eq!(heard, Some(horn("hello")));
    for bus in [&gs1, &gs2, &account] {
        bus.flush().await.expect("nothing refused");
    }
    assert_eq!(zone.logged_violations(), Vec::<String>::new());
}

/// A client holding gs1's key cannot subscribe to the account center's
/// reply inboxes: NATS refuses and logs it.
#[tokio::test]
async fn a_node_cannot_read_another_nodes_replies() {
    let Some(zone) = Secured::start().await else {
        return;
    };
    let seed_file = zone.dir.path().join("gs1.nk");
    zone.keys["gs1"].write_new(&seed_file).unwrap();
    let seed = std::fs::read_to_string(&seed_file).unwrap();
    let subjects = Subjects::new(&zone.zone);
    let spy = async_nats::ConnectOptions::with_nkey(seed.trim().to_owned())
        .custom_inbox_prefix(subjects.inbox_prefix("gs1"))
        .connect(zone.nats.url())
        .await
        .expect("gs1's key is accepted");
    let inboxes = format!("{}.>", subjects.inbox_prefix("account"));
    let _replies = spy.subscribe(inboxes.clone()).await.unwrap();
    // NATS logs the refusal before it answers the round trip below.
    let barrier = spy.request(subjects.barrier(), "".into());
    let _no_responders = barrier.await.unwrap_err();
    let violations = zone.logged_violations();
    assert!(
        violations.len() == 1
            && violations[0].contains("Subscription Violation")
            && violations[0].contains(&inboxes),
        "{violations:?}"
    );
}
