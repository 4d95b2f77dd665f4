//! Login admission in the shell (DESIGN §11): the pure login queue and the
//! attempt limits of `accountcore`, and what waits in the queue.
//!
//! A password login or a registration first passes the attempt limits
//! (failed passwords per account and per address, registrations per
//! address; over a limit it is refused `RATE_LIMITED` with the wait), then
//! takes a ticket in the [`LoginQueue`]. The queue's decisions come out of
//! [`Admission::poll`] as what to tell or do for which client.
//!
//! A closed session's waiting logins stay in the queue for its grace window,
//! their requests (account, password) kept here, so a client that reconnects
//! and presents its queue ticket ([`Admission::resume`]) gets its login back
//! on the new connection; the queue drops a login whose client stays away
//! longer, and its hash never starts. What waits here is bounded by the
//! queue's bound: an away login holds its place in it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use accountcore::Entropy;
use accountcore::limiter::Limiter;
use accountcore::queue::{LoginQueue, QueueOutput, ResumeRefused, Ticket};
use gateway::SessionId;
use wire::client::{ErrorCode, LoginQueued, Password, Register, RetryLater};

use crate::LoginSettings;
use crate::login::Refusal;

/// What a login that needs a hash asks for.
pub(crate) enum Work {
    /// Create a password account.
    Register(Register),
    /// Check an account's password.
    Password(Password),
}

/// A login that needs a hash, and whom it answers (the last connection that
/// asked for it: a resume moves it).
pub(crate) struct Pending {
    pub(crate) session: SessionId,
    pub(crate) request_id: u64,
    pub(crate) address: IpAddr,
    pub(crate) work: Work,
    /// When it arrived (the shell's clock, ms).
    pub(crate) queued_ms: u64,
}

/// What to do next for a client.
pub(crate) enum Decision {
    /// Start this login's hash; report its end with [`Admission::done`].
    Start(Ticket, Pending),
    /// Tell the client its place in the queue.
    Tell(SessionId, u64, LoginQueued),
    /// Refuse the login.
    Refuse(SessionId, u64, RetryLater),
}

/// The queue, the limits, and the logins waiting.
pub(crate) struct Admission {
    queue: LoginQueue,
    failures_by_account: Limiter<String>,
    failures_by_address: Limiter<IpAddr>,
    registrations_by_address: Limiter<IpAddr>,
    /// Logins in the queue (at most its `queue_max`), their clients here or
    /// away.
    waiting: BTreeMap<Ticket, Pending>,
    /// The logins whose clients are here, by session, to tell the queue when
    /// the session closes.
    by_session: BTreeSet<(SessionId, Ticket)>,
}

impl Admission {
    pub(crate) fn new(settings: &LoginSettings) -> Self {
        let [per_account, per_address, registrations] = settings.limits();
        Self {
            queue: LoginQueue::new(settings.queue()),
            failures_by_account: Limiter::new(per_account),
            failures_by_address: Limiter::new(per_address),
            registrations_by_address: Limiter::new(registrations),
            waiting: BTreeMap::new(),
            by_session: BTreeSet::new(),
        }
    }

    /// A login that needs a hash: refused at once when over a limit, else
    /// queued (its fate comes out of [`poll`](Self::poll)).
    /// A waiting login's queue ticket comes from `entropy`.
    pub(crate) fn arrive(
        &mut self,
        now_ms: u64,
        pending: Pending,
        entropy: &mut dyn Entropy,
    ) -> Result<(), RetryLater> {
        self.check_limits(now_ms, &pending)?;
        if let Work::Register(_) = pending.work {
            self.registrations_by_address
                .record(now_ms, &pending.address);
        }
        let ticket = self.queue.handle_arrival(now_ms, entropy);
        self.by_session.insert((pending.session, ticket));
        self.waiting.insert(ticket, pending);
        Ok(())
    }

    fn check_limits(&self, now_ms: u64, pending: &Pending) -> Result<(), RetryLater> {
        let limited = match &pending.work {
            Work::Register(_) => self
                .registrations_by_address
                .check(now_ms, &pending.address)
                .map_err(|wait_ms| (wait_ms, "too many registrations from this address")),
            Work::Password(password) => self
                .failures_by_account
                .check(now_ms, &password.account)
                .and(self.failures_by_address.check(now_ms, &pending.address))
                .map_err(|wait_ms| (wait_ms, "too many failed passwords")),
        };
        limited.map_err(|(retry_after_ms, message)| RetryLater {
            code: ErrorCode::RateLimited as i32,
            message: message.into(),
            retry_after_ms,
        })
    }

    /// The hash of `ticket` ended with `outcome`: the queue moves on, and a
    /// wrong password counts against its account and address (the right one
    /// forgets the account's failures).
    pub(crate) fn done<T>(
        &mut self,
        now_ms: u64,
        ticket: Ticket,
        attempt: Option<(String, IpAddr)>,
        outcome: &Result<T, Refusal>,
    ) {
        self.queue.handle_done(now_ms, ticket);
        let Some((account, address)) = attempt else {
            return;
        };
        match outcome {
            Ok(_) => self.failures_by_account.forget(&account),
            Err((ErrorCode::BadCredentials, _)) => {
                self.failures_by_account.record(now_ms, &account);
                self.failures_by_address.record(now_ms, &address);
            }
            Err(_) => {}
        }
    }

    /// A client presents queue ticket `ticket` in request `request_id` of
    /// `session`: its waiting login answers there from now on, under a fresh
    /// ticket from `entropy`. Returns the session and request the login
    /// answered before, if that connection is still open (it is told
    /// `LOGGED_IN_ELSEWHERE`).
    pub(crate) fn resume(
        &mut self,
        now_ms: u64,
        (session, request_id): (SessionId, u64),
        ticket: &[u8],
        entropy: &mut dyn Entropy,
    ) -> Result<Option<(SessionId, u64)>, Refusal> {
        let secret = <[u8; 16]>::try_from(ticket)
            .map(u128::from_be_bytes)
            .map_err(|_| (ErrorCode::BadToken, "a queue ticket is 16 bytes".to_owned()))?;
        let ticket = self
            .queue
            .handle_resume(now_ms, secret, entropy)
            .map_err(resume_refusal)?;
        let pending = self
            .waiting
            .get_mut(&ticket)
            .ok_or_else(|| (ErrorCode::TokenUsed, "the login is being served".to_owned()))?;
        let before = (pending.session, pending.request_id);
        (pending.session, pending.request_id) = (session, request_id);
        let attached = self.by_session.remove(&(before.0, ticket));
        self.by_session.insert((session, ticket));
        Ok(attached.then_some(before))
    }

    /// A session closed: its waiting logins keep their places for the grace
    /// window.
    pub(crate) fn left(&mut self, now_ms: u64, session: SessionId) {
        let first = (session, Ticket(0));
        let last = (session, Ticket(u64::MAX));
        let tickets: Vec<Ticket> = self
            .by_session
            .range(first..=last)
            .map(|(_, ticket)| *ticket)
            .collect();
        for ticket in tickets {
            self.by_session.remove(&(session, ticket));
            self.queue.handle_left(now_ms, ticket);
        }
    }

    pub(crate) fn handle_timeout(&mut self, now_ms: u64) {
        self.queue.handle_timeout(now_ms);
    }

    /// Logins waiting in the queue, and admitted and not yet done.
    pub(crate) fn depth(&self) -> (usize, usize) {
        (self.queue.waiting(), self.queue.hashing())
    }

    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        self.queue.poll_timeout()
    }

    /// The next decision, if any.
    pub(crate) fn poll(&mut self) -> Option<Decision> {
        loop {
            let output = self.queue.poll_output()?;
            let decision = match output {
                QueueOutput::Start { ticket } => self
                    .forget(ticket)
                    .map(|pending| Decision::Start(ticket, pending)),
                QueueOutput::Queued {
                    ticket,
                    position,
                    expected_wait_ms,
                    secret,
                } => self.waiting.get(&ticket).map(|pending| {
                    let queued = LoginQueued {
                        position,
                        expected_wait_ms,
                        ticket: secret.to_be_bytes().to_vec(),
                    };
                    Decision::Tell(pending.session, pending.request_id, queued)
                }),
                QueueOutput::Busy {
                    ticket,
                    retry_after_ms,
                } => self.forget(ticket).map(|pending| {
                    let busy = RetryLater {
                        code: ErrorCode::Busy as i32,
                        message: "the login queue is full".into(),
                        retry_after_ms,
                    };
                    Decision::Refuse(pending.session, pending.request_id, busy)
                }),
                QueueOutput::Dropped { ticket } => {
                    self.forget(ticket);
                    None
                }
            };
            if decision.is_some() {
                return decision;
            }
        }
    }

    fn forget(&mut self, ticket: Ticket) -> Option<Pending> {
        let pending = self.waiting.remove(&ticket)?;
        self.by_session.remove(&(pending.session, ticket));
        Some(pending)
    }
}

/// The typed error of a queue ticket that resumed nothing.
fn resume_refusal(refused: ResumeRefused) -> Refusal {
    let (code, message) = match refused {
        ResumeRefused::Unknown => (ErrorCode::BadToken, "unknown queue ticket"),
        ResumeRefused::Expired => (
            ErrorCode::TokenExpired,
            "the grace window passed: the login left the queue",
        ),
        ResumeRefused::Used => (
            ErrorCode::TokenUsed,
            "the queue ticket was used already, or its login left the queue to be served",
        ),
    };
    (code, format!("{message}; log in again"))
}
