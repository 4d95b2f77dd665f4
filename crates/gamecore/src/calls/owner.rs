//! The owner's side of a player call: a `PlayerCall` request served by the
//! game core. A player served here runs the method (a durable call waits
//! for its save, `durable`); a player crossing to or from here answers
//! `Crossing` (ask again shortly); otherwise the server says what it knows:
//! `Moved{to}` (it handed the player off, or it is the home and holds a
//! kuafu mark), `Offline` (it is the home and the player is nowhere), or
//! `NotHere` (ask the home).

use routing::RoleId;
use wire::node::{PlayerCall, PlayerCallAnswer, PlayerCallStatus};

use crate::RequestId;
use crate::core::GameCore;
use crate::hosting::PlayerState;
use crate::limits::{CALL_ARGS_BYTES_MAX, CALL_METHOD_NAME_BYTES_MAX, REQUEST_ID_BYTES_MAX};

use super::durable::{make_room, recorded_answer, remember};
use super::methods::{MethodError, RunError};
use super::{moved_answer, status_answer};

impl GameCore {
    /// A `PlayerCall` request; answered now, or (durable) once saved.
    pub(crate) fn player_call(&mut self, now_ms: u64, request: RequestId, call: PlayerCall) {
        let roleid = match check_call(&call) {
            Ok(roleid) => roleid,
            Err(answer) => return self.reply_call(request, answer),
        };
        let serving = matches!(self.players_state(roleid), Some(PlayerState::Serving(_)));
        if serving && self.lease_holds(now_ms, roleid) {
            return self.serve_call(now_ms, request, roleid, call);
        }
        let answer = match self.players_state(roleid) {
            Some(PlayerState::Serving(_)) => unreachable!("served above"),
            Some(PlayerState::Loading { .. } | PlayerState::Crossing(..)) => {
                status_answer(PlayerCallStatus::Crossing, "the player is crossing")
            }
            Some(PlayerState::Releasing(_)) => {
                status_answer(PlayerCallStatus::Offline, "the player is logging off")
            }
            None if serving => status_answer(PlayerCallStatus::Fenced, "the lease ran out"),
            None => self.locate(now_ms, roleid),
        };
        self.reply_call(request, answer);
    }

    /// What this server knows of a player it does not host.
    fn locate(&self, now_ms: u64, roleid: RoleId) -> PlayerCallAnswer {
        if let Some(target) = self.locator.departure(roleid) {
            return moved_answer(target);
        }
        if self.locator.is_arriving(roleid, now_ms) {
            return status_answer(PlayerCallStatus::Crossing, "the player is arriving");
        }
        if self.home_srvname(roleid) != Some(self.config.srvname.as_str()) {
            return status_answer(PlayerCallStatus::NotHere, "ask the player's home server");
        }
        match self.marks.get(roleid) {
            Some(mark) => moved_answer(&mark.go_srvname),
            None => status_answer(PlayerCallStatus::Offline, "the player is not in the game"),
        }
    }

    /// Runs the call on a player served here (the lease holds).
    fn serve_call(&mut self, now_ms: u64, request: RequestId, roleid: RoleId, call: PlayerCall) {
        if call.request_id.is_empty() {
            let (answer, _) = self.run_method(roleid, &call);
            return self.reply_call(request, answer);
        }
        self.serve_durable_call(now_ms, request, roleid, call);
    }

    /// A durable call: a retry gets the first answer (once it is durable);
    /// a new call is applied, recorded and saved before it is answered.
    fn serve_durable_call(
        &mut self,
        now_ms: u64,
        request: RequestId,
        roleid: RoleId,
        call: PlayerCall,
    ) {
        let request_id = call.request_id.clone();
        if !self.durable_waiters.has_room(roleid) {
            let answer = status_answer(PlayerCallStatus::Busy, "too many durable calls waiting");
            return self.reply_call(request, answer);
        }
        let copy = self.players[&roleid].state.copy().expect("serving");
        if let Some(answer) = recorded_answer(&copy.data, &request_id).cloned() {
            return match self.durable_waiters.waiting_version(roleid, &request_id) {
                Some(version) => {
                    self.wait_for_durable(request, roleid, &request_id, version, answer)
                }
                None => self.reply_call(request, answer),
            };
        }
        let copy = self.serving_copy(roleid);
        if !make_room(&mut copy.data, now_ms) {
            let answer = status_answer(PlayerCallStatus::Busy, "durable-call records full");
            return self.reply_call(request, answer);
        }
        let (answer, applied) = self.run_method(roleid, &call);
        if !applied {
            return self.reply_call(request, answer);
        }
        let copy = self.serving_copy(roleid);
        remember(&mut copy.data, &request_id, now_ms, &answer);
        copy.dirty = true;
        let needs_version = copy.version + if copy.writing { 2 } else { 1 };
        self.wait_for_durable(request, roleid, &request_id, needs_version, answer);
    }

    /// Runs the method on the serving copy; the answer, and whether it is
    /// one a durable call records (applied, or refused by a game rule).
    fn run_method(&mut self, roleid: RoleId, call: &PlayerCall) -> (PlayerCallAnswer, bool) {
        let methods = &self.config.methods;
        let copy = match &mut self.players.get_mut(&roleid).expect("serving").state {
            PlayerState::Serving(copy) => copy,
            other => panic!("a call on {roleid} in state {other:?}"),
        };
        let ran = methods.run(
            &call.method,
            call.args_version,
            &call.args,
            &mut copy.data,
            &mut copy.ledger,
        );
        match ran {
            Ok((result, changed)) => {
                copy.dirty |= changed;
                let answer = PlayerCallAnswer {
                    status: PlayerCallStatus::Done as i32,
                    result,
                    ..PlayerCallAnswer::default()
                };
                (answer, true)
            }
            Err(RunError::NoSuchMethod) => {
                let answer = status_answer(PlayerCallStatus::NoSuchMethod, call.method.clone());
                (answer, false)
            }
            Err(RunError::Method(MethodError::BadArguments(why))) => {
                (status_answer(PlayerCallStatus::BadArguments, why), false)
            }
            Err(RunError::Method(MethodError::Refused(why))) => {
                (status_answer(PlayerCallStatus::Refused, why), true)
            }
        }
    }

    fn serving_copy(&mut self, roleid: RoleId) -> &mut crate::hosting::WritableCopy {
        match &mut self.players.get_mut(&roleid).expect("serving").state {
            PlayerState::Serving(copy) => copy,
            other => panic!("a call on {roleid} in state {other:?}"),
        }
    }
}

/// The call's role id, or the `BadArguments` answer for a call no node can
/// serve: a bad role id, a method name, arguments or request id too long.
fn check_call(call: &PlayerCall) -> Result<RoleId, PlayerCallAnswer> {
    let bad = |why: String| status_answer(PlayerCallStatus::BadArguments, why);
    let roleid = RoleId::from_raw(call.roleid).map_err(|error| bad(error.to_string()))?;
    if call.method.len() > CALL_METHOD_NAME_BYTES_MAX {
        return Err(bad(format!(
            "a method name is at most {CALL_METHOD_NAME_BYTES_MAX} bytes"
        )));
    }
    if call.args.len() > CALL_ARGS_BYTES_MAX {
        return Err(bad(format!(
            "arguments are at most {CALL_ARGS_BYTES_MAX} bytes"
        )));
    }
    if call.request_id.len() > REQUEST_ID_BYTES_MAX {
        return Err(bad(format!(
            "a request id is at most {REQUEST_ID_BYTES_MAX} bytes"
        )));
    }
    Ok(roleid)
}
