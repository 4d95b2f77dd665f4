//! The in-process bus: one bounded tokio channel per node, a broadcast list
//! per topic. Used by the embedded zone and the tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use wire::node::NodeMessage;

use crate::{Bus, BusError, Inbox, Incoming, SUBSCRIPTION_MESSAGES_MAX, Subscription, into_result};

/// A bus whose nodes all live in this process.
#[derive(Clone, Default)]
pub struct InProcessBus {
    inner: Arc<Mutex<Routes>>,
}

#[derive(Default)]
struct Routes {
    nodes: BTreeMap<String, mpsc::Sender<Incoming>>,
    topics: BTreeMap<String, Vec<mpsc::Sender<NodeMessage>>>,
}

impl InProcessBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn route(&self, to: &str) -> Option<mpsc::Sender<Incoming>> {
        let routes = self.inner.lock().expect("bus lock poisoned");
        routes.nodes.get(to).cloned()
    }
}

impl Bus for InProcessBus {
    fn bind(&self, name: &str, inbox_max: usize) -> Result<Inbox, BusError> {
        let mut routes = self.inner.lock().expect("bus lock poisoned");
        if routes
            .nodes
            .get(name)
            .is_some_and(|sender| !sender.is_closed())
        {
            return Err(BusError::AlreadyBound(name.to_owned()));
        }
        let (sender, inbox) = mpsc::channel(inbox_max);
        routes.nodes.insert(name.to_owned(), sender);
        Ok(inbox)
    }

    fn unbind(&self, name: &str) {
        let mut routes = self.inner.lock().expect("bus lock poisoned");
        routes.nodes.remove(name);
    }

    fn request(
        &self,
        from: &str,
        to: &str,
        message: NodeMessage,
        deadline: Duration,
    ) -> BoxFuture<'static, Result<NodeMessage, BusError>> {
        let to = to.to_owned();
        let Some(sender) = self.route(&to) else {
            return futures_util::future::ready(Err(BusError::UnknownNode(to))).boxed();
        };
        let (reply, answer) = oneshot::channel();
        let incoming = Incoming::new(from.to_owned(), message, reply);
        if let Err(error) = sender.try_send(incoming) {
            let error = match error {
                mpsc::error::TrySendError::Full(_) => BusError::Overloaded(to),
                mpsc::error::TrySendError::Closed(_) => BusError::NodeStopped(to),
            };
            return futures_util::future::ready(Err(error)).boxed();
        }
        async move {
            match tokio::time::timeout(deadline, answer).await {
                Ok(Ok(reply)) => into_result(reply),
                Ok(Err(_dropped)) => Err(BusError::NodeStopped(to)),
                Err(_elapsed) => Err(BusError::Timeout(to)),
            }
        }
        .boxed()
    }

    fn publish(&self, topic: &str, message: NodeMessage) {
        let mut routes = self.inner.lock().expect("bus lock poisoned");
        let Some(subscribers) = routes.topics.get_mut(topic) else {
            return;
        };
        subscribers.retain(|subscriber| !subscriber.is_closed());
        for subscriber in subscribers.iter() {
            // A full subscriber misses this message: topics are best effort.
            let _missed = subscriber.try_send(message.clone());
        }
    }

    fn subscribe(&self, topic: &str) -> Subscription {
        let (sender, subscription) = mpsc::channel(SUBSCRIPTION_MESSAGES_MAX);
        let mut routes = self.inner.lock().expect("bus lock poisoned");
        routes
            .topics
            .entry(topic.to_owned())
            .or_default()
            .push(sender);
        subscription
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ack, error_reply};
    use wire::client::ErrorCode;
    use wire::node::{IsOnline, node_message::Body};

    fn is_online(roleid: u64) -> NodeMessage {
        NodeMessage {
            body: Some(Body::IsOnline(IsOnline { roleid })),
        }
    }

    const DEADLINE: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn a_request_reaches_the_node_and_its_answer_comes_back() {
        let bus = InProcessBus::new();
        let mut inbox = bus.bind("gs1", 8).unwrap();
        let server = tokio::spawn(async move {
            let incoming = inbox.recv().await.unwrap();
            assert_eq!(incoming.from, "gs2");
            incoming.reply(ack());
        });
        let reply = bus
            .request("gs2", "gs1", is_online(1), DEADLINE)
            .await
            .unwrap();
        assert_eq!(reply, ack());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn errors_are_typed() {
        let bus = InProcessBus::new();
        let unknown = bus.request("a", "nobody", is_online(1), DEADLINE).await;
        assert_eq!(unknown, Err(BusError::UnknownNode("nobody".into())));

        let mut inbox = bus.bind("slow", 1).unwrap();
        let timeout = bus.request("a", "slow", is_online(1), DEADLINE).await;
        assert_eq!(timeout, Err(BusError::Timeout("slow".into())));
        let overloaded = bus.request("a", "slow", is_online(2), DEADLINE).await;
        assert_eq!(overloaded, Err(BusError::Overloaded("slow".into())));
        inbox
            .recv()
            .await
            .unwrap()
            .reply(error_reply(ErrorCode::UnknownRole, "no such role"));

        let remote = bus.request("a", "slow", is_online(3), DEADLINE);
        let incoming = inbox.recv().await.unwrap();
        incoming.reply(error_reply(ErrorCode::UnknownRole, "no such role"));
        assert!(matches!(
            remote.await,
            Err(BusError::Remote {
                code: ErrorCode::UnknownRole,
                ..
            })
        ));

        let dropped = bus.request("a", "slow", is_online(4), DEADLINE);
        drop(inbox.recv().await.unwrap());
        assert_eq!(dropped.await, Err(BusError::NodeStopped("slow".into())));
        drop(inbox);
        let stopped = bus.request("a", "slow", is_online(5), DEADLINE).await;
        assert_eq!(stopped, Err(BusError::NodeStopped("slow".into())));
    }

    #[tokio::test]
    async fn a_second_bind_of_a_live_name_is_refused() {
        let bus = InProcessBus::new();
        let _inbox = bus.bind("gs1", 8).unwrap();
        assert_eq!(
            bus.bind("gs1", 8).unwrap_err(),
            BusError::AlreadyBound("gs1".into())
        );
    }

    #[tokio::test]
    async fn every_subscriber_hears_a_publish() {
        let bus = InProcessBus::new();
        let mut first = bus.subscribe("horn");
        let mut second = bus.subscribe("horn");
        bus.publish("horn", ack());
        assert_eq!(first.recv().await.unwrap(), ack());
        assert_eq!(second.recv().await.unwrap(), ack());
    }
}
