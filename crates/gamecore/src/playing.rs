//! A player in the game: gameplay calls (gold, items, level, through
//! `gameplay` and its ledger), fights run by this server's battle server,
//! and horns heard zone-wide. Every acknowledgement checks the lease first.
//! `GoServer` and `GoHome` start a crossing (`crossing::source`).

use routing::RoleId;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{CallReply, ErrorCode, HornHeard};
use wire::node::node_message::Body;
use wire::node::{BattleResult, NodeMessage};

use crate::core::GameCore;
use crate::gameplay::{self, GameplayError};
use crate::hosting::PlayerState;
use crate::limits::{BATTLE_GOLD_PER_LEVEL, HORN_TEXT_BYTES_MAX, LEVEL_MAX};
use crate::peers::{CallPurpose, HORN_TOPIC};
use crate::{Entropy, Output, SessionId, frame, messages};

/// A fight waiting for the battle server, as its answer needs it.
#[derive(Clone, Debug)]
pub(crate) struct Fight {
    session: SessionId,
    request_id: u64,
    roleid: RoleId,
    generation: u64,
    monster_level: u32,
}

impl GameCore {
    /// The player a session plays, if it is serving here and its lease
    /// still allows it at `now_ms`.
    fn playing(&mut self, now_ms: u64, session: SessionId, request_id: u64) -> Option<RoleId> {
        let Some(roleid) = self.sessions[&session].roleid else {
            self.reply_error(
                session,
                request_id,
                ErrorCode::NotInGame,
                "enter the game first",
            );
            return None;
        };
        match self.players_state(roleid) {
            Some(PlayerState::Serving(_)) => self.lease_holds(now_ms, roleid).then_some(roleid),
            Some(PlayerState::Crossing(..)) => {
                self.reply_error(
                    session,
                    request_id,
                    ErrorCode::CrossingInProgress,
                    "the player is crossing",
                );
                None
            }
            _ => {
                self.reply_error(
                    session,
                    request_id,
                    ErrorCode::PlayerBusy,
                    "the player is not ready",
                );
                None
            }
        }
    }

    /// A gameplay call of the player `session` plays.
    pub(crate) fn game_call(
        &mut self,
        now_ms: u64,
        session: SessionId,
        request_id: u64,
        call: Call,
        entropy: &mut dyn Entropy,
    ) {
        let Some(roleid) = self.playing(now_ms, session, request_id) else {
            return;
        };
        match call {
            Call::GoServer(go) => {
                self.go_server(now_ms, session, request_id, roleid, go.srvname, entropy)
            }
            Call::GoHome(_) => {
                let home = self.players[&roleid].home_srvname.clone();
                self.go_server(now_ms, session, request_id, roleid, home, entropy)
            }
            Call::Fight(fight) => {
                self.fight(session, request_id, roleid, fight.monster_level, entropy)
            }
            call @ (Call::AddFriend(_) | Call::RemoveFriend(_) | Call::ListFriends(_)) => {
                self.friends_call(session, request_id, roleid, call)
            }
            Call::SendGift(gift) => self.send_gift(session, request_id, roleid, gift),
            call => self.apply_gameplay(session, request_id, roleid, call),
        }
    }

    fn apply_gameplay(&mut self, session: SessionId, request_id: u64, roleid: RoleId, call: Call) {
        let hosted = self.players.get_mut(&roleid).expect("playing");
        let PlayerState::Serving(copy) = &mut hosted.state else {
            unreachable!("playing")
        };
        let (data, ledger) = (&mut copy.data, &mut copy.ledger);
        let levels_up = matches!(call, Call::LevelUp(_));
        let applied = match call {
            Call::AddGold(add) => {
                if self.config.mutations.double_credit {
                    let _ = gameplay::add_gold(data, ledger, add.amount, &add.reason);
                }
                gameplay::add_gold(data, ledger, add.amount, &add.reason)
            }
            Call::SpendGold(spend) => {
                gameplay::spend_gold(data, ledger, spend.amount, &spend.reason)
            }
            Call::AddItem(add) => {
                gameplay::add_item(data, ledger, add.item_type, add.count, &add.reason)
            }
            Call::LevelUp(_) => gameplay::level_up(data),
            Call::GetPlayer(_) => Ok(0),
            Call::GoServer(_)
            | Call::GoHome(_)
            | Call::Fight(_)
            | Call::AddFriend(_)
            | Call::RemoveFriend(_)
            | Call::ListFriends(_)
            | Call::SendGift(_) => unreachable!("handled by the caller"),
        };
        match applied {
            Ok(applied) => {
                copy.dirty |= applied > 0;
                let player = Some(gameplay::view(&copy.data));
                let (level, epoch) = (copy.data.level, copy.epoch);
                self.reply(
                    session,
                    request_id,
                    Out::CallReply(CallReply { player, applied }),
                );
                if levels_up && applied > 0 {
                    self.send_summary(roleid);
                    self.note_rank_level(roleid, level, epoch);
                }
            }
            Err(GameplayError::InsufficientGold { .. }) => self.reply_error(
                session,
                request_id,
                ErrorCode::InsufficientGold,
                "not enough gold",
            ),
            Err(GameplayError::BadArgument(why)) => {
                self.reply_error(session, request_id, ErrorCode::BadArgument, &why)
            }
        }
    }

    /// Asks this server's battle server to run the fight; the answer comes
    /// back through `fought`.
    fn fight(
        &mut self,
        session: SessionId,
        request_id: u64,
        roleid: RoleId,
        monster_level: u32,
        entropy: &mut dyn Entropy,
    ) {
        if monster_level == 0 || monster_level > LEVEL_MAX {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::BadArgument,
                &format!("a monster is level 1..={LEVEL_MAX}"),
            );
        }
        if !self.admit(session, request_id, 0, 1) {
            return;
        }
        let hosted = &self.players[&roleid];
        let PlayerState::Serving(copy) = &hosted.state else {
            unreachable!("playing")
        };
        let seed = entropy.token() as u64;
        let message = messages::battle_request(roleid, copy.data.level, monster_level, seed);
        let fight = Fight {
            session,
            request_id,
            roleid,
            generation: hosted.generation,
            monster_level,
        };
        let battle = self.config.battle_node.clone();
        self.request(CallPurpose::Fight(fight), &battle, message);
    }

    /// The battle server answered at `now_ms`: a win pays gold through the
    /// ledger, if the lease still allows the player to be served.
    pub(crate) fn fought(&mut self, now_ms: u64, fight: Fight, result: Option<BattleResult>) {
        let Fight {
            session,
            request_id,
            roleid,
            generation,
            monster_level,
        } = fight;
        let Some(result) = result else {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::ServerDown,
                "the battle server did not answer",
            );
        };
        let serving = self.players.get(&roleid).is_some_and(|hosted| {
            hosted.generation == generation && matches!(hosted.state, PlayerState::Serving(_))
        });
        if !serving {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::NotInGame,
                "the player left during the fight",
            );
        }
        if !self.lease_holds(now_ms, roleid) {
            return;
        }
        let hosted = self.players.get_mut(&roleid).expect("serving");
        let PlayerState::Serving(copy) = &mut hosted.state else {
            unreachable!("serving")
        };
        let reward = if result.won {
            u64::from(monster_level) * BATTLE_GOLD_PER_LEVEL
        } else {
            0
        };
        if reward > 0 {
            let added = gameplay::add_gold(&mut copy.data, &mut copy.ledger, reward, "battle:win");
            assert!(added.is_ok(), "a battle reward is a valid grant: {added:?}");
            copy.dirty = true;
        }
        let player = Some(gameplay::view(&copy.data));
        self.reply(
            session,
            request_id,
            Out::CallReply(CallReply {
                player,
                applied: reward,
            }),
        );
    }

    /// A horn: heard by every player of the zone, at most one per
    /// `horn_interval_ms` per player.
    pub(crate) fn horn(&mut self, now_ms: u64, session: SessionId, request_id: u64, text: String) {
        let Some(roleid) = self.playing(now_ms, session, request_id) else {
            return;
        };
        if text.is_empty() || text.len() > HORN_TEXT_BYTES_MAX {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::BadArgument,
                &format!("a horn is 1..={HORN_TEXT_BYTES_MAX} bytes"),
            );
        }
        let interval = self.config.horn_interval_ms;
        let hosted = self.players.get_mut(&roleid).expect("playing");
        if hosted
            .last_horn_ms
            .is_some_and(|last| now_ms < last + interval)
        {
            return self.reply_error(
                session,
                request_id,
                ErrorCode::RateLimited,
                &format!("one horn per {interval} ms"),
            );
        }
        hosted.last_horn_ms = Some(now_ms);
        let PlayerState::Serving(copy) = &hosted.state else {
            unreachable!("playing")
        };
        let heard = HornHeard {
            from_roleid: roleid.get(),
            from_name: copy.data.name.clone(),
            text,
        };
        let message = messages::horn(&heard);
        self.push(Output::Publish {
            topic: HORN_TOPIC.to_owned(),
            message,
        });
        self.reply(session, request_id, Out::HornHeard(heard));
    }

    /// A message on a zone topic this node subscribes to: a horn, heard by
    /// every player here, or a summary push (`subscriptions`).
    pub fn handle_topic(&mut self, message: NodeMessage) {
        let horn = match message.body {
            Some(Body::Horn(horn)) => horn,
            Some(Body::SummaryPush(push)) => return self.summaries_pushed(push.summaries),
            _ => return,
        };
        let heard = HornHeard {
            from_roleid: horn.from_roleid,
            from_name: horn.from_name,
            text: horn.text,
        };
        let listeners: Vec<_> = self
            .players
            .values()
            .filter_map(|hosted| hosted.session)
            .collect();
        for session in listeners {
            self.push(Output::Send {
                session,
                frame: frame(0, Out::HornHeard(heard.clone())),
            });
        }
    }
}
