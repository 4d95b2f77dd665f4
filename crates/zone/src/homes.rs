//! Each node's copy of the transfer table (DESIGN §7), loaded from the
//! data center before the node serves and kept current by its pushes: a
//! game server routes every role by it, the account center names each
//! role's home server by it.

use std::sync::Arc;
use std::time::Duration;

use account::RoleHomes;
use bus::Bus;
use datacenter::table::{Asker, TableFollower};
use routing::Srvno;

use crate::ZoneConfig;
use crate::embedded::{ACCOUNT_NODE, DATACENTER_NODE, ZoneError};

/// Node `node`'s copy of the transfer table, loaded (DESIGN §7).
pub(crate) async fn follow_transfers(
    bus: &Arc<dyn Bus>,
    node: &str,
    config: &ZoneConfig,
) -> Result<TableFollower, ZoneError> {
    let asker = Asker {
        from: node.to_owned(),
        datacenter: DATACENTER_NODE.to_owned(),
        deadline: Duration::from_millis(config.timing.request_deadline_ms),
    };
    Ok(TableFollower::start(bus.clone(), asker).await?)
}

/// The account center's view of each role's home: the transfer table and
/// the server of each srvno.
pub(crate) async fn role_homes(
    bus: &Arc<dyn Bus>,
    config: &ZoneConfig,
) -> Result<RoleHomes, ZoneError> {
    let follower = follow_transfers(bus, ACCOUNT_NODE, config).await?;
    let srvname_of = config
        .games
        .iter()
        .map(|game| {
            (
                Srvno::new(game.srvno).expect("checked by ZoneConfig::check"),
                game.name.clone(),
            )
        })
        .collect();
    Ok(RoleHomes::new(follower, srvname_of))
}
