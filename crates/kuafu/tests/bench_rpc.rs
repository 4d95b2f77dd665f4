//! `kuafu bench rpc` with tiny numbers, embedded and distributed: every
//! phase counts every call (the bench itself checks the gold they added),
//! bare NATS is timed only with the distributed backend, and bad options
//! are refused. No timing is asserted: this machine's speed is not what the
//! test checks. The distributed run needs NATS (127.0.0.1:4222) and
//! PostgreSQL (127.0.0.1:5432): under `CI=true` it fails without them,
//! elsewhere it skips saying why.

use kuafu::bench::distributed::{self, DistributedSettings};
use kuafu::bench::hop::Backend;
use kuafu::bench::rpc::{self, RpcOptions, RpcReport};

const CALLS: usize = 40;

fn options(backend: Backend) -> RpcOptions {
    RpcOptions {
        calls: CALLS,
        concurrency: 4,
        progress: false,
        backend,
    }
}

fn every_phase_counts_every_call(report: &RpcReport) {
    for (concurrent, serial) in [report.direct, report.moved] {
        assert_eq!(concurrent.latency.count, CALLS as u64);
        assert_eq!(serial.latency.count, CALLS as u64);
        assert!(concurrent.per_s() > 0.0 && serial.latency.p50 <= serial.latency.p99);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_rpc_bench_counts_every_call() {
    let report = rpc::run(options(Backend::Embedded))
        .await
        .expect("the bench runs");
    every_phase_counts_every_call(&report);
    assert!(report.bare_nats.is_none());
    let text = report.to_string();
    assert!(text.contains("direct") && text.contains("moved"), "{text}");
}

#[tokio::test]
async fn options_out_of_bounds_are_refused() {
    let mut options = options(Backend::Embedded);
    options.concurrency = rpc::CONCURRENCY_MAX + 1;
    let error = rpc::run(options).await.expect_err("too many callers");
    assert!(error.to_string().contains("concurrency"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_distributed_rpc_bench_times_bare_nats_in_the_same_run() {
    let nats_up = std::net::TcpStream::connect("127.0.0.1:4222").is_ok();
    let postgres_up = std::net::TcpStream::connect("127.0.0.1:5432").is_ok();
    if !(nats_up && postgres_up) {
        let skip: Option<()> = test_support::service_missing("NATS or PostgreSQL unreachable");
        return skip.unwrap_or_default();
    }
    let settings = DistributedSettings {
        nats: distributed::NATS_DEFAULT.to_owned(),
        postgres: distributed::POSTGRES_DEFAULT.to_owned(),
        kuafu: env!("CARGO_BIN_EXE_kuafu").into(),
    };
    let report = rpc::run(options(Backend::Distributed(settings)))
        .await
        .expect("the bench runs");
    every_phase_counts_every_call(&report);
    let (concurrent, serial) = report.bare_nats.expect("bare NATS timed");
    assert_eq!(
        (concurrent.latency.count, serial.latency.count),
        (CALLS as u64, CALLS as u64)
    );
    assert!(report.to_string().contains("bare NATS"));
}
