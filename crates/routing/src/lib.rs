//! Identifiers of a zone and the rule that routes a role to its database
//! (DESIGN §1 and §7; seed "Routing a role id to its database", option 3).
//!
//! `roleid = srvno * 1_000_000 + seq`: the home srvno is read off the role id,
//! and each srvno has one database, so any node can find any player's row.
//! The transfer table ([`Router`]) overrides the encoded home of a role that
//! moved server (转服); every lookup of a role's home goes through it.

mod router;

pub use router::{
    PushOutcome, Router, TRANSFERS_MAX, TRANSFERS_TOPIC, TableError, Transfer, push_from_wire,
};

use std::fmt;

/// Largest server number in a zone.
pub const SRVNO_MAX: u32 = 18_000;
/// Largest per-srvno role sequence number; seq starts at 1.
pub const ROLE_SEQ_MAX: u64 = 999_999;
/// Multiplier that places the srvno above the sequence in a role id.
const ROLE_SEQ_SPAN: u64 = 1_000_000;

/// A game server's number, `1..=SRVNO_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Srvno(u32);

/// A role (player character) id: `srvno * 1_000_000 + seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleId(u64);

/// A malformed identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The srvno is 0 or above `SRVNO_MAX`.
    #[error("srvno {0} is outside 1..={SRVNO_MAX}")]
    SrvnoOutOfRange(u64),
    /// The sequence is 0 or above `ROLE_SEQ_MAX`.
    #[error("role sequence {0} is outside 1..={ROLE_SEQ_MAX}")]
    SeqOutOfRange(u64),
}

impl Srvno {
    /// Checks the range and wraps `value`.
    pub fn new(value: u32) -> Result<Self, IdError> {
        if value == 0 || value > SRVNO_MAX {
            return Err(IdError::SrvnoOutOfRange(u64::from(value)));
        }
        Ok(Self(value))
    }

    /// The number itself.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl RoleId {
    /// The role id of sequence `seq` on `srvno`.
    pub fn new(srvno: Srvno, seq: u64) -> Result<Self, IdError> {
        if seq == 0 || seq > ROLE_SEQ_MAX {
            return Err(IdError::SeqOutOfRange(seq));
        }
        Ok(Self(u64::from(srvno.0) * ROLE_SEQ_SPAN + seq))
    }

    /// Parses a raw id (from a client or a message), checking both parts.
    pub fn from_raw(raw: u64) -> Result<Self, IdError> {
        let srvno = raw / ROLE_SEQ_SPAN;
        let srvno = u32::try_from(srvno).map_err(|_| IdError::SrvnoOutOfRange(srvno))?;
        Self::new(Srvno::new(srvno)?, raw % ROLE_SEQ_SPAN)
    }

    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The srvno the id encodes: the role's home and the database that holds
    /// its row unless the transfer table overrides it; a node asks
    /// [`Router::home_of`], never this, for where a role lives.
    pub fn home_srvno(self) -> Srvno {
        let srvno = u32::try_from(self.0 / ROLE_SEQ_SPAN).expect("checked at construction");
        Srvno(srvno)
    }

    /// The per-srvno sequence number.
    pub fn seq(self) -> u64 {
        self.0 % ROLE_SEQ_SPAN
    }
}

impl fmt::Display for Srvno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_id_encodes_its_home_srvno_and_sequence() {
        let role = RoleId::new(Srvno::new(3).unwrap(), 42).unwrap();
        assert_eq!(role.get(), 3_000_042);
        assert_eq!(role.home_srvno().get(), 3);
        assert_eq!(role.seq(), 42);
        assert_eq!(RoleId::from_raw(3_000_042), Ok(role));
    }

    #[test]
    fn out_of_range_parts_are_refused() {
        assert_eq!(Srvno::new(0), Err(IdError::SrvnoOutOfRange(0)));
        assert!(Srvno::new(SRVNO_MAX + 1).is_err());
        let srvno = Srvno::new(1).unwrap();
        assert_eq!(RoleId::new(srvno, 0), Err(IdError::SeqOutOfRange(0)));
        assert!(RoleId::new(srvno, ROLE_SEQ_MAX + 1).is_err());
        assert!(RoleId::from_raw(999_999).is_err(), "srvno 0");
        assert!(RoleId::from_raw(5_000_000).is_err(), "seq 0");
        assert!(RoleId::from_raw(u64::MAX).is_err());
    }
}
