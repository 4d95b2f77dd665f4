//! The store connections: one FIFO connection per node incarnation and
//! database, as a shell keeps one connection per database.
//!
//! Ops travel to the database in order and answers come back in order; a
//! delay spike holds up everything behind it (head of line). A partition
//! between the node and the databases stalls the connection, also for what
//! is already in flight, until it heals (TCP retransmits). At the database,
//! each op commits alone at the database clock (true time) with one of three
//! outcomes: applied and acknowledged, applied with the reply lost, or not
//! applied (the node gets `StoreError::Backend`). The node's shell gives up
//! on an op after [`STORE_TIMEOUT_MS`] and reports `StoreError::Backend`: an
//! unknown outcome, which the core reads back. When a node crashes, what it
//! already sent still reaches the database (a late zombie write) and the
//! answers are lost.

use std::collections::VecDeque;

use routing::Srvno;
use store::{OpOutcome, PlayerOp, StoreError};

use crate::fault_kinds::FaultKind;
use crate::queue::SimEvent;
use crate::world::{DB_BIT, World, node_bit, srvname};

/// How long a node's shell waits for a store answer.
pub const STORE_TIMEOUT_MS: u64 = 1_000;

/// A connection's key: the node, its incarnation and the database.
type Key = (usize, u64, usize);

/// One connection: ops on their way to the database, answers on their way
/// back.
#[derive(Default)]
pub(crate) struct Connection {
    to_db: Pipe<PlayerOp>,
    to_node: Pipe<Result<OpOutcome, StoreError>>,
}

impl Connection {
    fn idle(&self) -> bool {
        self.to_db.idle() && self.to_node.idle()
    }
}

/// One direction of a connection: what is on its way, each with the time it
/// could arrive at the earliest and its op, and whether a pump is queued.
struct Pipe<T> {
    items: VecDeque<(u64, u64, T)>,
    pumping: bool,
}

impl<T> Default for Pipe<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            pumping: false,
        }
    }
}

impl<T> Pipe<T> {
    fn idle(&self) -> bool {
        self.items.is_empty() && !self.pumping
    }
}

/// A direction of a connection: its pipe, the cut that stalls it and the
/// event that pumps it.
trait Direction {
    type Item;
    fn pipe(connection: &mut Connection) -> &mut Pipe<Self::Item>;
    /// The (from, to) of a cut that stalls this direction of `node`'s link.
    fn ends(node: usize) -> (u32, u32);
    fn pump_event(key: Key) -> SimEvent;
}

/// Ops, from the node to the database.
struct ToDb;

impl Direction for ToDb {
    type Item = PlayerOp;
    fn pipe(connection: &mut Connection) -> &mut Pipe<PlayerOp> {
        &mut connection.to_db
    }
    fn ends(node: usize) -> (u32, u32) {
        (node_bit(node), DB_BIT)
    }
    fn pump_event((node, incarnation, db): Key) -> SimEvent {
        SimEvent::StorePump {
            node,
            incarnation,
            db,
        }
    }
}

/// Answers, from the database to the node.
struct ToNode;

impl Direction for ToNode {
    type Item = Result<OpOutcome, StoreError>;
    fn pipe(connection: &mut Connection) -> &mut Pipe<Self::Item> {
        &mut connection.to_node
    }
    fn ends(node: usize) -> (u32, u32) {
        (DB_BIT, node_bit(node))
    }
    fn pump_event((node, incarnation, db): Key) -> SimEvent {
        SimEvent::AnswerPump {
            node,
            incarnation,
            db,
        }
    }
}

impl World {
    /// One store op's latency: jitter, sometimes a spike.
    pub(crate) fn store_latency(&mut self) -> u64 {
        let latency = self.prng.between(1, self.mix.store_latency_max_ms);
        latency + self.spike()
    }

    /// A core asked for a store op.
    pub(crate) fn submit_store(&mut self, node: usize, op: u64, srvno: Srvno, operation: PlayerOp) {
        let incarnation = self.nodes[node].incarnation;
        self.log(|| format!("{} submits op {op}: {}", srvname(node), op_name(&operation)));
        self.pending_ops.insert((node, incarnation, op));
        self.queue.push(
            self.now_ms + STORE_TIMEOUT_MS,
            SimEvent::StoreDeadline {
                node,
                incarnation,
                op,
            },
        );
        let db = srvno.get() as usize - 1;
        if db >= self.dbs.len() {
            let answer = Err(StoreError::WrongDatabase(srvno));
            self.queue_answer(node, incarnation, 0, op, answer);
            return;
        }
        self.enqueue::<ToDb>((node, incarnation, db), op, operation);
    }

    /// Puts `item` at the back of direction `D` of a connection, and starts
    /// the pump unless it runs.
    fn enqueue<D: Direction>(&mut self, key: Key, op: u64, item: D::Item) {
        let ready_ms = self.now_ms + self.store_latency();
        let pipe = D::pipe(self.connections.entry(key).or_default());
        pipe.items.push_back((ready_ms, op, item));
        if !pipe.pumping {
            pipe.pumping = true;
            self.queue.push(ready_ms, D::pump_event(key));
        }
    }

    /// Takes the head of direction `D` of a connection across, unless the
    /// link is cut (then the pump waits for the heal), and queues the pump
    /// for the next one.
    fn pump<D: Direction>(&mut self, key: Key) -> Option<(u64, D::Item)> {
        let (from, to) = D::ends(key.0);
        if let Some(until_ms) = self.cut_until(from, to) {
            let at = until_ms + self.store_latency();
            self.queue.push(at, D::pump_event(key));
            return None;
        }
        let connection = self
            .connections
            .get_mut(&key)
            .expect("a pumped connection exists");
        let pipe = D::pipe(connection);
        let (_, op, item) = pipe
            .items
            .pop_front()
            .expect("a pump has something to move");
        match pipe.items.front() {
            Some((ready_ms, _, _)) => {
                let at = (*ready_ms).max(self.now_ms);
                self.queue.push(at, D::pump_event(key));
            }
            None => pipe.pumping = false,
        }
        Some((op, item))
    }

    /// The op at the head of a connection reaches the database, unless the
    /// link is cut.
    pub(crate) fn pump_to_db(&mut self, node: usize, incarnation: u64, db: usize) -> bool {
        let key = (node, incarnation, db);
        let Some((op, operation)) = self.pump::<ToDb>(key) else {
            return false;
        };
        self.trace.add(&[self.now_ms, 6, node as u64, op]);
        self.commit(node, incarnation, db, op, operation);
        self.forget_connection_if_idle(key);
        true
    }

    /// The database commits one op, with the seed's commit-outcome faults.
    fn commit(&mut self, node: usize, incarnation: u64, db: usize, op: u64, operation: PlayerOp) {
        if self.prng.chance(self.mix.not_applied_ppm) {
            self.inject(FaultKind::NotApplied);
            self.log(|| format!("db{}: {} op {op} not applied", db + 1, srvname(node)));
            let answer = Err(StoreError::Backend("commit failed: not applied".to_owned()));
            return self.queue_answer(node, incarnation, db, op, answer);
        }
        let answer = self.dbs[db].apply(self.now_ms, &operation, &mut self.checker);
        self.log(|| {
            format!(
                "db{}: {} op {op} {operation:?} -> {answer:?}",
                db + 1,
                srvname(node)
            )
        });
        if self.prng.chance(self.mix.reply_lost_ppm) {
            self.inject(FaultKind::ReplyLost);
            self.log(|| {
                format!(
                    "db{}: the answer to {} op {op} is lost",
                    db + 1,
                    srvname(node)
                )
            });
            return;
        }
        self.queue_answer(node, incarnation, db, op, answer);
    }

    fn queue_answer(
        &mut self,
        node: usize,
        incarnation: u64,
        db: usize,
        op: u64,
        answer: Result<OpOutcome, StoreError>,
    ) {
        if !self.alive(node, incarnation) {
            return; // a zombie write of a dead incarnation: nobody hears the answer
        }
        self.enqueue::<ToNode>((node, incarnation, db), op, answer);
    }

    /// The answer at the head of a connection reaches the node.
    pub(crate) fn pump_to_node(&mut self, node: usize, incarnation: u64, db: usize) -> bool {
        let key = (node, incarnation, db);
        if !self.alive(node, incarnation) {
            let connection = self
                .connections
                .get_mut(&key)
                .expect("a pumped connection exists");
            connection.to_node = Pipe::default();
            self.forget_connection_if_idle(key);
            return false;
        }
        let Some((op, answer)) = self.pump::<ToNode>(key) else {
            return false;
        };
        if !self.pending_ops.remove(&(node, incarnation, op)) {
            return false; // the shell gave up on it already
        }
        self.trace
            .add(&[self.now_ms, 7, node as u64, op, u64::from(answer.is_ok())]);
        let own = self.nodes[node].own_now(self.now_ms);
        self.core_mut(node)
            .handle_store_answer(own, gamecore::OpId(op), answer);
        self.after_core(node);
        true
    }

    fn forget_connection_if_idle(&mut self, key: Key) {
        let current = self.nodes[key.0].incarnation == key.1;
        if !current && self.connections.get(&key).is_some_and(Connection::idle) {
            self.connections.remove(&key);
        }
    }
}

/// A short name of an op, for the log.
fn op_name(operation: &PlayerOp) -> String {
    match operation {
        PlayerOp::Claim { roleid, .. } => format!("claim {roleid}"),
        PlayerOp::Save(write) => format!("save {} epoch {}", write.roleid, write.epoch),
        PlayerOp::Handoff { write, to, .. } => {
            format!("handoff {} epoch {} to {to}", write.roleid, write.epoch)
        }
        PlayerOp::Release(write) => format!("release {} epoch {}", write.roleid, write.epoch),
        PlayerOp::RenewLeases { leases, .. } => format!("renew {leases:?}"),
        PlayerOp::ReadOwnership { roleid } => format!("read back {roleid}"),
        other => format!("{other:?}"),
    }
}
