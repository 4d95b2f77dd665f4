//! A node's summary cache (DESIGN §8), the subscriber's side of the data
//! center's pushes, as a pure structure the game core drives.
//!
//! - **References.** A role is cached while a hosted player references it
//!   (a friend): [`SummaryCache::reference`] and [`SummaryCache::release`]
//!   count them; the first reference asks for a subscription, the last
//!   release for an unsubscription and evicts the role. At most
//!   `roles_max` roles are cached; a reference beyond it is refused.
//! - **Order.** A summary's version grows by exactly one per change. A push
//!   one version ahead of the cached summary is applied; a duplicate or an
//!   older one is ignored; a push further ahead means pushes were lost (the
//!   bus delivers at most once): it is not applied, and the role is
//!   resynced from a snapshot (asked like a subscription). A snapshot
//!   replaces anything older. The first summary of a role (a push that
//!   beats the snapshot, or the snapshot) is taken as it is.
//! - **Repair.** Subscriptions and unsubscriptions may cross on the way,
//!   a data center may restart and forget its subscribers, and the last
//!   push of a burst may be lost with no later one to show the gap: the
//!   core asks [`SummaryCache::resubscribe_all`] on a timer, which
//!   subscribes every cached role again and so reloads its snapshot.

use std::collections::{BTreeMap, BTreeSet};

use routing::RoleId;
use wire::node::Summary;

/// What applying a summary did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It is the cached summary now.
    Changed,
    /// It was not newer than the cached one (a duplicate or a regression).
    Stale,
    /// A push skipped versions: not applied, a resync is asked.
    Gap,
    /// No hosted player references the role.
    Unreferenced,
}

/// The cache is at its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the summary cache holds its most roles")]
pub struct CacheFull;

#[derive(Clone, Debug)]
struct Entry {
    refs: u32,
    summary: Option<Summary>,
}

/// The summaries this node caches, what it must (un)subscribe, and how
/// many gaps it saw.
#[derive(Clone, Debug)]
pub struct SummaryCache {
    entries: BTreeMap<RoleId, Entry>,
    to_subscribe: BTreeSet<RoleId>,
    to_unsubscribe: BTreeSet<RoleId>,
    roles_max: usize,
    gaps: u64,
}

impl SummaryCache {
    /// An empty cache of at most `roles_max` roles.
    pub fn new(roles_max: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            to_subscribe: BTreeSet::new(),
            to_unsubscribe: BTreeSet::new(),
            roles_max,
            gaps: 0,
        }
    }

    /// One more hosted reference to `roleid`; the first asks a subscription.
    pub fn reference(&mut self, roleid: RoleId) -> Result<(), CacheFull> {
        if let Some(entry) = self.entries.get_mut(&roleid) {
            entry.refs += 1;
            return Ok(());
        }
        if self.entries.len() >= self.roles_max {
            return Err(CacheFull);
        }
        let entry = Entry {
            refs: 1,
            summary: None,
        };
        self.entries.insert(roleid, entry);
        self.to_unsubscribe.remove(&roleid);
        self.to_subscribe.insert(roleid);
        Ok(())
    }

    /// One reference to `roleid` fewer; the last evicts it and asks an
    /// unsubscription.
    pub fn release(&mut self, roleid: RoleId) {
        let Some(entry) = self.entries.get_mut(&roleid) else {
            return;
        };
        entry.refs -= 1;
        if entry.refs == 0 {
            self.entries.remove(&roleid);
            self.to_subscribe.remove(&roleid);
            self.to_unsubscribe.insert(roleid);
        }
    }

    /// Applies a pushed summary (see the module docs).
    pub fn apply_push(&mut self, summary: Summary) -> Applied {
        self.apply(summary, false)
    }

    /// Applies a summary from a snapshot: anything newer than the cache.
    pub fn apply_snapshot(&mut self, summary: Summary) -> Applied {
        self.apply(summary, true)
    }

    fn apply(&mut self, summary: Summary, from_snapshot: bool) -> Applied {
        let Some(roleid) = RoleId::from_raw(summary.roleid).ok() else {
            return Applied::Unreferenced;
        };
        let Some(entry) = self.entries.get_mut(&roleid) else {
            return Applied::Unreferenced;
        };
        let cached = entry.summary.as_ref().map(|cached| cached.version);
        match cached {
            Some(version) if summary.version <= version => Applied::Stale,
            Some(version) if !from_snapshot && summary.version > version + 1 => {
                self.gaps += 1;
                self.to_subscribe.insert(roleid);
                Applied::Gap
            }
            _ => {
                entry.summary = Some(summary);
                Applied::Changed
            }
        }
    }

    /// Asks a subscription (and so a snapshot) of every cached role again.
    pub fn resubscribe_all(&mut self) {
        self.to_subscribe.extend(self.entries.keys().copied());
    }

    /// Up to `max` roles to subscribe to (or resync) now.
    pub fn take_subscribes(&mut self, max: usize) -> Vec<RoleId> {
        take(&mut self.to_subscribe, max)
    }

    /// Up to `max` roles to unsubscribe from now.
    pub fn take_unsubscribes(&mut self, max: usize) -> Vec<RoleId> {
        take(&mut self.to_unsubscribe, max)
    }

    /// The cached summary of `roleid`, once known.
    pub fn get(&self, roleid: RoleId) -> Option<&Summary> {
        self.entries.get(&roleid)?.summary.as_ref()
    }

    /// Whether `roleid` is referenced (cached or awaiting its snapshot).
    pub fn is_referenced(&self, roleid: RoleId) -> bool {
        self.entries.contains_key(&roleid)
    }

    /// Roles cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no role is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pushes that skipped versions, since start.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }
}

fn take(set: &mut BTreeSet<RoleId>, max: usize) -> Vec<RoleId> {
    let taken: Vec<RoleId> = set.iter().take(max).copied().collect();
    for roleid in &taken {
        set.remove(roleid);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: u64 = 1_000_001;

    fn role() -> RoleId {
        RoleId::from_raw(ROLE).unwrap()
    }

    fn summary(version: u64) -> Summary {
        Summary {
            roleid: ROLE,
            version,
            level: u32::try_from(version).unwrap(),
            ..Summary::default()
        }
    }

    fn cache_with_role() -> SummaryCache {
        let mut cache = SummaryCache::new(2);
        cache.reference(role()).unwrap();
        assert_eq!(cache.take_subscribes(10), vec![role()]);
        cache
    }

    #[test]
    fn pushes_apply_in_version_order_and_duplicates_and_regressions_are_ignored() {
        let mut cache = cache_with_role();
        assert_eq!(cache.apply_snapshot(summary(3)), Applied::Changed);
        assert_eq!(cache.apply_push(summary(4)), Applied::Changed);
        assert_eq!(cache.apply_push(summary(4)), Applied::Stale);
        assert_eq!(cache.apply_push(summary(2)), Applied::Stale);
        assert_eq!(cache.get(role()).unwrap().version, 4);
        assert!(cache.take_subscribes(10).is_empty(), "no resync");
    }

    #[test]
    fn a_push_that_skips_a_version_is_not_applied_and_asks_a_resync() {
        let mut cache = cache_with_role();
        cache.apply_push(summary(1));
        assert_eq!(cache.apply_push(summary(3)), Applied::Gap);
        assert_eq!(cache.get(role()).unwrap().version, 1);
        assert_eq!(cache.gaps(), 1);
        assert_eq!(cache.take_subscribes(10), vec![role()]);
        assert_eq!(cache.apply_snapshot(summary(5)), Applied::Changed);
        assert_eq!(cache.apply_push(summary(6)), Applied::Changed);
    }

    #[test]
    fn the_first_summary_is_taken_whatever_its_version_and_an_older_snapshot_is_not() {
        let mut cache = cache_with_role();
        assert_eq!(cache.apply_push(summary(7)), Applied::Changed);
        assert_eq!(cache.apply_snapshot(summary(6)), Applied::Stale);
        assert_eq!(cache.get(role()).unwrap().version, 7);
    }

    #[test]
    fn references_are_counted_and_the_last_release_evicts_and_unsubscribes() {
        let mut cache = cache_with_role();
        cache.reference(role()).unwrap();
        cache.apply_push(summary(1));
        cache.release(role());
        assert!(cache.get(role()).is_some(), "one reference left");
        assert!(cache.take_unsubscribes(10).is_empty());
        cache.release(role());
        assert!(cache.is_empty());
        assert_eq!(cache.take_unsubscribes(10), vec![role()]);
        assert_eq!(cache.apply_push(summary(2)), Applied::Unreferenced);
        cache.release(role());
        assert!(cache.is_empty(), "a release of nothing is harmless");
    }

    #[test]
    fn a_reference_beyond_the_bound_is_refused_and_resubscribing_asks_every_role() {
        let mut cache = cache_with_role();
        let other = RoleId::from_raw(2_000_001).unwrap();
        cache.reference(other).unwrap();
        assert_eq!(
            cache.reference(RoleId::from_raw(3_000_001).unwrap()),
            Err(CacheFull)
        );
        assert_eq!(cache.len(), 2);
        cache.take_subscribes(10);
        cache.resubscribe_all();
        assert_eq!(cache.take_subscribes(1), vec![role()]);
        assert_eq!(cache.take_subscribes(10), vec![other]);
    }
}
