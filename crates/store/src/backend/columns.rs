//! How the SQL backends store values in columns: an unsigned number as the
//! bit pattern of a signed 64-bit integer (neither SQLite nor PostgreSQL has
//! unsigned columns), a row's holder in two nullable columns (`owner_node`,
//! `owner_incarnation`) and a ledger line's kind in two (`kind`,
//! `item_type`). Written once so SQLite and PostgreSQL read and write them
//! alike; a malformed value is an error naming what is wrong, never a panic.

use ownership::{Holder, OwnerId};
use routing::RoleId;

use crate::LedgerKind;

/// An unsigned value as stored in a signed 64-bit column: its bit pattern
/// (values below 2^63 read as themselves in SQL; larger ones, such as a
/// random incarnation, round-trip through [`from_column`]).
pub fn to_column(value: u64) -> i64 {
    value.cast_signed()
}

/// The unsigned value [`to_column`] stored.
pub fn from_column(stored: i64) -> u64 {
    stored.cast_unsigned()
}

/// A role id as stored.
pub fn roleid_column(roleid: RoleId) -> i64 {
    to_column(roleid.get())
}

/// The role id [`roleid_column`] stored.
pub fn roleid_from_column(stored: i64) -> Result<RoleId, String> {
    RoleId::from_raw(from_column(stored))
        .map_err(|error| format!("stored role id {stored}: {error}"))
}

/// An update inside a batch's transaction must find the row the batch just
/// read: `changed` rows is an error unless it is one.
pub fn expect_one_row(changed: u64, roleid: RoleId) -> Result<(), String> {
    if changed == 1 {
        Ok(())
    } else {
        Err(format!("update of role {roleid} changed {changed} rows"))
    }
}

/// `(owner_node, owner_incarnation)`: both NULL when free, the incarnation
/// NULL while the row is arriving at a node.
pub fn holder_columns(holder: &Holder) -> (Option<&str>, Option<i64>) {
    match holder {
        Holder::Free => (None, None),
        Holder::Held(owner) => (Some(&owner.node), Some(to_column(owner.incarnation))),
        Holder::Arriving(node) => (Some(node), None),
    }
}

/// The holder [`holder_columns`] stored.
pub fn holder_from_columns(
    node: Option<String>,
    incarnation: Option<i64>,
) -> Result<Holder, String> {
    match (node, incarnation) {
        (None, None) => Ok(Holder::Free),
        (Some(node), Some(incarnation)) => Ok(Holder::Held(OwnerId {
            node,
            incarnation: from_column(incarnation),
        })),
        (Some(node), None) => Ok(Holder::Arriving(node)),
        (None, Some(_)) => Err("owner_incarnation without owner_node".to_owned()),
    }
}

/// `(kind, item_type)` of a ledger line: `("gold", NULL)` or `("item", type)`.
pub fn ledger_kind_columns(kind: &LedgerKind) -> (&'static str, Option<i64>) {
    match kind {
        LedgerKind::Gold => ("gold", None),
        LedgerKind::Item(item_type) => ("item", Some(i64::from(*item_type))),
    }
}

/// The kind [`ledger_kind_columns`] stored.
pub fn ledger_kind_from_columns(kind: &str, item_type: Option<i64>) -> Result<LedgerKind, String> {
    match (kind, item_type) {
        ("gold", None) => Ok(LedgerKind::Gold),
        ("item", Some(item_type)) => u32::try_from(item_type)
            .map(LedgerKind::Item)
            .map_err(|_| format!("ledger item type {item_type} is not a u32")),
        (kind, item_type) => Err(format!("ledger kind {kind} with item type {item_type:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_and_malformed_values_are_errors() {
        let holders = [
            Holder::Free,
            Holder::Arriving("gs2".to_owned()),
            Holder::Held(OwnerId {
                node: "gs1".to_owned(),
                incarnation: u64::MAX,
            }),
        ];
        for holder in holders {
            let (node, incarnation) = holder_columns(&holder);
            let stored = holder_from_columns(node.map(str::to_owned), incarnation);
            assert_eq!(stored, Ok(holder));
        }
        assert!(holder_from_columns(None, Some(1)).is_err());
        for kind in [LedgerKind::Gold, LedgerKind::Item(7)] {
            let (name, item_type) = ledger_kind_columns(&kind);
            let stored = ledger_kind_from_columns(name, item_type);
            assert_eq!(stored, Ok(kind));
        }
        assert!(ledger_kind_from_columns("gold", Some(1)).is_err());
        assert!(ledger_kind_from_columns("item", Some(-1)).is_err());
        assert!(ledger_kind_from_columns("silver", None).is_err());
        let roleid = RoleId::from_raw(1_000_001).unwrap();
        assert_eq!(roleid_from_column(roleid_column(roleid)), Ok(roleid));
        assert!(roleid_from_column(-1).is_err());
        assert_eq!(from_column(to_column(u64::MAX)), u64::MAX);
        assert!(expect_one_row(1, roleid).is_ok());
        assert!(expect_one_row(0, roleid).is_err());
    }
}
