//! [`MeteredBus`]: any [`Bus`] with every request counted and timed, per
//! requesting node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::{Bus, BusError, Inbox, Subscription};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use wire::node::NodeMessage;

use crate::{Registry, names};

/// A bus that records, for the requesting node (`from`), every request
/// ([`names::BUS_REQUESTS`]), its failures ([`names::BUS_ERRORS`],
/// [`names::BUS_TIMEOUTS`]) and its latency ([`names::BUS_REQUEST_SECONDS`]),
/// then passes everything to the bus it wraps.
pub struct MeteredBus {
    inner: Arc<dyn Bus>,
    registry: Registry,
}

impl MeteredBus {
    /// Wraps `inner`, recording into `registry`.
    pub fn new(inner: Arc<dyn Bus>, registry: Registry) -> Self {
        Self { inner, registry }
    }
}

impl Bus for MeteredBus {
    fn bind(&self, name: &str, inbox_max: usize) -> Result<Inbox, BusError> {
        self.inner.bind(name, inbox_max)
    }

    fn unbind(&self, name: &str) {
        self.inner.unbind(name);
    }

    fn request(
        &self,
        from: &str,
        to: &str,
        message: NodeMessage,
        deadline: Duration,
    ) -> BoxFuture<'static, Result<NodeMessage, BusError>> {
        let registry = &self.registry;
        registry
            .counter(&names::BUS_REQUESTS, from, &[])
            .increment(1);
        let seconds = registry.histogram(&names::BUS_REQUEST_SECONDS, from, &[]);
        let errors = registry.counter(&names::BUS_ERRORS, from, &[]);
        let timeouts = registry.counter(&names::BUS_TIMEOUTS, from, &[]);
        let started = Instant::now();
        self.inner
            .request(from, to, message, deadline)
            .map(move |answer| {
                seconds.record(started.elapsed());
                match &answer {
                    Err(BusError::Timeout(_)) => timeouts.increment(1),
                    Err(_) => errors.increment(1),
                    Ok(_) => {}
                }
                answer
            })
            .boxed()
    }

    fn publish(&self, topic: &str, message: NodeMessage) {
        self.inner.publish(topic, message);
    }

    fn subscribe(&self, topic: &str) -> Subscription {
        self.inner.subscribe(topic)
    }
}
