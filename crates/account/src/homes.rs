//! Each role's home server as logins see it (DESIGN §7): the server serving
//! the srvno the transfer table routes the role to, not the one recorded
//! when the role was created, so a transferred role logs in at its new
//! home. The table is the node's copy, kept current by a
//! [`TableFollower`] (loaded before the node serves).

use std::collections::BTreeMap;

use datacenter::table::TableFollower;
use routing::{RoleId, Srvno};

/// The transfer table and which server serves each srvno.
#[derive(Debug)]
pub struct RoleHomes {
    follower: TableFollower,
    srvname_of: BTreeMap<Srvno, String>,
}

impl RoleHomes {
    /// Homes by `follower`'s table, each srvno served by its server in
    /// `srvname_of` (from the zone file).
    pub fn new(follower: TableFollower, srvname_of: BTreeMap<Srvno, String>) -> Self {
        Self {
            follower,
            srvname_of,
        }
    }

    /// The home server of `roleid`; `recorded` (the account database's)
    /// when no server of the zone serves its srvno.
    pub(crate) fn home_srvname(&self, roleid: RoleId, recorded: String) -> String {
        let srvno = self.follower.table().home_of(roleid);
        self.srvname_of.get(&srvno).cloned().unwrap_or(recorded)
    }
}
