//! The zone suite (`zone_suite`) on the embedded backend: every test of
//! players, logins, crossings, bad input and restarts, with the whole zone
//! in this process (it also checks what only memory shows: kuafu marks,
//! the servers' counters). The same suite runs on the distributed mode's
//! processes in `crates/kuafu/tests/zone_suite.rs`.

use zone_suite::EmbeddedZone;

zone_suite::zone_suite!(EmbeddedZone);
