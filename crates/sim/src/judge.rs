//! The run's checks over the whole zone, judged against the authority (the
//! store's rows and the database's clock), not the nodes' beliefs (DESIGN
//! §14): after every step, every writable copy matches its row; at every
//! acknowledged call, the node may write the player; after healing, the data
//! center's current servers converge to the rows. The judgements themselves
//! are pure functions in [`crate::checker`].

use crate::Property;
use crate::checker::writable_copy_mismatch;
use crate::world::{DATACENTER_CONVERGENCE_BOUND_MS, Phase, World, db_of, srvname};

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
    /// center's current servers match the rows, or fails when they do not
    /// within [`DATACENTER_CONVERGENCE_BOUND_MS`].
    pub(crate) fn await_convergence(&mut self) {
        let Some((property, why)) = self.datacenter_divergence() else {
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
