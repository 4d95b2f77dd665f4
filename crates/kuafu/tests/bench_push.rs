//! `kuafu bench push` with tiny numbers on the embedded backend: every
//! subscriber applies every update (one sample each), no push is lost on the
//! in-process bus, and bad options are refused. No timing is asserted: this
//! machine's speed is not what the test checks.

use kuafu::bench::hop::{Backend, HopError};
use kuafu::bench::push::{self, PushOptions};

fn options(subscribers: usize, updates: usize) -> PushOptions {
    PushOptions {
        subscribers,
        updates,
        backend: Backend::Embedded,
        progress: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_push_bench_counts_every_update_at_every_subscriber() {
    let report = push::run(options(3, 7)).await.expect("the bench runs");
    assert_eq!(report.latency.count, 3 * 7);
    assert_eq!(report.gaps, 0, "the in-process bus loses no push");
    assert!(report.latency.p50 <= report.latency.p99 && report.latency.p99 <= report.latency.max);
    let text = report.to_string();
    assert!(text.contains("to 3 subscribing nodes"), "{text}");
    assert!(text.contains("load average"), "{text}");
}

#[tokio::test]
async fn a_push_bench_without_subscribers_or_updates_is_refused() {
    for (subscribers, updates) in [(0, 5), (3, 0)] {
        let refused = push::run(options(subscribers, updates)).await;
        assert!(matches!(refused, Err(HopError::Invalid(_))), "{refused:?}");
    }
}
