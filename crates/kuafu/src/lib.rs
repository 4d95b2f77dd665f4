//! The `kuafu` command's library: the demo ([`demo`]) and its bots ([`bot`]),
//! kept in a library so tests run them in-process.

pub mod bot;
pub mod demo;
