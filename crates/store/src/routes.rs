//! [`RoutingStore`]: the data center's routing records (DESIGN §3, §8): the
//! server each role is on now, whether it is online there, and the owner's
//! epoch of that record; and the transfer table (DESIGN §7), each override
//! with the version that recorded it. The data center core (`datacentercore`) decides
//! which note wins, by that epoch; this store writes what it decided and
//! loads it back at start.
//!
//! The embedded mode keeps it in SQLite (`store-sqlite`), the distributed
//! mode in PostgreSQL (`store-postgres`); both pass the routing contract
//! suite (`contract::routes`). The API is synchronous: the data center calls
//! it off its async threads.

use datacentercore::{CurrentNote, Profile, TransferWrite};
use routing::Router;
use wire::Message;
use wire::node::{SummaryField, SummaryFields};

pub use datacentercore::SummaryRecord;

/// Why a routing operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The database failed (its message names the database).
    #[error("routing store: {0}")]
    Backend(String),
}

/// The routing records of the data center.
pub trait RoutingStore: Send {
    /// Writes `records` in one durable transaction, each replacing its
    /// role's record; when a role appears twice, the later record stays.
    /// Which notes win is the data center core's decision, not this store's.
    fn record(&mut self, records: &[CurrentNote]) -> Result<(), RoutingError> {
        self.record_with_summaries(records, &[])
    }

    /// Writes `records` and `summaries` in one durable transaction, each
    /// replacing its role's record of its kind (the later one when a role
    /// appears twice).
    fn record_with_summaries(
        &mut self,
        records: &[CurrentNote],
        summaries: &[SummaryRecord],
    ) -> Result<(), RoutingError>;

    /// Every record, ordered by role id: the data center core's state at
    /// start.
    fn load(&mut self) -> Result<Vec<CurrentNote>, RoutingError>;

    /// Every summary record, ordered by role id.
    fn load_summaries(&mut self) -> Result<Vec<SummaryRecord>, RoutingError>;

    /// Writes one override of the transfer table durably, replacing the
    /// role's earlier one, as version `write.version` of the table.
    fn record_transfer(&mut self, write: &TransferWrite) -> Result<(), RoutingError>;

    /// The transfer table: every override, at the largest version recorded
    /// (0 when none).
    fn load_transfers(&mut self) -> Result<Router, RoutingError>;
}

/// A summary's fields as the stores keep them in one column: a protobuf
/// `SummaryFields`.
pub fn encode_fields(profile: &Profile) -> Vec<u8> {
    let fields = profile
        .fields
        .iter()
        .map(|(name, value)| SummaryField {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    SummaryFields { fields }.encode_to_vec()
}

/// Decodes a summary's stored fields (written by [`encode_fields`]).
pub fn decode_fields(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let decoded =
        SummaryFields::decode(bytes).map_err(|error| format!("stored summary fields: {error}"))?;
    Ok(decoded
        .fields
        .into_iter()
        .map(|field| (field.name, field.value))
        .collect())
}
