//! `kuafu bench login` with tiny numbers, in-process: every login of both
//! kinds is counted, the hashing workers are found and their time read, and
//! the figures the targets are judged on are present. No timing is
//! asserted: this machine's speed is not what the test checks.

use kuafu::bench::login::{self, LoginOptions};

#[tokio::test]
async fn a_tiny_login_bench_counts_every_login_and_reads_the_workers_time() {
    let options = LoginOptions {
        clients: 3,
        device_logins: 12,
        password_logins: 6,
        hash_jobs_per_worker: Some(2),
        progress: false,
    };
    let report = login::run(options).await.expect("the bench runs");

    assert_eq!((report.device.ok, report.device.errors), (12, 0));
    assert_eq!((report.password.ok, report.password.errors), (6, 0));
    assert_eq!(report.hash_jobs_per_worker, 2);
    let hashing = report.hashing;
    assert!(hashing.available, "Linux shows each thread's schedstat");
    assert_eq!(
        hashing.threads, report.hash_workers,
        "every hashing worker's thread was found by its name"
    );
    assert!(
        hashing.running > std::time::Duration::ZERO,
        "the workers ran the password logins' hashes"
    );
    assert!(
        report.cpu_per_password_login() > std::time::Duration::ZERO,
        "each password login cost the workers CPU"
    );
    assert!(report.argon2_bound_per_s() > 0.0 && report.hashing_alone_per_s > 0.0);
    assert!(report.rss_kib.iter().all(|&kib| kib > 0));
    let text = report.markdown("kuafu bench login");
    for line in [
        "argon2 bound",
        "hashing workers",
        "hashing alone",
        "MiB after 6 password logins",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    let (memory_target, met) = &report.targets()[2];
    assert!(
        !met,
        "6 logins do not show the memory target: {memory_target}"
    );
}
