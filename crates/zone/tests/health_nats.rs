//! A distributed node's `/healthz` follows its NATS connection (DESIGN
//! §15): a data center node on a private nats-server answers 200, 503
//! naming the bus while that server is down, and 200 again once it is back.

use std::net::SocketAddr;

use store_postgres::test_support::TestDatabase;
use test_support::PrivateNats;
use test_support::http;
use zone::{DATACENTER_NODE, ZoneConfig, ZoneNode};

/// Waits until `/healthz` at `admin` answers `expected`.
async fn expect_health(admin: SocketAddr, expected: (u16, &str)) {
    let what = format!("/healthz to answer {expected:?}");
    test_support::eventually(&what, || async {
        let answer = http::get(admin, "/healthz").await.ok()?;
        (answer.0 == expected.0 && answer.1 == expected.1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_node_is_unhealthy_while_its_nats_is_down_and_healthy_once_it_is_back() {
    let Some(mut nats) = PrivateNats::on_port(test_support::free_port()) else {
        return;
    };
    nats.start().await;
    let creating = tokio::task::spawn_blocking(|| TestDatabase::create("health_datacenter"));
    let Some(datacenter_database) = creating.await.unwrap() else {
        return; // TestDatabase said why.
    };
    let dir = tempfile::tempdir().unwrap();
    // The data center needs no game server running, only its address fixed.
    let text = format!(
        "zone = \"{zone}\"\ndata_dir = \"{data}\"\nrecommended_server = \"gs1\"\n\
         [account]\ntcp = \"127.0.0.1:0\"\n\
         [[game]]\nname = \"gs1\"\nsrvno = 1\ntcp = \"127.0.0.1:{port}\"\ndb = \"srv1.db\"\n\
         [datacenter]\nadmin = \"127.0.0.1:0\"\n\
         [distributed]\nnats = \"{nats}\"\n\
         account_database = \"dbname=unused\"\ndatacenter_database = \"{datacenter}\"\n\
         [distributed.player_databases]\ngs1 = \"dbname=unused\"\n",
        zone = test_support::unique_name("health"),
        data = dir.path().display(),
        port = test_support::free_port(),
        nats = nats.url(),
        datacenter = datacenter_database.config(),
    );
    let config = ZoneConfig::from_toml(&text).unwrap();
    let node = ZoneNode::start(config, DATACENTER_NODE).await.unwrap();
    let admin = node.admin_addr.expect("an admin listener");
    expect_health(admin, (200, "ok\n")).await;

    nats.stop();
    expect_health(admin, (503, "bus: NATS is disconnected\n")).await;

    nats.start().await;
    expect_health(admin, (200, "ok\n")).await;
    node.shutdown().await;
}
