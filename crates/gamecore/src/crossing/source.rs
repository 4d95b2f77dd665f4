//! The source side of a crossing (DESIGN §6), read top to bottom:
//!
//! 1. `GoServer{target}` or `GoHome` of a serving player whose lease holds
//!    (dispatched by `playing`);
//! 2. freeze: the player's calls are answered `CROSSING_IN_PROGRESS`, and
//!    `Prepare` with a fresh one-time token goes to the target;
//! 3. the target's answer (a refusal, or no answer by the bus deadline or by
//!    the crossing's own `prepare_timeout_ms`, aborts);
//! 4. the handoff submitted through the write path (once no save of the
//!    player is in flight), carrying the epoch the crossing began with;
//! 5. its outcome from the write path: applied → `Redirect` and close, not
//!    applied → abort (the player stays, unfrozen). A fenced handoff, or one
//!    whose outcome cannot be learned, drops the player in the write path.

use routing::RoleId;
use wire::client::server_frame::Body as Out;
use wire::client::{ErrorCode, Redirect};

use crate::core::GameCore;
use crate::crossing::{Crossing, Step};
use crate::hosting::PlayerState;
use crate::peers::CallPurpose;
use crate::tokens::token_to_bytes;
use crate::{CallId, Entropy, Event, Output, SessionId, frame, messages};

impl GameCore {
    /// Step 1: The player asks to go to `target`.
    pub(crate) fn go_server(
        &mut self,
        now_ms: u64,
        session: SessionId,
        request_id: u64,
        roleid: RoleId,
        target: String,
        entropy: &mut dyn Entropy,
    ) {
        if target == self.config.srvname {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::AlreadyThere,
                "the player is on that server",
            );
        }
        if self.config.zone.server(&target).is_none() {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::UnknownServer,
                "no such server in this zone",
            );
        }
        if !self.admit(session, request_id, 0, 1) {
            return;
        }
        self.start_crossing(now_ms, roleid, request_id, target, entropy.token());
    }

    /// Step 2: Freezes the player and sends `Prepare` to the target. The
    /// crossing's deadline is `prepare_timeout_ms` away, and never past the
    /// token's lifetime: a handoff after the target's token could have expired
    /// would strand the player.
    fn start_crossing(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        request_id: u64,
        target: String,
        token: u128,
    ) {
        let hosted = &self.players[&roleid];
        let PlayerState::Serving(copy) = &hosted.state else {
            panic!("crossing from state {:?}", hosted.state);
        };
        let (copy, generation) = (copy.clone(), hosted.generation);
        let prepare = messages::prepare(
            roleid,
            token,
            &hosted.home_srvname,
            hosted.context,
            &self.config,
        );
        let call = self.request(
            CallPurpose::Prepare { roleid, generation },
            &target,
            prepare,
        );
        let timeout_ms = self.config.prepare_timeout_ms.min(self.config.token_ttl_ms);
        let crossing = Crossing::start(
            target,
            token,
            request_id,
            copy.epoch,
            call,
            now_ms + timeout_ms,
        );
        self.players.get_mut(&roleid).expect("serving").state =
            PlayerState::Crossing(copy, crossing);
    }

    /// Step 3: The target answered `Prepare` at `now_ms`.
    pub(crate) fn prepared(
        &mut self,
        now_ms: u64,
        roleid: RoleId,
        generation: u64,
        answer: Result<(), ErrorCode>,
    ) {
        if self.current(roleid, generation).is_none() {
            return;
        }
        let Some(crossing) = self.crossing_mut(roleid) else {
            return;
        };
        let step = crossing.prepared(answer);
        self.crossing_step(now_ms, roleid, step);
    }

    /// Step 3: The timer at `now_ms`: every crossing whose `Prepare` is still
    /// unanswered past its deadline aborts, and forgets the request.
    pub(crate) fn end_stuck_prepares(&mut self, now_ms: u64) {
        let stuck: Vec<(RoleId, CallId, Step)> = self
            .players
            .iter()
            .filter_map(|(roleid, hosted)| {
                let crossing = hosted.state.crossing()?;
                let step = crossing.timed_out(now_ms)?;
                Some((*roleid, crossing.prepare, step))
            })
            .collect();
        for (roleid, prepare, step) in stuck {
            self.calls.remove(&prepare);
            self.crossing_step(now_ms, roleid, step);
        }
    }

    fn crossing_step(&mut self, now_ms: u64, roleid: RoleId, step: Step) {
        match step {
            Step::SubmitHandoff => {
                let writing = self.players[&roleid]
                    .state
                    .copy()
                    .is_some_and(|copy| copy.writing);
                if !writing {
                    self.submit_handoff(roleid);
                }
            }
            Step::Redirect => self.redirect(roleid),
            Step::Abort(code) => self.abort_crossing(now_ms, roleid, code),
        }
    }

    /// Step 4: Submits the handoff (also when a save in flight freed the write
    /// slot, from the write path).
    pub(crate) fn submit_handoff(&mut self, roleid: RoleId) {
        let kind = match &self.players[&roleid].state {
            PlayerState::Crossing(copy, crossing) => crossing.handoff(copy.epoch),
            other => panic!("handoff from state {other:?}"),
        };
        self.submit_write(roleid, kind);
        if self.config.mutations.redirect_before_commit {
            self.redirect(roleid);
        }
    }

    /// Step 5: The write path learned at `now_ms` whether the handoff submitted
    /// at `epoch` applied.
    pub(crate) fn handed_off(&mut self, now_ms: u64, roleid: RoleId, epoch: u64, applied: bool) {
        let step = self
            .players_state(roleid)
            .and_then(PlayerState::crossing)
            .expect("a handoff belongs to a crossing")
            .handed_off(epoch, applied);
        self.crossing_step(now_ms, roleid, step);
    }

    /// Step 5: The handoff is durable: redirect the client to the target.
    fn redirect(&mut self, roleid: RoleId) {
        let Some(hosted) = self.players.remove(&roleid) else {
            return;
        };
        let PlayerState::Crossing(_, crossing) = &hosted.state else {
            panic!("redirect from state {:?}", hosted.state);
        };
        self.note_level(roleid, &hosted.state);
        self.locator.departed(roleid, &crossing.target);
        self.emit(Event::Redirected {
            roleid,
            target: crossing.target.clone(),
        });
        let Some(session) = hosted.session else {
            return;
        };
        self.sessions.remove(&session);
        let address = self
            .config
            .zone
            .server(&crossing.target)
            .map(|server| server.address.clone());
        let redirect = Redirect {
            address,
            go_srvname: crossing.target.clone(),
            home_srvname: hosted.home_srvname.clone(),
            token: token_to_bytes(crossing.token),
            roleid: roleid.get(),
        };
        let last = frame(crossing.request_id, Out::Redirect(redirect));
        self.push(Output::Close {
            session,
            last: Some(last),
        });
    }

    /// The crossing did not happen: the player serves here again, and its
    /// client is told so only while the lease allows it at `now_ms`.
    fn abort_crossing(&mut self, now_ms: u64, roleid: RoleId, code: ErrorCode) {
        let hosted = self.players.get_mut(&roleid).expect("caller checked");
        let PlayerState::Crossing(copy, crossing) = &hosted.state else {
            panic!("abort from state {:?}", hosted.state);
        };
        let request_id = crossing.request_id;
        hosted.state = PlayerState::Serving(copy.clone());
        let session = hosted.session;
        self.emit(Event::CrossingAborted { roleid });
        match session {
            Some(session) => {
                if self.lease_holds(now_ms, roleid) {
                    self.reply_error(session, request_id, code, "the crossing did not happen");
                }
            }
            None => self.start_release(roleid),
        }
    }

    fn crossing_mut(&mut self, roleid: RoleId) -> Option<&mut Crossing> {
        match &mut self.players.get_mut(&roleid)?.state {
            PlayerState::Crossing(_, crossing) => Some(crossing),
            _ => None,
        }
    }
}
