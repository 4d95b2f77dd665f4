//! The zone file's tests: the example files parse and hold every default,
//! and a zone file that cannot be used is refused with an error naming why.

use super::*;

#[test]
fn the_example_zone_file_parses() {
    let text = include_str!("../../../../zone.example.toml");
    let config = ZoneConfig::from_toml(text).unwrap();
    assert_eq!(config.games.len(), 3);
    assert_eq!(config.games[1].srvno, 2);
    assert_eq!(
        config.admin_address("account").map(|a| a.port()),
        Some(9100)
    );
    assert_eq!(config.admin_address("gs1"), None);
}

/// Every integer setting of the example's optional tables is read (a
/// changed value changes the zone's config), and the values written there
/// are the defaults.
#[test]
fn every_setting_in_the_example_zone_file_is_read_and_shows_its_default() {
    let text = include_str!("../../../../zone.example.toml");
    let example = ZoneConfig::from_toml(text).unwrap();
    assert_eq!(example.timing, TimingConfig::default());
    assert_eq!(example.login, account::LoginSettings::default());
    assert_eq!(example.limits, crate::LimitsConfig::default());
    let table: toml::Table = toml::from_str(text).unwrap();
    let mut settings = 0;
    for section in ["timing", "login", "limits"] {
        let keys: Vec<String> = table[section].as_table().unwrap().keys().cloned().collect();
        for key in keys {
            let mut changed = table.clone();
            let value = &mut changed[section][&key];
            *value = toml::Value::Integer(value.as_integer().unwrap() + 1);
            let config = ZoneConfig::from_toml(&toml::to_string(&changed).unwrap()).unwrap();
            assert_ne!(config, example, "[{section}] {key} is not read");
            settings += 1;
        }
    }
    assert!(settings >= 29, "read {settings} settings");
}

#[test]
fn the_distributed_example_names_nats_and_a_database_per_game_server() {
    let text = include_str!("../../../../zone.distributed.example.toml");
    let config = ZoneConfig::from_toml(text).unwrap();
    let distributed = config.distributed.as_ref().unwrap();
    assert_eq!(distributed.nats, "nats://127.0.0.1:4222");
    assert_eq!(distributed.player_databases.len(), config.games.len());
    assert!(distributed.player_databases["gs2"].contains("dbname=kuafu_example_srv2"));
    assert!(
        distributed
            .account_database
            .contains("dbname=kuafu_example_account")
    );
    assert!(
        distributed
            .datacenter_database
            .contains("dbname=kuafu_example_datacenter")
    );
    assert_eq!(
        config.node_names(),
        ["datacenter", "gs1", "gs2", "gs3", "account"]
    );
    let admins: Vec<u16> = config
        .node_names()
        .iter()
        .map(|node| config.admin_address(node).expect("an admin address").port())
        .collect();
    assert_eq!(admins, [9104, 9101, 9102, 9103, 9100]);
    let embedded = include_str!("../../../../zone.example.toml");
    assert_eq!(ZoneConfig::from_toml(embedded).unwrap().distributed, None);
}

#[test]
fn a_distributed_zone_without_its_account_or_data_center_database_is_refused() {
    let text = include_str!("../../../../zone.distributed.example.toml");
    for key in ["account_database", "datacenter_database"] {
        let without: String = text
            .lines()
            .filter(|line| !line.starts_with(key))
            .map(|line| format!("{line}\n"))
            .collect();
        let error = ZoneConfig::from_toml(&without).unwrap_err().to_string();
        assert!(error.contains(&format!("missing field `{key}`")), "{error}");
    }
}

#[test]
fn a_zone_written_as_toml_reads_back_as_the_same_zone() {
    let text = include_str!("../../../../zone.distributed.example.toml");
    let mut distributed = ZoneConfig::from_toml(text).unwrap();
    distributed.timing.lease_ttl_ms = 20_000;
    distributed.login.queue_max = 1;
    distributed.limits.players_max = 1;
    distributed.games[0].battle = Some("arena".into());
    let mut demo = ZoneConfig::demo(Path::new("/tmp/kuafu"), 2);
    demo.games[1].listen.ws = None;
    for zone in [distributed, demo] {
        let written = zone.to_toml().unwrap();
        assert_eq!(ZoneConfig::from_toml(&written).unwrap(), zone, "{written}");
    }
}

#[test]
fn a_distributed_zone_without_a_database_or_with_port_0_is_refused() {
    let text = include_str!("../../../../zone.distributed.example.toml");
    let example = ZoneConfig::from_toml(text).unwrap();
    let mut config = example.clone();
    let databases = &mut config.distributed.as_mut().unwrap().player_databases;
    databases.remove("gs3");
    let error = config.check().unwrap_err().to_string();
    assert!(error.contains("no database for game server gs3"), "{error}");
    let mut config = example.clone();
    let databases = &mut config.distributed.as_mut().unwrap().player_databases;
    databases.insert("gs9".into(), "dbname=x".into());
    let error = config.check().unwrap_err().to_string();
    assert!(error.contains("names gs9"), "{error}");
    let mut config = example;
    config.games[1].listen.tcp = loopback_any();
    let error = config.check().unwrap_err().to_string();
    assert!(
        error.contains("gs2: a distributed zone needs fixed ports"),
        "{error}"
    );
}

#[test]
fn inconsistent_zones_are_refused_with_the_culprit_named() {
    let mut config = ZoneConfig::demo(Path::new("/tmp"), 2);
    config.games[1].srvno = 1;
    assert!(
        config
            .check()
            .unwrap_err()
            .to_string()
            .contains("srvno 1 is used twice")
    );
    let mut config = ZoneConfig::demo(Path::new("/tmp"), 2);
    config.recommended_server = "gs9".into();
    assert!(config.check().unwrap_err().to_string().contains("gs9"));
    let unknown_field =
        "zone = \"z\"\ndata_dir = \"d\"\nrecommended_server = \"gs1\"\ncolour = 1\n";
    assert!(matches!(
        ZoneConfig::from_toml(unknown_field),
        Err(ConfigError::Parse(_))
    ));
}
