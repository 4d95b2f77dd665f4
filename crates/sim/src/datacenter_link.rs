//! The data center in the simulated zone: the production
//! [`DataCenterCore`] (crate `datacentercore`) driven as the `datacenter`
//! shell drives it, on the simulated bus.
//!
//! A request reaching the data center becomes `handle_request`; the run
//! drains `poll_output()` after every input, sends each reply back over the
//! bus (with its loss, delay and cuts) and carries each batch to the data
//! center's own database (`datacenter.db`, local to the node, so no
//! partition cuts it): the write takes a store latency and, at the seed's
//! not-applied rate, fails, and its outcome comes back through
//! `handle_record_answer`. The data center is cut off by partitions but does
//! not crash.
//!
//! After healing, the run checks the data center against the authority:
//! each player's recorded current server must match its row
//! ([`crate::checker::datacenter_judgement`]). To tell whose fault a
//! mismatch is, the link keeps every note the core acknowledged.

use std::collections::BTreeMap;

use datacentercore::{BatchId, Current, DataCenterCore, Output, RecordError, RequestId};
use routing::RoleId;
use wire::node::NodeMessage;
use wire::node::node_message::Body;

use crate::Property;
use crate::checker::{Acknowledged, datacenter_judgement};
use crate::fault_kinds::FaultKind;
use crate::queue::SimEvent;
use crate::world::{Endpoint, World, db_of};

/// The data center: its core and the callers waiting for its answers.
pub(crate) struct DataCenterLink {
    core: DataCenterCore,
    callers: BTreeMap<RequestId, Caller>,
    next_request: u64,
    acknowledged: Acknowledged,
}

/// Who sent a request the core has not answered yet, and the note it
/// carries (a well-formed `SetCurrent`).
struct Caller {
    endpoint: Endpoint,
    incarnation: u64,
    call: u64,
    note: Option<(RoleId, Current)>,
}

impl Default for DataCenterLink {
    fn default() -> Self {
        Self {
            core: DataCenterCore::new([]),
            callers: BTreeMap::new(),
            next_request: 1,
            acknowledged: Acknowledged::default(),
        }
    }
}

impl World {
    /// A request reached the data center.
    pub(crate) fn datacenter_request(
        &mut self,
        from: Endpoint,
        incarnation: u64,
        call: u64,
        message: NodeMessage,
    ) {
        let link = &mut self.datacenter;
        let request = RequestId(link.next_request);
        link.next_request += 1;
        let caller = Caller {
            endpoint: from,
            incarnation,
            call,
            note: note_of(&message),
        };
        link.callers.insert(request, caller);
        link.core.handle_request(request, message);
        self.after_datacenter();
    }

    /// The data center's database finished writing `batch`.
    pub(crate) fn datacenter_written(&mut self, batch: u64) -> bool {
        self.trace.add(&[self.now_ms, 24, batch]);
        let answer = if self.prng.chance(self.mix.not_applied_ppm) {
            self.inject(FaultKind::NotApplied);
            Err(RecordError("commit failed: not applied".to_owned()))
        } else {
            Ok(())
        };
        self.log(|| format!("datacenter: batch {batch} written: {answer:?}"));
        self.datacenter
            .core
            .handle_record_answer(BatchId(batch), answer);
        self.after_datacenter();
        true
    }

    /// Carries out the core's outputs: replies over the bus, batches to the
    /// database.
    fn after_datacenter(&mut self) {
        while let Some(output) = self.datacenter.core.poll_output() {
            match output {
                Output::Reply { request, message } => {
                    let Some(caller) = self.datacenter.callers.remove(&request) else {
                        continue;
                    };
                    if let (Some((roleid, note)), Some(Body::Ack(_))) =
                        (&caller.note, &message.body)
                    {
                        self.datacenter.acknowledged.record(*roleid, note);
                    }
                    let Caller {
                        endpoint,
                        incarnation,
                        call,
                        ..
                    } = caller;
                    let answer = Ok(message);
                    self.answer(Endpoint::DataCenter, endpoint, incarnation, call, answer);
                }
                // No simulated node subscribes to summaries yet.
                Output::Push { .. } => {}
                Output::RecordTransfer(_) | Output::Publish { .. } => {
                    unreachable!("the simulated zone transfers no role")
                }
                Output::Record { batch, notes, .. } => {
                    self.log(|| format!("datacenter: writes batch {}: {notes:?}", batch.0));
                    let at = self.now_ms + self.store_latency();
                    self.queue
                        .push(at, SimEvent::DataCenterWritten { batch: batch.0 });
                }
            }
        }
    }

    /// The first player whose current server at the data center does not
    /// match its row, as the property it breaks and why.
    pub(crate) fn datacenter_divergence(&self) -> Option<(Property, String)> {
        self.clients.iter().find_map(|client| {
            let roleid = client.roleid;
            let row = self.dbs[db_of(roleid)].ownership(roleid)?;
            let recorded = self.datacenter.core.current(roleid);
            let told = self.datacenter.acknowledged.states(roleid, row);
            datacenter_judgement(roleid, row, self.now_ms, recorded, told)
        })
    }
}

/// The role and note of a well-formed `SetCurrent`.
fn note_of(message: &NodeMessage) -> Option<(RoleId, Current)> {
    let Some(Body::SetCurrent(note)) = &message.body else {
        return None;
    };
    let roleid = RoleId::from_raw(note.roleid).ok()?;
    let current = Current {
        srvname: note.srvname.clone(),
        online: note.online,
        epoch: note.epoch,
    };
    Some((roleid, current))
}
