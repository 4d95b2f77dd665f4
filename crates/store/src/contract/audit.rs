//! The ledger audit of the SQL backends (each backend's own test runs it:
//! the model store keeps no ledger table to audit): a clean ledger, then
//! one broken three ways by SQL both backends accept.

use routing::RoleId;

use crate::audit::AuditReport;
use crate::{PlayerOp, PlayerStore};

use super::{claim_op, create, earn, owner};

/// Creates two roles, `ann` and `bob`, each claimed by `gs1` (epoch 1) and
/// saved once with 7 gold (one ledger line); returns their ids.
pub fn two_audited_roles(store: &mut impl PlayerStore) -> (RoleId, RoleId) {
    let holder = owner("gs1", 1);
    let [ann, bob] = ["ann", "bob"].map(|name| {
        let record = create(store, 1, name);
        let claimed = store
            .apply(0, &[claim_op(record.roleid, &holder)])
            .remove(0);
        assert!(claimed.is_ok(), "{claimed:?}");
        let saved = store.apply(0, &[PlayerOp::Save(earn(&record, &holder, 1, 7))]);
        assert!(saved[0].is_ok(), "{saved:?}");
        record.roleid
    });
    (ann, bob)
}

/// Checks the audit of [`two_audited_roles`], untouched: clean.
pub fn assert_clean_audit(report: &AuditReport) {
    assert_eq!((report.roles, report.ledger_lines), (2, 2));
    assert_eq!(report.problems(), 0, "{report:?}");
}

/// SQL that breaks the ledger of [`two_audited_roles`]: bob's line gets
/// another delta and loses its writer, and a line of epoch 5 is forged
/// before it (so bob's line 1 goes back to epoch 1); ann gets a forged line
/// in epoch 1 by another writer (`gs2`), with a sequence number from the
/// future.
pub fn forge_ledger_sql(ann: RoleId, bob: RoleId) -> String {
    format!(
        "UPDATE ledger SET delta = 8, writer_node = NULL WHERE roleid = {bob}; \
         INSERT INTO ledger VALUES ({bob}, 0, 'gold', NULL, 0, 'forged', 'gs1', 1, 5); \
         INSERT INTO ledger VALUES ({ann}, 2, 'gold', NULL, 0, 'forged', 'gs2', 1, 1)",
        ann = ann.get(),
        bob = bob.get()
    )
}

/// Checks the audit after [`forge_ledger_sql`]: both roles mismatch, one
/// line has no writer, ann's epoch 1 has two writers, and bob's line 1
/// goes back.
pub fn assert_forged_audit(report: &AuditReport, ann: RoleId, bob: RoleId) {
    let found: Vec<_> = report
        .mismatches
        .iter()
        .map(|(roleid, _)| *roleid)
        .collect();
    assert_eq!(found, [ann, bob], "{:?}", report.mismatches);
    assert_eq!(report.lines_without_writer, 1);
    assert_eq!(report.epochs_with_two_writers, [(ann, 1)]);
    assert_eq!(report.epochs_going_back, [(bob, 1)]);
}
