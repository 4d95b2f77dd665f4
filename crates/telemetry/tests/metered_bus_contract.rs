//! The bus contract (DESIGN §4) on a [`MeteredBus`] over the in-process bus:
//! metering changes nothing a node sees.

use std::sync::Arc;

use bus::InProcessBus;
use bus::contract::Harness;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use telemetry::{MeteredBus, Registry};

/// A zone is one in-process bus; each member meters its own requests.
struct MeteredHarness(InProcessBus);

impl Harness for MeteredHarness {
    type Bus = MeteredBus;

    fn open_zone() -> BoxFuture<'static, Option<Self>> {
        futures_util::future::ready(Some(Self(InProcessBus::new()))).boxed()
    }

    fn member(&self) -> BoxFuture<'_, MeteredBus> {
        let bus = MeteredBus::new(Arc::new(self.0.clone()), Registry::new());
        futures_util::future::ready(bus).boxed()
    }

    fn settle(_bus: &MeteredBus) -> BoxFuture<'_, ()> {
        // The in-process bus applies every call before it returns.
        futures_util::future::ready(()).boxed()
    }
}

bus::bus_contract!(MeteredHarness);
