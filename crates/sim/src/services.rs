//! A model of the zone's account center, as the game servers and players see
//! it over the simulated bus (the data center runs its production core; see
//! `datacenter_link`).
//!
//! - The account center (DESIGN §11): a login asks the data center where
//!   the role is; it picks the server where the role is online, else the
//!   role's home; it grants that server a one-time login token
//!   (`GrantLogin`) and only then gives the token to the client. When the
//!   grant fails (the server is down or cut off) it tries the home server,
//!   then another server, so a dead server does not lock its players out
//!   (DESIGN §6 "T dies after arrival: C logs in elsewhere", §7 "a dead home
//!   server does not stop its players"); `account::login` today grants once
//!   and answers `SERVER_DOWN`. Accounts are fixed at setup (one role
//!   each); passwords are not modelled.
//!
//! It keeps its state across the run (it is durable in production); the
//! simulator cuts it off with partitions but does not crash it.

use std::collections::BTreeMap;

use gamecore::PeerError;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{Ack, GetCurrent, GrantLogin, NodeError, NodeMessage};

use crate::queue::SimEvent;
use crate::world::{ACCOUNT_BIT, CLIENTS_BIT, Endpoint, SERVICE_INCARNATION, TOKEN_TTL_MS, World};

/// The account center's logins in progress.
#[derive(Default)]
pub struct AccountCenter {
    logins: BTreeMap<u64, Login>,
    calls: BTreeMap<u64, u64>,
    next_id: u64,
}

/// Servers a login tries to grant a token at, at most.
pub const LOGIN_CANDIDATES_MAX: usize = 3;

/// One login in progress.
struct Login {
    client: usize,
    attempt: u64,
    /// Servers to try, in order; empty while the data center is asked.
    candidates: Vec<usize>,
    /// The candidate being granted a token, and the token.
    granting: Option<(usize, u128)>,
}

fn reply(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

fn error(code: ErrorCode) -> NodeMessage {
    reply(Body::Error(NodeError {
        code: code as i32,
        message: "not taken here".to_owned(),
    }))
}

impl World {
    /// A request to the account center from a game server (role-creation
    /// notes; the simulator creates roles at setup, so none is expected).
    pub(crate) fn account_request(&mut self, message: NodeMessage) -> NodeMessage {
        match message.body {
            Some(Body::RoleCreated(_)) => reply(Body::Ack(Ack {})),
            _ => error(ErrorCode::UnexpectedMessage),
        }
    }

    /// A client's login reached the account center: ask the data center
    /// where the role is.
    pub(crate) fn login_arrives(&mut self, client: usize, attempt: u64) {
        let id = self.account.next_id;
        self.account.next_id += 1;
        self.account.logins.insert(
            id,
            Login {
                client,
                attempt,
                candidates: Vec::new(),
                granting: None,
            },
        );
        let roleid = self.clients[client].roleid.get();
        let query = reply(Body::GetCurrent(GetCurrent { roleid }));
        self.account_call(id, "datacenter", query);
    }

    fn account_call(&mut self, login: u64, to: &str, message: NodeMessage) {
        let call = self.account.next_id;
        self.account.next_id += 1;
        self.account.calls.insert(call, login);
        self.request(Endpoint::Account, SERVICE_INCARNATION, call, to, message);
    }

    /// An answer to one of the account center's requests.
    pub(crate) fn account_answer(&mut self, call: u64, answer: Result<NodeMessage, PeerError>) {
        let Some(id) = self.account.calls.remove(&call) else {
            return;
        };
        let Some(login) = self.account.logins.get(&id) else {
            return;
        };
        match login.granting {
            None => {
                let online_at = match answer {
                    Ok(NodeMessage {
                        body: Some(Body::CurrentAnswer(current)),
                    }) if current.known && current.online => self
                        .nodes
                        .iter()
                        .position(|node| node.name == current.srvname),
                    _ => None,
                };
                let candidates = self.login_candidates(login.client, online_at);
                self.account
                    .logins
                    .get_mut(&id)
                    .expect("present")
                    .candidates = candidates;
                self.grant_next(id);
            }
            Some(granted) if answer.is_ok() => self.login_done(id, Some(granted)),
            Some(_) => self.grant_next(id),
        }
    }

    /// Where the role is online, its home, then the other servers from a
    /// random one on.
    fn login_candidates(&mut self, client: usize, online_at: Option<usize>) -> Vec<usize> {
        let home = self.clients[client].home;
        let count = self.nodes.len();
        let start = self.prng.index(count);
        let others = (0..count).map(|offset| (start + offset) % count);
        let mut candidates = Vec::with_capacity(LOGIN_CANDIDATES_MAX);
        for node in online_at.into_iter().chain([home]).chain(others) {
            if !candidates.contains(&node) && candidates.len() < LOGIN_CANDIDATES_MAX {
                candidates.push(node);
            }
        }
        candidates
    }

    /// Grants a token at the next candidate, or gives up.
    fn grant_next(&mut self, id: u64) {
        let login = self.account.logins.get_mut(&id).expect("present");
        if login.candidates.is_empty() {
            return self.login_done(id, None);
        }
        let node = login.candidates.remove(0);
        let client = login.client;
        let token = self.prng.token();
        self.account.logins.get_mut(&id).expect("present").granting = Some((node, token));
        let grant = GrantLogin {
            token: token.to_be_bytes().to_vec(),
            account_id: self.clients[client].account_id,
            ttl_ms: TOKEN_TTL_MS,
        };
        let srvname = self.nodes[node].name.clone();
        self.account_call(id, &srvname, reply(Body::GrantLogin(grant)));
    }

    fn login_done(&mut self, id: u64, granted: Option<(usize, u128)>) {
        let login = self.account.logins.remove(&id).expect("present");
        if self.cut_until(ACCOUNT_BIT, CLIENTS_BIT).is_none() {
            let at = self.now_ms + self.latency();
            let event = SimEvent::LoginAnswer {
                client: login.client,
                attempt: login.attempt,
                granted,
            };
            self.queue.push(at, event);
        }
    }
}
