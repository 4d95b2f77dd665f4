//! The properties a run checks, named (after stateright's `Property`): each
//! has an [`Expectation`] (always, eventually, sometimes), a short id for
//! reports and tests, and a sentence that says what it means. A violation
//! names the property it broke; the tests match violations by property.

use std::fmt;

/// How a property must hold (stateright's `Expectation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Expectation {
    /// In every state of every run: checked after every step.
    Always,
    /// After healing, within the liveness bound: checked at the end of a run.
    Eventually,
    /// In some run of a sweep: a sweep of [`crate::sweep::SOMETIMES_SEEDS_MIN`]
    /// seeds or more fails when it never happened (the fault path never ran).
    Sometimes,
}

/// Every property the simulator checks or counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// Every copy a node treats as writable (`GameCore::writable_players`
    /// by its own clock) matches the player's row in the store: held by that
    /// node incarnation, at the copy's epoch, with a lease live by the
    /// database's clock. (So no two nodes can write one player.)
    WritableCopyMatchesRow,
    /// A node acknowledges a gameplay call only for a player it may write.
    ServesOnlyWhileWritable,
    /// A home server's heartbeat clears a kuafu mark only when the row says
    /// the player is no longer away: never while the row, unchanged for
    /// longer than the read could be old, is held by another server with a
    /// live lease.
    MarkClearedOnlyByRow,
    /// Every write the store commits descends from the row's current data.
    NoAcknowledgedWriteLost,
    /// The store renews a lease only for the row's holder at its epoch: a
    /// zombie's late renewal never extends another holder's lease.
    LeaseRenewedOnlyByHolder,
    /// Stored gold and items equal the sums of the stored ledger lines, no
    /// ledger line is stored twice, and every credit line answers exactly
    /// one `AddGold` request a player sent, for its amount (nothing is
    /// credited twice).
    GoldAndItemsConserved,
    /// Every gift's credit pairs with its debit (same receiver and gold) and
    /// no gift is credited twice, across every database (DESIGN §9).
    GiftCreditedOnce,
    /// After healing, every gift debited before the healing is credited:
    /// its sender's outbox delivers it (or its receiver's inbox holds it
    /// until the receiver's next load).
    GiftsDeliveredAfterHealing,
    /// A token admits at most once, across every core and incarnation.
    TokenRedeemedAtMostOnce,
    /// A crossing token admits only the role it was issued for.
    TokenAdmitsOnlyItsRole,
    /// A client is redirected only after its handoff committed.
    RedirectAfterDurableHandoff,
    /// On the seeds that run it, SQLite answers every op as the model does.
    SqliteAgreesWithModel,
    /// Players get only the answers their requests can get.
    ClientsGetExpectedAnswers,
    /// No core panics.
    NoPanic,
    /// After healing, every player becomes playable again.
    EveryPlayerPlayableAfterHealing,
    /// After healing, the data center's current server of each player
    /// matches its row (held by a node with a live lease: online there;
    /// free: offline) wherever it acknowledged a note stating the row: the
    /// data center records what it is told, in epoch order.
    DataCenterConvergesToRows,
    /// After healing, the data center has acknowledged, for each player, a
    /// note stating its row: every owner's note reaches it in the end, even
    /// when one was lost. With [`Property::DataCenterConvergesToRows`], the
    /// data center's current servers converge to the rows.
    DataCenterHearsEveryOwner,
    /// After healing, each player's home server marks it away exactly when
    /// its row says so: a row held with a live lease by another node is
    /// marked there; a free or lapsed row, or one held by the home, is not
    /// marked (DESIGN §6: marks are a view of the rows).
    MarksConvergeToRows,
    /// A player entered a server by a crossing token.
    CrossingCompleted,
    /// A write was refused by the fence while the node still held the player.
    ZombieSaveFenced,
    /// A token expired unused.
    TokenExpired,
    /// A claim took a row over from another holder whose lease ran out.
    LeaseTakenOver,
    /// A server did not acknowledge a login grant, so the login moved on to
    /// the next candidate with a fresh token.
    LoginGrantFailed,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 23] = [
        Property::WritableCopyMatchesRow,
        Property::ServesOnlyWhileWritable,
        Property::MarkClearedOnlyByRow,
        Property::NoAcknowledgedWriteLost,
        Property::LeaseRenewedOnlyByHolder,
        Property::GoldAndItemsConserved,
        Property::GiftCreditedOnce,
        Property::GiftsDeliveredAfterHealing,
        Property::TokenRedeemedAtMostOnce,
        Property::TokenAdmitsOnlyItsRole,
        Property::RedirectAfterDurableHandoff,
        Property::SqliteAgreesWithModel,
        Property::ClientsGetExpectedAnswers,
        Property::NoPanic,
        Property::EveryPlayerPlayableAfterHealing,
        Property::DataCenterConvergesToRows,
        Property::DataCenterHearsEveryOwner,
        Property::MarksConvergeToRows,
        Property::CrossingCompleted,
        Property::ZombieSaveFenced,
        Property::TokenExpired,
        Property::LeaseTakenOver,
        Property::LoginGrantFailed,
    ];

    /// The sometimes-properties, in the order [`Sometimes`] counts them.
    pub const SOMETIMES: [Property; 5] = [
        Property::CrossingCompleted,
        Property::ZombieSaveFenced,
        Property::TokenExpired,
        Property::LeaseTakenOver,
        Property::LoginGrantFailed,
    ];

    /// How it must hold.
    pub fn expectation(self) -> Expectation {
        use Property as P;
        match self {
            P::EveryPlayerPlayableAfterHealing
            | P::DataCenterConvergesToRows
            | P::DataCenterHearsEveryOwner
            | P::MarksConvergeToRows
            | P::GiftsDeliveredAfterHealing => Expectation::Eventually,
            P::CrossingCompleted
            | P::ZombieSaveFenced
            | P::TokenExpired
            | P::LeaseTakenOver
            | P::LoginGrantFailed => Expectation::Sometimes,
            _ => Expectation::Always,
        }
    }

    /// A short id, as reports print it.
    pub fn id(self) -> &'static str {
        use Property as P;
        match self {
            P::WritableCopyMatchesRow => "writable-copy-matches-row",
            P::ServesOnlyWhileWritable => "serves-only-while-writable",
            P::MarkClearedOnlyByRow => "mark-cleared-only-by-row",
            P::NoAcknowledgedWriteLost => "no-acknowledged-write-lost",
            P::LeaseRenewedOnlyByHolder => "lease-renewed-only-by-holder",
            P::GoldAndItemsConserved => "gold-and-items-conserved",
            P::GiftCreditedOnce => "gift-credited-once",
            P::GiftsDeliveredAfterHealing => "gifts-delivered-after-healing",
            P::TokenRedeemedAtMostOnce => "token-redeemed-at-most-once",
            P::TokenAdmitsOnlyItsRole => "token-admits-only-its-role",
            P::RedirectAfterDurableHandoff => "redirect-after-durable-handoff",
            P::SqliteAgreesWithModel => "sqlite-agrees-with-model",
            P::ClientsGetExpectedAnswers => "clients-get-expected-answers",
            P::NoPanic => "no-panic",
            P::EveryPlayerPlayableAfterHealing => "every-player-playable-after-healing",
            P::DataCenterConvergesToRows => "datacenter-converges-to-rows",
            P::DataCenterHearsEveryOwner => "datacenter-hears-every-owner",
            P::MarksConvergeToRows => "marks-converge-to-rows",
            P::CrossingCompleted => "crossing-completed",
            P::ZombieSaveFenced => "zombie-save-fenced",
            P::TokenExpired => "token-expired",
            P::LeaseTakenOver => "lease-taken-over",
            P::LoginGrantFailed => "login-grant-failed",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How often each sometimes-property happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sometimes {
    counts: [u64; Property::SOMETIMES.len()],
}

impl Sometimes {
    fn index(property: Property) -> usize {
        Property::SOMETIMES
            .iter()
            .position(|sometimes| *sometimes == property)
            .expect("a sometimes-property")
    }

    /// Counts `count` more occurrences of `property` (a sometimes-property).
    pub fn record(&mut self, property: Property, count: u64) {
        self.counts[Self::index(property)] += count;
    }

    /// How often `property` (a sometimes-property) happened.
    pub fn count(&self, property: Property) -> u64 {
        self.counts[Self::index(property)]
    }

    /// Adds another run's counts.
    pub fn add(&mut self, other: &Sometimes) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// The sometimes-properties that never happened.
    pub fn missing(&self) -> Vec<Property> {
        Property::SOMETIMES
            .into_iter()
            .filter(|property| self.count(*property) == 0)
            .collect()
    }
}

impl fmt::Display for Sometimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = Property::SOMETIMES
            .iter()
            .map(|property| format!("{property}={}", self.count(*property)))
            .collect();
        f.write_str(&counts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_is_listed_once_with_its_own_id() {
        let mut ids: Vec<&str> = Property::ALL.iter().map(|property| property.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Property::ALL.len());
        let sometimes: Vec<Property> = Property::ALL
            .into_iter()
            .filter(|property| property.expectation() == Expectation::Sometimes)
            .collect();
        assert_eq!(sometimes, Property::SOMETIMES);
    }

    #[test]
    fn a_sometimes_property_that_never_happened_is_missing() {
        let mut seen = Sometimes::default();
        seen.record(Property::TokenExpired, 2);
        let mut other = Sometimes::default();
        other.record(Property::CrossingCompleted, 1);
        seen.add(&other);
        assert_eq!(
            seen.missing(),
            vec![
                Property::ZombieSaveFenced,
                Property::LeaseTakenOver,
                Property::LoginGrantFailed
            ]
        );
        assert_eq!(seen.count(Property::TokenExpired), 2);
    }
}
