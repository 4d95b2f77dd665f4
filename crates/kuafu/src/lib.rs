//! The `kuafu` command's library: the demo ([`demo`]) and its bots ([`bot`]),
//! the benchmarks ([`bench`]), the simulator sweep ([`simulate`]), the
//! ledger audit ([`audit`]) and the distributed mode's processes
//! ([`processes`]), kept in a library so tests run them in-process.

pub mod audit;
pub mod bench;
pub mod bot;
pub mod demo;
pub mod processes;
pub mod simulate;
pub mod transfer;
