//! Gifts between players, exactly once (DESIGN §9), read top to bottom.
//!
//! Sender's owner: `SendGift` checks the receiver exists (`ReadHolder` on
//! its home database), then debits the gold (a ledger line whose sequence
//! number names the gift, `store::gifts`) and adds the gift to the outbox
//! (`PlayerData::gifts_out`); the client is answered once both are on disk
//! (`durable`). A durable outbox row is delivered until acknowledged: the
//! data center says where the receiver is; online, the gift goes to that
//! server as `GiftDelivery`; offline, into the receiver's inbox
//! (`PlayerOp::InboxGift`, refused while a node holds the row). An attempt
//! that fails is tried again after a backoff that doubles up to
//! [`GIFT_RETRY_MAX_MS`]. An acknowledged gift leaves the outbox in a later
//! save. The outbox travels with the sender's data: wherever the sender is
//! next loaded (a crossing, a restart after a crash), delivery resumes.
//!
//! Receiver's owner: a `GiftDelivery` for a player serving here is credited
//! once (`store::gifts::credit` remembers the gift's id in the data) and
//! acknowledged once the credit is on disk; anything else is refused, and the
//! sender tries again later.

use std::collections::BTreeMap;

use routing::RoleId;
use store::{OpOutcome, PlayerOp, StoreError};
use wire::client::server_frame::Body as Out;
use wire::client::{CallReply, ErrorCode, SendGift};
use wire::node::node_message::Body;
use wire::node::{Gift, GiftDelivery, GiftId, NodeMessage};

use crate::core::{GameCore, OpPurpose};
use crate::durable::Deferred;
use crate::gameplay::{self, GameplayError};
use crate::hosting::PlayerState;
use crate::limits::{GIFT_RETRY_FIRST_MS, GIFT_RETRY_MAX_MS, GIFTS_OUTBOX_MAX};
use crate::messages::{self, Answer};
use crate::peers::CallPurpose;
use crate::{PeerError, RequestId, SessionId};

/// A `SendGift` waiting for the check that its receiver exists.
#[derive(Clone, Debug)]
pub(crate) struct GiftRequest {
    session: SessionId,
    request_id: u64,
    roleid: RoleId,
    generation: u64,
    to: RoleId,
    gold: u64,
}

/// Names one gift being delivered: its sender and the debit's sequence.
pub(crate) type DeliveryKey = (RoleId, u64);

/// One outbox row this node delivers for a sender it hosts.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    gift: Gift,
    /// The sender's hosting that started it.
    generation: u64,
    /// Failed attempts so far.
    failures: u32,
    /// When the next attempt is due (own clock); `None` while one is in
    /// flight.
    due_ms: Option<u64>,
}

/// Where a delivery's sender stands on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SenderState {
    /// Serving in the hosting that started the delivery.
    Serving,
    /// Still hosted there, but not serving now (crossing, releasing).
    Busy,
    /// No longer hosted in that hosting.
    Gone,
}

/// The wait after `failures` failed attempts: doubling from
/// [`GIFT_RETRY_FIRST_MS`], at most [`GIFT_RETRY_MAX_MS`].
pub(crate) fn retry_delay_ms(failures: u32) -> u64 {
    let doubled = GIFT_RETRY_FIRST_MS.saturating_mul(1 << failures.min(20));
    doubled.min(GIFT_RETRY_MAX_MS)
}

impl GameCore {
    /// `SendGift` from the player `roleid` plays: checked, then the
    /// receiver's row is looked up.
    pub(crate) fn send_gift(
        &mut self,
        session: SessionId,
        request_id: u64,
        roleid: RoleId,
        gift: SendGift,
    ) {
        let refused = |text: String| (ErrorCode::BadArgument, text);
        let checked = match RoleId::from_raw(gift.to_roleid) {
            Err(_) => Err(refused(format!("no role {}", gift.to_roleid))),
            Ok(to) if to == roleid => Err(refused("a gift to oneself".into())),
            Ok(_) if self.outbox_len(roleid) >= GIFTS_OUTBOX_MAX => Err((
                ErrorCode::Overloaded,
                format!("at most {GIFTS_OUTBOX_MAX} gifts on their way; retry"),
            )),
            Ok(to) => Ok(to),
        };
        let to = match checked {
            Ok(to) => to,
            Err((code, text)) => return self.reply_error(session, request_id, code, &text),
        };
        if !self.admit(session, request_id, 1, 0) {
            return;
        }
        let request = GiftRequest {
            session,
            request_id,
            roleid,
            generation: self.players[&roleid].generation,
            to,
            gold: gift.gold,
        };
        let operation = PlayerOp::ReadHolder { roleid: to };
        self.store(OpPurpose::GiftReceiver(request), to.home_srvno(), operation);
    }

    fn outbox_len(&self, roleid: RoleId) -> usize {
        let copy = self.players[&roleid].state.copy();
        copy.map_or(0, |copy| copy.data.gifts_out.len())
    }

    /// The receiver's row was looked up: debit and outbox, answered once
    /// durable, if the sender still plays here.
    pub(crate) fn gift_receiver_read(
        &mut self,
        now_ms: u64,
        request: GiftRequest,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let GiftRequest {
            session,
            request_id,
            roleid,
            ..
        } = request;
        let refusal = match answer {
            Ok(_) => None,
            Err(StoreError::UnknownRole(_)) => Some((ErrorCode::UnknownRole, "no such role")),
            Err(_) => Some((ErrorCode::Unavailable, "the receiver's database failed")),
        };
        if let Some((code, text)) = refusal {
            return self.reply_error(session, request_id, code, text);
        }
        let serving = self
            .current(roleid, request.generation)
            .is_some_and(|hosted| {
                matches!(hosted.state, PlayerState::Serving(_)) && hosted.session == Some(session)
            });
        if !serving {
            let text = "the player left";
            return self.reply_error(session, request_id, ErrorCode::NotInGame, text);
        }
        if self.lease_holds(now_ms, roleid) {
            self.debit_gift(now_ms, &request);
        }
    }

    /// Debits the gift and puts it in the outbox; the reply and the
    /// delivery wait until both are on disk.
    fn debit_gift(&mut self, now_ms: u64, request: &GiftRequest) {
        let (session, request_id, roleid) = (request.session, request.request_id, request.roleid);
        let hosted = self.players.get_mut(&roleid).expect("serving");
        let PlayerState::Serving(copy) = &mut hosted.state else {
            unreachable!("serving")
        };
        if copy.data.gifts_out.len() >= GIFTS_OUTBOX_MAX {
            let text = format!("at most {GIFTS_OUTBOX_MAX} gifts on their way; retry");
            return self.reply_error(session, request_id, ErrorCode::Overloaded, &text);
        }
        let seq = copy.data.next_ledger_seq;
        let reason = store::gifts::debit_reason(request.to);
        let spent = gameplay::spend_gold(&mut copy.data, &mut copy.ledger, request.gold, &reason);
        let error = match spent {
            Ok(_) => None,
            Err(GameplayError::InsufficientGold { .. }) => {
                Some((ErrorCode::InsufficientGold, "not enough gold".to_owned()))
            }
            Err(GameplayError::BadArgument(why)) => Some((ErrorCode::BadArgument, why)),
        };
        if let Some((code, text)) = error {
            return self.reply_error(session, request_id, code, &text);
        }
        let gift = Gift {
            id: Some(GiftId {
                from_roleid: roleid.get(),
                seq,
            }),
            to_roleid: request.to.get(),
            gold: request.gold,
        };
        copy.data.gifts_out.push(gift);
        copy.dirty = true;
        let reply = CallReply {
            player: Some(gameplay::view(&copy.data)),
            applied: request.gold,
        };
        let answers = vec![
            Deferred::Client {
                session,
                request_id,
                body: Out::CallReply(reply),
            },
            Deferred::Deliver(gift),
        ];
        self.when_durable(now_ms, roleid, answers);
    }

    /// Starts delivering every gift of the outbox of `roleid`, just loaded
    /// here (its outbox rows are on disk).
    pub(crate) fn resume_deliveries(&mut self, roleid: RoleId) {
        let hosted = &self.players[&roleid];
        let generation = hosted.generation;
        let outbox = hosted.state.copy().map(|copy| copy.data.gifts_out.clone());
        for gift in outbox.unwrap_or_default() {
            self.start_delivery(roleid, generation, gift);
        }
    }

    /// Delivers `gift`, a durable outbox row of `roleid` (hosting
    /// `generation`), from the next timeout on.
    pub(crate) fn start_delivery(&mut self, roleid: RoleId, generation: u64, gift: Gift) {
        let Some(id) = &gift.id else { return };
        let delivery = Delivery {
            gift,
            generation,
            failures: 0,
            due_ms: Some(0),
        };
        // An entry left by an earlier hosting of the sender (its attempt
        // still in flight) is replaced: its answers serve this one too.
        let key = (roleid, id.seq);
        if self.deliveries.get(&key).map(|d| d.generation) != Some(generation) {
            self.deliveries.insert(key, delivery);
        }
    }

    /// When the next delivery attempt is due.
    pub(crate) fn next_delivery_ms(&self) -> Option<u64> {
        self.deliveries.values().filter_map(|d| d.due_ms).min()
    }

    /// Runs every delivery attempt due at `now_ms`: ask the data center
    /// where the receiver is. A delivery whose sender left is dropped (its
    /// next owner delivers); one that finds no room waits for the next
    /// timeout.
    pub(crate) fn deliver_due_gifts(&mut self, now_ms: u64) {
        let due: Vec<DeliveryKey> = self
            .deliveries
            .iter()
            .filter(|(_, delivery)| delivery.due_ms.is_some_and(|due| due <= now_ms))
            .map(|(key, _)| *key)
            .collect();
        for key in due {
            match self.sender_state(key) {
                SenderState::Gone => {
                    self.deliveries.remove(&key);
                    continue;
                }
                SenderState::Busy => {
                    self.delivery_failed(now_ms, key);
                    continue;
                }
                SenderState::Serving => {}
            }
            if !self.calls_room(1) {
                return;
            }
            let delivery = self.deliveries.get_mut(&key).expect("due");
            delivery.due_ms = None;
            let to = RoleId::from_raw(delivery.gift.to_roleid).expect("checked at the debit");
            let datacenter = self.config.datacenter_node.clone();
            self.request(
                CallPurpose::GiftLocate(key),
                &datacenter,
                messages::get_current(to),
            );
        }
    }

    /// Where the sender of delivery `key` stands in the hosting that
    /// started it.
    fn sender_state(&self, key: DeliveryKey) -> SenderState {
        let hosted = self
            .deliveries
            .get(&key)
            .and_then(|delivery| self.current(key.0, delivery.generation));
        match hosted.map(|hosted| &hosted.state) {
            None => SenderState::Gone,
            Some(PlayerState::Serving(_)) => SenderState::Serving,
            Some(_) => SenderState::Busy,
        }
    }

    /// The data center answered where the receiver is: deliver there, or to
    /// the inbox when it is offline.
    pub(crate) fn gift_located(
        &mut self,
        now_ms: u64,
        key: DeliveryKey,
        answer: Result<NodeMessage, PeerError>,
    ) {
        let Some(delivery) = self.deliveries.get(&key) else {
            return;
        };
        let gift = delivery.gift;
        let to = RoleId::from_raw(gift.to_roleid).expect("checked at the debit");
        match answer {
            Ok(NodeMessage {
                body: Some(Body::CurrentAnswer(current)),
            }) if current.online => {
                let message = messages::gift_delivery(gift);
                self.request(CallPurpose::GiftDeliver(key), &current.srvname, message);
            }
            Ok(NodeMessage {
                body: Some(Body::CurrentAnswer(_)),
            }) if self.ops_room(1) => {
                let operation = PlayerOp::InboxGift { to, gift };
                self.store(OpPurpose::GiftInbox(key), to.home_srvno(), operation);
            }
            _ => self.delivery_failed(now_ms, key),
        }
    }

    /// The receiver's server answered the delivery.
    pub(crate) fn gift_delivered(
        &mut self,
        now_ms: u64,
        key: DeliveryKey,
        answer: Result<NodeMessage, PeerError>,
    ) {
        match answer {
            Ok(NodeMessage {
                body: Some(Body::Ack(_)),
            }) => self.gift_acknowledged(now_ms, key),
            _ => self.delivery_failed(now_ms, key),
        }
    }

    /// The receiver's inbox answered.
    pub(crate) fn gift_inboxed(
        &mut self,
        now_ms: u64,
        key: DeliveryKey,
        answer: Result<OpOutcome, StoreError>,
    ) {
        match answer {
            Ok(OpOutcome::Inboxed) => self.gift_acknowledged(now_ms, key),
            _ => self.delivery_failed(now_ms, key),
        }
    }

    fn delivery_failed(&mut self, now_ms: u64, key: DeliveryKey) {
        if let Some(delivery) = self.deliveries.get_mut(&key) {
            delivery.failures = delivery.failures.saturating_add(1);
            delivery.due_ms = Some(now_ms + retry_delay_ms(delivery.failures));
        }
    }

    /// The gift is credited (or waits in the inbox): it leaves the outbox in
    /// the sender's next save, if the sender still serves here. A sender
    /// whose data is frozen (crossing) delivers it again later (the
    /// receiver remembers it); a sender gone is delivered by its next owner.
    fn gift_acknowledged(&mut self, now_ms: u64, key: DeliveryKey) {
        match self.sender_state(key) {
            SenderState::Serving => {}
            SenderState::Busy => return self.delivery_failed(now_ms, key),
            SenderState::Gone => {
                self.deliveries.remove(&key);
                return;
            }
        }
        let Some(delivery) = self.deliveries.remove(&key) else {
            return;
        };
        let hosted = self.players.get_mut(&key.0).expect("serving");
        let PlayerState::Serving(copy) = &mut hosted.state else {
            unreachable!("serving")
        };
        copy.data
            .gifts_out
            .retain(|gift| gift.id != delivery.gift.id);
        copy.dirty = true;
    }

    /// A `GiftDelivery` from a peer: credited once if its receiver serves
    /// here, acknowledged once the credit is on disk.
    pub(crate) fn receive_gift(
        &mut self,
        now_ms: u64,
        request: RequestId,
        delivery: GiftDelivery,
    ) -> Option<Answer> {
        let gift = delivery.gift.unwrap_or_default();
        let Ok(to) = RoleId::from_raw(gift.to_roleid) else {
            return Some(Err((ErrorCode::BadArgument, "no such role".into())));
        };
        let serving = matches!(self.players_state(to), Some(PlayerState::Serving(_)));
        if !serving && self.players_state(to).is_some() {
            return Some(Err((ErrorCode::PlayerBusy, format!("{to} is busy"))));
        }
        if !serving || !self.lease_holds(now_ms, to) {
            return Some(Err((ErrorCode::NotInGame, format!("{to} is not here"))));
        }
        let PlayerState::Serving(copy) = &mut self.players.get_mut(&to)?.state else {
            unreachable!("serving")
        };
        if self.config.mutations.gifts_not_remembered {
            copy.data.gifts_received.clear();
        }
        let line = match store::gifts::credit(&mut copy.data, &gift) {
            Ok(line) => line,
            Err(error) => return Some(Err((ErrorCode::BadArgument, error.to_string()))),
        };
        if let Some(line) = line {
            copy.ledger.push(line);
            copy.dirty = true;
        }
        let ack = Deferred::Peer {
            request,
            message: messages::ack(),
        };
        self.when_durable(now_ms, to, vec![ack]);
        None
    }
}

/// The deliveries of one node, by sender and gift.
pub(crate) type Deliveries = BTreeMap<DeliveryKey, Delivery>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_doubles_up_to_its_cap() {
        assert_eq!(retry_delay_ms(0), GIFT_RETRY_FIRST_MS);
        assert_eq!(retry_delay_ms(1), 2 * GIFT_RETRY_FIRST_MS);
        assert_eq!(retry_delay_ms(40), GIFT_RETRY_MAX_MS);
        assert_eq!(retry_delay_ms(u32::MAX), GIFT_RETRY_MAX_MS);
    }
}
