//! Connecting to NATS: a node started while NATS is down waits, retrying with
//! a jittered, bounded and logged backoff, at most
//! [`NatsBusConfig::connect_attempts_max`] times. Once connected, the client
//! reconnects by itself after any loss, for as long as the node runs (a zone
//! heals after a NATS restart of any length without restarting a node); each
//! wait is jittered, so a zone that lost NATS at once does not come back in
//! lockstep, and bounded by the backoff's `max_ms`. While it is away,
//! requests fail by their deadline.
//!
//! A node with a [`NodeKey`] authenticates as that nkey user; NATS refusing
//! it is [`ConnectError::NotAuthorized`] at once (no retry). Every
//! connection takes its replies under its own inbox prefix
//! ([`Subjects::inbox_prefix`]), the one its user may subscribe to, and
//! hands NATS's asynchronous errors (permission violations) to the bus's
//! [`Refusals`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};

use crate::permissions::Refusals;
use crate::{Backoff, NodeKey, Subjects};

/// Default number of attempts to reach NATS at start before giving up.
pub const CONNECT_ATTEMPTS_MAX: u64 = 120;
/// Bound of the client's queue of commands to NATS (publishes, requests,
/// subscriptions); it fills only while NATS is away.
pub const COMMANDS_MAX: usize = 8_192;
/// Bound of the client's queue of one subscription's messages, before the
/// bus moves them to the node's inbox or topic queue.
pub const CLIENT_SUBSCRIPTION_MESSAGES_MAX: usize = 8_192;

/// How a bus reaches NATS.
#[derive(Clone, Debug)]
pub struct NatsBusConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The zone: every subject is under `kuafu.<zone>`.
    pub zone: String,
    /// The connection's name in NATS's monitoring (the node's name; also
    /// the process name of its reply inboxes and NATS user).
    pub client_name: String,
    /// The nkey the connection authenticates with; none for a server
    /// without authorization.
    pub key: Option<NodeKey>,
    /// Attempts to reach NATS at start before [`ConnectError::Unreachable`].
    pub connect_attempts_max: u64,
    /// The wait between attempts, at start and after a loss.
    pub backoff: Backoff,
}

impl NatsBusConfig {
    /// A configuration with the default attempts and backoff.
    pub fn new(url: &str, zone: &str, client_name: &str) -> Self {
        Self {
            url: url.to_owned(),
            zone: zone.to_owned(),
            client_name: client_name.to_owned(),
            key: None,
            connect_attempts_max: CONNECT_ATTEMPTS_MAX,
            backoff: Backoff::default(),
        }
    }
}

/// Why the bus could not connect.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// NATS did not answer in any of the attempts.
    #[error("NATS at {url} unreachable after {attempts} attempts: {last_error}")]
    Unreachable {
        /// The server.
        url: String,
        /// Attempts made.
        attempts: u64,
        /// The last attempt's error.
        last_error: String,
    },
    /// NATS refused the node's credentials (an unknown or missing key, or
    /// a server that wants credentials the node was not given).
    #[error("NATS at {url} refused {client}'s credentials: {reason}")]
    NotAuthorized {
        /// The server.
        url: String,
        /// The connection's name.
        client: String,
        /// NATS's or the client's reason.
        reason: String,
    },
    /// NATS answered and refused (a bad address or a protocol error):
    /// retrying would not help.
    #[error("NATS at {url} refused the connection: {reason}")]
    Refused {
        /// The server.
        url: String,
        /// NATS's or the client's reason.
        reason: String,
    },
}

/// Connects, retrying while NATS is unreachable.
pub(crate) async fn connect(
    config: &NatsBusConfig,
    refusals: &Arc<Refusals>,
) -> Result<async_nats::Client, ConnectError> {
    let attempts_max = config.connect_attempts_max.max(1);
    let mut last_error = String::new();
    for attempt in 1..=attempts_max {
        let options = options(config, refusals.clone());
        let error = match options.connect(config.url.as_str()).await {
            Ok(client) => return Ok(client),
            Err(error) => error,
        };
        if let Some(refused) = refusal(config, &error) {
            return Err(refused);
        }
        last_error = error.to_string();
        if attempt < attempts_max {
            let wait = config.backoff.jittered_delay(attempt);
            tracing::warn!(
                url = config.url,
                client = config.client_name,
                attempt,
                attempts_max,
                wait_ms = wait.as_millis(),
                %error,
                "NATS unreachable; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
    let url = config.url.clone();
    Err(ConnectError::Unreachable {
        url,
        attempts: attempts_max,
        last_error,
    })
}

/// The error to give up with at once, if `error` is not one a retry might
/// cure.
fn refusal(config: &NatsBusConfig, error: &async_nats::ConnectError) -> Option<ConnectError> {
    let (url, reason) = (config.url.clone(), error.to_string());
    match error.kind() {
        ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns => None,
        ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
            let client = config.client_name.clone();
            Some(ConnectError::NotAuthorized {
                url,
                client,
                reason,
            })
        }
        _ => Some(ConnectError::Refused { url, reason }),
    }
}

/// The waits between reconnection attempts, counted from the last loss.
struct Reconnects {
    backoff: Backoff,
    failures: AtomicU64,
}

impl Reconnects {
    /// The wait before the client's attempt `attempt` (counted by the client
    /// from its first connection, never reset): none before the first
    /// connection (the start's own loop backs off), a jittered one before
    /// each reconnection.
    fn delay(&self, attempt: usize) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        self.backoff.jittered_delay(failures)
    }

    /// A connection is up: the next loss backs off from the start again.
    fn connected(&self) {
        self.failures.store(0, Ordering::Relaxed);
    }
}

fn options(config: &NatsBusConfig, refusals: Arc<Refusals>) -> ConnectOptions {
    let reconnects = Arc::new(Reconnects {
        backoff: config.backoff,
        failures: AtomicU64::new(0),
    });
    let delays = reconnects.clone();
    let client = config.client_name.clone();
    let inbox_prefix = Subjects::new(&config.zone).inbox_prefix(&config.client_name);
    let options = match &config.key {
        Some(key) => ConnectOptions::with_nkey(key.seed().to_owned()),
        None => ConnectOptions::new(),
    };
    options
        .name(&config.client_name)
        .custom_inbox_prefix(inbox_prefix)
        .client_capacity(COMMANDS_MAX)
        .subscription_capacity(CLIENT_SUBSCRIPTION_MESSAGES_MAX)
        .max_reconnects(None)
        .reconnect_delay_callback(move |attempt| delays.delay(attempt))
        .event_callback(move |event| {
            match &event {
                Event::Connected => reconnects.connected(),
                Event::ServerError(ServerError::Other(error)) => refusals.note(&client, error),
                _ => {}
            }
            let client = client.clone();
            async move { log_event(&client, &event) }
        })
}

fn log_event(client: &str, event: &Event) {
    match event {
        Event::Connected => tracing::info!(client, "connected to NATS"),
        Event::Disconnected => {
            tracing::warn!(
                client,
                "lost NATS; reconnecting (requests fail by their deadline)"
            )
        }
        other => tracing::info!(client, event = %other, "NATS event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_connection_waits_for_nothing_and_each_reconnection_backs_off_from_the_start() {
        let reconnects = Reconnects {
            backoff: Backoff {
                initial_ms: 100,
                max_ms: 1_000,
            },
            failures: AtomicU64::new(0),
        };
        assert_eq!(reconnects.delay(1), Duration::ZERO);
        let first_loss = [reconnects.delay(2), reconnects.delay(3)];
        assert!(
            first_loss[0] >= Duration::from_millis(50)
                && first_loss[0] <= Duration::from_millis(100)
        );
        assert!(first_loss[1] >= Duration::from_millis(100));
        // The client counts on; a new connection starts the waits over.
        reconnects.connected();
        assert!(reconnects.delay(9) <= Duration::from_millis(100));
    }
}
