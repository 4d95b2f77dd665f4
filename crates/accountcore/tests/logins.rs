//! The login core through its API: where a login goes, a fresh token per
//! candidate, the client told only the token of the server that
//! acknowledged, the bound on candidates and on logins in progress.

use std::collections::BTreeMap;

use accountcore::{
    AccountCore, CallFailed, CallId, Config, Entropy, LastRole, LoginId, LoginRequest, Output,
};
use routing::RoleId;
use wire::client::{ErrorCode, LoginOk, ServerAddress};
use wire::node::node_message::Body;
use wire::node::{Ack, CurrentAnswer, NodeMessage};

const NOW_MS: u64 = 1_000_000;
const TTL_MS: u64 = 30_000;

/// Tokens 1, 2, 3, …
struct Counter(u128);

impl Entropy for Counter {
    fn token(&mut self) -> u128 {
        self.0 += 1;
        self.0
    }
}

/// A zone of `servers` with gs1 recommended.
fn config(servers: &[&str], candidates_max: usize) -> Config {
    let servers: BTreeMap<String, ServerAddress> = servers
        .iter()
        .map(|name| {
            let address = ServerAddress {
                srvname: name.to_string(),
                tcp_addr: format!("{name}:7001"),
                ws_addr: String::new(),
            };
            (name.to_string(), address)
        })
        .collect();
    let mut config = Config::new("datacenter", servers, "gs1");
    config.login_token_ttl_ms = TTL_MS;
    config.login_candidates_max = candidates_max;
    config
}

fn core(servers: &[&str], candidates_max: usize) -> AccountCore {
    AccountCore::new(config(servers, candidates_max))
}

fn returning(home: &str) -> LoginRequest {
    LoginRequest {
        account_id: 7,
        roles: Vec::new(),
        last_role: Some(LastRole {
            roleid: RoleId::from_raw(3_000_001).unwrap(),
            home_srvname: home.to_owned(),
        }),
    }
}

fn new_account() -> LoginRequest {
    LoginRequest {
        account_id: 8,
        roles: Vec::new(),
        last_role: None,
    }
}

/// What the core asked for since the last drain.
#[derive(Debug, Default)]
struct Drained {
    locates: Vec<CallId>,
    grants: Vec<(CallId, String, u128)>,
    answers: Vec<(LoginId, Result<LoginOk, ErrorCode>)>,
    grants_failed: Vec<String>,
}

fn drain(core: &mut AccountCore) -> Drained {
    let mut drained = Drained::default();
    while let Some(output) = core.poll_output() {
        match output {
            Output::Request { call, to, message } => match message.body {
                Some(Body::GetCurrent(_)) => {
                    assert_eq!(to, "datacenter");
                    drained.locates.push(call);
                }
                Some(Body::GrantLogin(grant)) => {
                    let token = u128::from_be_bytes(grant.token.try_into().unwrap());
                    drained.grants.push((call, to, token));
                }
                other => panic!("unexpected request {other:?}"),
            },
            Output::Answer { login, answer } => drained
                .answers
                .push((login, answer.map_err(|refusal| refusal.code))),
            Output::GrantFailed { srvname, .. } => drained.grants_failed.push(srvname),
        }
    }
    drained
}

/// The one grant the core asked for.
fn only_grant(drained: &Drained) -> (CallId, String, u128) {
    assert_eq!(drained.grants.len(), 1, "{drained:?}");
    drained.grants[0].clone()
}

fn reply(body: Body) -> Result<NodeMessage, CallFailed> {
    Ok(NodeMessage { body: Some(body) })
}

fn ack() -> Result<NodeMessage, CallFailed> {
    reply(Body::Ack(Ack {}))
}

fn timeout() -> Result<NodeMessage, CallFailed> {
    Err(CallFailed("no reply before the deadline".into()))
}

fn offline() -> Result<NodeMessage, CallFailed> {
    reply(Body::CurrentAnswer(CurrentAnswer::default()))
}

fn online_at(srvname: &str) -> Result<NodeMessage, CallFailed> {
    reply(Body::CurrentAnswer(CurrentAnswer {
        known: true,
        srvname: srvname.to_owned(),
        online: true,
    }))
}

/// Starts a returning login and answers the data center's question.
fn located(
    core: &mut AccountCore,
    entropy: &mut Counter,
    home: &str,
    where_: Result<NodeMessage, CallFailed>,
) -> Drained {
    core.handle_login(NOW_MS, returning(home), entropy);
    let asked = drain(core);
    assert_eq!(asked.locates.len(), 1, "the data center is asked first");
    assert!(asked.grants.is_empty(), "no grant before the answer");
    core.handle_call_answer(NOW_MS, asked.locates[0], where_, entropy);
    drain(core)
}

#[test]
fn each_candidate_gets_a_fresh_token_and_the_client_gets_the_one_that_was_acknowledged() {
    let mut core = core(&["gs1", "gs2", "gs3"], 3);
    let entropy = &mut Counter(0);
    let first = located(&mut core, entropy, "gs3", offline());
    let (call, at, first_token) = only_grant(&first);
    assert_eq!(at, "gs3", "an offline role goes home");

    core.handle_call_answer(NOW_MS + 500, call, timeout(), entropy);
    let second = drain(&mut core);
    assert_eq!(second.grants_failed, ["gs3"]);
    let (call, at, second_token) = only_grant(&second);
    assert_eq!(at, "gs1", "then the recommended server");
    assert_ne!(second_token, first_token, "a fresh token for gs1");

    core.handle_call_answer(NOW_MS + 600, call, ack(), entropy);
    let answered = drain(&mut core);
    let [(_, Ok(login_ok))] = &answered.answers[..] else {
        panic!("{answered:?}")
    };
    assert_eq!(login_ok.server.as_ref().unwrap().srvname, "gs1");
    assert_eq!(login_ok.login_token, second_token.to_be_bytes());
    assert_eq!(login_ok.account_id, 7);
    assert_eq!(login_ok.token_ttl_ms, TTL_MS - 100, "what is surely left");
    assert_eq!(core.logins_in_progress(), 0);
}

#[test]
fn a_late_ack_from_an_earlier_candidate_gives_the_client_nothing() {
    let mut core = core(&["gs1", "gs2", "gs3"], 3);
    let entropy = &mut Counter(0);
    let first = located(&mut core, entropy, "gs2", offline());
    let (stalled_call, _, stalled_token) = only_grant(&first);
    core.handle_call_answer(NOW_MS, stalled_call, timeout(), entropy);
    let (next_call, next_at, next_token) = only_grant(&drain(&mut core));

    // gs2's acknowledgement arrives after the login moved on: nothing.
    core.handle_call_answer(NOW_MS, stalled_call, ack(), entropy);
    let late = drain(&mut core);
    assert!(
        late.answers.is_empty() && late.grants.is_empty(),
        "{late:?}"
    );

    core.handle_call_answer(NOW_MS, next_call, ack(), entropy);
    let [(_, Ok(login_ok))] = &drain(&mut core).answers[..] else {
        panic!("the login is answered once gs1 acknowledges")
    };
    assert_eq!(login_ok.server.as_ref().unwrap().srvname, next_at);
    assert_eq!(login_ok.login_token, next_token.to_be_bytes());
    assert_ne!(login_ok.login_token, stalled_token.to_be_bytes());
}

#[test]
fn a_role_online_elsewhere_goes_there_first_and_a_new_account_to_the_recommended_server() {
    let mut core = core(&["gs1", "gs2", "gs3"], 3);
    let entropy = &mut Counter(0);
    let online = located(&mut core, entropy, "gs3", online_at("gs2"));
    assert_eq!(online.grants[0].1, "gs2");

    core.handle_login(NOW_MS, new_account(), entropy);
    let fresh = drain(&mut core);
    assert!(fresh.locates.is_empty(), "no role to locate");
    assert_eq!(fresh.grants[0].1, "gs1");
}

#[test]
fn a_data_center_that_cannot_say_sends_the_role_home() {
    let mut core = core(&["gs1", "gs2", "gs3"], 3);
    let entropy = &mut Counter(0);
    let unknown = located(&mut core, entropy, "gs3", timeout());
    assert_eq!(unknown.grants[0].1, "gs3");
}

/// Fails every grant of the login and returns where they went and the
/// answer's code.
fn fail_every_grant(
    core: &mut AccountCore,
    entropy: &mut Counter,
    mut drained: Drained,
) -> (Vec<String>, ErrorCode) {
    let mut tried = Vec::new();
    loop {
        if let [(_, answer)] = &drained.answers[..] {
            return (tried, answer.clone().expect_err("no server took it"));
        }
        let (call, at, _) = only_grant(&drained);
        tried.push(at);
        core.handle_call_answer(NOW_MS, call, timeout(), entropy);
        drained = drain(core);
    }
}

#[test]
fn a_login_tries_at_most_the_candidate_bound_then_is_refused_server_down() {
    let mut core = core(&["gs1", "gs2", "gs3", "gs4", "gs5"], 3);
    let entropy = &mut Counter(0);
    let first = located(&mut core, entropy, "gs4", offline());
    let (tried, code) = fail_every_grant(&mut core, entropy, first);
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert_eq!(&tried[..2], ["gs4", "gs1"], "home, then recommended");
    assert_eq!(code, ErrorCode::ServerDown);
    assert_eq!(core.logins_in_progress(), 0);
}

#[test]
fn retried_logins_reach_other_servers_when_the_first_candidates_are_down() {
    let mut core = core(&["gs1", "gs2", "gs3", "gs4"], 3);
    let entropy = &mut Counter(0);
    let mut reached = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let first = located(&mut core, entropy, "gs1", offline());
        let (tried, _) = fail_every_grant(&mut core, entropy, first);
        reached.extend(tried);
    }
    assert_eq!(reached.len(), 4, "every server was tried: {reached:?}");
}

#[test]
fn a_zone_without_servers_refuses_with_unknown_server() {
    let mut core = core(&[], 3);
    let login = core.handle_login(NOW_MS, new_account(), &mut Counter(0));
    let answered = drain(&mut core);
    assert_eq!(answered.answers, [(login, Err(ErrorCode::UnknownServer))]);
}

#[test]
fn logins_beyond_the_bound_are_refused_overloaded() {
    let mut config = config(&["gs1"], 3);
    config.logins_max = 4;
    let mut core = AccountCore::new(config);
    let entropy = &mut Counter(0);
    for _ in 0..4 {
        core.handle_login(NOW_MS, new_account(), entropy);
    }
    assert_eq!(core.logins_in_progress(), 4);
    assert!(drain(&mut core).answers.is_empty());
    let refused = core.handle_login(NOW_MS, new_account(), entropy);
    let answered = drain(&mut core);
    assert_eq!(answered.answers, [(refused, Err(ErrorCode::Overloaded))]);
}

fn server_full() -> Result<NodeMessage, CallFailed> {
    reply(Body::Error(wire::node::NodeError {
        code: ErrorCode::ServerFull as i32,
        message: "server full".into(),
    }))
}

/// A new account's recommended server is full: the login moves on to
/// another server, and the next new account is not even offered to the
/// full one until the memory of its refusal ends.
#[test]
fn a_full_server_sends_a_new_account_elsewhere_and_is_skipped_for_a_while() {
    let mut core = core(&["gs1", "gs2"], 3);
    let entropy = &mut Counter(0);
    core.handle_login(NOW_MS, new_account(), entropy);
    let (call, at, _) = only_grant(&drain(&mut core));
    assert_eq!(at, "gs1", "the recommended server first");
    core.handle_call_answer(NOW_MS, call, server_full(), entropy);
    let (call, at, _) = only_grant(&drain(&mut core));
    assert_eq!(at, "gs2", "then another open server");
    core.handle_call_answer(NOW_MS, call, ack(), entropy);
    assert!(matches!(&drain(&mut core).answers[..], [(_, Ok(_))]));

    core.handle_login(NOW_MS + 1, new_account(), entropy);
    let (_, at, _) = only_grant(&drain(&mut core));
    assert_eq!(at, "gs2", "the full server is skipped");
    let later_ms = NOW_MS + accountcore::SERVER_FULL_MEMORY_MS;
    core.handle_login(later_ms, new_account(), entropy);
    let (_, at, _) = only_grant(&drain(&mut core));
    assert_eq!(at, "gs1", "and offered again once its refusal is old");
}

/// Every server full: the login is refused `SERVER_FULL` with a
/// retry-after, and the core tells the shell so before the next login
/// queues.
#[test]
fn when_every_server_is_full_logins_are_refused_server_full_with_a_wait() {
    let mut core = core(&["gs1", "gs2"], 3);
    let entropy = &mut Counter(0);
    assert_eq!(core.zone_full_retry_after_ms(NOW_MS), None);
    core.handle_login(NOW_MS, new_account(), entropy);
    for _ in 0..2 {
        let (call, _, _) = only_grant(&drain(&mut core));
        core.handle_call_answer(NOW_MS, call, server_full(), entropy);
    }
    let mut refused = None;
    while let Some(output) = core.poll_output() {
        if let Output::Answer { answer, .. } = output {
            refused = answer.err();
        }
    }
    let refusal = refused.expect("the login is refused");
    assert_eq!(refusal.code, ErrorCode::ServerFull);
    let memory_ms = accountcore::SERVER_FULL_MEMORY_MS;
    assert_eq!(refusal.retry_after_ms, Some(memory_ms));
    assert_eq!(
        core.zone_full_retry_after_ms(NOW_MS + 1),
        Some(memory_ms - 1)
    );
    assert_eq!(core.zone_full_retry_after_ms(NOW_MS + memory_ms), None);
}

/// The grant at the server where the role is online names the role (a
/// full server still takes the login of a player it hosts); a grant
/// elsewhere names none.
#[test]
fn the_grant_where_the_role_is_online_names_the_role() {
    let mut core = core(&["gs1", "gs2", "gs3"], 3);
    let entropy = &mut Counter(0);
    core.handle_login(NOW_MS, returning("gs3"), entropy);
    let locate = drain(&mut core).locates[0];
    core.handle_call_answer(NOW_MS, locate, online_at("gs2"), entropy);
    let mut named = Vec::new();
    for answer in [server_full(), ack()] {
        let (call, to, grant) = std::iter::from_fn(|| core.poll_output())
            .find_map(|output| match output {
                Output::Request { call, to, message } => match message.body {
                    Some(Body::GrantLogin(grant)) => Some((call, to, grant)),
                    _ => None,
                },
                _ => None,
            })
            .expect("a grant");
        named.push((to, grant.online_roleid));
        core.handle_call_answer(NOW_MS, call, answer, entropy);
    }
    assert_eq!(named, [("gs2".into(), 3_000_001), ("gs3".into(), 0)]);
}
