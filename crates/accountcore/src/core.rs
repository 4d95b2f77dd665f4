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
}

/// One login in progress.
struct Login {
    request: LoginRequest,
    stage: Stage,
}

/// What a login waits for.
enum Stage {
    /// The data center's answer: where the last role is online.
    Locating,
    /// `srvname`'s answer to the grant of `token`, sent at `granted_at_ms`;
    /// the servers still to try come after it.
    Granting {
        srvname: String,
        token: u128,
        granted_at_ms: u64,
        remaining: VecDeque<String>,
    },
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

    /// A login whose credential the shell has checked. Its answer comes as an
    /// [`Output::Answer`] with the returned id.
    pub fn handle_login(
        &mut self,
        now_ms: u64,
        request: LoginRequest,
        entropy: &mut dyn Entropy,
    ) -> LoginId {
        let login = LoginId(self.next_login);
        self.next_login += 1;
        if self.logins.len() >= self.config.logins_max {
            let refusal = refusal(ErrorCode::Overloaded, "too many logins at once; retry");
            self.answer(login, Err(refusal));
            return login;
        }
        match &request.last_role {
            Some(role) => {
                let query = message(Body::GetCurrent(GetCurrent {
                    roleid: role.roleid.get(),
                }));
                let datacenter = self.config.datacenter_node.clone();
                self.call(login, datacenter, query);
                let stage = Stage::Locating;
                self.logins.insert(login, Login { request, stage });
            }
            None => {
                let placement = Placement {
                    rotation: login.0,
                    ..Placement::default()
                };
                let remaining = candidates(&self.config, placement).into();
                self.grant_next(now_ms, login, request, remaining, None, entropy);
            }
        }
        login
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
        let Some(login) = self.calls.remove(&call) else {
            return;
        };
        let Some(Login { request, stage }) = self.logins.remove(&login) else {
            return;
        };
        match stage {
            Stage::Locating => {
                let online_at = online_at(answer);
                let placement = Placement {
                    online_at: online_at.as_deref(),
                    home: request
                        .last_role
                        .as_ref()
                        .map(|role| role.home_srvname.as_str()),
                    rotation: login.0,
                };
                let remaining = candidates(&self.config, placement).into();
                self.grant_next(now_ms, login, request, remaining, None, entropy);
            }
            Stage::Granting {
                srvname,
                token,
                granted_at_ms,
                remaining,
            } => match acknowledged(answer) {
                Ok(()) => {
                    let login_ok = self.login_ok(now_ms, &request, &srvname, token, granted_at_ms);
                    self.answer(login, Ok(login_ok));
                }
                Err(failure) => {
                    let failed = (srvname, failure);
                    self.grant_next(now_ms, login, request, remaining, Some(failed), entropy);
                }
            },
        }
    }

    /// Grants a fresh token at the next candidate, or refuses the login when
    /// none is left. `failed` is the candidate that just failed, if any.
    fn grant_next(
        &mut self,
        now_ms: u64,
        login: LoginId,
        request: LoginRequest,
        mut remaining: VecDeque<String>,
        failed: Option<(String, CallFailed)>,
        entropy: &mut dyn Entropy,
    ) {
        let last_failure = failed.map(|(srvname, failure)| {
            let message = format!("{srvname}: {}", failure.0);
            let failure = Output::GrantFailed {
                login,
                srvname,
                failure,
            };
            self.outputs.push_back(failure);
            message
        });
        let Some(srvname) = remaining.pop_front() else {
            let refusal = match last_failure {
                Some(message) => refusal(ErrorCode::ServerDown, message),
                None => refusal(ErrorCode::UnknownServer, "no game server in this zone"),
            };
            return self.answer(login, Err(refusal));
        };
        let token = entropy.token();
        let grant = GrantLogin {
            token: token.to_be_bytes().to_vec(),
            account_id: request.account_id,
            ttl_ms: self.config.login_token_ttl_ms,
        };
        self.call(login, srvname.clone(), message(Body::GrantLogin(grant)));
        let stage = Stage::Granting {
            srvname,
            token,
            granted_at_ms: now_ms,
            remaining,
        };
        self.logins.insert(login, Login { request, stage });
    }

    /// The answer for a login whose token `srvname` acknowledged. The token
    /// was granted at `granted_at_ms` and the server counts its validity from
    /// when it got the grant, so the client is told what is surely left.
    fn login_ok(
        &self,
        now_ms: u64,
        request: &LoginRequest,
        srvname: &str,
        token: u128,
        granted_at_ms: u64,
    ) -> LoginOk {
        let elapsed_ms = now_ms.saturating_sub(granted_at_ms);
        LoginOk {
            account_id: request.account_id,
            roles: request.roles.clone(),
            server: self.config.servers.get(srvname).cloned(),
            login_token: token.to_be_bytes().to_vec(),
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

/// Whether a grant was acknowledged: only an `Ack` is.
fn acknowledged(answer: Result<NodeMessage, CallFailed>) -> Result<(), CallFailed> {
    match answer?.body {
        Some(Body::Ack(_)) => Ok(()),
        other => Err(CallFailed(format!("answered {other:?} instead of Ack"))),
    }
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

fn refusal(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}
