//! The game core's transfer table (DESIGN §7): every lookup of a role's
//! home — the database its row is in, the server it is at home on — goes
//! through [`GameCore::home_of`], which asks the node's copy of the table
//! (`routing::Router`). The shell keeps the copy current (loaded before the
//! node serves, then the data center's pushes) and hands each new version
//! in with [`GameCore::handle_transfer_table`].
//!
//! Only an offline role is transferred, so a new table never moves a
//! player this core hosts.

use routing::{RoleId, Router, Srvno};

use crate::GameCore;

impl GameCore {
    /// A newer transfer table (an older one than the core's is ignored).
    pub fn handle_transfer_table(&mut self, table: Router) {
        self.router.handle_snapshot(table);
    }

    /// The transfer table the core routes by.
    pub fn transfer_table(&self) -> &Router {
        &self.router
    }

    /// The srvno whose database holds `roleid`'s row.
    pub(crate) fn home_of(&self, roleid: RoleId) -> Srvno {
        self.router.home_of(roleid)
    }

    /// The name of the server where `roleid` is at home.
    pub(crate) fn home_srvname(&self, roleid: RoleId) -> Option<&str> {
        self.config.zone.home_srvname(self.home_of(roleid))
    }
}
