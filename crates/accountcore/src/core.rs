//! The state machine: the logins in progress, each waiting for one answer
//! (where its role is online, or whether its current candidate took the
//! token), and the outputs for the shell.

use std::collections::{BTreeMap, VecDeque};

use wire::client::{ErrorCode, LoginOk};
use wire::node::node_message::Body;
use wire::node::{GetCurrent, GrantLogin, NodeMessage};

use crate::candidates::{Placement, candidates};
use crate::{CallFailed, CallId, Config, Entropy, LoginId, LoginRequest, Output, Refusal};

/// The account center's login core. See the crate documentation.
pub struct AccountCore {
    config: Config,
    logins: BTreeMap<LoginId, Login>,
    calls: BTreeMap<CallId, LoginId>,
    next_login: u64,
    next_call: u64,
    outputs: VecDeque<Output>,
    /// Servers that refused a grant `SERVER_FULL`, until when they are
    /// skipped (at most one entry per server of the zone).
    full_until_ms: BTreeMap<String, u64>,
}

/// One login in progress.
struct Login {
    request: LoginRequest,
    /// The candidates not tried yet, in order.
    remaining: VecDeque<String>,
    /// What the last candidate that failed said, for the refusal.
    last_failure: Option<(ErrorCode, String)>,
    /// Where the data center said the last role is online.
    online_at: Option<String>,
    /// The grant waiting for its answer; `None` while the data center is
    /// asked where the role is.
    granting: Option<Grant>,
}

/// A login token granted at a candidate, waiting for its answer.
struct Grant {
    srvname: String,
    token: u128,
    granted_at_ms: u64,
}

impl AccountCore {
    /// A core with no login in progress.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            logins: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_login: 0,
            next_call: 0,
            outputs: VecDeque::new(),
            full_until_ms: BTreeMap::new(),
        }
    }

    /// The next thing for the shell to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Logins waiting for an answer from a peer.
    pub fn logins_in_progress(&self) -> usize {
        self.logins.len()
    }

    /// When every server of the zone is known to be full at `now_ms`: the
    /// wait until the first may have room (a login would only be refused
    /// `SERVER_FULL`, so the shell refuses it before it queues).
    pub fn zone_full_retry_after_ms(&self, now_ms: u64) -> Option<u64> {
        let mut soonest_ms = u64::MAX;
        for srvname in self.config.servers.keys() {
            let until_ms = self.full_until_ms.get(srvname).copied().unwrap_or(0);
            if until_ms <= now_ms {
                return None;
            }
            soonest_ms = soonest_ms.min(until_ms);
        }
        (soonest_ms != u64::MAX).then(|| soonest_ms - now_ms)
    }

    /// A login whose credential the shell has checked. Its answer comes as an
    /// [`Output::Answer`] with the returned id.
    pub fn handle_login(
        &mut self,
        now_ms: u64,
        request: LoginRequest,
        entropy: &mut dyn Entropy,
    ) -> LoginId {
        let id = LoginId(self.next_login);
        self.next_login += 1;
        if self.logins.len() >= self.config.logins_max {
            let refusal = refusal(ErrorCode::Overloaded, "too many logins at once; retry");
            self.answer(id, Err(refusal));
            return id;
        }
        let locate = request.last_role.as_ref().map(|role| role.roleid.get());
        let mut login = Login {
            request,
            remaining: VecDeque::new(),
            last_failure: None,
            online_at: None,
            granting: None,
        };
        match locate {
            Some(roleid) => {
                let query = message(Body::GetCurrent(GetCurrent { roleid }));
                let datacenter = self.config.datacenter_node.clone();
                self.call(id, datacenter, query);
                self.logins.insert(id, login);
            }
            None => {
                login.remaining = self.candidates(now_ms, id, &login.request, None);
                self.grant_next(now_ms, id, login, None, entropy);
            }
        }
        id
    }

    /// The answer to this core's request `call`: a reply, or why there is
    /// none. An answer to a call the core no longer waits for is ignored.
    pub fn handle_call_answer(
        &mut self,
        now_ms: u64,
        call: CallId,
        answer: Result<NodeMessage, CallFailed>,
        entropy: &mut dyn Entropy,
    ) {
        let Some(id) = self.calls.remove(&call) else {
            return;
        };
        let Some(mut login) = self.logins.remove(&id) else {
            return;
        };
        let Some(grant) = login.granting.take() else {
            login.online_at = online_at(answer);
            let online_at = login.online_at.as_deref();
            login.remaining = self.candidates(now_ms, id, &login.request, online_at);
            return self.grant_next(now_ms, id, login, None, entropy);
        };
        match acknowledged(answer) {
            Ok(()) => {
                let login_ok = self.login_ok(now_ms, &login.request, grant);
                self.answer(id, Ok(login_ok));
            }
            Err((code, failure)) => {
                if code == ErrorCode::ServerFull {
                    let until_ms = now_ms.saturating_add(self.config.server_full_memory_ms);
                    self.full_until_ms.insert(grant.srvname.clone(), until_ms);
                }
                let message = format!("{}: {}", grant.srvname, failure.0);
                login.last_failure = Some((code, message));
                self.outputs.push_back(Output::GrantFailed {
                    login: id,
                    srvname: grant.srvname,
                    failure,
                });
                let shared = self.config.mutations.shared_login_token;
                let reused = shared.then_some(grant.token);
                self.grant_next(now_ms, id, login, reused, entropy);
            }
        }
    }

    /// The candidates of login `id`, the last role online at `online_at`.
    fn candidates(
        &self,
        now_ms: u64,
        id: LoginId,
        request: &LoginRequest,
        online_at: Option<&str>,
    ) -> VecDeque<String> {
        let full: Vec<String> = self
            .full_until_ms
            .iter()
            .filter(|(_, until_ms)| now_ms < **until_ms)
            .map(|(srvname, _)| srvname.clone())
            .collect();
        let placement = Placement {
            full: &full,
            online_at,
            home: request
                .last_role
                .as_ref()
                .map(|role| role.home_srvname.as_str()),
            rotation: id.0,
        };
        candidates(&self.config, placement).into()
    }

    /// Grants a fresh token at the next candidate, or refuses the login when
    /// none is left. `reused` is a token to grant again instead (only the
    /// `shared_login_token` mutation passes one).
    fn grant_next(
        &mut self,
        now_ms: u64,
        id: LoginId,
        mut login: Login,
        reused: Option<u128>,
        entropy: &mut dyn Entropy,
    ) {
        let Some(srvname) = login.remaining.pop_front() else {
            let refusal = match login.last_failure {
                Some((ErrorCode::ServerFull, message)) => Refusal {
                    retry_after_ms: Some(self.config.server_full_memory_ms),
                    ..refusal(ErrorCode::ServerFull, message)
                },
                Some((_, message)) => refusal(ErrorCode::ServerDown, message),
                None => match self.zone_full_retry_after_ms(now_ms) {
                    Some(wait_ms) => Refusal {
                        retry_after_ms: Some(wait_ms),
                        ..refusal(ErrorCode::ServerFull, "every game server is full")
                    },
                    None => refusal(ErrorCode::UnknownServer, "no game server in this zone"),
                },
            };
            return self.answer(id, Err(refusal));
        };
        let token = reused.unwrap_or_else(|| entropy.token());
        let online_here = login.online_at.as_deref() == Some(srvname.as_str());
        let online_roleid = match &login.request.last_role {
            Some(role) if online_here => role.roleid.get(),
            _ => 0,
        };
        let grant = GrantLogin {
            token: token.to_be_bytes().to_vec(),
            account_id: login.request.account_id,
            ttl_ms: self.config.login_token_ttl_ms,
            online_roleid,
        };
        self.call(id, srvname.clone(), message(Body::GrantLogin(grant)));
        login.granting = Some(Grant {
            srvname,
            token,
            granted_at_ms: now_ms,
        });
        self.logins.insert(id, login);
    }

    /// The answer for a login whose grant was acknowledged. The server
    /// counts the token's validity from when it got the grant, so the client
    /// is told what is surely left.
    fn login_ok(&self, now_ms: u64, request: &LoginRequest, grant: Grant) -> LoginOk {
        let elapsed_ms = now_ms.saturating_sub(grant.granted_at_ms);
        LoginOk {
            account_id: request.account_id,
            roles: request.roles.clone(),
            server: self.config.servers.get(&grant.srvname).cloned(),
            login_token: grant.token.to_be_bytes().to_vec(),
            token_ttl_ms: self.config.login_token_ttl_ms.saturating_sub(elapsed_ms),
        }
    }

    fn call(&mut self, login: LoginId, to: String, message: NodeMessage) {
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.calls.insert(call, login);
        self.outputs
            .push_back(Output::Request { call, to, message });
    }

    fn answer(&mut self, login: LoginId, answer: Result<LoginOk, Refusal>) {
        self.outputs.push_back(Output::Answer { login, answer });
    }
}

/// Where the data center says the role is online; `None` when it is offline
/// or the data center cannot say (the home server then comes first).
fn online_at(answer: Result<NodeMessage, CallFailed>) -> Option<String> {
    match answer {
        Ok(NodeMessage {
            body: Some(Body::CurrentAnswer(current)),
        }) if current.known && current.online => Some(current.srvname),
        _ => None,
    }
}

/// Whether a grant was acknowledged: only an `Ack` is. A refusal carries
/// the server's code (`SERVER_DOWN` when there was no answer).
fn acknowledged(answer: Result<NodeMessage, CallFailed>) -> Result<(), (ErrorCode, CallFailed)> {
    let answer = answer.map_err(|failure| (ErrorCode::ServerDown, failure))?;
    match answer.body {
        Some(Body::Ack(_)) => Ok(()),
        Some(Body::Error(error)) => {
            let code = ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Internal);
            Err((code, CallFailed(error.message)))
        }
        other => Err((
            ErrorCode::Internal,
            CallFailed(format!("answered {other:?} instead of Ack")),
        )),
    }
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

fn refusal(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
        retry_after_ms: None,
    }
}
