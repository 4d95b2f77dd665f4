//! Crossing servers (DESIGN §6), read top to bottom in two files:
//!
//! - [`source`]: a player leaves this server. `GoServer` or `GoHome` →
//!   freeze → `Prepare` to the target (which holds a one-time token for
//!   it) → handoff submitted through the write path (final save, row marked
//!   as arriving at the target, new epoch: one durable transaction) →
//!   `Redirect` to the client, only once the handoff is durable. Or the
//!   crossing aborts (a refused or unanswered `Prepare`, the crossing's own
//!   deadline, a handoff that did not apply): the player stays, unfrozen.
//! - [`target`]: a player arrives at this server. `Prepare` (the source's
//!   token) → `Authenticate` with that token → `EnterGame` → claim of the
//!   row (the handoff makes this server's the only claim that can succeed)
//!   → `Entered` → `Arrived` note to the home server and `SetCurrent` to
//!   the data center. A login takes the same path with a token the account
//!   center granted.
//!
//! This file holds the source side's phases as a pure state machine,
//! [`Crossing`]: no I/O, the core performs each [`Step`] it returns. How the
//! handoff's outcome is learned (its answer, or the row read back when the
//! answer was lost) is the write path's (`write_path`), shared with saves
//! and releases; the crossing hears the outcome once, as applied or not.

pub(crate) mod source;
pub(crate) mod target;

use wire::client::ErrorCode;

use crate::CallId;
use crate::write_path::WriteKind;

/// Where a crossing stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `Prepare` sent to the target; waiting for its answer or the deadline.
    Preparing,
    /// The target holds the token: the handoff waits for the write slot,
    /// or is submitted and waits for its outcome.
    HandingOff,
}

/// What the crossing needs done next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Submit the handoff (final save + row arriving at the target) as soon
    /// as no other write of the player is in flight.
    SubmitHandoff,
    /// The handoff is durable: send the redirect, close the client, forget
    /// the player.
    Redirect,
    /// The crossing did not happen: the player stays, unfrozen; tell the
    /// client why.
    Abort(ErrorCode),
}

/// One player's crossing from this server to `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Crossing {
    /// The target server's name.
    pub(crate) target: String,
    /// The one-time token the target holds for this crossing.
    pub(crate) token: u128,
    /// The client request (`GoServer` / `GoHome`) to answer.
    pub(crate) request_id: u64,
    /// The epoch the copy held when the crossing began: the handoff must
    /// carry it.
    epoch: u64,
    phase: Phase,
    /// The `Prepare` request, forgotten if the deadline ends the crossing
    /// first (its late answer then finds nothing to act on).
    pub(crate) prepare: CallId,
    /// Own-clock time after which a `Prepare` still unanswered aborts.
    prepare_deadline_ms: u64,
}

impl Crossing {
    /// Freezes the player and starts the crossing; `prepare` is the
    /// `Prepare` request already sent to the target.
    pub(crate) fn start(
        target: String,
        token: u128,
        request_id: u64,
        epoch: u64,
        prepare: CallId,
        prepare_deadline_ms: u64,
    ) -> Self {
        Self {
            target,
            token,
            request_id,
            epoch,
            phase: Phase::Preparing,
            prepare,
            prepare_deadline_ms,
        }
    }

    /// Whether the target has not answered `Prepare` yet. Until it has, the
    /// copy is still the writable one: its lease is renewed and checked.
    pub(crate) fn is_preparing(&self) -> bool {
        self.phase == Phase::Preparing
    }

    /// Whether the handoff is wanted (waiting for the write slot) or
    /// submitted.
    pub(crate) fn is_handing_off(&self) -> bool {
        self.phase == Phase::HandingOff
    }

    /// When the core's timer must end a `Prepare` still unanswered.
    pub(crate) fn prepare_deadline_ms(&self) -> Option<u64> {
        self.is_preparing().then_some(self.prepare_deadline_ms)
    }

    /// The target answered `Prepare`: `Ok` when it holds the token, else the
    /// error to give the client.
    pub(crate) fn prepared(&mut self, answer: Result<(), ErrorCode>) -> Step {
        assert_eq!(self.phase, Phase::Preparing, "one Prepare answer");
        match answer {
            Ok(()) => {
                self.phase = Phase::HandingOff;
                Step::SubmitHandoff
            }
            Err(code) => Step::Abort(code),
        }
    }

    /// The timer at `now_ms`: a `Prepare` unanswered past its deadline ends
    /// the crossing as an unreachable target would.
    pub(crate) fn timed_out(&self, now_ms: u64) -> Option<Step> {
        let due = self
            .prepare_deadline_ms()
            .is_some_and(|deadline_ms| now_ms >= deadline_ms);
        due.then_some(Step::Abort(ErrorCode::ServerDown))
    }

    /// The write the handoff submits, for a copy at `epoch`: the crossing
    /// hands off the epoch it started with.
    pub(crate) fn handoff(&self, epoch: u64) -> WriteKind {
        assert_eq!(self.phase, Phase::HandingOff, "handoff before Prepare");
        assert_eq!(
            epoch, self.epoch,
            "the handoff carries the crossing's epoch"
        );
        WriteKind::Handoff(self.target.clone())
    }

    /// The write path learned the handoff's outcome (submitted at `epoch`):
    /// applied (durable, redirect) or not applied (the player stays). A
    /// fenced handoff never gets here: the write path drops the player.
    pub(crate) fn handed_off(&self, epoch: u64, applied: bool) -> Step {
        assert_eq!(self.phase, Phase::HandingOff, "a handoff was submitted");
        assert_eq!(
            epoch, self.epoch,
            "the handoff carried the crossing's epoch"
        );
        if applied {
            Step::Redirect
        } else {
            Step::Abort(ErrorCode::Unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crossing() -> Crossing {
        Crossing::start("gs2".into(), 99, 5, 3, CallId(1), 1_000)
    }

    #[test]
    fn the_happy_path_redirects_only_after_the_commit() {
        let mut crossing = crossing();
        assert_eq!(crossing.prepared(Ok(())), Step::SubmitHandoff);
        assert_eq!(crossing.handoff(3), WriteKind::Handoff("gs2".into()));
        assert_eq!(crossing.handed_off(3, true), Step::Redirect);
    }

    #[test]
    fn a_refused_prepare_or_a_handoff_not_applied_aborts() {
        assert_eq!(
            crossing().prepared(Err(ErrorCode::ServerDown)),
            Step::Abort(ErrorCode::ServerDown)
        );
        let mut crossing = crossing();
        crossing.prepared(Ok(()));
        assert_eq!(
            crossing.handed_off(3, false),
            Step::Abort(ErrorCode::Unavailable)
        );
    }

    #[test]
    fn a_prepare_unanswered_past_its_deadline_aborts_and_only_then() {
        let mut crossing = crossing();
        assert_eq!(crossing.prepare_deadline_ms(), Some(1_000));
        assert_eq!(crossing.timed_out(999), None);
        assert_eq!(
            crossing.timed_out(1_000),
            Some(Step::Abort(ErrorCode::ServerDown))
        );
        crossing.prepared(Ok(()));
        assert_eq!(
            crossing.prepare_deadline_ms(),
            None,
            "prepared: no deadline"
        );
        assert_eq!(crossing.timed_out(5_000), None);
    }

    #[test]
    #[should_panic(expected = "the handoff carries the crossing's epoch")]
    fn a_handoff_at_another_epoch_than_the_crossing_began_with_is_a_bug() {
        let mut crossing = crossing();
        crossing.prepared(Ok(()));
        crossing.handoff(4);
    }
}
