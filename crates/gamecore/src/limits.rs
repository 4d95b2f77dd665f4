//! Every named limit of the game core in one place (issue 11, "limits as
//! data"): what a client may send, what gameplay allows, and the bounds of
//! the core's own state. Error texts are built from these constants, so
//! they cannot drift apart. Relations between two limits are checked below
//! at compile time; relations a config value takes part in are checked by
//! [`crate::Config::validate`].

use wire::limits::{ENVELOPE_BYTES_MAX, FRAME_BYTES_MAX};

// ----- What a client may send -----

/// Longest role name, in characters.
pub const ROLE_NAME_CHARS_MAX: usize = 32;
/// Longest horn text, in bytes.
pub const HORN_TEXT_BYTES_MAX: usize = 256;
/// Length of a one-time token on the wire: 128 random bits.
pub const TOKEN_BYTES: usize = 16;

// ----- Gameplay -----

/// Largest level a player can reach, and the strongest monster a player may
/// fight. The battle server clamps the levels it is sent to it too.
pub const LEVEL_MAX: u32 = 1_000;
/// Largest amount of gold or items one call may grant.
pub const GRANT_AMOUNT_MAX: u64 = 1_000_000_000;
/// Longest reason string of a gold or item change, in bytes.
pub const REASON_BYTES_MAX: usize = 128;
/// Most distinct item types one player can hold.
pub const ITEM_TYPES_MAX: usize = 512;
/// Gold a won fight pays per monster level.
pub const BATTLE_GOLD_PER_LEVEL: u64 = 10;

/// Most friends one player keeps.
pub const FRIENDS_MAX: usize = 100;
/// A friend's view on the wire, at most: a role name of 4-byte characters,
/// a server name and the numbers around them.
pub const FRIEND_VIEW_BYTES_MAX: usize = 4 * ROLE_NAME_CHARS_MAX + 256;
/// Gifts a player may have sent and not yet seen acknowledged (its
/// outbox); a `SendGift` beyond it is refused `OVERLOADED`.
pub const GIFTS_OUTBOX_MAX: usize = 16;
/// Wait after a gift's first failed delivery attempt; it doubles with
/// every failure, up to [`GIFT_RETRY_MAX_MS`].
pub const GIFT_RETRY_FIRST_MS: u64 = 100;
/// Longest wait between two delivery attempts of one gift.
pub const GIFT_RETRY_MAX_MS: u64 = 5_000;

// ----- The core's own state -----

/// Default of `Config::summary_cache_roles_max`: roles the summary cache
/// holds at most.
pub const SUMMARY_CACHE_ROLES_MAX_DEFAULT: usize = 100_000;
/// Role ids in one subscribe or unsubscribe request to the data center (its
/// `SUBSCRIBE_ROLEIDS_MAX`).
pub const SUBSCRIBE_ROLEIDS_MAX: usize = 128;
/// Subscribe or unsubscribe requests one input sends at most; the rest
/// wait for the next input or the next refresh.
pub const SUBSCRIBE_REQUESTS_PER_ROUND_MAX: usize = 64;

/// Most outputs queued between two drains; the shell drains after every
/// input, so reaching it means a bug in the shell.
pub const OUTPUTS_MAX: usize = 1 << 22;
/// Default of `Config::pending_ops_max`: store operations in flight.
pub const PENDING_OPS_MAX_DEFAULT: usize = 1 << 20;
/// Default of `Config::pending_calls_max`: requests to peers in flight.
pub const PENDING_CALLS_MAX_DEFAULT: usize = 1 << 20;
/// Default of `Config::players_max`: players hosted at once.
pub const PLAYERS_MAX_DEFAULT: usize = 20_000;
/// Default of `Config::tokens_max`: outstanding one-time tokens.
pub const TOKENS_MAX_DEFAULT: usize = 100_000;
/// Default of `Config::marks_max`: kuafu marks a home server keeps.
pub const MARKS_MAX_DEFAULT: usize = 1_000_000;
/// Default of `Config::heartbeat_misses_max`: heartbeat misses in a row
/// before the home reads a mark's row (the seed's 3).
pub const HEARTBEAT_MISSES_MAX_DEFAULT: u32 = 3;
/// Pages of the home database the marks' rebuild reads at most.
pub const MARK_PAGES_MAX: usize = 1_000;
/// Read-backs a handoff whose answer was lost tries before the source gives
/// up and drops the player.
pub const READ_BACK_ATTEMPTS_MAX: u32 = 3;
/// How long a redeemed token is remembered after its expiry, so a grant
/// delivered again later cannot re-arm it. Far above any bus delay.
pub const REDEEMED_MEMORY_MS: u64 = 60_000;

// ----- Relations, checked when the crate compiles -----

// A receiver remembers more gifts than one sender can have on their way,
// so a sender's redelivery is recognised (`store::gifts`).
const _: () = assert!(GIFTS_OUTBOX_MAX < store::gifts::GIFTS_REMEMBERED_MAX);
const _: () = assert!(GIFT_RETRY_FIRST_MS <= GIFT_RETRY_MAX_MS);
// A token is the 128 bits the core draws.
const _: () = assert!(TOKEN_BYTES == size_of::<u128>());
// A won fight against the strongest monster pays a valid grant.
const _: () = assert!(BATTLE_GOLD_PER_LEVEL * LEVEL_MAX as u64 <= GRANT_AMOUNT_MAX);
// The rebuild's pages cover every role id a srvno can have.
const _: () = assert!(MARK_PAGES_MAX * store::HOLDERS_PAGE_MAX >= routing::ROLE_SEQ_MAX as usize);
// The defaults pass `Config::validate`: the ops bound keeps room for every
// hosted player's write, a heartbeat can ask every mark at once, and one
// input's outputs (a heartbeat or renewal round filling both maps) fit.
const _: () = assert!(PLAYERS_MAX_DEFAULT < PENDING_OPS_MAX_DEFAULT);
const _: () = assert!(MARKS_MAX_DEFAULT <= PENDING_CALLS_MAX_DEFAULT);
const _: () = assert!(PENDING_OPS_MAX_DEFAULT + PENDING_CALLS_MAX_DEFAULT < OUTPUTS_MAX);
const _: () = assert!(HEARTBEAT_MISSES_MAX_DEFAULT > 0 && READ_BACK_ATTEMPTS_MAX > 0);
// The largest frames a client sends the game server (a horn, a role name of
// 4-byte characters) fit the client frame cap.
const _: () = assert!(HORN_TEXT_BYTES_MAX + ENVELOPE_BYTES_MAX <= FRAME_BYTES_MAX);
const _: () = assert!(4 * ROLE_NAME_CHARS_MAX + ENVELOPE_BYTES_MAX <= FRAME_BYTES_MAX);
// A full friend list fits one frame.
const _: () = assert!(FRIENDS_MAX * FRIEND_VIEW_BYTES_MAX + ENVELOPE_BYTES_MAX <= FRAME_BYTES_MAX);

// ----- Player calls (the proxy player, DESIGN §9) -----

/// Longest player method name, in bytes.
pub const CALL_METHOD_NAME_BYTES_MAX: usize = 64;
/// Largest arguments of one player call (JSON), in bytes.
pub const CALL_ARGS_BYTES_MAX: usize = 16 * 1024;
/// Largest result of one player call (JSON), in bytes; a method whose
/// result is larger is refused and changes nothing.
pub const CALL_RESULT_BYTES_MAX: usize = 1024;
/// Longest request id of a durable call, in bytes.
pub const REQUEST_ID_BYTES_MAX: usize = 64;
/// Most durable-call records a player's data keeps (each with its answer).
pub const DURABLE_RECORDS_MAX: usize = 128;
/// How long a durable-call record is kept at least (owner's clock): a
/// retry within it is never applied twice. A new durable call that would
/// forget a younger record is refused `Busy`.
pub const DURABLE_RECORD_HORIZON_MS: u64 = 60 * 60 * 1000;
/// Most callers waiting for one player's durable saves.
pub const DURABLE_WAITERS_MAX: usize = 256;
/// Most `Moved` answers one call follows.
pub const CALL_HOPS_MAX: u32 = 4;
/// Most times one call asks again a player that is crossing.
pub const CALL_CROSSING_RETRIES_MAX: u32 = 100;
/// How long a caller waits before asking a crossing player again.
pub const CALL_CROSSING_RETRY_MS: u64 = 50;
/// Most departures (player, target) a server remembers to point calls on.
pub const DEPARTURES_MAX: usize = 4_096;

// A player's durable-call records, answers at their largest, stay far
// below a bus message (1 MiB).
const _: () = assert!(
    DURABLE_RECORDS_MAX * (CALL_RESULT_BYTES_MAX + REQUEST_ID_BYTES_MAX + 64) <= 256 * 1024
);
// Retrying a crossing player waits at least 5 s for it to arrive.
const _: () = assert!(CALL_CROSSING_RETRIES_MAX as u64 * CALL_CROSSING_RETRY_MS >= 5_000);
