//! Deciding one batch of notes against the recorded state: which
//! current-server notes win (by the owner's epoch), which profile updates
//! win (by the owner's `(epoch, seq)`), and the summary versions the
//! accepted changes get — one more per change, in the order the notes
//! arrived, so the pushes after the batch is durable carry every version.

use std::collections::BTreeMap;

use routing::RoleId;
use wire::node::Summary;

use crate::summaries::{self, SummaryRecord};
use crate::{Current, CurrentNote, Note, RequestId};

/// What a batch decided.
pub(crate) struct Decided {
    /// The requests it answers.
    pub(crate) requests: Vec<RequestId>,
    /// The current-server records to write.
    pub(crate) records: BTreeMap<RoleId, Current>,
    /// The summary records to write.
    pub(crate) summaries: BTreeMap<RoleId, SummaryRecord>,
    /// Every accepted change, as pushed, in order.
    pub(crate) changes: Vec<Summary>,
}

/// The batch's view: what it decided so far over the recorded state.
struct View<'a> {
    current: &'a BTreeMap<RoleId, Current>,
    summaries: &'a BTreeMap<RoleId, SummaryRecord>,
    decided: Decided,
}

impl View<'_> {
    fn current(&self, roleid: RoleId) -> Option<&Current> {
        self.decided
            .records
            .get(&roleid)
            .or_else(|| self.current.get(&roleid))
    }

    fn summary(&self, roleid: RoleId) -> SummaryRecord {
        self.decided
            .summaries
            .get(&roleid)
            .or_else(|| self.summaries.get(&roleid))
            .cloned()
            .unwrap_or_else(|| SummaryRecord::empty(roleid))
    }

    /// A current-server note: it wins unless it is of an older epoch (notes
    /// of one epoch apply in order); it changes the summary when the server
    /// or the online flag differs.
    fn current_note(&mut self, note: CurrentNote) {
        let recorded = self.current(note.roleid);
        if recorded.is_some_and(|recorded| note.current.epoch < recorded.epoch) {
            return;
        }
        let moved = recorded.is_none_or(|recorded| {
            (&recorded.srvname, recorded.online) != (&note.current.srvname, note.current.online)
        });
        self.decided.records.insert(note.roleid, note.current);
        if moved {
            let record = self.summary(note.roleid);
            self.changed(record);
        }
    }

    /// A profile update: it wins when newer than the recorded one by the
    /// owner's `(epoch, seq)`; it changes the summary when the profile
    /// differs.
    fn profile_note(&mut self, note: summaries::ProfileNote) {
        let mut record = self.summary(note.roleid);
        if !note.supersedes(Some(&record)) {
            return;
        }
        (record.epoch, record.seq) = (note.epoch, note.seq);
        if record.profile == note.profile {
            self.decided.summaries.insert(note.roleid, record);
        } else {
            record.profile = note.profile;
            self.changed(record);
        }
    }

    /// Gives `record` the next version and keeps the change to push.
    fn changed(&mut self, mut record: SummaryRecord) {
        record.version += 1;
        let change = summaries::wire_summary(&record, self.current(record.roleid));
        self.decided.changes.push(change);
        self.decided.summaries.insert(record.roleid, record);
    }
}

/// Decides `notes` against the recorded `current` and `summaries`.
pub(crate) fn decide(
    current: &BTreeMap<RoleId, Current>,
    summaries: &BTreeMap<RoleId, SummaryRecord>,
    notes: Vec<(RequestId, Note)>,
) -> Decided {
    let mut view = View {
        current,
        summaries,
        decided: Decided {
            requests: Vec::with_capacity(notes.len()),
            records: BTreeMap::new(),
            summaries: BTreeMap::new(),
            changes: Vec::new(),
        },
    };
    for (request, note) in notes {
        view.decided.requests.push(request);
        match note {
            Note::Current(note) => view.current_note(note),
            Note::Profile(note) => view.profile_note(note),
        }
    }
    view.decided
}

/// The current-server records as the store takes them.
pub(crate) fn current_notes(records: &BTreeMap<RoleId, Current>) -> Vec<CurrentNote> {
    records
        .iter()
        .map(|(roleid, current)| CurrentNote {
            roleid: *roleid,
            current: current.clone(),
        })
        .collect()
}
