//! Player summaries (DESIGN §8): each role's profile as its owner last
//! reported it, ordered by the owner's `(epoch, seq)`, with a per-role
//! version that grows by exactly one with every accepted change (of the
//! profile, or of where the player is: `SetCurrent`), and the nodes
//! subscribed to each role.
//!
//! The pieces the core ([`crate::DataCenterCore`]) composes: validating an
//! owner's `SummaryUpdate` ([`profile_note`]), deciding whether it wins
//! ([`ProfileNote::supersedes`]), building the wire summary a snapshot or a
//! push carries ([`wire_summary`]), and the bounded subscription table
//! ([`Subscriptions`]).

use std::collections::{BTreeMap, BTreeSet};

use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::{Summary, SummaryField, SummaryUpdate};

use crate::Current;

/// Fields a game may register in a summary, at most.
pub const FIELDS_MAX: usize = 16;
/// Bytes of a field's name, at most.
pub const FIELD_NAME_BYTES_MAX: usize = 32;
/// Bytes of a field's value, at most.
pub const FIELD_VALUE_BYTES_MAX: usize = 64;
/// Bytes of a role's name in a summary, at most.
pub const NAME_BYTES_MAX: usize = 64;
/// Bytes of a subscribing node's name, at most.
pub const NODE_NAME_BYTES_MAX: usize = 128;
/// Role ids in one subscribe or unsubscribe request, at most.
pub const SUBSCRIBE_ROLEIDS_MAX: usize = 128;

/// A summary's encoded size, at most (its bounded strings and numbers).
pub const SUMMARY_BYTES_MAX: usize =
    NAME_BYTES_MAX + 64 + FIELDS_MAX * (FIELD_NAME_BYTES_MAX + FIELD_VALUE_BYTES_MAX + 8) + 128;
// A snapshot of a full subscribe request, and a push, stay well below a
// bus message's 1 MiB (NATS's default payload bound).
const _: () = assert!(SUBSCRIBE_ROLEIDS_MAX * SUMMARY_BYTES_MAX <= 512 * 1024);
const _: () = assert!(crate::PUSH_SUMMARIES_MAX * SUMMARY_BYTES_MAX <= 512 * 1024);
/// (role, node) subscriptions the data center keeps, at most; a subscribe
/// beyond it is refused `OVERLOADED`.
pub const SUBSCRIPTIONS_MAX: usize = 1_000_000;

/// What the owner reports about a role (where it is comes from `SetCurrent`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// The role's name.
    pub name: String,
    /// Its level.
    pub level: u32,
    /// Its home srvno.
    pub home_srvno: u32,
    /// The fields the game registered, sorted by name, names unique.
    pub fields: Vec<(String, String)>,
}

/// A role's summary record as the store keeps it: the profile, the owner's
/// order of the update that set it, and the summary's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRecord {
    /// The role.
    pub roleid: RoleId,
    /// 1 for the first accepted change, +1 for each after.
    pub version: u64,
    /// The owner's epoch of the update that set the profile (0: none yet).
    pub epoch: u64,
    /// The owner's sequence within that epoch.
    pub seq: u64,
    /// The profile.
    pub profile: Profile,
}

impl SummaryRecord {
    /// A role with no summary yet: version 0, no profile.
    pub fn empty(roleid: RoleId) -> Self {
        Self {
            roleid,
            version: 0,
            epoch: 0,
            seq: 0,
            profile: Profile::default(),
        }
    }
}

/// An owner's update, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileNote {
    /// The role.
    pub roleid: RoleId,
    /// The owner's epoch for the row.
    pub epoch: u64,
    /// The owner's sequence within the epoch.
    pub seq: u64,
    /// What it reports.
    pub profile: Profile,
}

impl ProfileNote {
    /// Whether this update is newer than the one that set `recorded`: a
    /// late or duplicated update never overwrites a newer one.
    pub fn supersedes(&self, recorded: Option<&SummaryRecord>) -> bool {
        recorded.is_none_or(|recorded| (self.epoch, self.seq) > (recorded.epoch, recorded.seq))
    }
}

/// Checks an owner's `SummaryUpdate` against the bounds; the refusal is a
/// typed code and a reason.
pub fn profile_note(update: SummaryUpdate) -> Result<ProfileNote, (ErrorCode, String)> {
    let roleid =
        RoleId::from_raw(update.roleid).map_err(|bad| (ErrorCode::UnknownRole, bad.to_string()))?;
    let bad = |reason: &str| Err((ErrorCode::BadArgument, reason.to_owned()));
    if update.name.len() > NAME_BYTES_MAX {
        return bad("a summary's name is too long");
    }
    if update.fields.len() > FIELDS_MAX {
        return bad("a summary has too many fields");
    }
    let mut fields = BTreeMap::new();
    for SummaryField { name, value } in update.fields {
        if name.is_empty() || name.len() > FIELD_NAME_BYTES_MAX {
            return bad("a summary field's name is empty or too long");
        }
        if value.len() > FIELD_VALUE_BYTES_MAX {
            return bad("a summary field's value is too long");
        }
        if fields.insert(name, value).is_some() {
            return bad("a summary names a field twice");
        }
    }
    let profile = Profile {
        name: update.name,
        level: update.level,
        home_srvno: update.home_srvno,
        fields: fields.into_iter().collect(),
    };
    Ok(ProfileNote {
        roleid,
        epoch: update.epoch,
        seq: update.seq,
        profile,
    })
}

/// The summary a snapshot or a push carries: the record and where the
/// player is.
pub fn wire_summary(record: &SummaryRecord, current: Option<&Current>) -> Summary {
    let profile = &record.profile;
    Summary {
        roleid: record.roleid.get(),
        version: record.version,
        name: profile.name.clone(),
        level: profile.level,
        home_srvno: profile.home_srvno,
        srvname: current
            .map(|current| current.srvname.clone())
            .unwrap_or_default(),
        online: current.is_some_and(|current| current.online),
        fields: profile
            .fields
            .iter()
            .map(|(name, value)| SummaryField {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

/// Checks a subscribe or unsubscribe request's node and role ids.
pub fn subscription_request(
    node: &str,
    raw_roleids: &[u64],
) -> Result<Vec<RoleId>, (ErrorCode, String)> {
    if node.is_empty() || node.len() > NODE_NAME_BYTES_MAX {
        return Err((
            ErrorCode::BadArgument,
            "a subscription's node name is empty or too long".to_owned(),
        ));
    }
    if raw_roleids.len() > SUBSCRIBE_ROLEIDS_MAX {
        return Err((
            ErrorCode::BadArgument,
            format!("at most {SUBSCRIBE_ROLEIDS_MAX} role ids per request"),
        ));
    }
    raw_roleids
        .iter()
        .map(|raw| RoleId::from_raw(*raw).map_err(|bad| (ErrorCode::UnknownRole, bad.to_string())))
        .collect()
}

/// Which nodes are subscribed to which roles, at most
/// [`SUBSCRIPTIONS_MAX`] pairs (in production). Kept in memory only: a node subscribes
/// again on its own schedule, so a restarted data center is subscribed to
/// again without a record.
#[derive(Clone, Debug)]
pub struct Subscriptions {
    by_role: BTreeMap<RoleId, BTreeSet<String>>,
    pairs: usize,
    pairs_max: usize,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self::new(SUBSCRIPTIONS_MAX)
    }
}

impl Subscriptions {
    /// An empty table of at most `pairs_max` (role, node) pairs.
    pub fn new(pairs_max: usize) -> Self {
        Self {
            by_role: BTreeMap::new(),
            pairs: 0,
            pairs_max,
        }
    }

    /// Subscribes `node` to `roleids`; all or none: refused when the table
    /// would pass its bound.
    pub fn subscribe(&mut self, node: &str, roleids: &[RoleId]) -> Result<(), (ErrorCode, String)> {
        let new = roleids
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|roleid| !self.is_subscribed(node, **roleid))
            .count();
        if self.pairs + new > self.pairs_max {
            return Err((
                ErrorCode::Overloaded,
                "the data center's subscriptions are full".to_owned(),
            ));
        }
        for roleid in roleids {
            if self
                .by_role
                .entry(*roleid)
                .or_default()
                .insert(node.to_owned())
            {
                self.pairs += 1;
            }
        }
        Ok(())
    }

    /// Ends `node`'s subscriptions to `roleids` (those it has).
    pub fn unsubscribe(&mut self, node: &str, roleids: &[RoleId]) {
        for roleid in roleids {
            let Some(nodes) = self.by_role.get_mut(roleid) else {
                continue;
            };
            if nodes.remove(node) {
                self.pairs -= 1;
            }
            if nodes.is_empty() {
                self.by_role.remove(roleid);
            }
        }
    }

    /// Whether `node` is subscribed to `roleid`.
    pub fn is_subscribed(&self, node: &str, roleid: RoleId) -> bool {
        self.by_role
            .get(&roleid)
            .is_some_and(|nodes| nodes.contains(node))
    }

    /// The nodes subscribed to `roleid`.
    pub fn subscribers(&self, roleid: RoleId) -> impl Iterator<Item = &str> {
        self.by_role
            .get(&roleid)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// (role, node) pairs subscribed.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// Whether no node is subscribed to anything.
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }
}
