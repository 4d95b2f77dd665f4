//! What demo bots do with each other (issue 14): befriend other bots by
//! role id, look at their friend lists and hear `FriendChanged` pushes
//! (counting each time a friend shows up on another server than before:
//! they see their friends move), send a friend one gold as a gift across
//! servers (delivered exactly once, which the demo's audit checks), and
//! now and then sound a team horn, which every player hears.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use client::{CallOutcome, ClientError, GameSession};
use rand::RngExt;
use wire::client::game_call::Call;
use wire::client::server_frame::Body;
use wire::client::{FriendView, SendGift};

use super::BotCounters;

/// Friends one bot adds, at most.
pub const FRIENDS_PER_BOT: usize = 3;
/// Chance, per turn, that a bot does something social (one in this many).
pub const SOCIAL_ONE_IN: u32 = 10;
/// Gold in one gift.
pub const GIFT_GOLD: u64 = 1;
/// Shortest time between two horns of one bot (the server's own limit,
/// `horn_interval_ms`, is one second by default).
pub const HORN_INTERVAL: Duration = Duration::from_secs(3);
/// Pushes a bot reads between two turns, at most.
pub const PUSHES_PER_TURN_MAX: usize = 64;

/// The role ids of the bots that entered the game, shared by a demo's bots
/// (one per bot: its bound is the number of bots).
#[derive(Debug, Default)]
pub struct Roster {
    roleids: Mutex<Vec<u64>>,
}

impl Roster {
    /// Adds a bot's role, once.
    pub fn join(&self, roleid: u64) {
        let mut roleids = self.lock();
        if !roleids.contains(&roleid) {
            roleids.push(roleid);
        }
    }

    /// A role of the roster that is not in `except`, if any.
    fn pick(&self, except: &BTreeMap<u64, String>, me: u64) -> Option<u64> {
        let candidates: Vec<u64> = self
            .lock()
            .iter()
            .copied()
            .filter(|roleid| *roleid != me && !except.contains_key(roleid))
            .collect();
        let index = rand::rng().random_range(0..candidates.len().max(1));
        candidates.get(index).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.roleids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One social act.
#[derive(Clone, Copy, Debug)]
pub(super) enum Social {
    AddFriend(u64),
    LookAtFriends,
    Gift(u64),
    Horn,
}

/// One bot's friends, with the server it last saw each on.
#[derive(Debug)]
pub(super) struct Friends {
    me: u64,
    seen: BTreeMap<u64, String>,
    last_horn: Option<Instant>,
}

impl Friends {
    pub(super) fn new(me: u64) -> Self {
        Self {
            me,
            seen: BTreeMap::new(),
            last_horn: None,
        }
    }

    /// Learns the friends the player already has (an earlier run's bot
    /// added them), so it adds no friend twice.
    pub(super) async fn load(
        &mut self,
        session: &GameSession,
        counters: &BotCounters,
    ) -> Result<(), ClientError> {
        let list = session.friends().await?;
        self.saw(&list.friends, counters);
        Ok(())
    }

    /// The next social act, if this turn has one.
    pub(super) fn next(&self, roster: &Roster, gold: u64) -> Option<Social> {
        let mut rng = rand::rng();
        if !rng.random_ratio(1, SOCIAL_ONE_IN) {
            return None;
        }
        let friend = self
            .seen
            .keys()
            .copied()
            .nth(rng.random_range(0..FRIENDS_PER_BOT));
        match rng.random_range(0..4) {
            0 if self.seen.len() < FRIENDS_PER_BOT => {
                roster.pick(&self.seen, self.me).map(Social::AddFriend)
            }
            1 if gold >= GIFT_GOLD => friend.map(Social::Gift),
            2 if self
                .last_horn
                .is_none_or(|at| at.elapsed() >= HORN_INTERVAL) =>
            {
                Some(Social::Horn)
            }
            _ => Some(Social::LookAtFriends),
        }
    }

    /// Does `social`; answers the gold after a gift.
    pub(super) async fn act(
        &mut self,
        session: &mut GameSession,
        social: Social,
        counters: &BotCounters,
    ) -> Result<Option<u64>, ClientError> {
        match social {
            Social::AddFriend(roleid) => {
                let list = session.add_friend(roleid).await?;
                counters.friends.fetch_add(1, Ordering::Relaxed);
                self.saw(&list.friends, counters);
            }
            Social::LookAtFriends => {
                let list = session.friends().await?;
                self.saw(&list.friends, counters);
            }
            Social::Gift(to_roleid) => return self.gift(session, to_roleid, counters).await,
            Social::Horn => {
                self.last_horn = Some(Instant::now());
                session
                    .horn(&format!("team of {} gathers", self.me))
                    .await?;
                counters.horns.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(None)
    }

    async fn gift(
        &self,
        session: &mut GameSession,
        to_roleid: u64,
        counters: &BotCounters,
    ) -> Result<Option<u64>, ClientError> {
        let gift = SendGift {
            to_roleid,
            gold: GIFT_GOLD,
        };
        let CallOutcome::Reply(reply) = session.call(Call::SendGift(gift)).await? else {
            return Err(ClientError::Protocol("SendGift redirected".into()));
        };
        counters.gifts.fetch_add(1, Ordering::Relaxed);
        Ok(reply.player.map(|player| player.gold))
    }

    /// Reads the pushes waiting (friends' changes, horns), at most
    /// [`PUSHES_PER_TURN_MAX`].
    pub(super) fn hear(&mut self, session: &mut GameSession, counters: &BotCounters) {
        for _ in 0..PUSHES_PER_TURN_MAX {
            let Ok(frame) = session.pushes().try_recv() else {
                return;
            };
            if let Some(Body::FriendChanged(changed)) = frame.body {
                self.saw(changed.friend.as_slice(), counters);
            }
        }
    }

    /// Notes where each known friend is; counts the ones seen elsewhere
    /// than before.
    fn saw(&mut self, friends: &[FriendView], counters: &BotCounters) {
        for friend in friends {
            let srvname = if friend.known {
                friend.srvname.clone()
            } else {
                String::new()
            };
            let before = self.seen.insert(friend.roleid, srvname.clone());
            let moved = before.is_some_and(|before| !before.is_empty() && before != srvname);
            if moved && !srvname.is_empty() {
                counters.friend_moves_seen.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
