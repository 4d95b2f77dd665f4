//! The one scheduler: every pending event of a run in a single queue ordered
//! by (virtual time, sequence number). Ties on time go to the event scheduled
//! first, so the order never depends on anything but the seed.
//!
//! Events sit in a slab and the heap holds only `(time, sequence, slot)`, so
//! sifting moves 24 bytes whatever the event carries.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use gamecore::PeerError;
use wire::client::{ClientFrame, ServerFrame};
use wire::node::NodeMessage;

use crate::world::Endpoint;

/// Most events pending at once; a run that reaches it has a feedback loop.
pub const EVENTS_PENDING_MAX: usize = 1 << 20;

/// Everything that can happen in a run. Fields name the node (index), its
/// incarnation, the call, op or session, and what is carried.
#[derive(Clone, Debug)]
pub enum SimEvent {
    /// A game server's timer (its `poll_timeout`), if still generation `generation`.
    NodeTimer {
        node: usize,
        incarnation: u64,
        generation: u64,
    },
    /// A request arrives at `to`.
    BusRequest {
        from: Endpoint,
        from_incarnation: u64,
        call: u64,
        to: Endpoint,
        message: NodeMessage,
    },
    /// An answer from `from` arrives at the caller `to`.
    BusAnswer {
        from: Endpoint,
        to: Endpoint,
        incarnation: u64,
        call: u64,
        answer: Result<NodeMessage, PeerError>,
    },
    /// The caller's deadline for `call`.
    BusDeadline {
        to: Endpoint,
        incarnation: u64,
        call: u64,
    },
    /// A topic message from game server `from` arrives at game server `node`.
    Topic {
        from: usize,
        node: usize,
        incarnation: u64,
        message: NodeMessage,
    },
    /// The head op of a store connection may reach the database.
    StorePump {
        node: usize,
        incarnation: u64,
        db: usize,
    },
    /// The head answer of a store connection may reach the node.
    AnswerPump {
        node: usize,
        incarnation: u64,
        db: usize,
    },
    /// The node's shell gives up on store op `op`.
    StoreDeadline {
        node: usize,
        incarnation: u64,
        op: u64,
    },
    /// The data center's database finished writing batch `batch`.
    DataCenterWritten { batch: u64 },
    /// A client's connection reaches a game server.
    Connect { session: u64 },
    /// A client frame reaches a game server.
    FrameAtNode { session: u64, frame: ClientFrame },
    /// The server notices the client closed the connection.
    ClosedAtNode { session: u64 },
    /// A server frame (and maybe the close) reaches the client.
    FrameAtClient {
        session: u64,
        frame: Option<ServerFrame>,
        close: bool,
    },
    /// A client's own timer, if still generation `generation`.
    ClientWake { client: usize, generation: u64 },
    /// A client's request `request` has waited too long.
    ClientTimeout { client: usize, request: u64 },
    /// A client's login reaches the account center.
    LoginAtAccount { client: usize, attempt: u64 },
    /// The account center's answer reaches the client.
    LoginAnswer {
        client: usize,
        attempt: u64,
        granted: Option<(usize, u128)>,
    },
    /// Time to crash a node.
    CrashTick,
    /// A crashed node comes back.
    Restart { node: usize },
    /// Time to start a partition.
    PartitionTick,
    /// Partition `id` heals.
    PartitionEnd { id: u64 },
    /// Time to cut a client's connection.
    CutTick,
    /// Time to pause a node (a stop-the-world stall).
    PauseTick,
    /// The liveness bound after healing.
    LivenessDeadline,
}

/// The pending events of one run.
pub struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slots: Vec<Option<SimEvent>>,
    free: Vec<u32>,
    next_sequence: u64,
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::with_capacity(1024),
            slots: Vec::with_capacity(1024),
            free: Vec::new(),
            next_sequence: 0,
        }
    }

    /// Schedules `event` at virtual time `at_ms`.
    pub fn push(&mut self, at_ms: u64, event: SimEvent) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                assert!(
                    self.slots.len() < EVENTS_PENDING_MAX,
                    "too many pending events"
                );
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at_ms, self.next_sequence, slot)));
        self.next_sequence += 1;
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, SimEvent)> {
        let Reverse((at_ms, _, slot)) = self.heap.pop()?;
        let event = self.slots[slot as usize]
            .take()
            .expect("a scheduled slot holds its event");
        self.free.push(slot);
        Some((at_ms, event))
    }
}
