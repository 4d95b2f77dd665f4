//! The invariant checker, fed by the run after every step (VOPR's
//! `state_checker`): it sees the cores' events and the store wrapper's
//! commits, keeps a small shadow model, and records the first violation.
//!
//! Checked here: a token is redeemed at most once across every core and
//! incarnation; a redirect is sent only after its handoff committed (seed
//! "Optimisations" 1). Checked by the run itself with this checker's help:
//! the single writer and serving only while writable (`world`), the players'
//! unexpected errors (`clients`), and in the store wrapper (`db`) no lost
//! acknowledged write, the conservation of gold and items, and SQLite's
//! agreement with the model. Counted: the named "sometimes" properties.

use std::collections::{BTreeMap, BTreeSet};

use gamecore::Event;
use ownership::OwnerId;
use routing::RoleId;

use crate::{Sometimes, Violation};

/// Counts per `(role, owner, target)`.
type CrossingCounts = BTreeMap<(RoleId, OwnerId, String), u64>;

/// What the checker remembers across a run.
#[derive(Default)]
pub struct Checker {
    /// Violations found (the run stops at the first).
    pub violations: Vec<Violation>,
    /// The sometimes-properties seen so far.
    pub sometimes: Sometimes,
    failure: Option<String>,
    redeemed: BTreeSet<u128>,
    handoffs_committed: CrossingCounts,
    redirects_sent: CrossingCounts,
}

impl Checker {
    /// Records a violation; the run picks it up after the step.
    pub fn fail(&mut self, what: String) {
        if self.failure.is_none() {
            self.failure = Some(what);
        }
    }

    /// The violation found in this step, if any.
    pub fn take_violation(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// An event a core emitted; `owner` is the emitting incarnation.
    pub fn observe(&mut self, owner: &OwnerId, event: &Event) {
        match event {
            Event::Entered {
                by_crossing: true, ..
            } => self.sometimes.crossings_completed += 1,
            Event::TokenRedeemed { token } if !self.redeemed.insert(*token) => {
                self.fail(format!(
                    "token {token:032x} redeemed twice (second time by {owner})"
                ));
            }
            Event::TokensExpired { count } => self.sometimes.tokens_expired += *count as u64,
            Event::Redirected { roleid, target } => {
                let key = (*roleid, owner.clone(), target.clone());
                let sent = self.redirects_sent.entry(key.clone()).or_default();
                *sent += 1;
                let sent = *sent;
                let committed = self.handoffs_committed.get(&key).copied().unwrap_or(0);
                if sent > committed {
                    self.fail(format!(
                        "{owner} redirected role {roleid} to {target} before its handoff committed \
                         (redirects {sent}, handoffs committed {committed})"
                    ));
                }
            }
            Event::Fenced { .. } => self.sometimes.zombies_fenced += 1,
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

    /// A claim took over a lease that had run out under another holder.
    pub fn lease_taken_over(&mut self) {
        self.sometimes.leases_taken_over += 1;
    }
}
