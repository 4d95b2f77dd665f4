//! A node bound on NATS: one subscription on the node's subject and one task
//! that hands each request to the node's inbox and sends back its answer.
//!
//! The task refuses, with a typed reply and without queueing, a request the
//! inbox has no room for (`Overloaded`), one for a node that stopped or was
//! unbound (`NodeStopped`), and one that does not decode (`MalformedFrame`).
//! It waits for at most [`PENDING_REPLIES_MAX`] answers at once; a request
//! beyond that is refused as `Overloaded`.
//!
//! If NATS refuses the subscription (the node's user may not bind that
//! name), the binding closes as by an unbind and the node's inbox ends.
//!
//! A node that drops its inbox stays subscribed, answering `NodeStopped`,
//! until it is unbound or its name bound again: the unsubscription is sent
//! only then, in order before the new binding's subscription, so NATS never
//! has two nodes of one name. A request already on its way while NATS takes
//! an unsubscription is lost and fails at its deadline (an unknown outcome,
//! as a timeout always may be).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use async_nats::{Client, Subject, Subscriber};
use bus::Incoming;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::envelope::{self, Answer};

/// Answers one bound node waits for at once (requests in its inbox or held
/// by the node).
pub const PENDING_REPLIES_MAX: usize = 16_384;

/// A binding, shared by the bus (which closes it) and its task.
pub(crate) struct Binding {
    /// The node's subscription; `None` until the task subscribed (when the
    /// bind could not) or after it was dropped.
    subscriber: Mutex<Option<Subscriber>>,
    /// Set once, by `unbind` or a new bind of a name whose node stopped.
    closed: AtomicBool,
    /// Wakes the task after the binding closed.
    woken: Notify,
    /// The inbox; dropped when the binding closes, so the node's inbox
    /// ends once it read what was queued.
    inbox: Mutex<Option<mpsc::Sender<Incoming>>>,
}

impl Binding {
    pub(crate) fn new(subscriber: Option<Subscriber>, inbox: mpsc::Sender<Incoming>) -> Self {
        Self {
            subscriber: Mutex::new(subscriber),
            closed: AtomicBool::new(false),
            woken: Notify::new(),
            inbox: Mutex::new(Some(inbox)),
        }
    }

    fn subscriber(&self) -> MutexGuard<'_, Option<Subscriber>> {
        lock(&self.subscriber)
    }

    /// The inbox, while the binding is open.
    fn inbox(&self) -> Option<mpsc::Sender<Incoming>> {
        lock(&self.inbox).clone()
    }

    /// Whether the node no longer takes requests here (closed, or its inbox
    /// dropped): its name may be bound again.
    pub(crate) fn is_stopped(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.inbox().is_none_or(|inbox| inbox.is_closed())
    }

    /// Stops delivery at once: later requests are answered `NodeStopped`
    /// until NATS has the unsubscription, which is sent now (in order with
    /// whatever the bus sends next) when the client's queue has room.
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut subscriber = self.subscriber();
        if let Some(active) = subscriber.as_mut() {
            let unsubscribing = tokio::task::unconstrained(active.unsubscribe());
            if !matches!(unsubscribing.now_or_never(), Some(Ok(()))) {
                // Dropping the subscriber unsubscribes as soon as it can.
                *subscriber = None;
            }
        }
        drop(subscriber);
        lock(&self.inbox).take();
        self.woken.notify_one();
    }

    /// Installs the subscription the task made (the bind could not).
    fn install(&self, subscriber: Subscriber) {
        let mut slot = self.subscriber();
        if !self.closed.load(Ordering::Acquire) {
            *slot = Some(subscriber);
        }
    }

    /// The next request on the node's subject; `None` once the subscription
    /// ended (after the binding closed and what NATS had sent was read).
    fn poll_request(&self, context: &mut Context<'_>) -> Poll<Option<async_nats::Message>> {
        match self.subscriber().as_mut() {
            Some(subscriber) => subscriber.poll_next_unpin(context),
            None if self.closed.load(Ordering::Acquire) => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

type PendingReply = futures_util::future::BoxFuture<'static, (Subject, Answer)>;

/// Serves binding `binding` of subject `subject`: subscribes first if the
/// bind could not, then runs until the binding closed and every request
/// handed to the node was answered. `refused` ends when NATS refused the
/// subscription, which closes the binding.
pub(crate) async fn serve(
    client: Client,
    subject: String,
    binding: Arc<Binding>,
    refused: impl Future<Output = ()>,
) {
    if binding.subscriber().is_none() && !binding.closed.load(Ordering::Acquire) {
        match client.subscribe(subject.clone()).await {
            Ok(subscriber) => binding.install(subscriber),
            Err(error) => {
                tracing::error!(subject, %error, "cannot subscribe; the node takes no requests");
                binding.close();
            }
        }
    }
    let mut pending = FuturesUnordered::<PendingReply>::new();
    let mut refused = std::pin::pin!(refused);
    loop {
        tokio::select! {
            request = std::future::poll_fn(|context| binding.poll_request(context)) => {
                let Some(request) = request else { break };
                if let Some((reply_to, answer)) = take_request(&binding, request, &mut pending) {
                    send_reply(&client, reply_to, answer).await;
                }
            }
            Some((reply_to, answer)) = pending.next(), if !pending.is_empty() => {
                send_reply(&client, reply_to, answer).await;
            }
            () = binding.woken.notified() => {}
            () = &mut refused, if !binding.closed.load(Ordering::Acquire) => {
                tracing::error!(subject, "NATS refused the binding: its user may not take these requests");
                binding.close();
            }
        }
    }
    while let Some((reply_to, answer)) = pending.next().await {
        send_reply(&client, reply_to, answer).await;
    }
}

/// Hands `request` to the node, or says what to answer at once.
fn take_request(
    binding: &Binding,
    request: async_nats::Message,
    pending: &mut FuturesUnordered<PendingReply>,
) -> Option<(Subject, Answer)> {
    let Some(reply_to) = request.reply else {
        tracing::debug!(subject = %request.subject, "a message without a reply subject; ignored");
        return None;
    };
    if binding.closed.load(Ordering::Acquire) {
        return Some((reply_to, Answer::Stopped));
    }
    if pending.len() >= PENDING_REPLIES_MAX {
        return Some((reply_to, Answer::Overloaded));
    }
    let (from, message) = match envelope::open_request(request.headers.as_ref(), request.payload) {
        Ok(opened) => opened,
        Err(refusal) => return Some((reply_to, Answer::Node(refusal))),
    };
    let Some(inbox) = binding.inbox() else {
        return Some((reply_to, Answer::Stopped));
    };
    let (replier, answer) = oneshot::channel();
    match inbox.try_send(Incoming::new(from, message, replier)) {
        Ok(()) => {
            pending.push(Box::pin(async move {
                let answer = answer.await.map_or(Answer::Stopped, Answer::Node);
                (reply_to, answer)
            }));
            None
        }
        Err(mpsc::error::TrySendError::Full(_)) => Some((reply_to, Answer::Overloaded)),
        Err(mpsc::error::TrySendError::Closed(_)) => Some((reply_to, Answer::Stopped)),
    }
}

async fn send_reply(client: &Client, reply_to: Subject, answer: Answer) {
    let sent = match answer.into_parts() {
        (Some(headers), payload) => {
            client
                .publish_with_headers(reply_to, headers, payload)
                .await
        }
        (None, payload) => client.publish(reply_to, payload).await,
    };
    if let Err(error) = sent {
        tracing::warn!(%error, "a reply was not sent; the requester's deadline answers it");
    }
}
