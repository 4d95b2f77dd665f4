//! Retries in the client library: the backoff is capped, exponential, fully
//! jittered and never sooner than the server's retry-after; retryable
//! errors are retried up to the attempt bound, the others returned at once.

use std::cell::Cell;
use std::time::Duration;

use client::ClientError;
use client::retry::{RetryPolicy, backoff, with_retry};
use wire::client::ErrorCode;

fn policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(1_000),
        attempts_max: 4,
    }
}

fn refusal(code: ErrorCode) -> ClientError {
    ClientError::Server {
        code,
        message: String::new(),
        retry_after: None,
    }
}

#[test]
fn the_backoff_doubles_up_to_its_cap_with_full_jitter_after_the_retry_after() {
    let policy = policy();
    let ceilings: Vec<Duration> = (0..6).map(|n| backoff(&policy, n, None, 1.0)).collect();
    let millis: Vec<u128> = ceilings.iter().map(Duration::as_millis).collect();
    assert_eq!(millis, vec![100, 200, 400, 800, 1_000, 1_000]);
    assert_eq!(
        backoff(&policy, 3, None, 0.0),
        Duration::ZERO,
        "full jitter"
    );
    assert_eq!(backoff(&policy, 3, None, 0.5), Duration::from_millis(400));
    let server_said = Some(Duration::from_millis(2_000));
    assert_eq!(
        backoff(&policy, 0, server_said, 0.0),
        Duration::from_millis(2_000),
        "never sooner than the server said"
    );
    assert_eq!(
        backoff(&policy, u32::MAX, None, 1.0),
        Duration::from_millis(1_000)
    );
}

#[tokio::test]
async fn retryable_errors_are_retried_up_to_the_bound_and_others_returned_at_once() {
    let calls = Cell::new(0);
    let busy_twice = with_retry(&policy(), || {
        calls.set(calls.get() + 1);
        let call = calls.get();
        async move {
            match call {
                1 => Err(refusal(ErrorCode::Busy)),
                2 => Err(refusal(ErrorCode::PlayerBusy)),
                _ => Ok(call),
            }
        }
    })
    .await;
    assert_eq!(busy_twice.unwrap(), 3);

    calls.set(0);
    let wrong = with_retry(&policy(), || {
        calls.set(calls.get() + 1);
        async { Err::<(), _>(refusal(ErrorCode::BadCredentials)) }
    })
    .await;
    assert!(matches!(
        wrong,
        Err(ClientError::Server {
            code: ErrorCode::BadCredentials,
            ..
        })
    ));
    assert_eq!(calls.get(), 1, "not retryable");

    calls.set(0);
    let overloaded = with_retry(&policy(), || {
        calls.set(calls.get() + 1);
        async { Err::<(), _>(refusal(ErrorCode::Overloaded)) }
    })
    .await;
    assert!(overloaded.is_err());
    assert_eq!(calls.get(), 4, "attempts_max attempts in all");
}
