//! The embedded backend of the suite: the whole zone in the test's process
//! ([`zone::Zone`]), its data in a temporary directory; and what only an
//! in-process test can look at, a home server's kuafu marks.

use std::net::SocketAddr;
use std::time::Duration;

use tempfile::TempDir;
use zone::{Zone, ZoneConfig};

use crate::TestZone;
use crate::helpers::eventually;

/// An embedded zone with its data directory.
pub struct EmbeddedZone {
    /// The zone.
    pub zone: Zone,
    /// What it was started with (ports 0: each start picks free ones).
    config: ZoneConfig,
    /// Removed after the zone: the zone's databases live in it.
    dir: TempDir,
}

impl EmbeddedZone {
    /// Starts `config` with its data in a new temporary directory.
    pub async fn run(config: ZoneConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self::start_in(config, dir).await
    }

    /// Starts `config` with its data in `dir`.
    pub async fn start_in(mut config: ZoneConfig, dir: TempDir) -> Self {
        config.data_dir = dir.path().to_owned();
        let zone = Zone::start(config.clone()).await.expect("the zone starts");
        Self { zone, config, dir }
    }
}

fn address(address: Option<SocketAddr>) -> String {
    address.expect("a listener").to_string()
}

impl TestZone for EmbeddedZone {
    async fn start(config: ZoneConfig) -> Option<Self> {
        Some(Self::run(config).await)
    }

    fn account(&self) -> String {
        self.zone.account_addr().to_string()
    }

    fn account_ws(&self) -> String {
        address(self.zone.account_ws_addr())
    }

    fn game_addr(&self, name: &str) -> String {
        address(self.zone.game_addr(name))
    }

    async fn kill_game(&mut self, name: &str) {
        self.zone.kill_game(name).expect("a running game server");
    }

    async fn restart_game(&mut self, name: &str) {
        self.zone
            .restart_game(name)
            .await
            .expect("the game server restarts");
    }

    async fn stall(&self, name: &str, duration: Duration) {
        let game = self.zone.game(name).expect("a running game server");
        game.stall(duration).await.expect("the stall begins");
    }

    async fn awake(&self, name: &str) {
        // The node's next answer comes after its stall.
        let game = self.zone.game(name).expect("a running game server");
        game.status().await.expect("the node answers");
    }

    async fn restart(self) -> Self {
        self.zone.shutdown().await;
        Self::start_in(self.config, self.dir).await
    }

    fn players(&self) -> game::Players {
        self.zone.players()
    }

    async fn current_server(&self, roleid: u64) -> Result<Option<(String, bool)>, bus::BusError> {
        let roleid = routing::RoleId::from_raw(roleid).expect("a role id");
        self.zone.current_server(roleid).await
    }

    async fn rank_top(
        &self,
        board: &str,
        limit: u32,
    ) -> Result<wire::node::RankPage, bus::BusError> {
        self.zone.rank_top(board, false, limit).await
    }

    async fn rank_around(
        &self,
        board: &str,
        roleid: u64,
        radius: u32,
    ) -> Result<wire::node::RankPage, bus::BusError> {
        let roleid = routing::RoleId::from_raw(roleid).expect("a role id");
        self.zone.rank_around(board, roleid, radius).await
    }

    async fn load_readonly(&self, roleid: u64) -> Result<store::ReadOnlyPlayer, store::StoreError> {
        let roleid = routing::RoleId::from_raw(roleid).expect("a role id");
        self.zone.load_readonly(roleid).await
    }

    async fn transfer(
        &self,
        roleid: u64,
        to: u32,
        until: Option<zone::TransferStep>,
    ) -> Result<zone::Transferred, zone::TransferError> {
        let roleid = routing::RoleId::from_raw(roleid).expect("a role id");
        self.zone.transfer(roleid, to, until).await
    }

    async fn audit_problems(&self) -> usize {
        let config = self.zone.config().clone();
        let audit = tokio::task::spawn_blocking(move || zone::audit(&config));
        let reports = audit
            .await
            .unwrap()
            .expect("the audit reads every database");
        reports.iter().map(|(_, report)| report.problems()).sum()
    }

    async fn shutdown(self) {
        self.zone.shutdown().await;
    }

    fn in_process(&self) -> Option<&Zone> {
        Some(&self.zone)
    }
}

/// The kuafu mark `home` keeps for `roleid`: where it says the player went.
pub async fn mark(zone: &Zone, home: &str, roleid: u64) -> Option<String> {
    let roleid = routing::RoleId::from_raw(roleid).expect("a role id");
    let game = zone.game(home).expect("a running home server");
    let mark = game.kuafu_mark(roleid).await.expect("the home answers");
    mark.map(|mark| mark.go_srvname)
}

/// Waits until the home's mark for `roleid` is `expected`.
pub async fn expect_mark(zone: &Zone, home: &str, roleid: u64, expected: Option<&str>) {
    let what = format!("{home}'s mark of {roleid} to be {expected:?}");
    eventually(&what, || async {
        (mark(zone, home, roleid).await.as_deref() == expected).then_some(())
    })
    .await;
}

/// Waits until the home's mark for `roleid` is `expected`, where the test
/// runs in the zone's process (a no-op elsewhere: the marks are in the
/// home server's memory).
pub async fn expect_mark_in_process(
    zone: &impl TestZone,
    home: &str,
    roleid: u64,
    expected: Option<&str>,
) {
    if let Some(zone) = zone.in_process() {
        expect_mark(zone, home, roleid, expected).await;
    }
}
