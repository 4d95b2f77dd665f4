//! The `kuafu` command's library: the demo ([`demo`]) and its bots ([`bot`]),
//! and the benchmarks ([`bench`]), kept in a library so tests run them
//! in-process.

pub mod bench;
pub mod bot;
pub mod demo;
