//! Durable calls (DESIGN §5, §9): a call with a request id is applied once
//! and answered only once the save that carries it is durable.
//!
//! The player's data keeps each applied durable call's request id and
//! first answer (`PlayerData.durable_calls`, oldest first), saved in the
//! same write as the call's effect, so the record travels with the player
//! when it crosses: a retry, here or at the next owner, gets the first
//! answer again. At most [`DURABLE_RECORDS_MAX`] records are kept; the
//! oldest is forgotten for a new one only once it is older than
//! [`DURABLE_RECORD_HORIZON_MS`] (by the owner's clock), else the new call
//! is refused `Busy`: a caller that retries within the horizon is never
//! applied twice.
//!
//! Callers wait here (at most [`DURABLE_WAITERS_MAX`] per player) until the
//! copy's stored version reaches the write that carries their record; a
//! copy lost first (fenced, lease lost) answers them `Fenced`.

use std::collections::BTreeMap;

use routing::RoleId;
use wire::node::{DurableCallRecord, PlayerCallAnswer, PlayerCallStatus, PlayerData};

use crate::core::GameCore;
use crate::hosting::PlayerState;
use crate::limits::{DURABLE_RECORD_HORIZON_MS, DURABLE_RECORDS_MAX, DURABLE_WAITERS_MAX};
use crate::write_path::WriteKind;
use crate::{Output, RequestId};

use super::{answer_message, status_answer};

/// A caller waiting for its durable call's save.
#[derive(Clone, Debug)]
struct Waiter {
    request: RequestId,
    request_id: Vec<u8>,
    generation: u64,
    /// The stored version that carries the record.
    needs_version: u64,
    answer: PlayerCallAnswer,
}

/// Callers of durable calls waiting for their saves, by player.
#[derive(Clone, Debug, Default)]
pub(crate) struct DurableWaiters {
    by_role: BTreeMap<RoleId, Vec<Waiter>>,
}

/// The first answer to `request_id`, if this player applied it.
pub(crate) fn recorded_answer<'a>(
    data: &'a PlayerData,
    request_id: &[u8],
) -> Option<&'a PlayerCallAnswer> {
    data.durable_calls
        .iter()
        .find(|record| record.request_id == request_id)
        .and_then(|record| record.answer.as_ref())
}

/// Makes room for one more record at `now_ms`: forgets the oldest if the
/// records are full and it is past the horizon; `false` if it is not.
pub(crate) fn make_room(data: &mut PlayerData, now_ms: u64) -> bool {
    if data.durable_calls.len() < DURABLE_RECORDS_MAX {
        return true;
    }
    let oldest_at = data.durable_calls[0].applied_at_ms;
    if now_ms < oldest_at.saturating_add(DURABLE_RECORD_HORIZON_MS) {
        return false;
    }
    data.durable_calls.remove(0);
    true
}

/// Records the first answer to `request_id`, applied at `now_ms`.
pub(crate) fn remember(
    data: &mut PlayerData,
    request_id: &[u8],
    now_ms: u64,
    answer: &PlayerCallAnswer,
) {
    data.durable_calls.push(DurableCallRecord {
        request_id: request_id.to_vec(),
        applied_at_ms: now_ms,
        answer: Some(answer.clone()),
    });
}

impl DurableWaiters {
    /// Whether `roleid` has room for one more waiting caller.
    pub(crate) fn has_room(&self, roleid: RoleId) -> bool {
        self.by_role.get(&roleid).map_or(0, Vec::len) < DURABLE_WAITERS_MAX
    }

    /// The version a caller of `request_id` already waits for, if any: a
    /// retry of a call not yet durable waits for the same write.
    pub(crate) fn waiting_version(&self, roleid: RoleId, request_id: &[u8]) -> Option<u64> {
        self.by_role
            .get(&roleid)?
            .iter()
            .find(|waiter| waiter.request_id == request_id)
            .map(|waiter| waiter.needs_version)
    }
}

impl GameCore {
    /// Makes `request` wait until `roleid`'s stored version reaches
    /// `needs_version`, then answers it `answer`. Starts the save at once
    /// unless a write is in flight (its end starts the next one).
    pub(crate) fn wait_for_durable(
        &mut self,
        request: RequestId,
        roleid: RoleId,
        request_id: &[u8],
        needs_version: u64,
        answer: PlayerCallAnswer,
    ) {
        let hosted = &self.players[&roleid];
        let waiter = Waiter {
            request,
            request_id: request_id.to_vec(),
            generation: hosted.generation,
            needs_version,
            answer,
        };
        self.durable_waiters
            .by_role
            .entry(roleid)
            .or_default()
            .push(waiter);
        self.durable_waiters_next(roleid);
    }

    /// A write of `roleid` resolved: answer the callers it made durable.
    pub(crate) fn answer_durable_waiters(&mut self, roleid: RoleId) {
        let Some(hosted) = self.players.get(&roleid) else {
            return;
        };
        let (generation, version) = match hosted.state.copy() {
            Some(copy) => (hosted.generation, copy.version),
            None => return,
        };
        let Some(waiters) = self.durable_waiters.by_role.get_mut(&roleid) else {
            return;
        };
        let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(waiters)
            .into_iter()
            .partition(|waiter| waiter.generation == generation && waiter.needs_version <= version);
        if waiting.is_empty() {
            self.durable_waiters.by_role.remove(&roleid);
        } else {
            *waiters = waiting;
        }
        for waiter in ready {
            self.reply_call(waiter.request, waiter.answer);
        }
    }

    /// After a write resolved or a caller started waiting: callers still
    /// waiting get the next save, or `Fenced` if the copy is gone (or is a
    /// newer hosting, which never carried their record).
    pub(crate) fn durable_waiters_next(&mut self, roleid: RoleId) {
        self.fence_durable_waiters(roleid);
        if !self.durable_waiters.by_role.contains_key(&roleid) {
            return;
        }
        let idle_serving = matches!(
            self.players_state(roleid),
            Some(PlayerState::Serving(copy)) if !copy.writing
        );
        if idle_serving {
            self.submit_write(roleid, WriteKind::Save);
        }
    }

    /// Callers whose copy of `roleid` is gone (or is an older hosting than
    /// the current one) before their saves: their outcome is unknown to
    /// this node; they are answered `Fenced`.
    pub(crate) fn fence_durable_waiters(&mut self, roleid: RoleId) {
        let Some(waiters) = self.durable_waiters.by_role.remove(&roleid) else {
            return;
        };
        let generation = self.players.get(&roleid).map(|hosted| hosted.generation);
        let (lost, kept): (Vec<Waiter>, Vec<Waiter>) = waiters
            .into_iter()
            .partition(|waiter| Some(waiter.generation) != generation);
        if !kept.is_empty() {
            self.durable_waiters.by_role.insert(roleid, kept);
        }
        for waiter in lost {
            let answer = status_answer(PlayerCallStatus::Fenced, "the owner lost the player");
            self.reply_call(waiter.request, answer);
        }
    }

    pub(crate) fn reply_call(&mut self, request: RequestId, answer: PlayerCallAnswer) {
        let message = answer_message(answer);
        self.push(Output::Reply { request, message });
    }
}
