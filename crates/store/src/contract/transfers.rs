//! Transfers (转服, DESIGN §7): the old row fenced, exported and sealed,
//! each step idempotent; the copy imported whole into another database,
//! keeping its id, and played on there. The other database is a
//! [`ModelStore`](crate::model::ModelStore) (the suite's harness opens one
//! database), the reference every backend agrees with.

use super::*;
use crate::model::ModelStore;
use crate::{RoleExport, WrittenLine};

fn export_op(roleid: RoleId, to: u32) -> PlayerOp {
    PlayerOp::ExportRole {
        roleid,
        to: srvno(to),
    }
}

fn exported(result: Result<OpOutcome, StoreError>) -> RoleExport {
    match result {
        Ok(OpOutcome::Exported(export)) => *export,
        other => panic!("export: {other:?}"),
    }
}

fn transferred(roleid: RoleId, to: u32) -> Result<OpOutcome, StoreError> {
    Err(StoreError::Transferred {
        roleid,
        to: srvno(to),
    })
}

/// A role played and logged off in `store`: 30 gold earned by `gs1`.
fn played(store: &mut impl PlayerStore, srvno_number: u32) -> PlayerRecord {
    let me = owner("gs1", 1);
    let created = create(store, srvno_number, "ann");
    let copy = claim(store, 0, created.roleid, &me);
    let write = earn(&copy, &me, 1, 30);
    written(apply_one(store, 1, PlayerOp::Release(write)));
    claim_free_copy(store, created.roleid)
}

/// The row as a read-only load shows it.
fn claim_free_copy(store: &mut impl PlayerStore, roleid: RoleId) -> PlayerRecord {
    let player = load(store, 2, roleid);
    PlayerRecord {
        roleid,
        data: player.data,
        data_version: player.data_version,
        ownership: player.ownership,
    }
}

/// An online role is not exported; an offline one is fenced (free, epoch
/// raised), exported whole with its ledger's writers, and never claimed
/// again; the export repeats, a move elsewhere is refused naming the new
/// home, the seal repeats, and all of it survives a reopen.
pub fn a_transfer_fences_exports_and_seals_the_old_row_idempotently<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let me = owner("gs1", 1);
    let record = played(&mut store, 1);
    let roleid = record.roleid;
    claim(&mut store, 10, roleid, &me);
    let online = apply_one(&mut store, 11, export_op(roleid, 3));
    assert!(matches!(refusal(online), Refused::HeldElsewhere { .. }));
    let after_lease = 10 + LEASE_TTL_MS;
    let export = exported(apply_one(&mut store, after_lease, export_op(roleid, 3)));
    assert_eq!(export.record.data, record.data);
    assert_eq!(
        export.record.ownership,
        Ownership {
            holder: Holder::Free,
            epoch: 3,
            lease_until_ms: 0
        }
    );
    let lines: Vec<LedgerEntry> = export
        .ledger
        .iter()
        .map(|line| line.entry.clone())
        .collect();
    assert_eq!(lines, H::ledger(&store, roleid));
    assert!(
        export
            .ledger
            .iter()
            .all(|line| matches!(&line.writer, Some((writer, 1)) if *writer == me))
    );
    let mut store = fenced_row_refuses_writes_claims_and_other_targets(store, &export, after_lease);
    let seal = PlayerOp::SealTransfer {
        roleid,
        to: srvno(3),
    };
    let sealed = Ok(OpOutcome::Transferred { copied: false });
    assert_eq!(apply_one(&mut store, after_lease, seal.clone()), sealed);
    let mut store = harness.reopen(store);
    assert_eq!(apply_one(&mut store, after_lease, seal), sealed);
    assert_eq!(
        apply_one(&mut store, after_lease, claim_op(roleid, &me)),
        transferred(roleid, 3)
    );
    assert_eq!(
        exported(apply_one(&mut store, after_lease, export_op(roleid, 3))),
        export
    );
    let other = create(&mut store, 1, "bob").roleid;
    let unmarked = PlayerOp::SealTransfer {
        roleid: other,
        to: srvno(3),
    };
    assert_eq!(
        apply_one(&mut store, 0, unmarked),
        Err(StoreError::TransferNotStarted(other))
    );
}

/// After the export: the old owner's write is fenced, a claim is refused
/// naming the new home, the export repeats, a move elsewhere is refused.
fn fenced_row_refuses_writes_claims_and_other_targets<S: PlayerStore>(
    mut store: S,
    export: &RoleExport,
    now: u64,
) -> S {
    let (me, roleid) = (owner("gs1", 1), export.record.roleid);
    let stale = PlayerOp::Save(earn(&export.record, &me, 2, 1));
    assert!(matches!(
        refusal(apply_one(&mut store, now, stale)),
        Refused::Fenced { .. }
    ));
    assert_eq!(
        apply_one(&mut store, now, claim_op(roleid, &me)),
        transferred(roleid, 3)
    );
    assert_eq!(
        &exported(apply_one(&mut store, now, export_op(roleid, 3))),
        export
    );
    assert_eq!(
        apply_one(&mut store, now, export_op(roleid, 2)),
        transferred(roleid, 3)
    );
    store
}

/// A role exported from another database (srvno 3, which this one does not
/// hold) is imported with its id, data and ledger, once; it is claimed and
/// played here, no srvno sequence moved; a copy never replaces a row a
/// transfer marked.
pub fn an_imported_role_keeps_its_id_data_and_ledger_and_plays_on<H: Harness>(mut harness: H) {
    let mut elsewhere = ModelStore::new(&[srvno(3)], Rules::default());
    let record = played(&mut elsewhere, 3);
    let export = exported(apply_one(&mut elsewhere, 5, export_op(record.roleid, 1)));
    let mut store = harness.open();
    let import = || PlayerOp::ImportRole(Box::new(export.clone()));
    assert_eq!(
        apply_one(&mut store, 5, import()),
        Ok(OpOutcome::Transferred { copied: true })
    );
    assert_eq!(
        apply_one(&mut store, 5, import()),
        Ok(OpOutcome::Transferred { copied: false })
    );
    let mut store = harness.reopen(store);
    assert_eq!(load(&mut store, 5, record.roleid).data, record.data);
    let lines: Vec<LedgerEntry> = export
        .ledger
        .iter()
        .map(|line| line.entry.clone())
        .collect();
    assert_eq!(H::ledger(&store, record.roleid), lines);
    let me = owner("gs2", 7);
    let copy = claim(&mut store, 6, record.roleid, &me);
    assert_eq!(copy.ownership.epoch, export.record.ownership.epoch + 1);
    let (_, _) = written(apply_one(
        &mut store,
        7,
        PlayerOp::Save(earn(&copy, &me, copy.ownership.epoch, 5)),
    ));
    assert_eq!(
        load(&mut store, 8, record.roleid).data.gold,
        record.data.gold + 5
    );
    assert_eq!(
        create(&mut store, 1, "new").roleid,
        role(1, 1),
        "no sequence moved"
    );
    let own = played(&mut store, 2);
    let own_export = exported(apply_one(&mut store, 9, export_op(own.roleid, 3)));
    let back = PlayerOp::ImportRole(Box::new(RoleExport {
        ledger: Vec::<WrittenLine>::new(),
        ..own_export
    }));
    assert_eq!(apply_one(&mut store, 9, back), transferred(own.roleid, 3));
}
