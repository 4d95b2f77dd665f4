//! The servers a login tries to grant a token at, in order (DESIGN §11; seed
//! "Optimisations" 2, no selection screen):
//!
//! 1. the server where the last role is online now (per the data center);
//! 2. the last role's home server;
//! 3. the recommended server;
//! 4. every other server, in name order, starting at a place that moves on
//!    with every login: logins spread over the zone, and a client that retries
//!    reaches every server even when the first candidates are down (any game
//!    server can load any player from its home database, DESIGN §7).
//!
//! Each server appears once, only servers of the zone appear, a server known
//! to be full is skipped (unless the last role is online there: its own copy
//! is there), and the list holds at most `Config::login_candidates_max`
//! servers.

use crate::Config;

/// What the candidates are chosen from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement<'a> {
    /// Where the last role is online now, if it is.
    pub online_at: Option<&'a str>,
    /// The last role's home server, if the account has a role.
    pub home: Option<&'a str>,
    /// Where in the name order the other servers start (taken modulo the
    /// zone's size): the login's number.
    pub rotation: u64,
    /// The servers known to be at their player cap now.
    pub full: &'a [String],
}

/// The candidate servers of a login, in the order they are tried.
pub fn candidates(config: &Config, placement: Placement<'_>) -> Vec<String> {
    let names: Vec<&str> = config.servers.keys().map(String::as_str).collect();
    let start = match u64::try_from(names.len()) {
        Ok(count) if count > 0 => usize::try_from(placement.rotation % count).unwrap_or(0),
        _ => 0,
    };
    let (before, after) = names.split_at(start);
    let preferred = [
        placement.online_at,
        placement.home,
        Some(config.recommended_server.as_str()),
    ];
    let ordered = preferred
        .into_iter()
        .flatten()
        .chain(after.iter().copied())
        .chain(before.iter().copied());
    let mut chosen: Vec<String> = Vec::with_capacity(config.login_candidates_max);
    for name in ordered {
        if chosen.len() == config.login_candidates_max {
            break;
        }
        let full = placement.online_at != Some(name) && placement.full.iter().any(|f| f == name);
        if config.servers.contains_key(name) && !full && !chosen.iter().any(|known| known == name) {
            chosen.push(name.to_owned());
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use wire::client::ServerAddress;

    fn config(servers: &[&str], recommended: &str, candidates_max: usize) -> Config {
        let servers: BTreeMap<String, ServerAddress> = servers
            .iter()
            .map(|name| (name.to_string(), ServerAddress::default()))
            .collect();
        let mut config = Config::new("datacenter", servers, recommended);
        config.login_candidates_max = candidates_max;
        config
    }

    #[test]
    fn online_then_home_then_recommended_then_the_others_in_name_order() {
        let config = config(&["gs1", "gs2", "gs3", "gs4", "gs5"], "gs2", 5);
        let placement = Placement {
            online_at: Some("gs4"),
            home: Some("gs3"),
            rotation: 0,
            full: &[],
        };
        assert_eq!(
            candidates(&config, placement),
            ["gs4", "gs3", "gs2", "gs1", "gs5"]
        );
    }

    #[test]
    fn the_others_start_where_the_rotation_says_and_wrap_around() {
        let config = config(&["gs1", "gs2", "gs3", "gs4"], "gs1", 4);
        let placement = |rotation| Placement {
            online_at: None,
            home: Some("gs1"),
            rotation,
            full: &[],
        };
        assert_eq!(
            candidates(&config, placement(2)),
            ["gs1", "gs3", "gs4", "gs2"]
        );
        assert_eq!(
            candidates(&config, placement(7)),
            ["gs1", "gs4", "gs2", "gs3"]
        );
    }

    #[test]
    fn unknown_servers_are_skipped_and_the_list_is_bounded() {
        let config = config(&["gs1", "gs2", "gs3"], "gs1", 2);
        let placement = Placement {
            online_at: Some("gone"),
            home: Some("gs3"),
            rotation: 0,
            full: &[],
        };
        assert_eq!(candidates(&config, placement), ["gs3", "gs1"]);
    }

    #[test]
    fn full_servers_are_skipped_unless_the_role_is_online_there() {
        let config = config(&["gs1", "gs2", "gs3", "gs4"], "gs1", 3);
        let full = ["gs1".to_owned(), "gs2".to_owned(), "gs3".to_owned()];
        let placement = Placement {
            online_at: Some("gs3"),
            home: Some("gs2"),
            rotation: 0,
            full: &full,
        };
        assert_eq!(candidates(&config, placement), ["gs3", "gs4"]);
    }

    #[test]
    fn an_empty_zone_has_no_candidates() {
        let config = config(&[], "gs1", 3);
        assert!(candidates(&config, Placement::default()).is_empty());
    }
}
