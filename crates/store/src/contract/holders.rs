//! Who holds the rows, for the home server's kuafu marks (DESIGN §6): rows held elsewhere in pages, one row's holder.

use super::*;

/// Rows of a srvno held by other nodes with live leases, in pages ordered by role id.
pub fn rows_held_elsewhere_are_listed_in_pages<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let roles: Vec<RoleId> = (0..5)
        .map(|index| create(&mut store, 1, &format!("p{index}")).roleid)
        .collect();
    let other_srvno = create(&mut store, 2, "far").roleid;
    claim(&mut store, 0, roles[0], &owner("gs2", 1));
    claim(&mut store, 0, roles[1], &owner("gs1", 1)); // the home's own
    claim(&mut store, 0, roles[3], &owner("gs3", 1));
    claim(&mut store, 100, roles[4], &owner("gs2", 1));
    claim(&mut store, 0, other_srvno, &owner("gs2", 1));
    let list = |after: Option<RoleId>, limit: usize| PlayerOp::ListHeldElsewhere {
        srvno: srvno(1),
        except_node: "gs1".to_owned(),
        after,
        limit,
    };
    let first = holders(apply_one(&mut store, 5, list(None, 2)));
    assert_eq!(
        first,
        vec![
            holder(roles[0], Some("gs2"), 1),
            holder(roles[3], Some("gs3"), 1)
        ]
    );
    let second = holders(apply_one(&mut store, 5, list(Some(roles[3]), 2)));
    assert_eq!(second, vec![holder(roles[4], Some("gs2"), 1)]);
    let lapsed = holders(apply_one(&mut store, LEASE_TTL_MS, list(None, 10)));
    assert_eq!(
        lapsed,
        vec![holder(roles[4], Some("gs2"), 1)],
        "leases lapsed"
    );
    let last = RoleId::new(srvno(1), ROLE_SEQ_MAX).unwrap();
    assert!(holders(apply_one(&mut store, 5, list(Some(last), 10))).is_empty());
}

/// One row's holder, by the database's clock: no node once the lease lapsed.
pub fn a_holder_is_read_with_its_lease_by_database_time<H: Harness>(mut harness: H) {
    let mut store = harness.open();
    let created = create(&mut store, 1, "ann");
    let read = |store: &mut H::Store, now| {
        holders(apply_one(
            store,
            now,
            PlayerOp::ReadHolder {
                roleid: created.roleid,
            },
        ))
    };
    assert_eq!(read(&mut store, 0), vec![holder(created.roleid, None, 0)]);
    claim(&mut store, 0, created.roleid, &owner("gs2", 1));
    assert_eq!(
        read(&mut store, 1),
        vec![holder(created.roleid, Some("gs2"), 1)]
    );
    assert_eq!(
        read(&mut store, LEASE_TTL_MS),
        vec![holder(created.roleid, None, 1)],
        "a lapsed lease holds nothing"
    );
    let unknown = apply_one(
        &mut store,
        0,
        PlayerOp::ReadHolder {
            roleid: role(1, 99),
        },
    );
    assert_eq!(unknown, Err(StoreError::UnknownRole(role(1, 99))));
}
