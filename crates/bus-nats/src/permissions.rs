//! What a node process may do on NATS, and NATS's reports of what it
//! refused.
//!
//! [`Access`] is what one process does on the bus, by node and topic name
//! (the zone derives it from its roles); [`Permissions::of`] turns it into
//! the subjects NATS lets that process's user publish and subscribe:
//!
//! - subscribe: the node subjects it binds, the topics it subscribes, and
//!   its own reply inboxes (`_INBOX.kuafu.<zone>.<process>.>`, the prefix
//!   its connection uses, [`Subjects::inbox_prefix`]);
//! - publish: the node subjects it requests, the topics it publishes, and
//!   the zone's barrier (`NatsBus::flush`); a reply goes to the requester's
//!   inbox through `allow_responses` (one reply per request received), so
//!   a process can answer only the requests NATS delivered to it.
//!
//! [`authorization_block`] prints the server's `authorization` block of a
//! zone: one nkey user per process. [`Refusals`] keeps the subjects NATS
//! refused this connection (a subscription or a publish beyond its
//! permissions, reported asynchronously as `-ERR`), so the bus closes a
//! binding or topic NATS refused instead of waiting on it silently.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use tokio::sync::watch;

use crate::subjects::{self, Subjects};

/// Refused subjects a connection remembers; later refusals are only logged.
pub const REFUSALS_KEPT_MAX: usize = 1_024;

/// What one process does on the bus, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// The node names it binds (takes requests for).
    pub binds: BTreeSet<String>,
    /// The node names it sends requests to.
    pub requests: BTreeSet<String>,
    /// The topics it publishes.
    pub publishes: BTreeSet<String>,
    /// The topics it subscribes to.
    pub subscribes: BTreeSet<String>,
}

/// The subjects one process's NATS user may publish and subscribe to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects it may publish to (replies aside: `allow_responses`).
    pub publish: Vec<String>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<String>,
}

impl Permissions {
    /// The permissions of process `process` of the zone of `subjects`,
    /// which does `access` on the bus.
    pub fn of(subjects: &Subjects, process: &str, access: &Access) -> Self {
        let nodes =
            |names: &BTreeSet<String>| names.iter().map(|name| subjects.node(name)).collect();
        let topics =
            |names: &BTreeSet<String>| names.iter().map(|name| subjects.topic(name)).collect();
        let inboxes = format!("{}.>", subjects.inbox_prefix(process));
        let publish = [
            nodes(&access.requests),
            topics(&access.publishes),
            vec![subjects.barrier()],
        ]
        .concat();
        let subscribe = [
            nodes(&access.binds),
            topics(&access.subscribes),
            vec![inboxes],
        ]
        .concat();
        Self { publish, subscribe }
    }
}

/// One process's NATS user.
#[derive(Clone, Debug)]
pub struct User {
    /// The process (node) name.
    pub process: String,
    /// Its nkey's public key (`U…`).
    pub public_key: String,
    /// What it does on the bus.
    pub access: Access,
}

/// The nats-server `authorization` block of zone `zone`: one nkey user per
/// process with its [`Permissions`], each answering only the requests it
/// received.
pub fn authorization_block(zone: &str, users: &[User]) -> String {
    let subjects = Subjects::new(zone);
    let mut block = String::from("authorization {\n  users = [\n");
    for user in users {
        let permissions = Permissions::of(&subjects, &user.process, &user.access);
        let _ = write!(
            block,
            "    # {process}\n    {{\n      nkey: {key}\n      permissions: {{\n        \
             publish: {{ allow: {publish} }}\n        subscribe: {{ allow: {subscribe} }}\n        \
             allow_responses: true\n      }}\n    }}\n",
            process = subjects::token(&user.process),
            key = quoted(&user.public_key),
            publish = list(&permissions.publish),
            subscribe = list(&permissions.subscribe),
        );
    }
    block.push_str("  ]\n}\n");
    block
}

/// A string nats-server's configuration reads back as itself: every
/// subject and public key is ASCII letters, digits and `._~>-`, which need
/// no escape inside double quotes.
fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| quoted(item)).collect();
    format!("[{}]", quoted.join(", "))
}

/// What NATS refused, from its `-ERR` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A subscription to the subject.
    Subscribe(String),
    /// A publish to the subject.
    Publish(String),
}

/// The violation nats-server reports as `error` (its `-ERR` text, quotes
/// trimmed), e.g. `Permissions Violation for Subscription to "a.b"`;
/// `None` for any other error.
pub(crate) fn violation(error: &str) -> Option<Violation> {
    const SUBSCRIPTION: &str = "permissions violation for subscription to \"";
    const PUBLISH: &str = "permissions violation for publish to \"";
    let lower = error.to_ascii_lowercase();
    let (kind, start): (fn(String) -> Violation, usize) = if lower.starts_with(SUBSCRIPTION) {
        (Violation::Subscribe, SUBSCRIPTION.len())
    } else if lower.starts_with(PUBLISH) {
        (Violation::Publish, PUBLISH.len())
    } else {
        return None;
    };
    let rest = &error[start..];
    let subject = &rest[..rest.find('"')?];
    Some(kind(subject.to_owned()))
}

/// The subjects NATS refused one connection's subscriptions to (at most
/// [`REFUSALS_KEPT_MAX`]), watched by its bindings and topics.
pub(crate) struct Refusals {
    subscriptions: watch::Sender<BTreeSet<String>>,
}

impl Refusals {
    pub(crate) fn new() -> Self {
        Self {
            subscriptions: watch::Sender::new(BTreeSet::new()),
        }
    }

    /// Notes server error `error` of client `client`: a refused
    /// subscription is kept and its watchers woken; every violation is
    /// logged.
    pub(crate) fn note(&self, client: &str, error: &str) {
        match violation(error) {
            Some(Violation::Subscribe(subject)) => {
                tracing::error!(
                    client,
                    subject,
                    "NATS refused a subscription: not permitted"
                );
                self.subscriptions.send_if_modified(|refused| {
                    refused.len() < REFUSALS_KEPT_MAX && refused.insert(subject)
                });
            }
            Some(Violation::Publish(subject)) => {
                tracing::error!(client, subject, "NATS refused a publish: not permitted");
            }
            None => tracing::warn!(client, error, "NATS reported an error"),
        }
    }

    /// The subscriptions refused so far.
    pub(crate) fn subscriptions(&self) -> BTreeSet<String> {
        self.subscriptions.borrow().clone()
    }

    /// A watch on the refused subscriptions.
    pub(crate) fn watch(&self) -> watch::Receiver<BTreeSet<String>> {
        self.subscriptions.subscribe()
    }
}

/// Waits until NATS refused the subscription to `subject` (forever if it
/// never does, or once the refusals are gone with their connection).
pub(crate) async fn refused(mut refusals: watch::Receiver<BTreeSet<String>>, subject: String) {
    let refusal = refusals
        .wait_for(|refused| refused.contains(&subject))
        .await
        .map(drop);
    if refusal.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_process_may_subscribe_to_what_it_binds_and_hears_and_publish_what_it_asks_and_says() {
        let access = Access {
            binds: names(&["gs1", "gs1.battle"]),
            requests: names(&["datacenter", "gs2"]),
            publishes: names(&["horn"]),
            subscribes: names(&["horn"]),
        };
        let permissions = Permissions::of(&Subjects::new("z"), "gs1", &access);
        assert_eq!(
            permissions.subscribe,
            [
                "kuafu.z.node.gs1",
                "kuafu.z.node.gs1~2ebattle",
                "kuafu.z.topic.horn",
                "_INBOX.kuafu.z.gs1.>"
            ]
        );
        assert_eq!(
            permissions.publish,
            [
                "kuafu.z.node.datacenter",
                "kuafu.z.node.gs2",
                "kuafu.z.topic.horn",
                "kuafu.z.barrier"
            ]
        );
    }

    #[test]
    fn the_block_lists_each_user_with_its_key_and_subjects() {
        let user = User {
            process: "data\ncenter".into(),
            public_key: "UABC".into(),
            access: Access {
                binds: names(&["datacenter"]),
                ..Access::default()
            },
        };
        let block = authorization_block("z", &[user]);
        assert!(
            block.starts_with("authorization {\n  users = [\n"),
            "{block}"
        );
        assert!(block.contains("# data~0acenter\n"), "{block}");
        assert!(block.contains("nkey: \"UABC\""), "{block}");
        assert!(
            block.contains("publish: { allow: [\"kuafu.z.barrier\"] }"),
            "{block}"
        );
        assert!(
            block.contains(
                "subscribe: { allow: [\"kuafu.z.node.datacenter\", \
                 \"_INBOX.kuafu.z.data~0acenter.>\"] }"
            ),
            "{block}"
        );
        assert!(block.contains("allow_responses: true"), "{block}");
    }

    #[test]
    fn server_errors_name_the_refused_subject() {
        assert_eq!(
            violation("Permissions Violation for Subscription to \"kuafu.z.node.gs2\""),
            Some(Violation::Subscribe("kuafu.z.node.gs2".into()))
        );
        assert_eq!(
            violation("Permissions Violation for Publish to \"a.b\""),
            Some(Violation::Publish("a.b".into()))
        );
        for other in [
            "Authorization Violation",
            "Permissions Violation for Publish to \"unterminated",
            "",
        ] {
            assert_eq!(violation(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_refused_subscription_is_kept_once_and_wakes_its_watchers() {
        let refusals = Refusals::new();
        let watch = refusals.watch();
        refusals.note("gs1", "Permissions Violation for Publish to \"a\"");
        assert!(!watch.has_changed().unwrap(), "a publish is only logged");
        refusals.note("gs1", "Permissions Violation for Subscription to \"b\"");
        refusals.note("gs1", "Permissions Violation for Subscription to \"b\"");
        assert!(watch.has_changed().unwrap());
        assert_eq!(refusals.subscriptions(), names(&["b"]));
    }
}
