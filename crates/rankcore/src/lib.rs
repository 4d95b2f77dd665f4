//! The protocol core of the rank server (seed "Server architecture" 4;
//! DESIGN §10): zone-wide leaderboards, as pure state machines in the shape
//! of quinn-proto. It never does I/O, reads a clock or draws randomness, so
//! the same code runs in the `rank` node and in tests that drive it step by
//! step.
//!
//! - [`ordered`]: the sorted list with positions under every board;
//! - [`board`]: one leaderboard ([`Board`]) and its frozen copy
//!   ([`Snapshot`]), their total order, a role's rank, pages forwards and
//!   backwards, a role's neighbours ([`View`]);
//! - [`core`]: [`RankCore`], which orders each role's updates by the
//!   sender's version, batches them into durable writes, acknowledges them
//!   once durable and answers queries from the durable state;
//! - [`messages`]: node.proto's rank messages in and out;
//! - [`limits`]: every bound.

pub mod board;
pub mod core;
pub mod limits;
pub mod messages;
pub mod ordered;

pub use board::{Board, BoardError, Entry, Page, Placed, Snapshot, Update, Version, View, Window};
pub use core::{
    BatchId, BoardEntry, BoardSnapshot, LoadError, Output, RankCore, RankState, RankWrite,
    RequestId, WriteError,
};
