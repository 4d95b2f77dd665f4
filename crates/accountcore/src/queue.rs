//! The login queue (DESIGN §11): password logins and registrations, which
//! each cost one argon2 hash, are admitted at the rate the hashing pool
//! serves them; the rest wait in a bounded queue and are told their place.
//!
//! Quinn-style and pure: [`LoginQueue::handle_arrival`],
//! [`LoginQueue::handle_done`], [`LoginQueue::handle_left`] and
//! [`LoginQueue::handle_timeout`] take the time as `now_ms`; the decisions
//! come out of [`LoginQueue::poll_output`]:
//!
//! - [`QueueOutput::Start`]: hash this login now. At most
//!   [`QueueConfig::slots`] logins are started at once: one per worker
//!   hashing and [`QueueConfig::jobs_per_worker`]` − 1` per worker ready
//!   behind it, so a worker that finishes a hash takes the next one at once
//!   instead of idling while the shell reports the end, is told to start
//!   another, and looks its account up. A login is admitted exactly when a
//!   slot frees up; it never waits on a timer.
//! - [`QueueOutput::Queued`]: the login waits at `position` (1 is next) and
//!   expects to start in `expected_wait_ms`; sent at once on arrival and then
//!   again, at most every [`QueueConfig::position_update_interval_ms`], when
//!   the position has moved.
//! - [`QueueOutput::Busy`]: the queue holds [`QueueConfig::waiting_max`]
//!   logins already; the client should retry after `retry_after_ms`.
//!
//! The expected wait comes from the measured drain rate: while anyone
//! waits every slot is taken, so the pool serves `slots` logins per mean
//! slot time (Little's law), and the mean is a moving average of the recent
//! logins' times from start to done (the wait for a worker included, so a
//! machine busy with other work shows as slower hashes). Before the first
//! login is measured, [`QueueConfig::hash_estimate_ms`] stands in.
//!
//! A login whose client left ([`LoginQueue::handle_left`]) leaves the queue
//! and is never started: its hash is never spent.

use std::collections::{BTreeMap, VecDeque};

pub use crate::limits::{
    HASH_ESTIMATE_MS, HASH_JOBS_PER_WORKER, LOGIN_QUEUE_MAX, POSITION_UPDATE_INTERVAL_MS,
};
/// Weight of the newest hash in the moving average of hash times (1 in
/// this many).
const HASH_AVERAGE_WEIGHT: f64 = 8.0;

/// The queue's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Logins hashed at once: the hashing pool's workers.
    pub hash_workers: usize,
    /// Logins started per worker at once: the one it hashes and the ones
    /// ready behind it (at least 1).
    pub jobs_per_worker: usize,
    /// Most logins waiting; one more is answered `BUSY`.
    pub waiting_max: usize,
    /// Least time between two position updates to one waiting login.
    pub position_update_interval_ms: u64,
    /// The hash time assumed before one is measured.
    pub hash_estimate_ms: u64,
}

impl QueueConfig {
    /// The defaults, with `hash_workers` workers.
    pub fn new(hash_workers: usize) -> Self {
        Self {
            hash_workers: hash_workers.max(1),
            jobs_per_worker: HASH_JOBS_PER_WORKER,
            waiting_max: LOGIN_QUEUE_MAX,
            position_update_interval_ms: POSITION_UPDATE_INTERVAL_MS,
            hash_estimate_ms: HASH_ESTIMATE_MS,
        }
    }

    /// Logins started at once: `hash_workers × jobs_per_worker`, at least 1.
    pub fn slots(&self) -> usize {
        self.hash_workers
            .max(1)
            .saturating_mul(self.jobs_per_worker.max(1))
    }
}

/// One login that needs a hash, numbered by the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// What the queue decided, drained by [`LoginQueue::poll_output`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOutput {
    /// Hash this login now; report the end with `handle_done`.
    Start {
        /// The login.
        ticket: Ticket,
    },
    /// The login waits: tell its client.
    Queued {
        /// The login.
        ticket: Ticket,
        /// Its place, 1 being the next to start.
        position: u64,
        /// When it should start, from the measured drain rate.
        expected_wait_ms: u64,
    },
    /// The queue is full: refuse the login with `BUSY`; the ticket is done.
    Busy {
        /// The login.
        ticket: Ticket,
        /// When to retry: the expected time for the whole queue to drain.
        retry_after_ms: u64,
    },
}

/// A login waiting, and the position its client was last told.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    ticket: Ticket,
    told_position: u64,
}

/// The login queue. See the module documentation.
#[derive(Debug)]
pub struct LoginQueue {
    config: QueueConfig,
    waiting: VecDeque<Waiting>,
    /// The logins started (hashing or ready), with when each started.
    hashing: BTreeMap<Ticket, u64>,
    /// Moving average of the recent logins' times from start to done.
    hash_mean_ms: f64,
    next_ticket: u64,
    /// When the next position updates are due, while anyone waits.
    next_update_ms: Option<u64>,
    outputs: VecDeque<QueueOutput>,
}

impl LoginQueue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        let config = QueueConfig {
            hash_workers: config.hash_workers.max(1),
            jobs_per_worker: config.jobs_per_worker.max(1),
            ..config
        };
        Self {
            config,
            waiting: VecDeque::new(),
            hashing: BTreeMap::new(),
            hash_mean_ms: config.hash_estimate_ms as f64,
            next_ticket: 0,
            next_update_ms: None,
            outputs: VecDeque::new(),
        }
    }

    /// A login that needs a hash arrives; its fate comes out of
    /// [`poll_output`](Self::poll_output) under the returned ticket.
    pub fn handle_arrival(&mut self, now_ms: u64) -> Ticket {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        if self.hashing.len() < self.config.slots() && self.waiting.is_empty() {
            self.start(now_ms, ticket);
        } else if self.waiting.len() >= self.config.waiting_max {
            let retry_after_ms = self.expected_wait_ms(self.waiting.len() as u64);
            self.outputs.push_back(QueueOutput::Busy {
                ticket,
                retry_after_ms,
            });
        } else {
            let position = self.waiting.len() as u64 + 1;
            self.waiting.push_back(Waiting {
                ticket,
                told_position: position,
            });
            self.tell(ticket, position);
            self.next_update_ms.get_or_insert(now_ms + self.interval());
        }
        ticket
    }

    /// The hash of `ticket` finished (whatever its result): the time is
    /// measured and the next waiting login starts.
    pub fn handle_done(&mut self, now_ms: u64, ticket: Ticket) {
        let Some(started_ms) = self.hashing.remove(&ticket) else {
            return;
        };
        let sample_ms = now_ms.saturating_sub(started_ms) as f64;
        self.hash_mean_ms += (sample_ms - self.hash_mean_ms) / HASH_AVERAGE_WEIGHT;
        self.admit(now_ms);
    }

    /// The client of `ticket` went away. A waiting login leaves the queue
    /// and is never started; a hash already running finishes (its worker is
    /// busy until `handle_done`); so does one already started and ready
    /// behind a worker's hash.
    pub fn handle_left(&mut self, _now_ms: u64, ticket: Ticket) {
        self.waiting.retain(|waiting| waiting.ticket != ticket);
        if self.waiting.is_empty() {
            self.next_update_ms = None;
        }
    }

    /// Sends the position updates that are due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.next_update_ms.is_none_or(|due_ms| now_ms < due_ms) {
            return;
        }
        let mut moved = Vec::new();
        for (index, waiting) in self.waiting.iter_mut().enumerate() {
            let position = index as u64 + 1;
            if waiting.told_position != position {
                waiting.told_position = position;
                moved.push((waiting.ticket, position));
            }
        }
        for (ticket, position) in moved {
            self.tell(ticket, position);
        }
        self.next_update_ms = (!self.waiting.is_empty()).then(|| now_ms + self.interval());
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_update_ms
    }

    /// The next decision for the shell.
    pub fn poll_output(&mut self) -> Option<QueueOutput> {
        self.outputs.pop_front()
    }

    /// Logins waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Logins started now (hashing or ready for a worker).
    pub fn hashing(&self) -> usize {
        self.hashing.len()
    }

    /// The expected wait of the login at `position`: the logins ahead of it
    /// and itself, served `slots` at a time, one mean slot time each.
    pub fn expected_wait_ms(&self, position: u64) -> u64 {
        let slots = self.config.slots() as u64;
        let rounds = position.div_ceil(slots);
        (rounds as f64 * self.hash_mean_ms).ceil() as u64
    }

    /// Starts waiting logins while a slot is free.
    fn admit(&mut self, now_ms: u64) {
        while self.hashing.len() < self.config.slots() {
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            self.start(now_ms, next.ticket);
        }
        if self.waiting.is_empty() {
            self.next_update_ms = None;
        }
    }

    fn start(&mut self, now_ms: u64, ticket: Ticket) {
        self.hashing.insert(ticket, now_ms);
        self.outputs.push_back(QueueOutput::Start { ticket });
    }

    fn tell(&mut self, ticket: Ticket, position: u64) {
        let expected_wait_ms = self.expected_wait_ms(position);
        self.outputs.push_back(QueueOutput::Queued {
            ticket,
            position,
            expected_wait_ms,
        });
    }

    fn interval(&self) -> u64 {
        self.config.position_update_interval_ms.max(1)
    }
}
