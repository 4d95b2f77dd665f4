//! Every named limit of the wire formats in one place (issue 11, "limits as
//! data"): the frame cap and the framing's own sizes. Relations between them
//! are checked below at compile time; crates that build messages check that
//! their largest message fits [`FRAME_BYTES_MAX`] in their own `limits`.

/// Default largest frame body, in bytes, that a server accepts from a client.
pub const FRAME_BYTES_MAX: usize = 64 * 1024;
/// Bytes a client frame spends beyond its strings' contents, at most: the
/// request id, and the tag and length of each nested message and field (a
/// `Register` or `Login` spends under 50). Crates check with it that their
/// largest message fits [`FRAME_BYTES_MAX`].
pub const ENVELOPE_BYTES_MAX: usize = 64;
/// Bytes of a frame's length prefix (a big-endian `u32`).
pub const PREFIX_BYTES: usize = 4;
/// Most bytes reserved for a frame body before any of it has arrived.
pub const BODY_FIRST_READ_BYTES: usize = 4096;

// ----- Relations, checked when the crate compiles -----

// The prefix is the `u32` it is read as, and the cap fits in it.
const _: () = assert!(PREFIX_BYTES == size_of::<u32>());
const _: () = assert!(FRAME_BYTES_MAX <= u32::MAX as usize);
// The first reservation never exceeds what the default cap allows.
const _: () = assert!(BODY_FIRST_READ_BYTES <= FRAME_BYTES_MAX);
