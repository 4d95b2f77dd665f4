//! Cross-server friends (issue 14): a player adds friends by role id (any
//! server); they are kept in the player's data (`PlayerData.friends`,
//! saved with it); the friend list shows each friend as this server's
//! summary cache shows it now (`subscriptions`), and a `FriendChanged` push
//! tells the player's client whenever a friend's summary changes here.
//!
//! Every friend of every hosted player is a reference in the summary cache:
//! taken when the player enters or adds the friend, given back when the
//! friend is removed or the player is no longer hosted here (checked on
//! every timer round: a player leaves by several paths, and one sweep
//! covers them all).

use std::collections::BTreeMap;

use routing::RoleId;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{ErrorCode, FriendChanged, FriendList, FriendView};
use wire::node::Summary;

use crate::core::GameCore;
use crate::hosting::PlayerState;
use crate::limits::FRIENDS_MAX;
use crate::{Output, SessionId, frame};

/// The roles each hosted player references in the summary cache.
pub(crate) type FriendRefs = BTreeMap<RoleId, Vec<RoleId>>;

impl GameCore {
    /// A friends call of the player `roleid`, answered with its friend list.
    pub(crate) fn friends_call(
        &mut self,
        session: SessionId,
        request_id: u64,
        roleid: RoleId,
        call: Call,
    ) {
        let changed = match call {
            Call::AddFriend(add) => self.add_friend(roleid, add.roleid),
            Call::RemoveFriend(remove) => self.remove_friend(roleid, remove.roleid),
            Call::ListFriends(_) => Ok(()),
            _ => unreachable!("the caller passes friends calls only"),
        };
        match changed {
            Ok(()) => {
                let list = self.friend_list(roleid);
                self.reply(session, request_id, Out::FriendList(list));
            }
            Err((code, why)) => self.reply_error(session, request_id, code, why),
        }
    }

    fn add_friend(
        &mut self,
        roleid: RoleId,
        raw_friend: u64,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let friend =
            RoleId::from_raw(raw_friend).map_err(|_| (ErrorCode::UnknownRole, "not a role id"))?;
        let data = self.serving_data(roleid);
        if friend == roleid {
            return Err((ErrorCode::BadArgument, "a player cannot befriend itself"));
        }
        if data.friends.contains(&raw_friend) {
            return Err((ErrorCode::BadArgument, "already a friend"));
        }
        if data.friends.len() >= FRIENDS_MAX {
            return Err((ErrorCode::BadArgument, "too many friends"));
        }
        self.summaries
            .reference(friend)
            .map_err(|_| (ErrorCode::Overloaded, "this server's summary cache is full"))?;
        self.friend_refs.entry(roleid).or_default().push(friend);
        self.serving_data(roleid).friends.push(raw_friend);
        self.mark_dirty(roleid);
        self.flush_subscriptions();
        Ok(())
    }

    fn remove_friend(
        &mut self,
        roleid: RoleId,
        raw_friend: u64,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let data = self.serving_data(roleid);
        let Some(at) = data.friends.iter().position(|friend| *friend == raw_friend) else {
            return Err((ErrorCode::BadArgument, "not a friend"));
        };
        data.friends.remove(at);
        self.mark_dirty(roleid);
        let refs = self.friend_refs.entry(roleid).or_default();
        if let Some(at) = refs.iter().position(|friend| friend.get() == raw_friend) {
            let friend = refs.remove(at);
            self.summaries.release(friend);
            self.flush_subscriptions();
        }
        Ok(())
    }

    /// The player `roleid` entered here: its friends become references.
    pub(crate) fn reference_friends(&mut self, roleid: RoleId) {
        self.release_friends(roleid);
        let Some(copy) = self.hosted_copy(roleid) else {
            return;
        };
        let friends: Vec<RoleId> = copy
            .data
            .friends
            .iter()
            .filter_map(|raw| RoleId::from_raw(*raw).ok())
            .collect();
        // A friend the full cache cannot take shows as unknown.
        let referenced = friends
            .into_iter()
            .filter(|friend| self.summaries.reference(*friend).is_ok())
            .collect();
        self.friend_refs.insert(roleid, referenced);
        self.flush_subscriptions();
    }

    /// Gives back the references of players no longer served here.
    pub(crate) fn release_friends_of_players_gone(&mut self) {
        let gone: Vec<RoleId> = self
            .friend_refs
            .keys()
            .filter(|roleid| !matches!(self.players_state(**roleid), Some(PlayerState::Serving(_))))
            .copied()
            .collect();
        for roleid in gone {
            self.release_friends(roleid);
        }
        self.flush_subscriptions();
    }

    fn release_friends(&mut self, roleid: RoleId) {
        for friend in self.friend_refs.remove(&roleid).unwrap_or_default() {
            self.summaries.release(friend);
        }
    }

    /// Tells every hosted player who has `summary`'s role as a friend.
    pub(crate) fn tell_friends(&mut self, summary: &Summary) {
        let view = friend_view(summary.roleid, Some(summary));
        let sessions: Vec<SessionId> = self
            .friend_refs
            .iter()
            .filter(|(_, friends)| friends.iter().any(|friend| friend.get() == summary.roleid))
            .filter_map(|(roleid, _)| self.players.get(roleid)?.session)
            .collect();
        for session in sessions {
            let changed = FriendChanged {
                friend: Some(view.clone()),
            };
            self.push(Output::Send {
                session,
                frame: frame(0, Out::FriendChanged(changed)),
            });
        }
    }

    fn friend_list(&mut self, roleid: RoleId) -> FriendList {
        let friends = self
            .serving_data(roleid)
            .friends
            .clone()
            .into_iter()
            .map(|raw| {
                let cached = RoleId::from_raw(raw)
                    .ok()
                    .and_then(|friend| self.summaries.get(friend));
                friend_view(raw, cached)
            })
            .collect();
        FriendList { friends }
    }

    fn serving_data(&mut self, roleid: RoleId) -> &mut wire::node::PlayerData {
        match self
            .players
            .get_mut(&roleid)
            .map(|hosted| &mut hosted.state)
        {
            Some(PlayerState::Serving(copy)) => &mut copy.data,
            _ => unreachable!("a friends call is served for a serving player"),
        }
    }

    fn mark_dirty(&mut self, roleid: RoleId) {
        if let Some(PlayerState::Serving(copy)) = self
            .players
            .get_mut(&roleid)
            .map(|hosted| &mut hosted.state)
        {
            copy.dirty = true;
        }
    }
}

/// A friend as the client sees it: unknown until the cache has its summary.
fn friend_view(roleid: u64, summary: Option<&Summary>) -> FriendView {
    match summary {
        Some(summary) => FriendView {
            roleid,
            known: true,
            name: summary.name.clone(),
            level: summary.level,
            srvname: summary.srvname.clone(),
            online: summary.online,
            version: summary.version,
        },
        None => FriendView {
            roleid,
            ..FriendView::default()
        },
    }
}
