//! When a node that holds its node lock goes on serving and when it must
//! stop: a pure state machine (no I/O, clock or RNG) fed what each look at
//! the lock found ([`Probe`]), answering what the node does ([`Verdict`]).
//!
//! The proof it relies on: every incarnation that gets the lock writes its
//! own incarnation into the marker row while it holds the lock, before it
//! takes anything back. So a holder that lost its session and gets the lock
//! again on a new one may go on serving only if the marker still names it:
//! then no other incarnation held the lock in between, and none took its
//! players back. Any other answer — the lock held by another session, the
//! marker naming another incarnation or nothing — means another incarnation
//! may have taken its rows back, and it stops.

/// What one look at the lock found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The node's session is alive and holds the lock.
    Holding,
    /// The node's session is alive but no longer holds the lock.
    Released,
    /// The session ended or the database did not answer (a restart, a
    /// network cut); a new session will be tried at the next look.
    Unreachable,
    /// A new session got the lock; the marker row names `marker` (the
    /// incarnation that last got the lock, if any), and `pid` is the new
    /// session's server process.
    Regained {
        /// The incarnation the marker row names.
        marker: Option<u64>,
        /// The new session's server process id.
        pid: i32,
    },
    /// A new session found the lock held by the session of server process
    /// `pid`.
    HeldBy {
        /// The holder's server process id.
        pid: i32,
    },
}

/// What the node does after a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It holds the lock: it serves on.
    Serve,
    /// It cannot tell yet (the database is unreachable, or its own ended
    /// session still holds the lock until the server notices): it serves
    /// on and looks again. Its writes fail meanwhile, or are fenced.
    LookAgain,
    /// Another incarnation may have taken its players back: it stops.
    Stop(StopReason),
}

/// Why a node must stop serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Its live session no longer holds the lock.
    Released,
    /// Another session (of server process `pid`) holds the lock.
    HeldByAnother {
        /// The holder's server process id.
        pid: i32,
    },
    /// The lock was free but the marker names another incarnation (or
    /// none): one got the lock while this node had lost it.
    TakenMeanwhile {
        /// The incarnation the marker names.
        marker: Option<u64>,
    },
}

/// The watch of one held node lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    incarnation: u64,
    /// The server process of the session that last held the lock.
    pid: i32,
}

impl Watch {
    /// The watch of the lock incarnation `incarnation` got on the session of
    /// server process `pid`.
    pub fn new(incarnation: u64, pid: i32) -> Self {
        Self { incarnation, pid }
    }

    /// The server process of the session that last held the lock.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// What the node does after a look found `probe`.
    pub fn judge(&mut self, probe: Probe) -> Verdict {
        match probe {
            Probe::Holding => Verdict::Serve,
            Probe::Released => Verdict::Stop(StopReason::Released),
            Probe::Unreachable => Verdict::LookAgain,
            Probe::Regained { marker, pid } if marker == Some(self.incarnation) => {
                self.pid = pid;
                Verdict::Serve
            }
            Probe::Regained { marker, .. } => Verdict::Stop(StopReason::TakenMeanwhile { marker }),
            // Its own ended session, which the server has not closed yet.
            Probe::HeldBy { pid } if pid == self.pid => Verdict::LookAgain,
            Probe::HeldBy { pid } => Verdict::Stop(StopReason::HeldByAnother { pid }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u64 = 7;

    #[test]
    fn a_live_session_holding_the_lock_serves_and_one_that_lost_it_stops() {
        let mut watch = Watch::new(ME, 100);
        assert_eq!(watch.judge(Probe::Holding), Verdict::Serve);
        assert_eq!(
            watch.judge(Probe::Released),
            Verdict::Stop(StopReason::Released)
        );
    }

    #[test]
    fn an_unreachable_database_is_looked_at_again() {
        let mut watch = Watch::new(ME, 100);
        assert_eq!(watch.judge(Probe::Unreachable), Verdict::LookAgain);
        assert_eq!(watch.pid(), 100);
    }

    #[test]
    fn regaining_the_lock_with_its_own_marker_serves_on_the_new_session() {
        let mut watch = Watch::new(ME, 100);
        let regained = Probe::Regained {
            marker: Some(ME),
            pid: 200,
        };
        assert_eq!(watch.judge(regained), Verdict::Serve);
        assert_eq!(watch.pid(), 200);
        // Its old session's process id is no longer its own.
        assert_eq!(
            watch.judge(Probe::HeldBy { pid: 100 }),
            Verdict::Stop(StopReason::HeldByAnother { pid: 100 })
        );
    }

    #[test]
    fn regaining_the_lock_after_another_incarnation_held_it_stops() {
        for marker in [Some(ME + 1), None] {
            let mut watch = Watch::new(ME, 100);
            let regained = Probe::Regained { marker, pid: 200 };
            assert_eq!(
                watch.judge(regained),
                Verdict::Stop(StopReason::TakenMeanwhile { marker })
            );
        }
    }

    #[test]
    fn its_own_lingering_session_is_waited_for_and_another_holder_stops_it() {
        let mut watch = Watch::new(ME, 100);
        assert_eq!(watch.judge(Probe::HeldBy { pid: 100 }), Verdict::LookAgain);
        assert_eq!(
            watch.judge(Probe::HeldBy { pid: 300 }),
            Verdict::Stop(StopReason::HeldByAnother { pid: 300 })
        );
    }
}
