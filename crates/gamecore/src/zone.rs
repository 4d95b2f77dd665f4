//! The core's map of the zone: every game server's name, client address and
//! srvnos, so a role id routes to its home server (DESIGN §7).

use std::collections::BTreeMap;

use routing::Srvno;
use wire::client::ServerAddress;

/// One game server as the zone config describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// Where clients connect.
    pub address: ServerAddress,
    /// The srvnos whose roles are at home here.
    pub srvnos: Vec<Srvno>,
}

/// The zone's game servers, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneMap {
    servers: BTreeMap<String, ServerInfo>,
    home_of_srvno: BTreeMap<Srvno, String>,
}

impl ZoneMap {
    /// Builds the map; panics if two servers claim one srvno (the zone
    /// config loader refuses that first, with a clear error).
    pub fn new(servers: impl IntoIterator<Item = ServerInfo>) -> Self {
        let mut map = Self::default();
        for info in servers {
            for srvno in &info.srvnos {
                let previous = map
                    .home_of_srvno
                    .insert(*srvno, info.address.srvname.clone());
                assert!(previous.is_none(), "srvno {srvno} is served twice");
            }
            map.servers.insert(info.address.srvname.clone(), info);
        }
        map
    }

    /// A server by name.
    pub fn server(&self, srvname: &str) -> Option<&ServerInfo> {
        self.servers.get(srvname)
    }

    /// The name of the server that serves `srvno` (a role's home server is
    /// the one serving the srvno the transfer table routes it to).
    pub fn home_srvname(&self, srvno: Srvno) -> Option<&str> {
        self.home_of_srvno.get(&srvno).map(String::as_str)
    }

    /// Every server, ordered by name.
    pub fn servers(&self) -> impl Iterator<Item = &ServerInfo> {
        self.servers.values()
    }
}
