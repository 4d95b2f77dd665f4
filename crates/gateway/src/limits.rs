//! Every named limit of the gateway in one place (issue 11, "limits as
//! data"): the defaults of [`crate::GatewayConfig`] (the zone file's
//! `[limits]` table takes its defaults from here) and the listener's and
//! connections' own fixed bounds. Relations between them are checked below
//! at compile time; a configured value is checked when the gateway starts.

use std::time::Duration;

/// Default largest number of connections served at once.
pub const CONNECTIONS_MAX_DEFAULT: usize = 10_000;
/// Default time a new connection has to send its `Hello`.
pub const HANDSHAKE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Default time a connection may stay silent before it is closed.
pub const IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);
/// Default frames queued for one connection's writer before it counts as stuck.
pub const OUTBOX_FRAMES_MAX_DEFAULT: usize = 256;
/// Default events queued for the gateway's owner before readers wait.
pub const EVENTS_MAX_DEFAULT: usize = 8192;
/// Default connections refused with a graceful close at once.
pub const REFUSALS_INFLIGHT_MAX_DEFAULT: usize = 64;
/// Default largest client frame body, in bytes: the wire's cap.
pub const FRAME_BYTES_MAX_DEFAULT: usize = wire::limits::FRAME_BYTES_MAX;

/// Longest wait for each closing step: the writer draining its outbox, then
/// the peer acknowledging the close. Past it the socket is dropped.
pub(crate) const CLOSE_LINGER_MAX: Duration = Duration::from_secs(2);
/// Pause after a failed accept (out of file descriptors, for example), so the
/// loop does not spin while the condition lasts.
pub(crate) const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

// ----- Relations, checked when the crate compiles -----

// The defaults pass `GatewayConfig::validate`: no queue of zero.
const _: () = assert!(FRAME_BYTES_MAX_DEFAULT > 0);
const _: () = assert!(OUTBOX_FRAMES_MAX_DEFAULT > 0 && EVENTS_MAX_DEFAULT > 0);
// Refusals in flight are a fraction of the connections served.
const _: () = assert!(REFUSALS_INFLIGHT_MAX_DEFAULT <= CONNECTIONS_MAX_DEFAULT);
// A silent new connection ends at its handshake deadline, not the idle one.
const _: () = assert!(HANDSHAKE_TIMEOUT_DEFAULT.as_millis() <= IDLE_TIMEOUT_DEFAULT.as_millis());
// A close lingers less than a handshake may take.
const _: () = assert!(CLOSE_LINGER_MAX.as_millis() <= HANDSHAKE_TIMEOUT_DEFAULT.as_millis());
