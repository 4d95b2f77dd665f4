//! The run's checks over the whole zone, judged against the authority (the
//! store's rows and the database's clock), not the nodes' beliefs (DESIGN
//! §14): after every step, every writable copy matches its row; at every
//! acknowledged call, the node may write the player; after healing, the data
//! center's current servers converge to the rows. The judgements themselves
//! are pure functions in [`crate::checker`].

use ownership::Holder;
use routing::RoleId;

use crate::Property;
use crate::checker::{mark_mismatch, writable_copy_mismatch};
use crate::store_link::STORE_TIMEOUT_MS;
use crate::world::{DATACENTER_CONVERGENCE_BOUND_MS, LEASE_TTL_MS, Phase, World, db_of, srvname};

/// A held row with less lease left than this is in flux (its holder stopped
/// renewing): its marks are not judged. A holder that renews keeps more.
pub const MARK_SETTLED_LEASE_MS: u64 = LEASE_TTL_MS / 2;

impl World {
    /// Every copy a live core treats as writable (by its own clock) matches
    /// the player's row in the store: held by that incarnation, at that
    /// epoch, with a lease live by the database's clock (DESIGN §14: judged
    /// against the authority, not the node's belief). So no two nodes can
    /// write one player.
    pub(crate) fn check_writable_copies(&mut self) {
        let mismatch = self.nodes.iter().find_map(|slot| {
            let core = slot.core.as_ref()?;
            let own = slot.own_now(self.now_ms);
            core.writable_players(own).find_map(|(roleid, epoch)| {
                let row = self.dbs.get(db_of(roleid))?.ownership(roleid);
                let why = writable_copy_mismatch(core.owner(), epoch, row, self.now_ms)?;
                Some(format!("role {roleid} on {}: {why}", slot.name))
            })
        });
        if let Some(what) = mismatch {
            self.checker.fail(Property::WritableCopyMatchesRow, what);
        }
    }

    /// Every player is playable after healing: the run ends once the data
    /// center's current servers and the home servers' kuafu marks match the
    /// rows and every gift in flight at the healing is credited, or fails when they do not within
    /// [`DATACENTER_CONVERGENCE_BOUND_MS`].
    pub(crate) fn await_convergence(&mut self) {
        let divergence = self
            .datacenter_divergence()
            .or_else(|| self.marks_divergence())
            .or_else(|| {
                let why = self.checker.gift_undelivered_since_heal()?;
                Some((Property::GiftsDeliveredAfterHealing, why))
            });
        let Some((property, why)) = divergence else {
            self.phase = Phase::Finished;
            return;
        };
        let converge_by_ms = *self
            .converge_by_ms
            .get_or_insert(self.now_ms + DATACENTER_CONVERGENCE_BOUND_MS);
        if self.now_ms >= converge_by_ms {
            let what = format!(
                "{DATACENTER_CONVERGENCE_BOUND_MS}ms after every player was playable: {why}"
            );
            self.violate(property, what);
        }
    }

    /// The first player whose home server's kuafu mark does not match its
    /// row (see [`mark_mismatch`]).
    fn marks_divergence(&self) -> Option<(Property, String)> {
        self.clients.iter().find_map(|client| {
            let roleid = client.roleid;
            let home = db_of(roleid);
            let row = self.dbs[home].ownership(roleid)?;
            let core = self.nodes[home].core.as_ref()?;
            let mark = core.kuafu_mark(roleid);
            let name = &self.nodes[home].name;
            let why = mark_mismatch(name, row, self.now_ms, MARK_SETTLED_LEASE_MS, mark)?;
            let what = format!("role {roleid}, home {name}: {why}");
            Some((Property::MarksConvergeToRows, what))
        })
    }

    /// The heartbeat of home server `home` cleared the kuafu mark of
    /// `roleid`: the row must not say the player is away, held with a live
    /// lease by a server that serves it. The row the home read is at most a
    /// store deadline old (plus a pause of the home); a row that changed
    /// since is in flux and not judged.
    pub(crate) fn check_mark_cleared(&mut self, home: usize, roleid: RoleId) {
        let db = &self.dbs[db_of(roleid)];
        let Some(row) = db.ownership(roleid) else {
            return;
        };
        let Holder::Held(owner) = &row.holder else {
            return;
        };
        let read_age_max_ms = STORE_TIMEOUT_MS + self.mix.pause_max_ms;
        let settled = db.changed_at_ms(roleid) + read_age_max_ms < self.now_ms;
        if owner.node == self.nodes[home].name || row.lease_expired(self.now_ms) || !settled {
            return;
        }
        // A renewal that lands after the lease lapsed revives the row for a
        // holder that already dropped the player: its mark may go.
        let serving = self.nodes.iter().any(|slot| {
            slot.core
                .as_ref()
                .is_some_and(|core| core.owner() == owner && core.is_online(roleid))
        });
        if !serving {
            return;
        }
        let what = format!(
            "{} cleared the mark of role {roleid} while the row, unchanged since {}, is held by {owner} at epoch {} until {}",
            self.nodes[home].name,
            db.changed_at_ms(roleid),
            row.epoch,
            row.lease_until_ms
        );
        self.checker.fail(Property::MarkClearedOnlyByRow, what);
    }

    /// A node acknowledges a gameplay change only while it may write the
    /// player (DESIGN §5: an owner stops serving once its lease could have
    /// expired).
    pub(crate) fn check_serving(&mut self, node: usize, session: u64) {
        let Some(client) = self.links.get(&session).and_then(|link| link.client) else {
            return;
        };
        let roleid = self.clients[client].roleid;
        let slot = &self.nodes[node];
        let own = slot.own_now(self.now_ms);
        let core = slot.core.as_ref().expect("live");
        if !core
            .writable_players(own)
            .any(|(writable, _)| writable == roleid)
        {
            self.checker.fail(
                Property::ServesOnlyWhileWritable,
                format!(
                    "{} acknowledged a call for role {roleid} while it may not write it (lease lapsed or not held)",
                    srvname(node)
                ),
            );
        }
    }
}
