//! Kuafu's wire formats.
//!
//! - [`client`]: the client protocol (`proto/client.proto`), spoken over TCP and
//!   WebSocket between players and the account center or game servers.
//! - [`node`]: messages between nodes on the bus and the stored player record
//!   (`proto/node.proto`).
//! - [`frame`]: length-prefixed frames with a size cap, and the handshake rule.
//! - [`limits`]: the frame cap and the framing's sizes.
//!
//! Architecture invariant: this crate knows bytes and messages, never sockets'
//! owners, stores or game rules.

pub mod frame;
pub mod limits;

/// Generated code, nested as the protobuf packages are (`kuafu.client.v1`,
/// `kuafu.node.v1`) so cross-package references resolve.
#[allow(missing_docs, clippy::all)]
mod generated {
    pub mod kuafu {
        pub mod client {
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/kuafu.client.v1.rs"));
            }
        }
        pub mod node {
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/kuafu.node.v1.rs"));
            }
        }
    }
}

/// The client protocol, generated from `proto/client.proto`.
pub use generated::kuafu::client::v1 as client;
/// Node-to-node messages and the stored player record, from `proto/node.proto`.
pub use generated::kuafu::node::v1 as node;

/// The client protocol version this build speaks; a `Hello` with another
/// version is answered `UNSUPPORTED_VERSION` and the connection closes.
pub const PROTOCOL_VERSION: u32 = 1;

pub use prost::Message;

/// The zone topic the data center pushes node `node`'s subscribed player
/// summaries on (DESIGN §8): one topic per subscribing node, so the
/// permissions of a distributed zone can name it.
pub fn summary_topic(node: &str) -> String {
    format!("summaries.{node}")
}
