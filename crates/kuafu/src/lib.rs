//! The `kuafu` command's library: the demo ([`demo`]) and its bots ([`bot`]),
//! the benchmarks ([`bench`]), the simulator sweep ([`simulate`]) and the
//! ledger audit ([`audit`]), kept in a library so tests run them in-process.

pub mod audit;
pub mod bench;
pub mod bot;
pub mod demo;
pub mod simulate;
