//! A topic subscription on NATS: one task moves each message of the topic's
//! subject into the subscriber's bounded queue (a full queue misses the
//! message: topics carry no durable fact, DESIGN §3), and unsubscribes once
//! the subscriber drops its end. If NATS refuses the subscription (its user
//! may not hear the topic), the task ends, and with it the subscriber's
//! queue.

use async_nats::{Client, Subscriber};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use wire::node::NodeMessage;

use crate::envelope;

/// Forwards the messages of `subject` to `subscription`. `subscriber` is the
/// subscription the bus made in order with its other calls; `None` when the
/// client's queue had no room then, and the task subscribes itself.
/// `refused` ends when NATS refused the subscription.
pub(crate) async fn forward(
    client: Client,
    subject: String,
    subscriber: Option<Subscriber>,
    subscription: mpsc::Sender<NodeMessage>,
    refused: impl Future<Output = ()>,
) {
    let mut subscriber = match subscriber {
        Some(subscriber) => subscriber,
        None => match client.subscribe(subject.clone()).await {
            Ok(subscriber) => subscriber,
            Err(error) => {
                tracing::error!(subject, %error, "cannot subscribe; the topic stays silent");
                return;
            }
        },
    };
    let mut refused = std::pin::pin!(refused);
    loop {
        let message = tokio::select! {
            message = subscriber.next() => message,
            () = subscription.closed() => break,
            () = &mut refused => {
                tracing::error!(subject, "NATS refused the subscription; the topic ends");
                break;
            }
        };
        let Some(message) = message else { break };
        match envelope::open_topic_message(message.payload) {
            Ok(message) => {
                // A full queue misses the message; a closed one ends the loop
                // at the next turn.
                let _missed = subscription.try_send(message);
            }
            Err(error) => tracing::warn!(subject, %error, "a topic message that does not decode"),
        }
    }
    // Dropping the subscriber unsubscribes.
}
