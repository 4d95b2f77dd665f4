//! The login queue (DESIGN §11): password logins and registrations, which
//! each cost one argon2 hash, are admitted at the rate the hashing pool
//! serves them; the rest wait in a bounded queue and are told their place.
//!
//! Quinn-style and pure: [`LoginQueue::handle_arrival`],
//! [`LoginQueue::handle_done`], [`LoginQueue::handle_left`],
//! [`LoginQueue::handle_resume`] and [`LoginQueue::handle_timeout`] (due at
//! [`LoginQueue::poll_timeout`]) take the time as `now_ms`; the decisions
//! come out of [`LoginQueue::poll_output`]:
//!
//! - [`QueueOutput::Start`]: hash this login now. At most
//!   [`QueueConfig::hash_workers`] logins hash at once, so a login is
//!   admitted exactly when a worker frees up.
//! - [`QueueOutput::Queued`]: the login waits at `position` (1 is next) and
//!   expects to start in `expected_wait_ms`; sent at once on arrival and then
//!   again, at most every [`QueueConfig::position_update_interval_ms`], when
//!   the position has moved, with the queue ticket to resume with.
//! - [`QueueOutput::Busy`]: the queue holds [`QueueConfig::waiting_max`]
//!   logins already; the client should retry after `retry_after_ms`.
//! - [`QueueOutput::Dropped`]: the login's client stayed away past the
//!   grace window; the login left the queue without a hash.
//!
//! The expected wait comes from the measured drain rate: the pool serves
//! `hash_workers` logins per mean hash time, and the mean is a moving
//! average of the recent hashes' durations (start to done, so a machine
//! busy with other work shows as slower hashes). Before the first hash is
//! measured, [`QueueConfig::hash_estimate_ms`] stands in.
//!
//! A login whose client left ([`LoginQueue::handle_left`]) keeps its place
//! for [`QueueConfig::grace_ms`]: its client may come back on a new
//! connection with the queue ticket it was given
//! ([`LoginQueue::handle_resume`]). The ticket is a secret of 128 bits the
//! caller's [`Entropy`] draws (the queue draws no randomness of its own),
//! sent in every [`QueueOutput::Queued`]. It resumes its login once: each
//! resume issues a fresh one, and the spent one is refused
//! ([`ResumeRefused::Used`]), as is the ticket of a login that left the queue
//! to be served. A client gone past the grace window is dropped
//! ([`QueueOutput::Dropped`], [`ResumeRefused::Expired`]) and its hash never
//! starts. A ticket that ended is remembered for one grace window (at most
//! [`QueueConfig::waiting_max`] of them), then it is unknown
//! ([`ResumeRefused::Unknown`]).
//!
//! A login whose client is away is never started (that would spend a hash
//! for nobody) and never blocks the logins behind it: admission skips it and
//! starts the next present login, and the away login keeps its place ahead
//! of everyone behind it, so when its client returns it is the next to start
//! if it reached the head meanwhile. An away login still holds its place in
//! the queue's bound and in the positions of those behind it (it may come
//! back). Nobody is told about a move while away; a resume is told its place
//! at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::Entropy;
pub use crate::limits::{
    HASH_ESTIMATE_MS, LOGIN_QUEUE_MAX, POSITION_UPDATE_INTERVAL_MS, QUEUE_GRACE_MS,
};
/// Weight of the newest hash in the moving average of hash times (1 in
/// this many).
const HASH_AVERAGE_WEIGHT: f64 = 8.0;

/// The queue's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Logins hashed at once: the hashing pool's workers.
    pub hash_workers: usize,
    /// Most logins waiting (their clients here or away); one more is
    /// answered `BUSY`.
    pub waiting_max: usize,
    /// Least time between two position updates to one waiting login.
    pub position_update_interval_ms: u64,
    /// The hash time assumed before one is measured.
    pub hash_estimate_ms: u64,
    /// How long a waiting login whose client left keeps its place; 0 drops
    /// it at once.
    pub grace_ms: u64,
}

impl QueueConfig {
    /// The defaults, with `hash_workers` workers.
    pub fn new(hash_workers: usize) -> Self {
        Self {
            hash_workers: hash_workers.max(1),
            waiting_max: LOGIN_QUEUE_MAX,
            position_update_interval_ms: POSITION_UPDATE_INTERVAL_MS,
            hash_estimate_ms: HASH_ESTIMATE_MS,
            grace_ms: QUEUE_GRACE_MS,
        }
    }
}

/// One login that needs a hash, numbered by the queue in arrival order (not
/// the client's queue ticket: that is the secret in
/// [`QueueOutput::Queued`]).
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
        /// The queue ticket its client resumes with after a dropped
        /// connection (see [`LoginQueue::handle_resume`]).
        secret: u128,
    },
    /// The queue is full: refuse the login with `BUSY`; the ticket is done.
    Busy {
        /// The login.
        ticket: Ticket,
        /// When to retry: the expected time for the whole queue to drain.
        retry_after_ms: u64,
    },
    /// The login's client stayed away past the grace window: the login left
    /// the queue, never started; the ticket is done.
    Dropped {
        /// The login.
        ticket: Ticket,
    },
}

/// Why a queue ticket resumed nothing; the client logs in again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeRefused {
    /// No login has this ticket: never issued, or forgotten one grace window
    /// after its login ended.
    Unknown,
    /// Its login was dropped: the client stayed away past the grace window.
    Expired,
    /// Spent: it resumed its login already (the login has a newer ticket),
    /// or its login left the queue to be served.
    Used,
}

/// What a secret the queue issued stands for now.
#[derive(Clone, Copy, Debug)]
enum Secret {
    /// The ticket of this waiting login.
    Waiting(Ticket),
    /// It resumes nothing any more, and why.
    Ended(ResumeRefused),
}

/// A login waiting.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    /// The queue ticket its client resumes with.
    secret: u128,
    /// The position its client was last told.
    told_position: u64,
    /// While its client is away: when the login is dropped.
    away_until_ms: Option<u64>,
}

/// The login queue. See the module documentation.
#[derive(Debug)]
pub struct LoginQueue {
    config: QueueConfig,
    /// The logins waiting, in arrival order (tickets count up).
    waiting: BTreeMap<Ticket, Waiting>,
    /// The waiting logins whose clients are away, by when each is dropped.
    away: BTreeSet<(u64, Ticket)>,
    /// Every secret issued to a waiting login, and those ended recently.
    secrets: BTreeMap<u128, Secret>,
    /// The ended secrets, oldest first, with when each is forgotten (at most
    /// `waiting_max`).
    ended: VecDeque<(u64, u128)>,
    /// The logins hashing now, with when each started.
    hashing: BTreeMap<Ticket, u64>,
    /// Moving average of the recent hash times.
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
            ..config
        };
        Self {
            config,
            waiting: BTreeMap::new(),
            away: BTreeSet::new(),
            secrets: BTreeMap::new(),
            ended: VecDeque::new(),
            hashing: BTreeMap::new(),
            hash_mean_ms: config.hash_estimate_ms as f64,
            next_ticket: 0,
            next_update_ms: None,
            outputs: VecDeque::new(),
        }
    }

    /// A login that needs a hash arrives; its fate comes out of
    /// [`poll_output`](Self::poll_output) under the returned ticket. A login
    /// that waits gets its queue ticket from `entropy`.
    pub fn handle_arrival(&mut self, now_ms: u64, entropy: &mut dyn Entropy) -> Ticket {
        self.expire(now_ms);
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        if self.hashing.len() < self.config.hash_workers && self.present() == 0 {
            self.start(now_ms, ticket);
        } else if self.waiting.len() >= self.config.waiting_max {
            let retry_after_ms = self.expected_wait_ms(self.waiting.len() as u64);
            self.outputs.push_back(QueueOutput::Busy {
                ticket,
                retry_after_ms,
            });
        } else {
            let secret = entropy.token();
            let position = self.waiting.len() as u64 + 1;
            let waiting = Waiting {
                secret,
                told_position: position,
                away_until_ms: None,
            };
            self.waiting.insert(ticket, waiting);
            self.secrets.insert(secret, Secret::Waiting(ticket));
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

    /// The client of `ticket` went away. A waiting login keeps its place for
    /// the grace window (dropped at once when it is 0); a hash already
    /// running finishes (its worker is busy until `handle_done`).
    pub fn handle_left(&mut self, now_ms: u64, ticket: Ticket) {
        let Some(waiting) = self.waiting.get_mut(&ticket) else {
            return;
        };
        let until_ms = now_ms.saturating_add(self.config.grace_ms);
        if let Some(earlier_ms) = waiting.away_until_ms.replace(until_ms) {
            self.away.remove(&(earlier_ms, ticket));
        }
        self.away.insert((until_ms, ticket));
        self.expire(now_ms);
    }

    /// A client presents the queue ticket `secret` on a new connection: its
    /// login is back, told its place (or started, if a worker is free and it
    /// is the first present login), under a fresh secret from `entropy`; the
    /// one presented is spent. The returned ticket is the login's.
    pub fn handle_resume(
        &mut self,
        now_ms: u64,
        secret: u128,
        entropy: &mut dyn Entropy,
    ) -> Result<Ticket, ResumeRefused> {
        self.expire(now_ms);
        let ticket = match self.secrets.get(&secret) {
            None => return Err(ResumeRefused::Unknown),
            Some(Secret::Ended(refused)) => return Err(*refused),
            Some(Secret::Waiting(ticket)) => *ticket,
        };
        self.end_secret(now_ms, secret, ResumeRefused::Used);
        let fresh = entropy.token();
        self.secrets.insert(fresh, Secret::Waiting(ticket));
        if let Some(waiting) = self.waiting.get_mut(&ticket) {
            waiting.secret = fresh;
            if let Some(until_ms) = waiting.away_until_ms.take() {
                self.away.remove(&(until_ms, ticket));
            }
        }
        self.admit(now_ms);
        if self.waiting.contains_key(&ticket) {
            let position = self.waiting.range(..ticket).count() as u64 + 1;
            self.tell(ticket, position);
        }
        Ok(ticket)
    }

    /// Drops the logins whose clients stayed away past the grace window and
    /// sends the position updates that are due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.expire(now_ms);
        if self.next_update_ms.is_none_or(|due_ms| now_ms < due_ms) {
            return;
        }
        let moved: Vec<(Ticket, u64)> = self
            .waiting
            .iter()
            .enumerate()
            .filter(|(index, (_, waiting))| {
                waiting.away_until_ms.is_none() && waiting.told_position != *index as u64 + 1
            })
            .map(|(index, (ticket, _))| (*ticket, index as u64 + 1))
            .collect();
        for (ticket, position) in moved {
            self.tell(ticket, position);
        }
        self.next_update_ms = (!self.waiting.is_empty()).then(|| now_ms + self.interval());
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called:
    /// the next position updates or the first grace window to end.
    pub fn poll_timeout(&self) -> Option<u64> {
        let grace_ends = self.away.first().map(|(until_ms, _)| *until_ms);
        match (self.next_update_ms, grace_ends) {
            (Some(update_ms), Some(grace_ms)) => Some(update_ms.min(grace_ms)),
            (update_ms, grace_ms) => update_ms.or(grace_ms),
        }
    }

    /// The next decision for the shell.
    pub fn poll_output(&mut self) -> Option<QueueOutput> {
        self.outputs.pop_front()
    }

    /// Logins waiting now, their clients here or away.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Waiting logins whose clients are away.
    pub fn away(&self) -> usize {
        self.away.len()
    }

    /// Logins hashing now.
    pub fn hashing(&self) -> usize {
        self.hashing.len()
    }

    /// The expected wait of the login at `position`: the logins ahead of it
    /// and itself, served `hash_workers` at a time, one mean hash time each.
    pub fn expected_wait_ms(&self, position: u64) -> u64 {
        let workers = self.config.hash_workers as u64;
        let rounds = position.div_ceil(workers);
        (rounds as f64 * self.hash_mean_ms).ceil() as u64
    }

    /// Waiting logins whose clients are here.
    fn present(&self) -> usize {
        self.waiting.len() - self.away.len()
    }

    /// Starts the first present waiting logins while a worker is free.
    fn admit(&mut self, now_ms: u64) {
        while self.hashing.len() < self.config.hash_workers {
            let next = self
                .waiting
                .iter()
                .find(|(_, waiting)| waiting.away_until_ms.is_none())
                .map(|(ticket, waiting)| (*ticket, waiting.secret));
            let Some((ticket, secret)) = next else {
                break;
            };
            self.waiting.remove(&ticket);
            self.end_secret(now_ms, secret, ResumeRefused::Used);
            self.start(now_ms, ticket);
        }
        self.settle();
    }

    /// Drops the logins whose grace window has ended, and forgets the
    /// secrets ended a grace window ago.
    fn expire(&mut self, now_ms: u64) {
        while let Some(&(until_ms, ticket)) = self.away.first() {
            if now_ms < until_ms {
                break;
            }
            self.away.pop_first();
            if let Some(waiting) = self.waiting.remove(&ticket) {
                self.end_secret(now_ms, waiting.secret, ResumeRefused::Expired);
                self.outputs.push_back(QueueOutput::Dropped { ticket });
            }
        }
        while let Some(&(forget_ms, secret)) = self.ended.front() {
            if now_ms < forget_ms {
                break;
            }
            self.ended.pop_front();
            self.secrets.remove(&secret);
        }
        self.settle();
    }

    /// `secret` resumes nothing any more; it is remembered (to refuse it by
    /// name) for one grace window, and at most `waiting_max` are.
    fn end_secret(&mut self, now_ms: u64, secret: u128, why: ResumeRefused) {
        self.secrets.insert(secret, Secret::Ended(why));
        let forget_ms = now_ms.saturating_add(self.config.grace_ms);
        self.ended.push_back((forget_ms, secret));
        if self.ended.len() > self.config.waiting_max
            && let Some((_, oldest)) = self.ended.pop_front()
        {
            self.secrets.remove(&oldest);
        }
    }

    /// No position updates are due while nobody waits.
    fn settle(&mut self) {
        if self.waiting.is_empty() {
            self.next_update_ms = None;
        }
    }

    fn start(&mut self, now_ms: u64, ticket: Ticket) {
        self.hashing.insert(ticket, now_ms);
        self.outputs.push_back(QueueOutput::Start { ticket });
    }

    /// Tells the client of waiting `ticket` its place and its secret.
    fn tell(&mut self, ticket: Ticket, position: u64) {
        let Some(waiting) = self.waiting.get_mut(&ticket) else {
            return;
        };
        waiting.told_position = position;
        let secret = waiting.secret;
        let expected_wait_ms = self.expected_wait_ms(position);
        self.outputs.push_back(QueueOutput::Queued {
            ticket,
            position,
            expected_wait_ms,
            secret,
        });
    }

    fn interval(&self) -> u64 {
        self.config.position_update_interval_ms.max(1)
    }
}
