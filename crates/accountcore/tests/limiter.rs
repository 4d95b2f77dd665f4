//! The attempt limiter through its API, in virtual time: repeated failures
//! are limited with a retry-after, the limit always expires (the right
//! password works after the wait), a success forgets the count, and the
//! table stays within its bound.

use accountcore::limiter::{LimitConfig, Limiter};

const NOW_MS: u64 = 1_000_000;

fn limiter(entries_max: usize) -> Limiter<String> {
    Limiter::new(LimitConfig {
        events_max: 3,
        window_ms: 60_000,
        entries_max,
    })
}

fn key(name: &str) -> String {
    name.to_owned()
}

#[test]
fn repeated_failures_are_limited_and_the_limit_expires() {
    let mut limiter = limiter(100);
    let lena = key("lena");
    for step in 0..3 {
        assert_eq!(limiter.check(NOW_MS + step, &lena), Ok(()));
        limiter.record(NOW_MS + step, &lena);
    }
    assert_eq!(
        limiter.check(NOW_MS + 10_000, &lena),
        Err(50_000),
        "limited until the window that opened at the first failure closes"
    );
    assert_eq!(limiter.check(NOW_MS + 10_000, &key("omar")), Ok(()));
    assert_eq!(
        limiter.check(NOW_MS + 60_000, &lena),
        Ok(()),
        "the lockout never lasts past its window"
    );
    limiter.record(NOW_MS + 60_000, &lena);
    assert_eq!(
        limiter.check(NOW_MS + 60_001, &lena),
        Ok(()),
        "a new window"
    );
}

#[test]
fn a_success_forgets_the_failures() {
    let mut limiter = limiter(100);
    let lena = key("lena");
    limiter.record(NOW_MS, &lena);
    limiter.record(NOW_MS, &lena);
    limiter.forget(&lena);
    limiter.record(NOW_MS, &lena);
    limiter.record(NOW_MS, &lena);
    assert_eq!(limiter.check(NOW_MS, &lena), Ok(()));
}

#[test]
fn the_table_stays_within_its_bound() {
    let mut limiter = limiter(10);
    for index in 0..1_000 {
        limiter.record(NOW_MS + index, &format!("address{index}"));
        assert!(limiter.len() <= 10);
    }
    // The newest keys are kept: the last one is still counted.
    let last = key("address999");
    limiter.record(NOW_MS + 1_000, &last);
    limiter.record(NOW_MS + 1_000, &last);
    assert!(limiter.check(NOW_MS + 1_000, &last).is_err());
}
