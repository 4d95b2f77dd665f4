//! The zone file's `[limits]` table: each game server's player cap, how long
//! the account center skips a full server, and the client listeners' limits
//! (every node's gateway). Every default is in `zone.example.toml`.

use std::net::SocketAddr;
use std::time::Duration;

use gateway::GatewayConfig;
use serde::{Deserialize, Serialize};

/// Player and connection limits; defaults suit production.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Players one game server hosts at most, counting the places promised
    /// to login and crossing tokens; one more is refused `SERVER_FULL`.
    pub players_max: usize,
    /// How long the account center skips a server that answered
    /// `SERVER_FULL` (and the retry-after when every server is full).
    pub server_full_memory_ms: u64,
    /// Client connections one node serves at once; one more is refused
    /// `OVERLOADED`.
    pub connections_max: usize,
    /// Refused connections closed gracefully at once; beyond it a TCP
    /// refusal still gets its frame, a WebSocket one is closed without it.
    pub refusals_inflight_max: usize,
    /// Time from a connection's accept to its `Hello`.
    pub handshake_timeout_ms: u64,
    /// Time a connection may go without sending a frame.
    pub idle_timeout_ms: u64,
    /// Largest client frame, in bytes; a longer one closes the connection.
    pub frame_bytes_max: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            players_max: gamecore::limits::PLAYERS_MAX_DEFAULT,
            server_full_memory_ms: accountcore::SERVER_FULL_MEMORY_MS,
            connections_max: gateway::CONNECTIONS_MAX_DEFAULT,
            refusals_inflight_max: gateway::REFUSALS_INFLIGHT_MAX_DEFAULT,
            handshake_timeout_ms: millis(gateway::HANDSHAKE_TIMEOUT_DEFAULT),
            idle_timeout_ms: millis(gateway::IDLE_TIMEOUT_DEFAULT),
            frame_bytes_max: gateway::limits::FRAME_BYTES_MAX_DEFAULT,
        }
    }
}

impl LimitsConfig {
    /// A node's gateway with these limits.
    pub fn gateway(&self, name: &str, tcp: SocketAddr, ws: Option<SocketAddr>) -> GatewayConfig {
        GatewayConfig {
            connections_max: self.connections_max,
            refusals_inflight_max: self.refusals_inflight_max,
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            frame_bytes_max: self.frame_bytes_max,
            ..GatewayConfig::new(name, tcp, ws)
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
