//! State shared by the accept loops, the connections and the owner's handle.
//!
//! The session table maps each open session to its writer's outbox and its stop
//! latch; the handle only ever `try_send`s, so the owner never waits on a client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};
use wire::client::ServerFrame;

use crate::{GatewayConfig, GatewayEvent, Refusals, SessionId};

/// What a connection's writer is asked to do.
pub(crate) enum Outbound {
    /// Write this frame.
    Frame(ServerFrame),
    /// Stop writing after the frames queued before it, and end the connection.
    Close,
}

/// A one-way signal that stays set: connections watch one for their own end and
/// one for the gateway's shutdown.
#[derive(Clone)]
pub(crate) struct Latch(Arc<watch::Sender<bool>>);

impl Latch {
    /// An unset latch.
    pub(crate) fn new() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }

    /// Sets the latch; every waiter wakes.
    pub(crate) fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Returns once the latch is set (at once if it already is).
    pub(crate) async fn wait(&self) {
        let mut receiver = self.0.subscribe();
        // The sender lives in `self`, so the wait cannot fail on a dropped sender.
        let _ = receiver.wait_for(|set| *set).await;
    }
}

/// A counted pool of places with a fixed maximum.
pub(crate) struct Slots {
    used: AtomicUsize,
    max: usize,
}

/// One taken place of a [`Slots`]; dropping it gives the place back.
pub(crate) struct Slot(Arc<Slots>);

impl Slots {
    /// A pool of `max` places.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max,
        })
    }

    /// Takes a place, or `None` when all `max` are taken.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < self.max).then_some(used + 1)
            });
        taken.ok().map(|_| Slot(self.clone()))
    }

    /// Places taken now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts refused connections (see [`crate::Refusals`]).
#[derive(Default)]
pub(crate) struct RefusalCounter {
    with_frame: AtomicU64,
    without_frame: AtomicU64,
}

impl RefusalCounter {
    /// One more refusal, which got its `OVERLOADED` frame or not.
    pub(crate) fn record(&self, framed: bool) {
        let counter = if framed {
            &self.with_frame
        } else {
            &self.without_frame
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> Refusals {
        Refusals {
            with_frame: self.with_frame.load(Ordering::Relaxed),
            without_frame: self.without_frame.load(Ordering::Relaxed),
        }
    }
}

/// How the handle reaches one open session.
struct SessionLink {
    outbox: mpsc::Sender<Outbound>,
    stop: Latch,
}

/// Everything the tasks of one gateway share.
pub(crate) struct Shared {
    /// The gateway's configuration.
    pub(crate) config: GatewayConfig,
    /// The owner's event channel.
    pub(crate) events: mpsc::Sender<GatewayEvent>,
    /// Connections being served (handshake, session or closing).
    pub(crate) connections: Arc<Slots>,
    /// Connections being refused with `OVERLOADED`.
    pub(crate) refusals: Arc<Slots>,
    /// Refused connections, with and without their frame.
    pub(crate) refusals_counted: RefusalCounter,
    /// Set by [`GatewayHandle::shutdown`].
    pub(crate) shutdown: Latch,
    sessions: Mutex<HashMap<SessionId, SessionLink>>,
    next_session: AtomicU64,
}

impl Shared {
    /// State for a gateway that reports on `events`.
    pub(crate) fn new(config: GatewayConfig, events: mpsc::Sender<GatewayEvent>) -> Self {
        Self {
            connections: Slots::new(config.connections_max),
            refusals: Slots::new(config.refusals_inflight_max),
            refusals_counted: RefusalCounter::default(),
            config,
            events,
            shutdown: Latch::new(),
            sessions: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
        }
    }

    /// Gives a new session an id and makes it reachable through the handle.
    pub(crate) fn open_session(&self, outbox: mpsc::Sender<Outbound>, stop: Latch) -> SessionId {
        let session = SessionId(self.next_session.fetch_add(1, Ordering::Relaxed));
        self.sessions()
            .insert(session, SessionLink { outbox, stop });
        session
    }

    /// Makes a session unreachable; later sends to it are ignored.
    pub(crate) fn forget_session(&self, session: SessionId) {
        self.sessions().remove(&session);
    }

    /// The session table. A panic elsewhere while holding the lock cannot leave the
    /// map inconsistent (every operation is a single insert, remove or lookup), so
    /// a poisoned lock is used as is.
    fn sessions(&self) -> MutexGuard<'_, HashMap<SessionId, SessionLink>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Queues `item` for a connection's writer without waiting. A full outbox means
/// the client does not read, so the connection is stopped at once. Returns whether
/// the item was queued.
pub(crate) fn offer(outbox: &mpsc::Sender<Outbound>, stop: &Latch, item: Outbound) -> bool {
    match outbox.try_send(item) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::debug!("outbox full: closing a client that does not read");
            stop.trigger();
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// The owner's side of a gateway: sends frames to sessions and closes them.
/// Cheap to clone; never waits on a client.
#[derive(Clone)]
pub struct GatewayHandle {
    shared: Arc<Shared>,
}

impl GatewayHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Queues `frame` for `session`. A full outbox (a client that does not read)
    /// closes that session; an unknown or closed session is ignored.
    pub fn send(&self, session: SessionId, frame: ServerFrame) {
        let sessions = self.shared.sessions();
        if let Some(link) = sessions.get(&session) {
            offer(&link.outbox, &link.stop, Outbound::Frame(frame));
        }
    }

    /// Sends `last` (for example `Kicked` or a `Redirect` reply) after the frames
    /// already queued, then closes `session`. Unknown sessions are ignored.
    pub fn close(&self, session: SessionId, last: Option<ServerFrame>) {
        let Some(link) = self.shared.sessions().remove(&session) else {
            return;
        };
        let queued = match last {
            Some(frame) => offer(&link.outbox, &link.stop, Outbound::Frame(frame)),
            None => true,
        };
        if queued {
            offer(&link.outbox, &link.stop, Outbound::Close);
        }
    }

    /// Connections being served now, including those still in the handshake or
    /// closing.
    pub fn connections(&self) -> usize {
        self.shared.connections.used()
    }

    /// Connections refused at the connection limit so far.
    pub fn refusals(&self) -> Refusals {
        self.shared.refusals_counted.read()
    }

    /// Stops accepting and closes every connection (sessions get
    /// `Kicked{SHUTTING_DOWN}`); each open session still gets its `Closed` event.
    pub fn shutdown(&self) {
        self.shared.shutdown.trigger();
    }
}
