//! What each process of a distributed zone does on the bus, by role — the
//! one place the NATS permissions come from (DESIGN §3): `kuafu
//! nats-config` prints them as nats-server's authorization block, and
//! every node authenticates with its own nkey ([`node_key`]).
//!
//! - the data center binds `datacenter`, asks no one, and publishes each
//!   game server's summary topic (`wire::summary_topic`) and the transfer
//!   table's pushes (`transfers`);
//! - the account center binds `account`, asks the data center and the
//!   game servers (login grants), and hears the `transfers` pushes;
//! - the rank server binds its own name (`rank` by default) and asks no
//!   one; every game server may ask it;
//! - a game server binds its name and its battle server's, asks the data
//!   center (`SetCurrent`), the account center (role notes), every game
//!   server (crossings, kuafu marks, notes, player calls — DESIGN §9 —
//!   on the same node subjects) and its battle server, sounds and hears
//!   the horn topic, and hears its own summary topic and the `transfers`
//!   pushes.
//!
//! A node's key is `<nats_keys>/<name>.nk` (`bus_nats::key_file`), a seed
//! file readable by its owner only, on the node's host; the zone file names
//! the directory, never a secret.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bus_nats::{Access, CredentialsError, NodeKey, User};

use crate::config::ZoneConfig;
use crate::embedded::{ACCOUNT_NODE, DATACENTER_NODE};

/// Why the zone's NATS credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The zone file has no `[distributed]` section, or it names no
    /// `nats_keys` directory.
    #[error("the zone file names no [distributed] nats_keys directory")]
    NoKeys,
    /// The zone has no process of that name.
    #[error("no node named {0}")]
    UnknownNode(String),
    /// A key file is missing, unreadable or not a user seed.
    #[error(transparent)]
    Key(#[from] CredentialsError),
}

/// What process `process` of `config` does on the bus.
pub fn bus_access(config: &ZoneConfig, process: &str) -> Result<Access, AccessError> {
    let set = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
    let games: BTreeSet<String> = config.games.iter().map(|game| game.name.clone()).collect();
    if process == DATACENTER_NODE {
        return Ok(Access {
            binds: set(&[DATACENTER_NODE]),
            publishes: games
                .iter()
                .map(|game| wire::summary_topic(game))
                .chain([routing::TRANSFERS_TOPIC.to_owned()])
                .collect(),
            ..Access::default()
        });
    }
    if Some(process) == config.rank_process().as_deref() {
        return Ok(Access {
            binds: set(&[process]),
            ..Access::default()
        });
    }
    if process == ACCOUNT_NODE {
        let mut requests = games;
        requests.insert(DATACENTER_NODE.to_owned());
        return Ok(Access {
            binds: set(&[ACCOUNT_NODE]),
            requests,
            subscribes: set(&[routing::TRANSFERS_TOPIC]),
            ..Access::default()
        });
    }
    let game = config.games.iter().find(|game| game.name == process);
    let game = game.ok_or_else(|| AccessError::UnknownNode(process.to_owned()))?;
    let battle = game.battle_node();
    let mut requests = games;
    requests.extend([DATACENTER_NODE.to_owned(), ACCOUNT_NODE.to_owned()]);
    requests.extend(config.rank_process());
    requests.insert(battle.clone());
    Ok(Access {
        binds: set(&[&game.name, &battle]),
        requests,
        publishes: set(&[gamecore::HORN_TOPIC]),
        subscribes: [
            gamecore::HORN_TOPIC.to_owned(),
            wire::summary_topic(&game.name),
            routing::TRANSFERS_TOPIC.to_owned(),
        ]
        .into(),
    })
}

/// The directory of the zone's node keys.
fn keys_dir(config: &ZoneConfig) -> Result<&Path, AccessError> {
    let distributed = config.distributed.as_ref().ok_or(AccessError::NoKeys)?;
    distributed.nats_keys.as_deref().ok_or(AccessError::NoKeys)
}

/// The key node `process` authenticates with: `None` when the zone file
/// names no key directory (a NATS without authorization).
pub fn node_key(config: &ZoneConfig, process: &str) -> Result<Option<NodeKey>, AccessError> {
    match keys_dir(config) {
        Ok(dir) => Ok(Some(NodeKey::read(&bus_nats::key_file(dir, process))?)),
        Err(AccessError::NoKeys) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Writes a new key for every process of the zone that has none (creating
/// the key directory if needed) and returns the files written.
pub fn create_missing_keys(config: &ZoneConfig) -> Result<Vec<PathBuf>, AccessError> {
    let dir = keys_dir(config)?;
    std::fs::create_dir_all(dir).map_err(|error| CredentialsError::Io {
        path: dir.to_owned(),
        error,
    })?;
    let mut written = Vec::new();
    for process in config.node_names() {
        let path = bus_nats::key_file(dir, &process);
        if !path.exists() {
            NodeKey::generate().write_new(&path)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// nats-server's authorization block for the zone: every process's public
/// key (read from its key file) with the permissions of its role.
pub fn nats_authorization(config: &ZoneConfig) -> Result<String, AccessError> {
    let dir = keys_dir(config)?;
    let users = config
        .node_names()
        .into_iter()
        .map(|process| {
            let key = NodeKey::read(&bus_nats::key_file(dir, &process))?;
            let access = bus_access(config, &process)?;
            Ok(User {
                public_key: key.public_key().to_owned(),
                process,
                access,
            })
        })
        .collect::<Result<Vec<_>, AccessError>>()?;
    Ok(bus_nats::authorization_block(&config.zone, &users))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ZoneConfig {
        ZoneConfig::from_toml(include_str!("../../../zone.distributed.example.toml")).unwrap()
    }

    fn names(access: &BTreeSet<String>) -> Vec<&str> {
        access.iter().map(String::as_str).collect()
    }

    #[test]
    fn each_role_binds_its_names_and_asks_only_the_nodes_it_needs() {
        let config = example();
        let datacenter = bus_access(&config, "datacenter").unwrap();
        assert_eq!(names(&datacenter.binds), ["datacenter"]);
        assert!(datacenter.requests.is_empty() && datacenter.subscribes.is_empty());
        assert_eq!(
            names(&datacenter.publishes),
            [
                "summaries.gs1",
                "summaries.gs2",
                "summaries.gs3",
                "transfers"
            ]
        );
        let account = bus_access(&config, "account").unwrap();
        assert_eq!(names(&account.binds), ["account"]);
        assert_eq!(
            names(&account.requests),
            ["datacenter", "gs1", "gs2", "gs3"]
        );
        assert_eq!(names(&account.subscribes), ["transfers"]);
        assert!(account.publishes.is_empty());
        let game = bus_access(&config, "gs2").unwrap();
        assert_eq!(names(&game.binds), ["gs2", "gs2.battle"]);
        assert_eq!(
            names(&game.requests),
            ["account", "datacenter", "gs1", "gs2", "gs2.battle", "gs3"]
        );
        assert_eq!(names(&game.publishes), ["horn"]);
        assert_eq!(
            names(&game.subscribes),
            ["horn", "summaries.gs2", "transfers"]
        );
        assert!(matches!(
            bus_access(&config, "gs9"),
            Err(AccessError::UnknownNode(name)) if name == "gs9"
        ));
    }

    /// With `rank_database` the rank server is a process that binds its
    /// name and asks no one, and every game server may ask it; without it
    /// there is no such process and no game server asks for it.
    #[test]
    fn the_rank_server_is_a_process_only_with_its_database() {
        let mut config = example();
        assert!(!config.node_names().contains(&"rank".to_owned()));
        assert!(matches!(
            bus_access(&config, "rank"),
            Err(AccessError::UnknownNode(_))
        ));
        config.distributed.as_mut().unwrap().rank_database = Some("dbname=rank".to_owned());
        assert!(config.node_names().contains(&"rank".to_owned()));
        let rank = bus_access(&config, "rank").unwrap();
        assert_eq!(names(&rank.binds), ["rank"]);
        assert!(rank.requests.is_empty() && rank.publishes.is_empty());
        let game = bus_access(&config, "gs1").unwrap();
        assert!(game.requests.contains("rank"));
    }

    #[test]
    fn the_block_lists_every_node_once_its_keys_exist() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = example();
        assert!(matches!(
            nats_authorization(&config),
            Err(AccessError::NoKeys)
        ));
        assert!(node_key(&config, "gs1").unwrap().is_none());
        config.distributed.as_mut().unwrap().nats_keys = Some(dir.path().join("keys"));
        assert!(matches!(
            nats_authorization(&config),
            Err(AccessError::Key(CredentialsError::Io { .. }))
        ));
        let written = create_missing_keys(&config).unwrap();
        assert_eq!(written.len(), 5);
        let block = nats_authorization(&config).unwrap();
        assert!(create_missing_keys(&config).unwrap().is_empty(), "kept");
        assert_eq!(nats_authorization(&config).unwrap(), block);
        for process in config.node_names() {
            let key = node_key(&config, &process).unwrap().unwrap();
            assert_eq!(block.matches(key.public_key()).count(), 1, "{process}");
            assert!(block.contains(&format!("# {process}\n")), "{block}");
        }
    }
}
