//! The invariant checker, fed by the run after every step (VOPR's
//! `state_checker`): it sees the cores' events and the store wrapper's
//! commits, keeps a small shadow model, and records the first violation.
//!
//! Checked here: a token is redeemed at most once across every core and
//! incarnation; a redirect is sent only after its handoff committed (seed
//! "Optimisations" 1). Judged here, for the run to check (DESIGN §14: against
//! the authority, not the nodes' beliefs): whether a node's writable copy
//! matches the player's row ([`writable_copy_mismatch`], after every step),
//! and whether the data center's record of a player matches the row
//! ([`datacenter_mismatch`], after healing), blaming the data center when it
//! had acknowledged a note stating the row ([`Acknowledged`]) and the
//! owners when it never had. Checked by the run itself with
//! this checker's help: serving only while writable (`world`), the players'
//! unexpected errors (`clients`), and in the store wrapper (`db`) no lost
//! acknowledged write, the conservation of gold and items, and SQLite's
//! agreement with the model. Counted: the sometimes-properties.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use datacentercore::Current;
use gamecore::Event;
use gamecore::marks::Mark;
use ownership::{Holder, OwnerId, Ownership};
use routing::RoleId;

use crate::{Property, Sometimes, Violation};

/// Counts per `(role, owner, target)`.
type CrossingCounts = BTreeMap<(RoleId, OwnerId, String), u64>;

/// What the checker remembers across a run.
#[derive(Default)]
pub struct Checker {
    /// Violations found (the run stops at the first).
    pub violations: Vec<Violation>,
    /// Violations of waived properties (the run stops there too).
    pub waived: Vec<Violation>,
    /// The sometimes-properties seen so far.
    pub sometimes: Sometimes,
    failure: Option<(Property, String)>,
    redeemed: BTreeSet<u128>,
    handoffs_committed: CrossingCounts,
    redirects_sent: CrossingCounts,
    /// Each player's `AddGold` requests: the amount, and whether a ledger
    /// line answering it is stored.
    credits: BTreeMap<(RoleId, u64), (u64, bool)>,
    /// Every gift's debit and credits stored so far, zone-wide.
    gifts: store::gifts::GiftBook,
    /// The gifts in flight when the zone healed.
    gifts_at_heal: Vec<(u64, u64)>,
}

impl Checker {
    /// Records a violation of `property`; the run picks it up after the step.
    pub fn fail(&mut self, property: Property, what: String) {
        if self.failure.is_none() {
            self.failure = Some((property, what));
        }
    }

    /// The violation found in this step, if any.
    pub fn take_violation(&mut self) -> Option<(Property, String)> {
        self.failure.take()
    }

    /// An event a core emitted; `owner` is the emitting incarnation.
    pub fn observe(&mut self, owner: &OwnerId, event: &Event) {
        match event {
            Event::Entered {
                by_crossing: true, ..
            } => self.sometimes.record(Property::CrossingCompleted, 1),
            Event::TokenRedeemed { token } if !self.redeemed.insert(*token) => {
                self.fail(
                    Property::TokenRedeemedAtMostOnce,
                    format!("token {token:032x} redeemed twice (second time by {owner})"),
                );
            }
            Event::TokensExpired { count } => {
                self.sometimes.record(Property::TokenExpired, *count as u64)
            }
            Event::Redirected { roleid, target } => {
                let key = (*roleid, owner.clone(), target.clone());
                let sent = self.redirects_sent.entry(key.clone()).or_default();
                *sent += 1;
                let sent = *sent;
                let committed = self.handoffs_committed.get(&key).copied().unwrap_or(0);
                if sent > committed {
                    self.fail(
                        Property::RedirectAfterDurableHandoff,
                        format!(
                            "{owner} redirected role {roleid} to {target} before its handoff \
                             committed (redirects {sent}, handoffs committed {committed})"
                        ),
                    );
                }
            }
            Event::Fenced { .. } => self.sometimes.record(Property::ZombieSaveFenced, 1),
            _ => {}
        }
    }

    /// The store committed a handoff of `roleid` by `owner` to `target`.
    pub fn handoff_committed(&mut self, roleid: RoleId, owner: &OwnerId, target: &str) {
        *self
            .handoffs_committed
            .entry((roleid, owner.clone(), target.to_owned()))
            .or_default() += 1;
    }

    /// A player sent `AddGold` request `request` of `amount`.
    pub fn credit_sent(&mut self, roleid: RoleId, request: u64, amount: u64) {
        self.credits.insert((roleid, request), (amount, false));
    }

    /// The store committed a gold ledger line of `delta` answering
    /// `roleid`'s request `request`: the request must exist, with that
    /// amount, and have no other line (zone-wide conservation: nothing is
    /// credited twice).
    pub fn credit_stored(&mut self, roleid: RoleId, request: u64, delta: i64) {
        let why = match self.credits.get_mut(&(roleid, request)) {
            None => "answers no request the player sent".to_owned(),
            Some((amount, _)) if i64::try_from(*amount) != Ok(delta) => {
                format!("credits {delta} but the request asked for {amount}")
            }
            Some((_, true)) => "is the second line answering that request".to_owned(),
            Some((_, stored)) => {
                *stored = true;
                return;
            }
        };
        self.fail(
            Property::GoldAndItemsConserved,
            format!("role {roleid}: the gold ledger line of request {request} {why}"),
        );
    }

    /// The store committed ledger line `line` of `roleid`: a gift's credit
    /// must pair with its debit, once (zone-wide).
    pub fn ledger_line_stored(&mut self, roleid: RoleId, line: &store::LedgerEntry) {
        self.gifts.add(roleid, line);
        let credit = store::gifts::gift_line(&line.reason);
        if !matches!(credit, Some(store::gifts::GiftLine::Credit { .. })) {
            return;
        }
        let unpaired = self.gifts.pairing().unpaired;
        if let Some(id) = unpaired.first() {
            self.fail(
                Property::GiftCreditedOnce,
                format!(
                    "role {roleid}: gift {}:{} is credited twice or without its debit",
                    id.from_roleid, id.seq
                ),
            );
        }
    }

    /// The zone healed: the gifts in flight now must be credited.
    pub fn gifts_heal(&mut self) {
        let in_flight = self.gifts.in_flight();
        self.gifts_at_heal = in_flight.map(|id| (id.from_roleid, id.seq)).collect();
    }

    /// A gift in flight at the healing that is still not credited.
    pub fn gift_undelivered_since_heal(&self) -> Option<String> {
        let in_flight: BTreeSet<(u64, u64)> = self
            .gifts
            .in_flight()
            .map(|id| (id.from_roleid, id.seq))
            .collect();
        let (from, seq) = self
            .gifts_at_heal
            .iter()
            .find(|id| in_flight.contains(id))?;
        Some(format!(
            "gift {from}:{seq} debited before the healing is not credited"
        ))
    }

    /// A claim took over a lease that had run out under another holder.
    pub fn lease_taken_over(&mut self) {
        self.sometimes.record(Property::LeaseTakenOver, 1);
    }
}

/// Why `owner`'s writable copy at `epoch` does not match the player's `row`
/// at database time `db_now_ms`, if it does not: the row must be held by
/// that incarnation, at that epoch, with a live lease.
pub fn writable_copy_mismatch(
    owner: &OwnerId,
    epoch: u64,
    row: Option<&Ownership>,
    db_now_ms: u64,
) -> Option<String> {
    let Some(row) = row else {
        return Some("the store has no row for it".to_owned());
    };
    let held = matches!(&row.holder, Holder::Held(holder) if holder == owner);
    if !held || row.epoch != epoch {
        return Some(format!(
            "{owner} treats epoch {epoch} as writable but the row is {:?} at epoch {}",
            row.holder, row.epoch
        ));
    }
    if row.lease_expired(db_now_ms) {
        return Some(format!(
            "{owner} treats it as writable but the lease ran out at {} (database time {db_now_ms})",
            row.lease_until_ms
        ));
    }
    None
}

/// Why the data center's `recorded` current server of a player does not
/// match its `row` at database time `db_now_ms`, if it does not: a row held
/// with a live lease must be recorded online at the holder's node, a free
/// row offline (or never recorded). A row in flux (handed off, or held with a
/// lapsed lease) is not judged.
pub fn datacenter_mismatch(
    row: &Ownership,
    db_now_ms: u64,
    recorded: Option<&Current>,
) -> Option<String> {
    match &row.holder {
        Holder::Held(owner) if !row.lease_expired(db_now_ms) => match recorded {
            Some(current) if current.online && current.srvname == owner.node => None,
            other => Some(format!(
                "held by {owner} at epoch {} but the data center has {other:?}",
                row.epoch
            )),
        },
        Holder::Free => match recorded {
            Some(current) if current.online => Some(format!(
                "free but the data center has it online at {} (epoch {})",
                current.srvname, current.epoch
            )),
            _ => None,
        },
        Holder::Held(_) | Holder::Arriving(_) => None,
    }
}

/// Why the home server `home`'s kuafu `mark` of a player does not match
/// the player's `row` at database time `db_now_ms`, if it does not: a row
/// held by another node with a live lease must be marked there; a free or
/// lapsed row, or one held by the home, must not be marked. A row in flux
/// (arriving, or held with less than `settled_ms` of lease left: its holder
/// stopped renewing) is not judged.
pub fn mark_mismatch(
    home: &str,
    row: &Ownership,
    db_now_ms: u64,
    settled_ms: u64,
    mark: Option<&Mark>,
) -> Option<String> {
    let away_at = match &row.holder {
        Holder::Arriving(_) => return None,
        Holder::Held(owner) if !row.lease_expired(db_now_ms) => {
            if row.lease_until_ms - db_now_ms < settled_ms {
                return None;
            }
            (owner.node != home).then_some(owner.node.as_str())
        }
        Holder::Held(_) | Holder::Free => None,
    };
    match (away_at, mark) {
        (Some(node), Some(mark)) if mark.go_srvname == node => None,
        (None, None) => None,
        (Some(node), mark) => Some(format!(
            "held by {node} at epoch {} but the home's mark is {mark:?}",
            row.epoch
        )),
        (None, Some(mark)) => Some(format!(
            "{:?} at epoch {} (lease until {}, database time {db_now_ms}) but the home marks it at {} (epoch {})",
            row.holder, row.epoch, row.lease_until_ms, mark.go_srvname, mark.epoch
        )),
    }
}

/// Judges the data center's `recorded` current server of `roleid` against
/// its `row` (see [`datacenter_mismatch`]): a mismatch breaks
/// [`Property::DataCenterConvergesToRows`] when the data center had
/// acknowledged a note stating the row (`told`), else
/// [`Property::DataCenterHearsEveryOwner`] (the note never reached it).
pub fn datacenter_judgement(
    roleid: RoleId,
    row: &Ownership,
    db_now_ms: u64,
    recorded: Option<&Current>,
    told: bool,
) -> Option<(Property, String)> {
    let why = datacenter_mismatch(row, db_now_ms, recorded)?;
    Some(if told {
        let what = format!("role {roleid}: {why}, though it acknowledged a note saying so");
        (Property::DataCenterConvergesToRows, what)
    } else {
        let what = format!(
            "role {roleid}: {why}; it never acknowledged a note saying so (lost, and not sent again)"
        );
        (Property::DataCenterHearsEveryOwner, what)
    })
}

/// The notes the data center acknowledged (recorded durably, or found older
/// than its record): `(role, epoch, online, server)`.
#[derive(Default)]
pub struct Acknowledged(BTreeSet<(RoleId, u64, bool, String)>);

impl Acknowledged {
    /// The data center acknowledged `note` for `roleid`.
    pub fn record(&mut self, roleid: RoleId, note: &Current) {
        let key = (roleid, note.epoch, note.online, note.srvname.clone());
        self.0.insert(key);
    }

    /// Whether it acknowledged a note stating `row`: online at the holder's
    /// node at the row's epoch, or (for a free row) offline at its epoch.
    pub fn states(&self, roleid: RoleId, row: &Ownership) -> bool {
        match &row.holder {
            Holder::Held(owner) => {
                let key = (roleid, row.epoch, true, owner.node.clone());
                self.0.contains(&key)
            }
            Holder::Free => {
                let from = (roleid, row.epoch, false, String::new());
                let to = (roleid, row.epoch, true, String::new());
                let offline = (Bound::Included(from), Bound::Excluded(to));
                self.0.range(offline).next().is_some()
            }
            Holder::Arriving(_) => false,
        }
    }
}

#[cfg(test)]
mod tests;
