//! The routing store contract ([`RoutingStore`]): what the data center
//! relies on, for every backend. [`routing_contract_suite!`](crate::routing_contract_suite)
//! instantiates it for one backend, like the player suite.

use datacentercore::{Current, CurrentNote, Profile, TransferWrite};
use routing::{RoleId, Router, Srvno, Transfer};

use crate::{RoutingStore, SummaryRecord};

/// What the routing suite needs from a backend.
pub trait RoutingHarness {
    /// The store under test.
    type Store: RoutingStore;
    /// A new session (connection) on the harness's database; every call
    /// opens the same database, so dropping a store then opening one is a
    /// restart.
    fn open_routes(&mut self) -> Self::Store;
}

/// Instantiates every routing contract test for one backend:
/// `routing_contract_suite!(name, harness)` makes a module `name` with one
/// `#[test]` per test, each on the `Option<impl RoutingHarness>` that
/// `harness` evaluates to (`None` skips).
#[macro_export]
macro_rules! routing_contract_suite {
    ($module:ident, $harness:expr) => {
        $crate::contract_tests!(
            $module,
            $harness;
            a_new_routing_store_loads_nothing,
            routing_records_load_back_ordered_by_role_id_after_a_reopen,
            a_routing_record_replaces_its_roles_record,
            a_batch_naming_a_role_twice_keeps_the_later_record,
            a_large_routing_batch_is_written_whole,
            summaries_load_back_whole_ordered_by_role_id_after_a_reopen,
            a_summary_record_replaces_its_roles_and_leaves_current_records_alone,
            a_batch_naming_a_summary_twice_keeps_the_later_one,
            the_transfer_table_loads_back_at_its_latest_version_after_a_reopen,
        );
    };
}

/// Records in one batch beyond any backend's statement size.
const LARGE_BATCH: u64 = 5_000;

fn record(raw: u64, srvname: &str, online: bool, epoch: u64) -> CurrentNote {
    CurrentNote {
        roleid: RoleId::from_raw(raw).unwrap(),
        current: Current {
            srvname: srvname.to_owned(),
            online,
            epoch,
        },
    }
}

/// A new database holds no record.
pub fn a_new_routing_store_loads_nothing<H: RoutingHarness>(mut harness: H) {
    assert_eq!(harness.open_routes().load().unwrap(), Vec::new());
}

/// What was recorded is loaded back after a restart, ordered by role id
/// whatever order it was written in, every field whole (an epoch above
/// `i64::MAX` too).
pub fn routing_records_load_back_ordered_by_role_id_after_a_reopen<H: RoutingHarness>(
    mut harness: H,
) {
    let mut store = harness.open_routes();
    let written = [
        record(2_000_001, "gs2", false, 1),
        record(1_000_002, "跨服-1", true, u64::MAX - 1),
        record(1_000_001, "gs1", true, 7),
    ];
    store.record(&written[..2]).unwrap();
    store.record(&written[2..]).unwrap();
    drop(store);
    let loaded = harness.open_routes().load().unwrap();
    assert_eq!(
        loaded,
        vec![written[2].clone(), written[1].clone(), written[0].clone()]
    );
}

/// A later batch replaces a role's record (server, online and epoch), and
/// leaves the other roles' records alone.
pub fn a_routing_record_replaces_its_roles_record<H: RoutingHarness>(mut harness: H) {
    let mut store = harness.open_routes();
    store
        .record(&[
            record(1_000_001, "gs1", true, 1),
            record(2_000_001, "gs2", true, 1),
        ])
        .unwrap();
    store.record(&[record(1_000_001, "gs2", false, 2)]).unwrap();
    drop(store);
    assert_eq!(
        harness.open_routes().load().unwrap(),
        vec![
            record(1_000_001, "gs2", false, 2),
            record(2_000_001, "gs2", true, 1)
        ]
    );
}

/// One batch naming a role twice keeps the record written later in it.
pub fn a_batch_naming_a_role_twice_keeps_the_later_record<H: RoutingHarness>(mut harness: H) {
    let mut store = harness.open_routes();
    store
        .record(&[
            record(1_000_001, "gs1", true, 1),
            record(3_000_001, "gs3", true, 4),
            record(1_000_001, "gs2", true, 2),
        ])
        .unwrap();
    assert_eq!(
        store.load().unwrap(),
        vec![
            record(1_000_001, "gs2", true, 2),
            record(3_000_001, "gs3", true, 4)
        ]
    );
}

/// A batch of thousands of records is written whole.
pub fn a_large_routing_batch_is_written_whole<H: RoutingHarness>(mut harness: H) {
    let mut store = harness.open_routes();
    let written: Vec<CurrentNote> = (1..=LARGE_BATCH)
        .map(|seq| record(1_000_000 + seq, "gs1", seq % 2 == 0, seq))
        .collect();
    store.record(&written).unwrap();
    drop(store);
    assert_eq!(harness.open_routes().load().unwrap(), written);
}

fn summary(raw: u64, version: u64, level: u32, fields: &[(&str, &str)]) -> SummaryRecord {
    SummaryRecord {
        roleid: RoleId::from_raw(raw).unwrap(),
        version,
        epoch: version.wrapping_add(1),
        seq: version.wrapping_mul(3),
        profile: Profile {
            name: format!("角色{raw}"),
            level,
            home_srvno: u32::try_from(raw / 1_000_000).unwrap(),
            fields: fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        },
    }
}

/// Summaries written with current records in one batch load back whole
/// (fields, orders, versions above `i64::MAX` too) after a restart,
/// ordered by role id, beside the current records.
pub fn summaries_load_back_whole_ordered_by_role_id_after_a_reopen<H: RoutingHarness>(
    mut harness: H,
) {
    let mut store = harness.open_routes();
    let written = [
        summary(2_000_001, 3, 7, &[("guild", "鹰"), ("power", "70")]),
        summary(1_000_001, u64::MAX - 2, 1, &[]),
    ];
    let notes = [record(1_000_001, "gs1", true, 4)];
    store.record_with_summaries(&notes, &written).unwrap();
    drop(store);
    let mut reopened = harness.open_routes();
    assert_eq!(
        reopened.load_summaries().unwrap(),
        vec![written[1].clone(), written[0].clone()]
    );
    assert_eq!(reopened.load().unwrap(), notes.to_vec());
}

/// A later summary replaces its role's, and a batch of only current
/// records leaves the summaries alone.
pub fn a_summary_record_replaces_its_roles_and_leaves_current_records_alone<H: RoutingHarness>(
    mut harness: H,
) {
    let mut store = harness.open_routes();
    let first = summary(1_000_001, 1, 1, &[("power", "10")]);
    let other = summary(3_000_001, 1, 1, &[]);
    store
        .record_with_summaries(&[], &[first, other.clone()])
        .unwrap();
    let newer = summary(1_000_001, 2, 2, &[]);
    store
        .record_with_summaries(&[], std::slice::from_ref(&newer))
        .unwrap();
    store.record(&[record(1_000_001, "gs2", true, 9)]).unwrap();
    drop(store);
    assert_eq!(
        harness.open_routes().load_summaries().unwrap(),
        vec![newer, other]
    );
}

/// One batch naming a role's summary twice keeps the later one.
pub fn a_batch_naming_a_summary_twice_keeps_the_later_one<H: RoutingHarness>(mut harness: H) {
    let mut store = harness.open_routes();
    let later = summary(1_000_001, 2, 5, &[]);
    store
        .record_with_summaries(&[], &[summary(1_000_001, 1, 4, &[]), later.clone()])
        .unwrap();
    assert_eq!(store.load_summaries().unwrap(), vec![later]);
}

fn transfer(raw: u64, from: u32, to: u32) -> Transfer {
    Transfer {
        roleid: RoleId::from_raw(raw).unwrap(),
        to: Srvno::new(to).unwrap(),
        from: Srvno::new(from).unwrap(),
    }
}

/// A new database's table is empty at version 0; recorded overrides load
/// back ordered by role id, a role moved again keeps only its newest
/// override, and the version is the newest recorded; the current-server
/// records are untouched.
pub fn the_transfer_table_loads_back_at_its_latest_version_after_a_reopen<H: RoutingHarness>(
    mut harness: H,
) {
    let mut store = harness.open_routes();
    assert_eq!(store.load_transfers().unwrap(), Router::new());
    let writes = [
        (transfer(2_000_001, 2, 3), 1),
        (transfer(1_000_009, 1, 2), 2),
        (transfer(2_000_001, 3, 1), 3),
    ];
    for (transfer, version) in writes {
        store
            .record_transfer(&TransferWrite { transfer, version })
            .unwrap();
    }
    drop(store);
    let mut store = harness.open_routes();
    let expected =
        Router::from_snapshot(3, [transfer(1_000_009, 1, 2), transfer(2_000_001, 3, 1)]).unwrap();
    assert_eq!(store.load_transfers().unwrap(), expected);
    assert_eq!(store.load().unwrap(), Vec::new());
}
