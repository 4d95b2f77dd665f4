//! Every named bound of the rank core. A board, a page, a batch and a
//! queue each stop at one of these; what lies beyond gets a typed error.

/// Roles one board ranks, at most; an update that would add a role beyond
/// it is refused [`BoardError::Full`](crate::board::BoardError::Full).
pub const BOARD_ENTRIES_MAX: usize = 1 << 20;
/// Boards of one zone, at most (e.g. `level`, `power`, `war`).
pub const BOARDS_MAX: usize = 16;
/// Bytes of a board's name, at most.
pub const BOARD_NAME_BYTES_MAX: usize = 32;
/// Entries of one page (top N, a page by rank, a role's neighbours), at
/// most; a larger request is cut to it.
pub const PAGE_ENTRIES_MAX: usize = 100;
/// Updates written in one batch (one store transaction), at most.
pub const BATCH_UPDATES_MAX: usize = 512;
/// Requests waiting for the batch in flight (updates and snapshots), at
/// most; one beyond it is refused `OVERLOADED`.
pub const WAITING_REQUESTS_MAX: usize = 65_536;
/// Outputs queued between two drains, at most; the shell drains after
/// every input, so reaching it means a bug in the shell.
pub const OUTPUTS_MAX: usize = 1 << 20;
/// Entries of one chunk of the ordered list (`ordered`): a rank costs a
/// walk over `len / ORDERED_CHUNK_MAX` chunk lengths, an insert a shift
/// within one chunk.
pub const ORDERED_CHUNK_MAX: usize = 512;

const _: () = assert!(PAGE_ENTRIES_MAX <= BOARD_ENTRIES_MAX);
const _: () = assert!(BATCH_UPDATES_MAX <= WAITING_REQUESTS_MAX);
const _: () = assert!(ORDERED_CHUNK_MAX >= 2);
