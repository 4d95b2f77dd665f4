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
        let (sender, inbox) = mpsc::channel(inbox_max.max(1));
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
    //! The bus contract on the in-process bus.

    use futures_util::FutureExt;
    use futures_util::future::BoxFuture;

    use super::InProcessBus;
    use crate::contract::Harness;

    /// A zone is one `InProcessBus`; its members share it.
    struct InProcessHarness(InProcessBus);

    impl Harness for InProcessHarness {
        type Bus = InProcessBus;

        fn open_zone() -> BoxFuture<'static, Option<Self>> {
            futures_util::future::ready(Some(Self(InProcessBus::new()))).boxed()
        }

        fn member(&self) -> BoxFuture<'_, InProcessBus> {
            futures_util::future::ready(self.0.clone()).boxed()
        }

        fn settle(_bus: &InProcessBus) -> BoxFuture<'_, ()> {
            // Every call takes effect before it returns.
            futures_util::future::ready(()).boxed()
        }
    }

    crate::bus_contract!(InProcessHarness);
}
