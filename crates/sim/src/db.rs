//! One srvno database of the simulated zone: the model store (`store::model`)
//! behind a thin wrapper that checks every commit against a shadow model,
//! and, on a share of seeds, the real SQLite store in memory beside it,
//! compared op by op.
//!
//! Checked at each commit (cheap, incremental): no acknowledged write is
//! lost (a write applies only on top of the version it descends from); a
//! lease is renewed only for its holder at its epoch; gold and items are
//! conserved (the stored totals equal the sums of the stored
//! ledger lines, and no ledger line is stored twice). Noted: committed
//! handoffs (for the redirect check) and leases taken over (a sometimes
//! property).
//!
//! The database is shared by every node and survives every crash: "durable"
//! is "kept in this value".

use std::collections::BTreeMap;

use ownership::{Holder, OwnerId, Ownership, Rules};
use routing::{RoleId, Srvno};
use store::model::ModelStore;
use store::{FencedWrite, LedgerEntry, LedgerKind, OpOutcome, PlayerOp, PlayerStore, StoreError};

use crate::Property;
use crate::checker::Checker;
use crate::clients::CREDIT_REASON_PREFIX;
use crate::trace::Trace;

/// The running sums of one role's stored ledger.
#[derive(Default)]
struct Shadow {
    gold: i64,
    items: BTreeMap<u32, i64>,
    last_seq: u64,
}

/// One srvno database.
pub struct SimDb {
    model: ModelStore,
    sqlite: Option<Box<dyn PlayerStore>>,
    shadows: BTreeMap<RoleId, Shadow>,
    /// When each row's holder or epoch last changed (database time).
    changed_at_ms: BTreeMap<RoleId, u64>,
}

/// What a commit is checked against, read just before it applies.
enum Before {
    Write {
        data_version: u64,
    },
    Claim {
        holder: Holder,
    },
    /// Whether each renewed lease was held by the renewer at its epoch.
    Renew {
        held: Vec<bool>,
    },
    Nothing,
}

impl SimDb {
    /// An empty database for `srvno`; with `sqlite`, the real SQLite store
    /// runs beside the model (when this build has it).
    pub fn new(srvno: Srvno, rules: Rules, sqlite: bool) -> Self {
        let sqlite = if sqlite {
            crate::sqlite::open_in_memory(srvno, rules)
        } else {
            None
        };
        Self {
            model: ModelStore::new(&[srvno], rules),
            sqlite,
            shadows: BTreeMap::new(),
            changed_at_ms: BTreeMap::new(),
        }
    }

    /// Whether SQLite runs beside the model.
    pub fn has_sqlite(&self) -> bool {
        self.sqlite.is_some()
    }

    /// Creates a role at setup (no checks needed: no writer exists yet).
    pub fn create_role(&mut self, now_ms: u64, account_id: u64, name: &str) -> RoleId {
        let srvno = self
            .model
            .srvnos()
            .next()
            .expect("a database holds a srvno");
        let operation = PlayerOp::CreateRole {
            srvno,
            account_id,
            name: name.to_owned(),
        };
        let mut checker = Checker::default();
        let answer = self.apply(now_ms, &operation, &mut checker);
        assert_eq!(
            checker.take_violation(),
            None,
            "the stores agree on a new role"
        );
        let Ok(OpOutcome::Created(record)) = answer else {
            panic!("creating a role failed: {answer:?}")
        };
        self.shadows.insert(record.roleid, Shadow::default());
        record.roleid
    }

    /// Applies one op at database time `now_ms` and checks the commit.
    pub fn apply(
        &mut self,
        now_ms: u64,
        operation: &PlayerOp,
        checker: &mut Checker,
    ) -> Result<OpOutcome, StoreError> {
        let before = self.before(operation);
        let answer = self
            .model
            .apply(now_ms, std::slice::from_ref(operation))
            .pop()
            .expect("one answer per op");
        if let Some(sqlite) = &mut self.sqlite {
            let other = sqlite
                .apply(now_ms, std::slice::from_ref(operation))
                .pop()
                .expect("one answer per op");
            if other != answer {
                checker.fail(Property::SqliteAgreesWithModel, format!(
                    "SQLite and the model store disagree on {operation:?}: model {answer:?}, SQLite {other:?}"
                ));
            }
        }
        if let Ok(outcome) = &answer {
            self.check_commit(operation, outcome, before, checker);
            if let Some(roleid) = ownership_changed(operation) {
                self.changed_at_ms.insert(roleid, now_ms);
            }
        }
        answer
    }

    fn before(&self, operation: &PlayerOp) -> Before {
        match operation {
            PlayerOp::Save(write) | PlayerOp::Release(write) | PlayerOp::Handoff { write, .. } => {
                self.model
                    .row(write.roleid)
                    .map_or(Before::Nothing, |row| Before::Write {
                        data_version: row.data_version,
                    })
            }
            PlayerOp::Claim { roleid, .. } => {
                self.model
                    .row(*roleid)
                    .map_or(Before::Nothing, |row| Before::Claim {
                        holder: row.ownership.holder.clone(),
                    })
            }
            PlayerOp::RenewLeases { owner, leases, .. } => Before::Renew {
                held: leases
                    .iter()
                    .map(|(roleid, epoch)| {
                        self.model.row(*roleid).is_some_and(|row| {
                            let ownership = &row.ownership;
                            ownership.epoch == *epoch
                                && matches!(&ownership.holder, Holder::Held(holder) if holder == owner)
                        })
                    })
                    .collect(),
            },
            _ => Before::Nothing,
        }
    }

    fn check_commit(
        &mut self,
        operation: &PlayerOp,
        answer: &OpOutcome,
        before: Before,
        checker: &mut Checker,
    ) {
        match (operation, before) {
            (PlayerOp::RenewLeases { owner, .. }, Before::Renew { held }) => {
                check_renewal(owner, answer, &held, checker);
            }
            (PlayerOp::Save(write) | PlayerOp::Release(write), Before::Write { data_version }) => {
                self.check_write(write, data_version, checker);
            }
            (PlayerOp::Handoff { write, to, .. }, Before::Write { data_version }) => {
                self.check_write(write, data_version, checker);
                checker.handoff_committed(write.roleid, &write.owner, to);
            }
            (PlayerOp::Claim { owner, roleid, .. }, Before::Claim { holder }) => {
                self.check_claim_credits(*roleid, checker);
                // Another owner (live or dead) held it and its lease ran out:
                // the rules admit no other way for the claim to succeed.
                if matches!(holder, Holder::Held(previous) if previous != *owner) {
                    checker.lease_taken_over();
                }
            }
            _ => {}
        }
    }

    /// No lost write, and conservation, for a committed fenced write.
    fn check_write(
        &mut self,
        write: &FencedWrite,
        data_version_before: u64,
        checker: &mut Checker,
    ) {
        let roleid = write.roleid;
        if write.base_version != data_version_before {
            checker.fail(Property::NoAcknowledgedWriteLost, format!(
                "acknowledged write lost: role {roleid} was at data_version {data_version_before} and {} \
                 (epoch {}) overwrote it with data based on version {}",
                write.owner, write.epoch, write.base_version
            ));
        }
        self.account_lines(roleid, &write.ledger, checker);
    }

    /// Conservation for ledger lines `lines` of `roleid` just committed:
    /// each stored once, in order, and the row's gold and items equal the
    /// stored ledger's sums.
    fn account_lines(&mut self, roleid: RoleId, lines: &[LedgerEntry], checker: &mut Checker) {
        let shadow = self.shadows.entry(roleid).or_default();
        for entry in lines {
            if entry.seq <= shadow.last_seq {
                checker.fail(
                    Property::GoldAndItemsConserved,
                    format!(
                        "role {roleid}: ledger line {} stored twice or out of order",
                        entry.seq
                    ),
                );
            }
            shadow.last_seq = entry.seq;
            checker.ledger_line_stored(roleid, entry);
            if let Some(request) = credit_request(entry) {
                checker.credit_stored(roleid, request, entry.delta);
            }
            match entry.kind {
                LedgerKind::Gold => shadow.gold += entry.delta,
                LedgerKind::Item(item_type) => {
                    *shadow.items.entry(item_type).or_default() += entry.delta
                }
            }
        }
        let row = self.model.row(roleid).expect("a committed row exists");
        if i64::try_from(row.data.gold) != Ok(shadow.gold) {
            checker.fail(Property::GoldAndItemsConserved, format!(
                "role {roleid}: stored gold {} but the stored ledger sums to {} (duplicated or lost gold)",
                row.data.gold, shadow.gold
            ));
        }
        let item_types = shadow.items.values().filter(|count| **count != 0).count();
        let items_match = item_types == row.data.items.len()
            && row.data.items.iter().all(|stack| {
                shadow.items.get(&stack.item_type).copied() == i64::try_from(stack.count).ok()
            });
        if !items_match {
            checker.fail(
                Property::GoldAndItemsConserved,
                format!(
                    "role {roleid}: stored items {:?} do not match the stored ledger {:?}",
                    row.data.items, shadow.items
                ),
            );
        }
    }

    /// A claim credits the receiver's inbox (DESIGN §9): its ledger lines
    /// are accounted like a write's.
    fn check_claim_credits(&mut self, roleid: RoleId, checker: &mut Checker) {
        let last_seq = self
            .shadows
            .get(&roleid)
            .map_or(0, |shadow| shadow.last_seq);
        let ledger = self.model.ledger(roleid);
        let credited: Vec<LedgerEntry> = ledger
            .iter()
            .filter(|line| line.seq > last_seq)
            .cloned()
            .collect();
        if !credited.is_empty() {
            self.account_lines(roleid, &credited, checker);
        }
    }

    /// The ownership columns of `roleid`'s row, if it exists: the authority
    /// the checkers judge the nodes against.
    pub fn ownership(&self, roleid: RoleId) -> Option<&Ownership> {
        self.model.row(roleid).map(|row| &row.ownership)
    }

    /// When the holder or epoch of `roleid`'s row last changed (database
    /// time; 0 if never since setup).
    pub fn changed_at_ms(&self, roleid: RoleId) -> u64 {
        self.changed_at_ms.get(&roleid).copied().unwrap_or(0)
    }

    /// Folds the final contents into the trace hash.
    pub fn hash_into(&self, trace: &mut Trace) {
        for row in self.model.rows() {
            let ledger = self.model.ledger(row.roleid).len() as u64;
            trace.add(&[
                row.roleid.get(),
                row.data_version,
                row.ownership.epoch,
                row.data.gold,
                ledger,
            ]);
        }
    }
}

/// The player's request a gold ledger line answers, if it names one.
fn credit_request(entry: &LedgerEntry) -> Option<u64> {
    if entry.kind != LedgerKind::Gold {
        return None;
    }
    entry
        .reason
        .strip_prefix(CREDIT_REASON_PREFIX)?
        .parse()
        .ok()
}

/// Every lease the store renewed was held by the renewer at its epoch (a
/// zombie's renewal must not extend another holder's lease).
fn check_renewal(owner: &OwnerId, answer: &OpOutcome, held: &[bool], checker: &mut Checker) {
    let OpOutcome::Renewed(results) = answer else {
        return;
    };
    for ((roleid, result), held) in results.iter().zip(held) {
        if result.is_ok() && !held {
            checker.fail(
                Property::LeaseRenewedOnlyByHolder,
                format!("the store renewed role {roleid}'s lease for {owner}, which does not hold it at that epoch"),
            );
        }
    }
}

/// The role whose holder or epoch a committed `operation` changes, if any.
fn ownership_changed(operation: &PlayerOp) -> Option<RoleId> {
    match operation {
        PlayerOp::Claim { roleid, .. } => Some(*roleid),
        PlayerOp::Handoff { write, .. } | PlayerOp::Release(write) => Some(write.roleid),
        _ => None,
    }
}
