//! Login admission in the shell (DESIGN §11): the pure login queue and the
//! attempt limits of `accountcore`, and what waits in the queue.
//!
//! A password login or a registration first passes the attempt limits
//! (failed passwords per account and per address, registrations per
//! address; over a limit it is refused `RATE_LIMITED` with the wait), then
//! takes a ticket in the [`LoginQueue`]. The queue's decisions come out of
//! [`Admission::poll`] as what to tell or do for which client. A closed
//! session's waiting logins leave the queue, and their hashes never start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use accountcore::limiter::Limiter;
use accountcore::queue::{LoginQueue, QueueOutput, Ticket};
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

/// A login that needs a hash, and whom it answers.
pub(crate) struct Pending {
    pub(crate) session: SessionId,
    pub(crate) request_id: u64,
    pub(crate) address: IpAddr,
    pub(crate) work: Work,
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
    /// Logins in the queue (at most its `queue_max`).
    waiting: BTreeMap<Ticket, Pending>,
    /// The same logins by session, to drop them when the session closes.
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
    pub(crate) fn arrive(&mut self, now_ms: u64, pending: Pending) -> Result<(), RetryLater> {
        self.check_limits(now_ms, &pending)?;
        if let Work::Register(_) = pending.work {
            self.registrations_by_address
                .record(now_ms, &pending.address);
        }
        let ticket = self.queue.handle_arrival(now_ms);
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

    /// A session closed: its waiting logins leave the queue.
    pub(crate) fn left(&mut self, now_ms: u64, session: SessionId) {
        let first = (session, Ticket(0));
        let last = (session, Ticket(u64::MAX));
        let tickets: Vec<Ticket> = self
            .by_session
            .range(first..=last)
            .map(|(_, ticket)| *ticket)
            .collect();
        for ticket in tickets {
            self.forget(ticket);
            self.queue.handle_left(now_ms, ticket);
        }
    }

    pub(crate) fn handle_timeout(&mut self, now_ms: u64) {
        self.queue.handle_timeout(now_ms);
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
                } => self.waiting.get(&ticket).map(|pending| {
                    let queued = LoginQueued {
                        position,
                        expected_wait_ms,
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
