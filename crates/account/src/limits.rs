//! Every named limit of the account center's shell in one place (issue 11,
//! "limits as data"): what a client may send, the hashing pool's bounds, and
//! the tasks the shell runs at once. The core's defaults are in
//! [`accountcore::limits`]. Error texts are built from these constants;
//! relations between limits are checked below at compile time.

use wire::limits::{ENVELOPE_BYTES_MAX, FRAME_BYTES_MAX};

// ----- What a client may send -----

/// Longest account name, in characters.
pub const ACCOUNT_CHARS_MAX: usize = 64;
/// Longest password or device id, in bytes.
pub const SECRET_BYTES_MAX: usize = 128;

// ----- The shell's own bounds -----

/// Default of [`crate::LoginSettings::device_logins_inflight_max`].
pub const DEVICE_LOGINS_INFLIGHT_MAX: usize = 1_024;
/// When a client refused for the device-login bound should retry.
pub(crate) const DEVICE_RETRY_AFTER_MS: u64 = 100;
/// Role notes (`RoleCreated`, `RoleLevel`) written to the account store at
/// once; past it the shell stops taking bus messages until one is written,
/// so the bus's bounded inbox pushes back on the game servers.
pub(crate) const ROLE_NOTES_INFLIGHT_MAX: usize = 256;
/// Bytes of salt in a new hash.
pub(crate) const HASH_SALT_BYTES: usize = 16;
/// Bytes of a new hash's output.
pub(crate) const HASH_OUTPUT_BYTES: usize = 32;

// ----- Relations, checked when the crate compiles -----

// The largest frame the account center takes (`Register`: a name of
// 4-byte characters and a secret) fits the client frame cap.
const _: () =
    assert!(4 * ACCOUNT_CHARS_MAX + SECRET_BYTES_MAX + ENVELOPE_BYTES_MAX <= FRAME_BYTES_MAX);
// The hash's sizes are ones argon2 takes and recommends.
const _: () = assert!(HASH_SALT_BYTES >= argon2::RECOMMENDED_SALT_LEN);
const _: () = assert!(HASH_OUTPUT_BYTES >= argon2::Params::MIN_OUTPUT_LEN);
const _: () = assert!(DEVICE_LOGINS_INFLIGHT_MAX > 0 && ROLE_NOTES_INFLIGHT_MAX > 0);
