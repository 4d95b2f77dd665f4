//! The account center in the simulated zone: the production login core
//! ([`accountcore::AccountCore`]) on the simulated bus, with the account
//! center's clock being true time and its tokens drawn from the run's PRNG.
//!
//! A player's login reaches it with the player's account and one role (the
//! credential check, passwords and the account database are not modelled;
//! accounts are fixed at setup). The core's requests (`GetCurrent` to the
//! data center, `GrantLogin` to game servers) go out as the account
//! endpoint's bus calls, whose answers or deadlines come back as its inputs;
//! its answer goes back to the player over the clients' side of the network.
//! Role-creation notes are acknowledged (the simulator creates roles at
//! setup). The account center keeps its state across the run and is cut off
//! by partitions but never crashed.

use std::collections::BTreeMap;

use accountcore::{
    AccountCore, CallFailed, CallId, Config, Entropy, LastRole, LoginId, LoginRequest, Output,
    Refusal,
};
use gamecore::{PeerError, ZoneMap};
use wire::client::{ErrorCode, LoginOk};
use wire::node::node_message::Body;
use wire::node::{Ack, NodeError, NodeMessage};

use crate::Mutation;
use crate::prng::Prng;
use crate::queue::SimEvent;
use crate::world::{
    ACCOUNT_BIT, CLIENTS_BIT, Endpoint, SERVICE_INCARNATION, TOKEN_TTL_MS, World, srvname,
};

/// The account center: its core and whom each login answers.
pub(crate) struct AccountLink {
    core: AccountCore,
    /// The player and login attempt each login in the core answers.
    logins: BTreeMap<LoginId, (usize, u64)>,
}

impl AccountLink {
    /// The account center of `zone`, with gs1 as the recommended server.
    pub(crate) fn new(zone: &ZoneMap, mutation: Option<Mutation>) -> Self {
        let servers = zone
            .servers()
            .map(|server| (server.address.srvname.clone(), server.address.clone()))
            .collect();
        let mut config = Config::new("datacenter", servers, &srvname(0));
        config.login_token_ttl_ms = TOKEN_TTL_MS;
        config.mutations.shared_login_token = mutation == Some(Mutation::SharedLoginToken);
        Self {
            core: AccountCore::new(config),
            logins: BTreeMap::new(),
        }
    }
}

impl Entropy for Prng {
    fn token(&mut self) -> u128 {
        Prng::token(self)
    }
}

impl World {
    /// A request to the account center from a game server: role-creation
    /// notes (none is expected: roles are made at setup).
    pub(crate) fn account_request(&mut self, message: NodeMessage) -> NodeMessage {
        let body = match message.body {
            Some(Body::RoleCreated(_)) => Body::Ack(Ack {}),
            _ => Body::Error(NodeError {
                code: ErrorCode::UnexpectedMessage as i32,
                message: "the account center takes RoleCreated".to_owned(),
            }),
        };
        NodeMessage { body: Some(body) }
    }

    /// A player's login reached the account center.
    pub(crate) fn login_arrives(&mut self, client: usize, attempt: u64) {
        let player = &self.clients[client];
        let request = LoginRequest {
            account_id: player.account_id,
            roles: Vec::new(),
            last_role: Some(LastRole {
                roleid: player.roleid,
                home_srvname: srvname(player.home),
            }),
        };
        let login = self
            .account
            .core
            .handle_login(self.now_ms, request, &mut self.prng);
        self.account.logins.insert(login, (client, attempt));
        self.after_account();
    }

    /// The answer to one of the account center's bus calls.
    pub(crate) fn account_answer(&mut self, call: u64, answer: Result<NodeMessage, PeerError>) {
        let answer = answer.map_err(|error| CallFailed(format!("{error:?}")));
        self.account
            .core
            .handle_call_answer(self.now_ms, CallId(call), answer, &mut self.prng);
        self.after_account();
    }

    /// Carries out the core's outputs.
    fn after_account(&mut self) {
        while let Some(output) = self.account.core.poll_output() {
            match output {
                Output::Request { call, to, message } => {
                    self.request(Endpoint::Account, SERVICE_INCARNATION, call.0, &to, message);
                }
                Output::Answer { login, answer } => self.login_done(login, answer),
                Output::GrantFailed {
                    srvname, failure, ..
                } => {
                    self.checker
                        .sometimes
                        .record(crate::Property::LoginGrantFailed, 1);
                    self.log(|| format!("account: no grant at {srvname}: {}", failure.0));
                }
            }
        }
    }

    /// Sends the login's answer to its player: the server and token, or
    /// nothing (the player backs off and retries).
    fn login_done(&mut self, login: LoginId, answer: Result<LoginOk, Refusal>) {
        let Some((client, attempt)) = self.account.logins.remove(&login) else {
            return;
        };
        let granted = match answer {
            Ok(login_ok) => match self.granted(&login_ok) {
                Some(granted) => Some(granted),
                None => {
                    self.checker.fail(
                        crate::Property::ClientsGetExpectedAnswers,
                        format!("the account center answered {login_ok:?}"),
                    );
                    return;
                }
            },
            Err(_) => None,
        };
        if self.cut_until(ACCOUNT_BIT, CLIENTS_BIT).is_none() {
            let at = self.now_ms + self.latency();
            let event = SimEvent::LoginAnswer {
                client,
                attempt,
                granted,
            };
            self.queue.push(at, event);
        }
    }

    /// The node and token a `LoginOk` names.
    fn granted(&self, login_ok: &LoginOk) -> Option<(usize, u128)> {
        let srvname = &login_ok.server.as_ref()?.srvname;
        let node = self.nodes.iter().position(|node| &node.name == srvname)?;
        let token = gamecore::tokens::token_from_bytes(&login_ok.login_token)?;
        Some((node, token))
    }
}
