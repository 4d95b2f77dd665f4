//! The proxy player's async driver (DESIGN §9): `players.player(roleid)
//! .add_gold(10, "test:rpc")` from any node or operator tool, over any
//! [`Bus`]. Every decision is `gamecore::calls::CallRoute`'s; this only
//! sends, waits and remembers where each player was last found (a bounded
//! hint, [`LOCATION_HINTS_MAX`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusError};
use gamecore::calls::{
    AddGold, AddItems, CallError, CallRoute, PlayerMethod, PlayerSnapshot, RouteStep, SpendGold,
    View, call_message,
};
use gamecore::{PeerError, ZoneMap};
use routing::RoleId;

use crate::shell::peer_error;

/// Most players whose last known server a [`Players`] remembers.
pub const LOCATION_HINTS_MAX: usize = 65_536;

/// Player calls made as node `from` over a bus.
pub struct Players {
    bus: Arc<dyn Bus>,
    from: String,
    zone: ZoneMap,
    deadline: Duration,
    hints: Mutex<BTreeMap<RoleId, String>>,
}

impl Players {
    /// Calls as node `from`; each request waits at most `deadline`.
    pub fn new(bus: Arc<dyn Bus>, from: &str, zone: ZoneMap, deadline: Duration) -> Self {
        Self {
            bus,
            from: from.to_owned(),
            zone,
            deadline,
            hints: Mutex::new(BTreeMap::new()),
        }
    }

    /// The player `roleid`, wherever it is.
    pub fn player(&self, roleid: RoleId) -> ProxyPlayer<'_> {
        ProxyPlayer {
            players: self,
            roleid,
            request_id: Vec::new(),
        }
    }

    fn hint(&self, roleid: RoleId) -> Option<String> {
        self.hints.lock().expect("hints").get(&roleid).cloned()
    }

    fn found(&self, roleid: RoleId, srvname: &str) {
        let mut hints = self.hints.lock().expect("hints");
        if hints.get(&roleid).is_some_and(|known| known == srvname) {
            return;
        }
        if hints.len() >= LOCATION_HINTS_MAX && !hints.contains_key(&roleid) {
            hints.pop_first();
        }
        hints.insert(roleid, srvname.to_owned());
    }

    async fn ask(
        &self,
        to: &str,
        message: wire::node::NodeMessage,
    ) -> Result<wire::node::NodeMessage, PeerError> {
        let answer = self
            .bus
            .request(&self.from, to, message, self.deadline)
            .await;
        answer.map_err(|error| match error {
            BusError::Overloaded(_) => PeerError::Remote(wire::client::ErrorCode::Overloaded),
            other => peer_error(other),
        })
    }
}

/// One player, called where it is (seed `cproxyplayer.new(pid)`).
pub struct ProxyPlayer<'a> {
    players: &'a Players,
    roleid: RoleId,
    request_id: Vec<u8>,
}

impl ProxyPlayer<'_> {
    /// Makes the calls durable with `request_id`: saved before answered,
    /// applied once however often they are retried with it.
    pub fn durable(mut self, request_id: impl Into<Vec<u8>>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// Calls `method` on the player.
    pub async fn call<M: PlayerMethod>(&self, method: M) -> Result<M::Reply, CallError> {
        let args = serde_json::to_vec(&method).expect("arguments serialize");
        let result = self.call_raw(M::NAME, M::VERSION, args).await?;
        serde_json::from_slice(&result).map_err(|error| CallError::BadResult(error.to_string()))
    }

    /// Calls `method` with JSON `args` of `version`; the JSON result.
    pub async fn call_raw(
        &self,
        method: &str,
        version: u32,
        args: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let players = self.players;
        let hint = players.hint(self.roleid);
        let mut route = CallRoute::new(
            &players.zone,
            self.roleid,
            self.roleid.home_srvno(),
            hint.as_deref(),
        )?;
        let message = call_message(self.roleid, method, version, args, self.request_id.clone());
        let mut step = route.start();
        loop {
            let to = match step {
                RouteStep::Send(to) => to,
                RouteStep::SendAfter { to, delay_ms } => {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    to
                }
                RouteStep::Done(result) => {
                    players.found(self.roleid, route.target());
                    return Ok(result);
                }
                RouteStep::Failed(error) => return Err(error),
            };
            let answer = players.ask(&to, message.clone()).await;
            step = route.on_answer(answer);
        }
    }

    /// Adds gold; the amount added.
    pub async fn add_gold(&self, amount: u64, reason: &str) -> Result<u64, CallError> {
        let reason = reason.to_owned();
        self.call(AddGold { amount, reason }).await
    }

    /// Spends gold; the amount spent.
    pub async fn spend_gold(&self, amount: u64, reason: &str) -> Result<u64, CallError> {
        let reason = reason.to_owned();
        self.call(SpendGold { amount, reason }).await
    }

    /// Adds `count` items of `item_type`; the count added.
    pub async fn add_items(
        &self,
        item_type: u32,
        count: u64,
        reason: &str,
    ) -> Result<u64, CallError> {
        let reason = reason.to_owned();
        self.call(AddItems {
            item_type,
            count,
            reason,
        })
        .await
    }

    /// The player as its owner sees it.
    pub async fn view(&self) -> Result<PlayerSnapshot, CallError> {
        self.call(View {}).await
    }
}
