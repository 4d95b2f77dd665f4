//! The bus on NATS (DESIGN §3, §4): the [`bus::Bus`] trait over async-nats,
//! for the distributed mode, where every node is its own process.
//!
//! A node's requests arrive on `kuafu.<zone>.node.<name>`, a topic on
//! `kuafu.<zone>.topic.<name>` ([`Subjects`]); messages are the protobuf
//! `NodeMessage`s of every bus (`envelope`). Every request has a deadline;
//! "no responders" is [`BusError::UnknownNode`] at once, no reply by the
//! deadline is [`BusError::Timeout`] (an unknown outcome). NATS carries
//! messages, never facts: a lost message costs a retry or a timeout.
//!
//! The trait's `bind`, `unbind`, `subscribe` and `publish` return at once;
//! each hands its command to the client's queue before returning, so what a
//! bus does takes effect on NATS in the order it was called (a bind, then a
//! request to it, works), and [`NatsBus::flush`] waits until NATS has it all
//! (what another connection needs before it can reach a new binding).
//! They must be called inside a tokio runtime.
//!
//! [`NatsBus::connect`] waits for NATS at start and the client reconnects
//! after any loss (`connect`).
//!
//! On a server with authorization each node process is its own nkey user
//! ([`NodeKey`], `credentials`) and may use only the subjects its role
//! needs ([`Access`], [`Permissions`], [`authorization_block`]). NATS
//! reports a subscription it refused after the fact: the bus then ends the
//! binding (the node's inbox closes) or the topic subscription, and
//! [`NatsBus::refused_subscriptions`] and [`NatsBus::flush`] report it.

mod backoff;
mod connect;
mod credentials;
mod envelope;
mod node;
mod permissions;
mod subjects;
mod topic;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::{Client, Request, RequestErrorKind};
use bus::{Bus, BusError, Inbox, SUBSCRIPTION_MESSAGES_MAX, Subscription};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use wire::node::NodeMessage;

use permissions::Refusals;

pub use backoff::Backoff;
pub use connect::{
    CLIENT_SUBSCRIPTION_MESSAGES_MAX, COMMANDS_MAX, CONNECT_ATTEMPTS_MAX, ConnectError,
    NatsBusConfig,
};
pub use credentials::{CredentialsError, KEY_FILE_EXTENSION, NodeKey, key_file};
pub use node::PENDING_REPLIES_MAX;
pub use permissions::{Access, Permissions, REFUSALS_KEPT_MAX, User, authorization_block};
pub use subjects::Subjects;

/// The longest [`NatsBus::flush`] waits.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// A bus whose nodes reach each other through NATS. Clones share the
/// connection and the bindings; when the last clone is dropped, its nodes
/// are unbound (and the connection closes once their last answers are
/// sent and its topic subscriptions are dropped).
#[derive(Clone)]
pub struct NatsBus {
    client: Client,
    subjects: Subjects,
    bindings: Arc<Bindings>,
    refusals: Arc<Refusals>,
}

/// The nodes bound through one bus, by name.
#[derive(Default)]
struct Bindings(Mutex<BTreeMap<String, Arc<node::Binding>>>);

impl Drop for Bindings {
    fn drop(&mut self) {
        let bindings = self
            .0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for binding in bindings.values() {
            binding.close();
        }
    }
}

impl NatsBus {
    /// Connects to NATS (waiting while it is unreachable, see
    /// [`NatsBusConfig`]) and returns the bus of zone `config.zone`.
    pub async fn connect(config: &NatsBusConfig) -> Result<Self, ConnectError> {
        let refusals = Arc::new(Refusals::new());
        let client = connect::connect(config, &refusals).await?;
        Ok(Self {
            client,
            subjects: Subjects::new(&config.zone),
            bindings: Arc::default(),
            refusals,
        })
    }

    /// The subjects NATS refused this bus's subscriptions to (binds and
    /// topics beyond its user's permissions), as reported so far.
    pub fn refused_subscriptions(&self) -> Vec<String> {
        self.refusals.subscriptions().into_iter().collect()
    }

    /// Waits until NATS has processed everything this bus sent so far
    /// (binds, unbinds, subscriptions, publishes), so another connection's
    /// requests reach the nodes bound here: a round trip, like the Go
    /// client's `Flush` (async-nats's own `flush` only empties the socket
    /// buffer). At most [`FLUSH_DEADLINE`]. An error also when NATS has
    /// reported refusing a subscription of this bus (NATS sends the refusal
    /// before the round trip's answer, but the client hands it over on its
    /// own task: one reported just now may show only in a later call).
    pub async fn flush(&self) -> Result<(), BusError> {
        // NATS answers "no responders" only after it processed the request,
        // and it processes one connection's messages in order.
        let barrier = Request::new().timeout(Some(FLUSH_DEADLINE));
        let round_trip = self.client.send_request(self.subjects.barrier(), barrier);
        match tokio::time::timeout(FLUSH_DEADLINE, round_trip).await {
            Ok(Ok(_reply)) => {}
            Ok(Err(error)) if error.kind() == RequestErrorKind::NoResponders => {}
            Ok(Err(error)) => return Err(BusError::Transport(format!("flush: {error}"))),
            Err(_elapsed) => {
                return Err(BusError::Transport("flush: no round trip in time".into()));
            }
        }
        let refused = self.refused_subscriptions();
        if refused.is_empty() {
            return Ok(());
        }
        Err(BusError::Transport(format!(
            "NATS refused the subscriptions to {refused:?}: not permitted"
        )))
    }

    /// Whether the connection to NATS is up now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn bindings(&self) -> MutexGuard<'_, BTreeMap<String, Arc<node::Binding>>> {
        self.bindings
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes to `subject` now if the client's queue has room (so the
    /// subscription is in order with the bus's other calls); `Ok(None)` if
    /// it has none and the caller's task must subscribe later.
    fn subscribe_now(&self, subject: &str) -> Result<Option<async_nats::Subscriber>, BusError> {
        let subscribing = tokio::task::unconstrained(self.client.subscribe(subject.to_owned()));
        match subscribing.now_or_never() {
            Some(Ok(subscriber)) => Ok(Some(subscriber)),
            Some(Err(error)) => Err(BusError::Transport(format!("subscribe {subject}: {error}"))),
            None => Ok(None),
        }
    }
}

impl Bus for NatsBus {
    fn bind(&self, name: &str, inbox_max: usize) -> Result<Inbox, BusError> {
        let mut bindings = self.bindings();
        if let Some(existing) = bindings.get(name) {
            if !existing.is_stopped() {
                return Err(BusError::AlreadyBound(name.to_owned()));
            }
            existing.close();
        }
        let subject = self.subjects.node(name);
        let subscriber = self.subscribe_now(&subject)?;
        let (sender, inbox) = mpsc::channel(inbox_max.max(1));
        let binding = Arc::new(node::Binding::new(subscriber, sender));
        bindings.insert(name.to_owned(), binding.clone());
        let refused = permissions::refused(self.refusals.watch(), subject.clone());
        tokio::spawn(node::serve(self.client.clone(), subject, binding, refused));
        Ok(inbox)
    }

    fn unbind(&self, name: &str) {
        if let Some(binding) = self.bindings().remove(name) {
            binding.close();
        }
    }

    fn request(
        &self,
        from: &str,
        to: &str,
        message: NodeMessage,
        deadline: Duration,
    ) -> BoxFuture<'static, Result<NodeMessage, BusError>> {
        let (client, subject, to) = (self.client.clone(), self.subjects.node(to), to.to_owned());
        let (headers, payload) = envelope::request(from, &message);
        let request = Request::new()
            .headers(headers)
            .payload(payload)
            .timeout(Some(deadline));
        async move {
            // The client's own timeout starts once the request is queued;
            // this one also covers a queue that is full while NATS is away.
            match tokio::time::timeout(deadline, client.send_request(subject, request)).await {
                Err(_elapsed) => Err(BusError::Timeout(to)),
                Ok(Ok(reply)) => envelope::open_reply(&to, reply.headers.as_ref(), reply.payload),
                Ok(Err(error)) => Err(match error.kind() {
                    RequestErrorKind::NoResponders => BusError::UnknownNode(to),
                    RequestErrorKind::TimedOut => BusError::Timeout(to),
                    _ => BusError::Transport(format!("request to {to}: {error}")),
                }),
            }
        }
        .boxed()
    }

    fn publish(&self, topic: &str, message: NodeMessage) {
        let subject = self.subjects.topic(topic);
        let payload = envelope::topic_message(&message);
        let publishing = tokio::task::unconstrained(self.client.publish(subject, payload));
        match publishing.now_or_never() {
            Some(Ok(())) => {}
            // Topics are best effort (DESIGN §4): a publish NATS cannot take
            // now is missed.
            Some(Err(error)) => tracing::debug!(topic, %error, "publish refused; missed"),
            None => tracing::debug!(topic, "the queue to NATS is full; publish missed"),
        }
    }

    fn subscribe(&self, topic: &str) -> Subscription {
        let subject = self.subjects.topic(topic);
        let (sender, subscription) = mpsc::channel(SUBSCRIPTION_MESSAGES_MAX);
        match self.subscribe_now(&subject) {
            Ok(subscriber) => {
                let refused = permissions::refused(self.refusals.watch(), subject.clone());
                let client = self.client.clone();
                tokio::spawn(topic::forward(client, subject, subscriber, sender, refused));
            }
            Err(error) => {
                tracing::error!(topic, %error, "cannot subscribe; the topic stays silent")
            }
        }
        subscription
    }
}
