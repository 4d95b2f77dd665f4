//! The single-writer rules for a player's row (DESIGN §5), as pure functions.
//!
//! Each player's row carries its ownership: who holds the one writable copy
//! ([`Holder`]), the fencing `epoch`, and `lease_until_ms` on the database's
//! clock. Every store backend applies these rules inside its write
//! transaction, so the rules live here once and the store is the fence: a write
//! that does not hold the current epoch is refused with [`Refused::Fenced`].
//!
//! The owner's side of a lease is [`LeaseView`]: an owner stops serving a player
//! once, by its own clock plus a skew margin, the lease could have expired.
//!
//! Architecture invariant: no I/O, no clock, no randomness. `db_now_ms` is an
//! input of every rule that reads time.

use std::fmt;

/// A node incarnation that can hold players: its name and the random
/// incarnation drawn when it started. A restarted node is a new owner.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerId {
    /// The node's name, e.g. `gs1`.
    pub node: String,
    /// Drawn at start; never 0 (0 marks a pending arrival in storage).
    pub incarnation: u64,
}

/// Who may write a player's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Nobody: the player is offline.
    Free,
    /// One node incarnation holds the writable copy.
    Held(OwnerId),
    /// Handed off to the node with this name; only it may claim until the
    /// lease runs out (DESIGN §6 step 3).
    Arriving(String),
}

/// The ownership columns of a player's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// Who may write.
    pub holder: Holder,
    /// Raised by every claim and handoff; a write must carry the current one.
    pub epoch: u64,
    /// Database time after which the holder's claim lapses.
    pub lease_until_ms: u64,
}

/// Why the store refused an ownership operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The writer does not hold the current epoch: it is a zombie and must
    /// drop the player.
    Fenced {
        /// The row's ownership as the store saw it.
        current: Ownership,
    },
    /// Someone else holds a live lease (or a pending handoff to another node).
    HeldElsewhere {
        /// The row's ownership as the store saw it.
        current: Ownership,
    },
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{:x}", self.node, self.incarnation)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Fenced { current } => write!(f, "fenced: row is at epoch {}", current.epoch),
            Refused::HeldElsewhere { current } => {
                write!(
                    f,
                    "held elsewhere: {:?} until {}",
                    current.holder, current.lease_until_ms
                )
            }
        }
    }
}

impl std::error::Error for Refused {}

impl Ownership {
    /// A new role's row: nobody holds it.
    pub fn free() -> Self {
        Self {
            holder: Holder::Free,
            epoch: 0,
            lease_until_ms: 0,
        }
    }

    /// Whether `db_now_ms` is past the lease.
    pub fn lease_expired(&self, db_now_ms: u64) -> bool {
        db_now_ms >= self.lease_until_ms
    }
}

/// The rules a store applies. `Rules::default()` is the only correct set; the
/// other switches exist so the simulator can prove it catches the bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Whether a handoff checks the writer's owner and epoch. Turning it off
    /// is a deliberate bug for the simulator's mutation tests.
    pub handoff_checks_epoch: bool,
    /// Whether a lease renewal checks the renewer's owner and epoch.
    /// Turning it off is a deliberate bug for the simulator's mutation tests.
    pub renew_checks_epoch: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            handoff_checks_epoch: true,
            renew_checks_epoch: true,
        }
    }
}

impl Rules {
    /// Claim the row for `me`: allowed when it is free, its lease has expired,
    /// it is handed off to `me.node`, or `me` already holds it (a re-claim
    /// fences any older copy on the same incarnation). Raises the epoch.
    pub fn claim(
        &self,
        row: &Ownership,
        me: &OwnerId,
        db_now_ms: u64,
        lease_ttl_ms: u64,
    ) -> Result<Ownership, Refused> {
        let claimable = match &row.holder {
            Holder::Free => true,
            Holder::Held(owner) => owner == me || row.lease_expired(db_now_ms),
            Holder::Arriving(node) => *node == me.node || row.lease_expired(db_now_ms),
        };
        if !claimable {
            return Err(Refused::HeldElsewhere {
                current: row.clone(),
            });
        }
        Ok(Ownership {
            holder: Holder::Held(me.clone()),
            epoch: row.epoch + 1,
            lease_until_ms: db_now_ms + lease_ttl_ms,
        })
    }

    /// A save is allowed only for the holder at the current epoch.
    pub fn authorize_write(
        &self,
        row: &Ownership,
        me: &OwnerId,
        epoch: u64,
    ) -> Result<(), Refused> {
        let holds = matches!(&row.holder, Holder::Held(owner) if owner == me);
        if holds && row.epoch == epoch {
            Ok(())
        } else {
            Err(Refused::Fenced {
                current: row.clone(),
            })
        }
    }

    /// Renews the lease of the holder at `epoch`, while it is live: a
    /// renewal that lands after the lease lapsed is refused, so it cannot
    /// revive a row whose holder has stopped serving the player by its own
    /// clock (the row would stay locked for another lease, every login
    /// getting `PLAYER_BUSY`); the holder, if it still serves, is fenced.
    pub fn renew(
        &self,
        row: &Ownership,
        me: &OwnerId,
        epoch: u64,
        db_now_ms: u64,
        lease_ttl_ms: u64,
    ) -> Result<Ownership, Refused> {
        if self.renew_checks_epoch {
            self.authorize_write(row, me, epoch)?;
        }
        if row.lease_expired(db_now_ms) {
            return Err(Refused::Fenced {
                current: row.clone(),
            });
        }
        Ok(Ownership {
            lease_until_ms: db_now_ms + lease_ttl_ms,
            ..row.clone()
        })
    }

    /// Hands the row to node `to` (with the final save in the same
    /// transaction): `Arriving(to)`, a new epoch, a short lease.
    pub fn handoff(
        &self,
        row: &Ownership,
        me: &OwnerId,
        epoch: u64,
        to: &str,
        db_now_ms: u64,
        handoff_ttl_ms: u64,
    ) -> Result<Ownership, Refused> {
        if self.handoff_checks_epoch {
            self.authorize_write(row, me, epoch)?;
        }
        Ok(Ownership {
            holder: Holder::Arriving(to.to_owned()),
            epoch: row.epoch + 1,
            lease_until_ms: db_now_ms + handoff_ttl_ms,
        })
    }

    /// Releases the row at logoff (with the final save): nobody holds it.
    pub fn release(&self, row: &Ownership, me: &OwnerId, epoch: u64) -> Result<Ownership, Refused> {
        self.authorize_write(row, me, epoch)?;
        Ok(Ownership {
            holder: Holder::Free,
            epoch: row.epoch,
            lease_until_ms: 0,
        })
    }
}

impl Rules {
    /// Takes back a row from a dead predecessor of `me` (DESIGN §5): a row
    /// held by another incarnation of `me.node`, or handed off to `me.node`,
    /// becomes free at once instead of after its lease. Only a node that can
    /// prove its predecessor is dead may ask (the embedded mode's data
    /// directory lock). `None`: the row is not the predecessor's.
    pub fn take_back(&self, row: &Ownership, me: &OwnerId) -> Option<Ownership> {
        let predecessors = match &row.holder {
            Holder::Held(owner) => owner.node == me.node && owner != me,
            Holder::Arriving(node) => *node == me.node,
            Holder::Free => false,
        };
        predecessors.then_some(Ownership {
            holder: Holder::Free,
            epoch: row.epoch,
            lease_until_ms: 0,
        })
    }
}

impl Rules {
    /// Fences an offline player's row for a transfer to another server's
    /// database (转服, DESIGN §7): allowed only when no node holds it or is
    /// handed it with a live lease; the row becomes free at a raised epoch,
    /// so a writer of any earlier epoch is fenced.
    pub fn fence_for_transfer(
        &self,
        row: &Ownership,
        db_now_ms: u64,
    ) -> Result<Ownership, Refused> {
        if row.live_node(db_now_ms).is_some() {
            return Err(Refused::HeldElsewhere {
                current: row.clone(),
            });
        }
        Ok(Ownership {
            holder: Holder::Free,
            epoch: row.epoch + 1,
            lease_until_ms: 0,
        })
    }
}

impl Ownership {
    /// The node that holds the row or that it is arriving at, while its
    /// lease is live at `db_now_ms`; `None` when free or lapsed.
    pub fn live_node(&self, db_now_ms: u64) -> Option<&str> {
        if self.lease_expired(db_now_ms) {
            return None;
        }
        match &self.holder {
            Holder::Free => None,
            Holder::Held(owner) => Some(&owner.node),
            Holder::Arriving(node) => Some(node),
        }
    }
}

/// The owner's own view of one lease: the database time it runs to, and the
/// margin the owner keeps for clock skew between itself and the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseView {
    /// Database time the lease runs to, as the store reported it.
    pub lease_until_ms: u64,
    /// How far the owner's clock may be behind the database's.
    pub skew_margin_ms: u64,
}

impl LeaseView {
    /// Whether the owner, reading `own_now_ms` on its own clock, may still act
    /// for the player: the lease cannot have expired even if the owner's clock
    /// is `skew_margin_ms` behind the database's.
    pub fn may_serve(&self, own_now_ms: u64) -> bool {
        own_now_ms < self.serving_deadline_ms()
    }

    /// The first instant, on the owner's clock, at which it may no longer
    /// serve: `may_serve(t)` holds exactly for `t` before it.
    pub fn serving_deadline_ms(&self) -> u64 {
        self.lease_until_ms.saturating_sub(self.skew_margin_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(node: &str, incarnation: u64) -> OwnerId {
        OwnerId {
            node: node.to_owned(),
            incarnation,
        }
    }

    const TTL: u64 = 10_000;

    #[test]
    fn a_free_row_is_claimed_and_the_epoch_rises() {
        let rules = Rules::default();
        let row = rules
            .claim(&Ownership::free(), &owner("gs1", 1), 100, TTL)
            .unwrap();
        assert_eq!(row.holder, Holder::Held(owner("gs1", 1)));
        assert_eq!(row.epoch, 1);
        assert_eq!(row.lease_until_ms, 100 + TTL);
    }

    #[test]
    fn a_live_lease_refuses_other_claimants_until_it_expires() {
        let rules = Rules::default();
        let row = rules
            .claim(&Ownership::free(), &owner("gs1", 1), 0, TTL)
            .unwrap();
        let refused = rules.claim(&row, &owner("gs2", 7), TTL - 1, TTL);
        assert!(matches!(refused, Err(Refused::HeldElsewhere { .. })));
        let taken = rules.claim(&row, &owner("gs2", 7), TTL, TTL).unwrap();
        assert_eq!(taken.epoch, 2);
    }

    #[test]
    fn only_an_offline_row_is_fenced_for_a_transfer_and_its_old_writers_are_fenced() {
        let rules = Rules::default();
        let me = owner("gs1", 1);
        let held = rules.claim(&Ownership::free(), &me, 0, TTL).unwrap();
        let online = rules.fence_for_transfer(&held, TTL - 1);
        assert!(matches!(online, Err(Refused::HeldElsewhere { .. })));
        let handed = rules.handoff(&held, &me, 1, "gs2", 0, TTL).unwrap();
        let arriving = rules.fence_for_transfer(&handed, TTL - 1);
        assert!(matches!(arriving, Err(Refused::HeldElsewhere { .. })));
        let fenced = rules.fence_for_transfer(&held, TTL).unwrap();
        assert_eq!((fenced.holder.clone(), fenced.epoch), (Holder::Free, 2));
        let late = rules.authorize_write(&fenced, &me, 1);
        assert!(matches!(late, Err(Refused::Fenced { .. })));
    }

    #[test]
    fn a_write_needs_the_holder_and_the_current_epoch() {
        let rules = Rules::default();
        let me = owner("gs1", 1);
        let row = rules.claim(&Ownership::free(), &me, 0, TTL).unwrap();
        assert!(rules.authorize_write(&row, &me, 1).is_ok());
        assert!(matches!(
            rules.authorize_write(&row, &me, 0),
            Err(Refused::Fenced { .. })
        ));
        assert!(
            rules.authorize_write(&row, &owner("gs1", 2), 1).is_err(),
            "restarted node"
        );
        let retaken = rules.claim(&row, &owner("gs2", 1), TTL, TTL).unwrap();
        assert!(
            rules.authorize_write(&retaken, &me, 1).is_err(),
            "zombie after takeover"
        );
    }

    #[test]
    fn a_handoff_admits_only_the_target_until_the_handoff_lease_expires() {
        let rules = Rules::default();
        let source = owner("gs1", 1);
        let row = rules.claim(&Ownership::free(), &source, 0, TTL).unwrap();
        let handed = rules.handoff(&row, &source, 1, "gs2", 5, 3_000).unwrap();
        assert_eq!(handed.holder, Holder::Arriving("gs2".into()));
        assert_eq!(handed.epoch, 2);
        assert!(
            rules.authorize_write(&handed, &source, 1).is_err(),
            "source is fenced"
        );
        assert!(rules.claim(&handed, &owner("gs3", 1), 6, TTL).is_err());
        let arrived = rules.claim(&handed, &owner("gs2", 9), 6, TTL).unwrap();
        assert_eq!(arrived.epoch, 3);
        assert!(
            rules
                .claim(&handed, &owner("gs3", 1), 5 + 3_000, TTL)
                .is_ok(),
            "never arrived"
        );
    }

    #[test]
    fn a_stale_handoff_is_fenced_unless_the_check_is_mutated_away() {
        let rules = Rules::default();
        let row = rules
            .claim(&Ownership::free(), &owner("gs1", 1), 0, TTL)
            .unwrap();
        let retaken = rules.claim(&row, &owner("gs2", 1), TTL, TTL).unwrap();
        assert!(
            rules
                .handoff(&retaken, &owner("gs1", 1), 1, "gs3", TTL, 1)
                .is_err()
        );
        let broken = Rules {
            handoff_checks_epoch: false,
            ..Rules::default()
        };
        assert!(
            broken
                .handoff(&retaken, &owner("gs1", 1), 1, "gs3", TTL, 1)
                .is_ok()
        );
    }

    #[test]
    fn release_frees_the_row_and_keeps_the_epoch() {
        let rules = Rules::default();
        let me = owner("gs1", 1);
        let row = rules.claim(&Ownership::free(), &me, 0, TTL).unwrap();
        let released = rules.release(&row, &me, 1).unwrap();
        assert_eq!(released.holder, Holder::Free);
        assert_eq!(released.epoch, 1);
        assert!(rules.release(&released, &me, 1).is_err(), "released twice");
    }

    #[test]
    fn a_restarted_node_takes_back_only_its_predecessors_rows() {
        let rules = Rules::default();
        let dead = owner("gs1", 1);
        let restarted = owner("gs1", 2);
        let held = rules.claim(&Ownership::free(), &dead, 0, TTL).unwrap();
        let freed = rules.take_back(&held, &restarted).unwrap();
        assert_eq!(freed.holder, Holder::Free);
        assert_eq!(freed.epoch, held.epoch);
        assert!(rules.authorize_write(&freed, &dead, 1).is_err(), "fenced");
        assert_eq!(rules.take_back(&held, &dead), None, "not its own row");
        assert_eq!(
            rules.take_back(&held, &owner("gs2", 9)),
            None,
            "another node"
        );
        let arriving = rules.handoff(&held, &dead, 1, "gs1", 0, TTL).unwrap();
        assert!(rules.take_back(&arriving, &restarted).is_some());
        let elsewhere = rules.handoff(&held, &dead, 1, "gs3", 0, TTL).unwrap();
        assert_eq!(rules.take_back(&elsewhere, &restarted), None);
        assert_eq!(rules.take_back(&Ownership::free(), &restarted), None);
    }

    #[test]
    fn a_renewal_after_the_lease_lapsed_is_refused() {
        let rules = Rules::default();
        let me = owner("gs1", 1);
        let row = rules.claim(&Ownership::free(), &me, 0, TTL).unwrap();
        assert!(rules.renew(&row, &me, 1, TTL - 1, TTL).is_ok());
        assert_eq!(
            rules.renew(&row, &me, 1, TTL, TTL),
            Err(Refused::Fenced {
                current: row.clone()
            })
        );
    }

    #[test]
    fn a_live_node_is_named_only_while_the_lease_runs() {
        let rules = Rules::default();
        let row = rules
            .claim(&Ownership::free(), &owner("gs2", 1), 0, TTL)
            .unwrap();
        assert_eq!(row.live_node(TTL - 1), Some("gs2"));
        assert_eq!(row.live_node(TTL), None);
        assert_eq!(Ownership::free().live_node(0), None);
    }

    #[test]
    fn the_owner_stops_serving_a_margin_before_the_lease_ends() {
        let view = LeaseView {
            lease_until_ms: 10_000,
            skew_margin_ms: 500,
        };
        assert!(view.may_serve(9_499));
        assert!(!view.may_serve(9_500));
    }

    #[test]
    fn a_stale_renewal_is_fenced_unless_the_rules_are_mutated() {
        let zombie = owner("gs1", 1);
        let row = Rules::default()
            .claim(&Ownership::free(), &zombie, 0, TTL)
            .unwrap();
        let retaken = Rules::default()
            .claim(&row, &owner("gs2", 1), TTL, TTL)
            .unwrap();
        let refused = Rules::default().renew(&retaken, &zombie, 1, TTL + 1, TTL);
        assert!(matches!(refused, Err(Refused::Fenced { .. })));
        let mutated = Rules {
            renew_checks_epoch: false,
            ..Rules::default()
        };
        let renewed = mutated.renew(&retaken, &zombie, 1, TTL + 1, TTL).unwrap();
        assert_eq!(renewed.holder, Holder::Held(owner("gs2", 1)));
        assert_eq!(renewed.lease_until_ms, 2 * TTL + 1);
    }
}
