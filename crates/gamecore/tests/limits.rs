//! The core's limits through its API (issue 11, "limits as data"): the
//! pending store operations and peer requests are bounded, a client request
//! beyond a bound is refused `OVERLOADED`, timer work beyond it waits for
//! its next round, refusals name the limits they enforce, and a config whose
//! limits contradict each other is refused.

mod harness;

use gamecore::limits::{HORN_TEXT_BYTES_MAX, LEVEL_MAX, ROLE_NAME_CHARS_MAX, TOKEN_BYTES};
use gamecore::{Config, ConfigError};
use harness::Harness;
use store::PlayerOp;
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{Authenticate, CreateRole, ErrorCode, Fight, Horn, ListRoles};

const ACCOUNT: u64 = 1_000;

fn is_role_listing(operation: &PlayerOp) -> bool {
    matches!(operation, PlayerOp::RolesOfAccount { .. })
}

fn is_renewal(operation: &PlayerOp) -> bool {
    matches!(operation, PlayerOp::RenewLeases { .. })
}

/// With room for two players' writes in four operations, two role
/// listings fit in flight and a third is refused; an answer makes room.
#[test]
fn a_client_request_beyond_the_pending_operations_bound_is_refused_overloaded() {
    let mut harness = Harness::with_config(|config| {
        config.players_max = 2;
        config.pending_ops_max = 4;
    });
    let session = harness.log_in(ACCOUNT);
    harness.hold_store = true;
    let first = harness.send(session, In::ListRoles(ListRoles {}));
    harness.send(session, In::ListRoles(ListRoles {}));
    let third = harness.send(session, In::ListRoles(ListRoles {}));
    assert_eq!(harness.error(session, third), Some(ErrorCode::Overloaded));
    assert_eq!(
        harness.core.inflight().0,
        2,
        "the refused one started nothing"
    );

    let (listing, operation) = harness.take_held(is_role_listing);
    let roles = harness.commit(operation);
    harness.deliver(listing, roles);
    assert!(matches!(
        harness.reply(session, first),
        Some(Out::RoleList(_))
    ));
    let fourth = harness.send(session, In::ListRoles(ListRoles {}));
    assert_eq!(harness.error(session, fourth), None, "room again");
    assert_eq!(harness.core.inflight().0, 2);
}

/// One request to a peer may be in flight: a second fight is refused until
/// the first is answered. A note owed (the arrival's `SetCurrent`) takes
/// room until it is acknowledged.
#[test]
fn a_fight_beyond_the_pending_requests_bound_is_refused_overloaded() {
    let mut harness = Harness::with_config(|config| {
        config.pending_calls_max = 1;
        config.marks_max = 1;
    });
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    assert_eq!(
        harness.core.inflight().1,
        1,
        "the SetCurrent note is in flight"
    );
    let (note, _) = harness.take_request("datacenter");
    harness.answer_call(note, Ok(Harness::ack()));
    assert_eq!(
        harness.core.inflight().1,
        0,
        "acknowledged: its room is free"
    );
    harness.call(session, Call::Fight(Fight { monster_level: 1 }));
    let second = harness.call(session, Call::Fight(Fight { monster_level: 1 }));
    assert_eq!(harness.error(session, second), Some(ErrorCode::Overloaded));
    assert_eq!(harness.core.inflight().1, 1);
}

/// A renewal round that finds no room for its batch waits for the next
/// round instead of going over the bound.
#[test]
fn a_renewal_round_without_room_waits_for_the_next_one() {
    let mut harness = Harness::with_config(|config| {
        config.players_max = 1;
        config.pending_ops_max = 3;
    });
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    harness.hold_store = true;
    harness.send(session, In::ListRoles(ListRoles {}));
    harness.send(session, In::ListRoles(ListRoles {}));
    let renew_due_ms = harness.now_ms + harness::LEASE_RENEW_INTERVAL_MS;
    while harness.now_ms < renew_due_ms {
        harness.fire_next_timer();
    }
    assert!(!harness.held().any(is_renewal), "no room: the round waits");
    assert_eq!(harness.core.inflight().0, 2);

    let (listing, operation) = harness.take_held(is_role_listing);
    let roles = harness.commit(operation);
    harness.deliver(listing, roles);
    let next_round_ms = harness.now_ms + harness::LEASE_RENEW_INTERVAL_MS;
    while harness.now_ms < next_round_ms && !harness.held().any(is_renewal) {
        harness.fire_next_timer();
    }
    assert!(harness.held().any(is_renewal), "the next round renews");
    assert!(harness.core.is_online(roleid));
}

#[test]
fn refusals_name_the_limits_they_enforce() {
    let mut harness = Harness::new();
    let roleid = harness.create_role(ACCOUNT);
    let session = harness.log_in_and_enter(ACCOUNT, roleid);
    let long_name = "n".repeat(ROLE_NAME_CHARS_MAX + 1);
    let name = harness.send(session, In::CreateRole(CreateRole { name: long_name }));
    let long_text = "h".repeat(HORN_TEXT_BYTES_MAX + 1);
    let horn = harness.send(session, In::Horn(Horn { text: long_text }));
    let monster_level = LEVEL_MAX + 1;
    let fight = harness.call(session, Call::Fight(Fight { monster_level }));
    let stranger = harness.open();
    let short = Authenticate {
        token: vec![7; TOKEN_BYTES - 1],
        roleid: 0,
    };
    let token = harness.send(stranger, In::Authenticate(short));
    for (session, request_id, limit) in [
        (session, name, ROLE_NAME_CHARS_MAX.to_string()),
        (session, horn, HORN_TEXT_BYTES_MAX.to_string()),
        (session, fight, LEVEL_MAX.to_string()),
        (stranger, token, TOKEN_BYTES.to_string()),
    ] {
        let Some(Out::Error(error)) = harness.reply(session, request_id) else {
            panic!("refused: {:?}", harness.reply(session, request_id));
        };
        assert!(
            error.message.contains(&limit),
            "{} names {limit}",
            error.message
        );
    }
}

fn config() -> Config {
    Harness::with_config(|_| {}).config().clone()
}

#[test]
fn a_config_whose_limits_contradict_each_other_is_refused() {
    assert_eq!(config().validate(), Ok(()), "the defaults hold");
    let mut crowded = config();
    crowded.pending_ops_max = crowded.players_max;
    let refused = crowded.validate().unwrap_err();
    assert!(matches!(
        refused,
        ConfigError::NoRoomForPlayersWrites { .. }
    ));
    assert!(
        refused
            .to_string()
            .contains(&crowded.players_max.to_string())
    );
    let mut marks = config();
    marks.marks_max = marks.pending_calls_max + 1;
    assert!(matches!(
        marks.validate(),
        Err(ConfigError::NoRoomForHeartbeat { .. })
    ));
    let mut lease = config();
    lease.skew_margin_ms = lease.lease_ttl_ms;
    assert!(matches!(
        lease.validate(),
        Err(ConfigError::LeaseTooShort { .. })
    ));
}
