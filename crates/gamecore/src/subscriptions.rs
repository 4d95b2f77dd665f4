//! The game server's two sides of the data center's player summaries
//! (DESIGN §8):
//!
//! - as the **owner** of its players, it sends each one's profile (name,
//!   level, home srvno, the fields the game registers with
//!   `Config::summary_fields`) as a `SummaryUpdate` note, ordered by the
//!   row's epoch and this node's own growing sequence, when the player
//!   enters and whenever the profile changes (a level up); owed until the
//!   data center acknowledges it, the newest replacing an older one still
//!   owed (`notes`);
//! - as a **subscriber**, it drives its [`SummaryCache`]: it subscribes to
//!   the roles its players reference (snapshots answer), applies the
//!   pushes on its summary topic (`wire::summary_topic`), resyncs a role
//!   whose pushes skipped a version, unsubscribes the roles no one
//!   references any more, and subscribes to every cached role again every
//!   `Config::summary_refresh_interval_ms`.

use routing::RoleId;
use wire::node::node_message::Body;
use wire::node::{
    NodeMessage, PlayerData, SubscribeSummaries, SummaryField, SummaryUpdate, UnsubscribeSummaries,
};

use crate::PeerError;
use crate::core::GameCore;
use crate::limits::{SUBSCRIBE_REQUESTS_PER_ROUND_MAX, SUBSCRIBE_ROLEIDS_MAX};
use crate::notes::NoteKind;
use crate::peers::CallPurpose;
use crate::summaries::{Applied, SummaryCache};

/// The fields a game registers in its players' summaries, from a player's
/// data (at most `datacentercore`'s bounds: 16 fields, short names and
/// values).
pub type SummaryFields = fn(&PlayerData) -> Vec<(String, String)>;

/// The demo game's fields: `power`, from the level and the items held.
pub fn default_summary_fields(data: &PlayerData) -> Vec<(String, String)> {
    let items: u64 = data.items.iter().map(|stack| stack.count).sum();
    let power = u64::from(data.level) * 100 + items.min(1_000_000);
    vec![("power".to_owned(), power.to_string())]
}

impl GameCore {
    /// Sends the owner's summary of `roleid`, if this server serves it.
    pub(crate) fn send_summary(&mut self, roleid: RoleId) {
        if self.hosted_copy(roleid).is_none() {
            return;
        }
        self.summary_seq += 1;
        let copy = self.hosted_copy(roleid).expect("checked above");
        let data = &copy.data;
        let fields = (self.config.summary_fields)(data)
            .into_iter()
            .map(|(name, value)| SummaryField { name, value })
            .collect();
        let update = SummaryUpdate {
            roleid: roleid.get(),
            epoch: copy.epoch,
            seq: self.summary_seq,
            name: data.name.clone(),
            level: data.level,
            home_srvno: roleid.home_srvno().get(),
            fields,
        };
        let message = NodeMessage {
            body: Some(Body::SummaryUpdate(update)),
        };
        let datacenter = self.config.datacenter_node.clone();
        self.send_note(NoteKind::Summary, roleid, &datacenter, message);
    }

    /// Sends the unsubscriptions and subscriptions the cache asks for, as
    /// far as the bounds allow (the rest wait for the next round).
    pub(crate) fn flush_subscriptions(&mut self) {
        self.flush_requests(CallPurpose::Unsubscribe);
        self.flush_requests(CallPurpose::Subscribe);
    }

    /// Sends requests of one kind, [`SUBSCRIBE_ROLEIDS_MAX`] roles each.
    fn flush_requests(&mut self, purpose: CallPurpose) {
        for _ in 0..SUBSCRIBE_REQUESTS_PER_ROUND_MAX {
            if !self.calls_room(1) {
                return;
            }
            let subscribing = matches!(purpose, CallPurpose::Subscribe);
            let roleids = if subscribing {
                self.summaries.take_subscribes(SUBSCRIBE_ROLEIDS_MAX)
            } else {
                self.summaries.take_unsubscribes(SUBSCRIBE_ROLEIDS_MAX)
            };
            if roleids.is_empty() {
                return;
            }
            let node = self.config.srvname.clone();
            let roleids = roleids.iter().map(|roleid| roleid.get()).collect();
            let body = if subscribing {
                Body::SubscribeSummaries(SubscribeSummaries { node, roleids })
            } else {
                Body::UnsubscribeSummaries(UnsubscribeSummaries { node, roleids })
            };
            let datacenter = self.config.datacenter_node.clone();
            self.request(
                purpose.clone(),
                &datacenter,
                NodeMessage { body: Some(body) },
            );
        }
    }

    /// The summary timer: every cached role is subscribed again (see
    /// [`SummaryCache::resubscribe_all`]), and players gone give back
    /// their references.
    pub(crate) fn refresh_summaries(&mut self) {
        self.release_friends_of_players_gone();
        self.summaries.resubscribe_all();
        self.flush_subscriptions();
    }

    /// The data center's answer to a subscription: its snapshot. A failed
    /// one is asked again at the next refresh.
    pub(crate) fn subscribed(&mut self, answer: Result<NodeMessage, PeerError>) {
        let Ok(NodeMessage {
            body: Some(Body::SummarySnapshot(snapshot)),
        }) = answer
        else {
            return;
        };
        for summary in snapshot.summaries {
            if self.summaries.apply_snapshot(summary.clone()) == Applied::Changed {
                self.tell_friends(&summary);
            }
        }
    }

    /// A push on this server's summary topic.
    pub(crate) fn summaries_pushed(&mut self, summaries: Vec<wire::node::Summary>) {
        for summary in summaries {
            if self.summaries.apply_push(summary.clone()) == Applied::Changed {
                self.tell_friends(&summary);
            }
        }
        self.flush_subscriptions();
    }

    /// This server's summary cache.
    pub fn summary_cache(&self) -> &SummaryCache {
        &self.summaries
    }
}
