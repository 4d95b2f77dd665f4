//! Simulated players: each plays one role through the real client protocol
//! (`wire::client` frames to the cores). A player logs in at the account
//! center, presents the login token to the server it was given
//! (`Authenticate`), enters, plays (`AddGold`, `SpendGold`, `AddItem`,
//! `GetPlayer`, each with a reason), crosses (`GoServer` to a random server,
//! `GoHome`) following the `Redirect` with `Authenticate{token, roleid}` and
//! `EnterGame`, logs off and back in. One request is in flight at a time; a
//! request that waits too long makes the player drop the connection and log
//! in again. A player whose `Authenticate` got no answer may retry the same
//! token on a new connection, and some seeds replay old tokens on a second
//! connection (a "ghost"), at the server that redeemed them or (login tokens)
//! at any server: both must be refused (`crate::ghosts`).
//!
//! An error the protocol does not allow for the request (say `NOT_YOUR_ROLE`
//! for the player's own role) is a violation. Not modelled: creating roles
//! through the client (roles are made at setup), horns, several roles per
//! account.

use routing::RoleId;
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{
    AddGold, AddItem, Authenticate, ClientFrame, EnterGame, ErrorCode, GameCall, GetPlayer, GoHome,
    GoServer, Logoff, Redirect, ServerFrame, SpendGold,
};

use crate::Property;
use crate::prng::PPM;
use crate::queue::SimEvent;
use crate::world::{ACCOUNT_BIT, CLIENTS_BIT, Phase, World, srvname};

/// How long a player waits for the account center (which may try several
/// servers, each with a bus deadline).
pub const LOGIN_TIMEOUT_MS: u64 = 6_000;
/// The reason of a player's `AddGold`, before its request id.
pub const CREDIT_REASON_PREFIX: &str = "sim:grant#";
/// `EnterGame` attempts on one connection before the player logs in again.
pub const ENTER_ATTEMPTS_MAX: u32 = 40;

/// Where a player stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Offline; logs in when its timer fires.
    Idle,
    /// Waiting for the account center.
    LoggingIn,
    /// Connected to a server, presenting a token.
    Authenticating,
    /// Authenticated; entering (or waiting to retry).
    Entering,
    /// In the game.
    Playing,
}

/// What the request in flight is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    Login,
    Authenticate,
    Enter,
    Call,
    Cross,
    Logoff,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    request: u64,
    kind: Request,
}

/// A token and where to present it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Presented {
    pub(crate) token: u128,
    pub(crate) node: usize,
    /// The role of a crossing token; 0 for a login token.
    pub(crate) roleid: u64,
}

/// One simulated player.
pub struct Client {
    /// Its account.
    pub account_id: u64,
    /// Its one role.
    pub roleid: RoleId,
    /// The role's home server (index).
    pub home: usize,
    state: ClientState,
    session: Option<u64>,
    node: usize,
    pending: Option<Pending>,
    next_request: u64,
    /// Bumped whenever the player's timer is re-armed; older wakes are stale.
    pub generation: u64,
    enter_attempts: u32,
    presenting: Option<Presented>,
    retry: Option<Presented>,
    pub(crate) last_redeemed: Option<Presented>,
    /// When the player last got an `Entered` or a `CallReply`.
    pub playable_at_ms: u64,
}

impl Client {
    /// An offline player of `roleid`.
    pub fn new(account_id: u64, roleid: RoleId, home: usize) -> Self {
        Self {
            account_id,
            roleid,
            home,
            state: ClientState::Idle,
            session: None,
            node: home,
            pending: None,
            next_request: 1,
            generation: 0,
            enter_attempts: 0,
            presenting: None,
            retry: None,
            last_redeemed: None,
            playable_at_ms: 0,
        }
    }

    /// The request in flight, if any.
    pub fn pending_request(&self) -> Option<u64> {
        self.pending.map(|pending| pending.request)
    }

    /// For violation reports.
    pub fn describe(&self) -> String {
        format!(
            "is {:?} on {} waiting for {:?} (enter attempts {})",
            self.state,
            srvname(self.node),
            self.pending.map(|pending| pending.kind),
            self.enter_attempts
        )
    }
}

impl World {
    pub(crate) fn wake_client_in(&mut self, client: usize, delay_ms: u64) {
        let player = &mut self.clients[client];
        player.generation += 1;
        let event = SimEvent::ClientWake {
            client,
            generation: player.generation,
        };
        self.queue.push(self.now_ms + delay_ms, event);
    }

    fn backoff_ms(&mut self) -> u64 {
        match self.phase {
            Phase::Safety => self.prng.between(50, 600),
            _ => self.prng.between(20, 200),
        }
    }

    fn think_ms(&mut self) -> u64 {
        self.prng.between(1, self.mix.think_max_ms)
    }

    pub(crate) fn client_wakes(&mut self, client: usize) {
        match self.clients[client].state {
            ClientState::Idle => match self.clients[client].retry.take() {
                Some(retry) if self.prng.chance(PPM / 2) => self.connect(client, retry),
                _ => self.start_login(client),
            },
            ClientState::Entering if self.clients[client].pending.is_none() => {
                self.send_enter(client)
            }
            ClientState::Playing if self.clients[client].pending.is_none() => self.act(client),
            _ => {}
        }
    }

    fn start_login(&mut self, client: usize) {
        let request = self.take_request(client, Request::Login);
        self.log(|| format!("player {client} logs in (#{request})"));
        self.clients[client].state = ClientState::LoggingIn;
        if self.cut_until(CLIENTS_BIT, ACCOUNT_BIT).is_none() {
            let at = self.now_ms + self.latency();
            self.queue.push(
                at,
                SimEvent::LoginAtAccount {
                    client,
                    attempt: request,
                },
            );
        }
        self.queue.push(
            self.now_ms + LOGIN_TIMEOUT_MS,
            SimEvent::ClientTimeout { client, request },
        );
    }

    fn take_request(&mut self, client: usize, kind: Request) -> u64 {
        let player = &mut self.clients[client];
        let request = player.next_request;
        player.next_request += 1;
        player.pending = Some(Pending { request, kind });
        request
    }

    pub(crate) fn login_answered(
        &mut self,
        client: usize,
        attempt: u64,
        granted: Option<(usize, u128)>,
    ) {
        let player = &mut self.clients[client];
        if player.state != ClientState::LoggingIn || player.pending_request() != Some(attempt) {
            return;
        }
        player.pending = None;
        match granted {
            Some((node, token)) => self.connect(
                client,
                Presented {
                    token,
                    node,
                    roleid: 0,
                },
            ),
            None => {
                let delay = self.backoff_ms();
                self.go_idle(client, delay);
            }
        }
    }

    /// Connects to the token's server and presents the token.
    fn connect(&mut self, client: usize, presented: Presented) {
        let session = self.open_link(Some(client), presented.node);
        let player = &mut self.clients[client];
        player.session = Some(session);
        player.node = presented.node;
        player.presenting = Some(presented);
        player.state = ClientState::Authenticating;
        let authenticate = Authenticate {
            token: presented.token.to_be_bytes().to_vec(),
            roleid: presented.roleid,
        };
        self.send(
            client,
            In::Authenticate(authenticate),
            Request::Authenticate,
        );
    }

    fn send(&mut self, client: usize, body: In, kind: Request) {
        let request = self.take_request(client, kind);
        let Some(session) = self.clients[client].session else {
            return;
        };
        self.log(|| format!("player {client} session {session} sends #{request} {body:?}"));
        self.send_to_node(
            session,
            ClientFrame {
                request_id: request,
                body: Some(body),
            },
        );
        self.queue.push(
            self.now_ms + self.mix.client_timeout_ms,
            SimEvent::ClientTimeout { client, request },
        );
    }

    fn send_enter(&mut self, client: usize) {
        let roleid = self.clients[client].roleid.get();
        self.clients[client].state = ClientState::Entering;
        self.send(client, In::EnterGame(EnterGame { roleid }), Request::Enter);
    }

    /// The player gives up on its connection (a request timed out, or the
    /// connection is gone) and logs in again after a backoff; a token whose
    /// `Authenticate` went unanswered may be tried again.
    pub(crate) fn client_backs_off(&mut self, client: usize) {
        let player = &mut self.clients[client];
        if player
            .pending
            .is_some_and(|pending| pending.kind == Request::Authenticate)
        {
            player.retry = player.presenting;
        }
        let delay = self.backoff_ms();
        self.go_idle(client, delay);
    }

    /// Drops the connection (if any) and logs in again after `delay_ms`.
    fn go_idle(&mut self, client: usize, delay_ms: u64) {
        self.log(|| format!("player {client} goes offline for {delay_ms}ms"));
        let player = &mut self.clients[client];
        player.pending = None;
        player.state = ClientState::Idle;
        if let Some(session) = player.session.take() {
            self.close_from_client(session);
        }
        self.wake_client_in(client, delay_ms);
    }

    /// A fault cut the player's connection.
    pub(crate) fn client_connection_lost(&mut self, client: usize, session: u64) {
        let player = &mut self.clients[client];
        if player.session != Some(session) {
            return;
        }
        player.session = None;
        self.client_backs_off(client);
    }

    /// A frame (and maybe the close) from the player's server.
    pub(crate) fn client_frame(
        &mut self,
        client: usize,
        session: u64,
        frame: Option<ServerFrame>,
        close: bool,
    ) {
        if self.clients[client].session != Some(session) {
            return;
        }
        if let Some(frame) = frame {
            self.client_reads(client, frame);
        }
        if close && self.clients[client].session == Some(session) {
            let player = &mut self.clients[client];
            player.session = None;
            if player
                .pending
                .is_some_and(|pending| pending.kind == Request::Logoff)
            {
                let delay = self.think_ms() * 4;
                self.go_idle(client, delay);
            } else {
                self.client_backs_off(client);
            }
        }
    }

    fn client_reads(&mut self, client: usize, frame: ServerFrame) {
        self.log(|| {
            format!(
                "player {client} reads #{} {:?}",
                frame.request_id, frame.body
            )
        });
        let Some(pending) = self.clients[client].pending else {
            return;
        };
        if frame.request_id != 0 && frame.request_id != pending.request {
            return; // the answer to an older request
        }
        let Some(body) = frame.body else { return };
        match body {
            Out::Authenticated(_) if pending.kind == Request::Authenticate => {
                let player = &mut self.clients[client];
                player.last_redeemed = player.presenting;
                player.enter_attempts = 0;
                self.send_enter(client);
            }
            Out::Entered(_) if pending.kind == Request::Enter => {
                let player = &mut self.clients[client];
                player.pending = None;
                player.state = ClientState::Playing;
                player.enter_attempts = 0;
                self.playable(client);
                let delay = self.think_ms();
                self.wake_client_in(client, delay);
            }
            Out::CallReply(_) if pending.kind == Request::Call => {
                self.clients[client].pending = None;
                self.playable(client);
                let delay = self.think_ms();
                self.wake_client_in(client, delay);
            }
            Out::Redirect(redirect) if pending.kind == Request::Cross => {
                self.client_redirected(client, redirect);
            }
            Out::Error(error) if frame.request_id != 0 => {
                let code = ErrorCode::try_from(error.code).unwrap_or(ErrorCode::Unspecified);
                self.client_refused(client, pending.kind, code, &error.message);
            }
            _ => {}
        }
    }

    /// The player's crossing answer: it drops its connection and presents
    /// the crossing token to the target server (sometimes also with a forged
    /// role).
    fn client_redirected(&mut self, client: usize, redirect: Redirect) {
        let Some(node) = self
            .nodes
            .iter()
            .position(|node| node.name == redirect.go_srvname)
        else {
            return self.checker.fail(
                Property::ClientsGetExpectedAnswers,
                format!("redirect to unknown server {}", redirect.go_srvname),
            );
        };
        let Some(token) = gamecore::tokens::token_from_bytes(&redirect.token) else {
            return self.checker.fail(
                Property::ClientsGetExpectedAnswers,
                "redirect with a malformed token".to_owned(),
            );
        };
        if self.prng.chance(self.mix.forged_role_ppm) {
            self.present_forged_role(client, node, token);
        }
        let player = &mut self.clients[client];
        player.pending = None;
        if let Some(session) = player.session.take() {
            self.close_from_client(session);
        }
        self.connect(
            client,
            Presented {
                token,
                node,
                roleid: redirect.roleid,
            },
        );
    }

    fn client_refused(&mut self, client: usize, kind: Request, code: ErrorCode, message: &str) {
        use ErrorCode as E;
        match (kind, code) {
            (
                Request::Authenticate,
                E::BadToken | E::TokenExpired | E::TokenUsed | E::Overloaded,
            ) => {
                let delay = self.backoff_ms();
                self.go_idle(client, delay);
            }
            (Request::Enter, E::PlayerBusy | E::Unavailable | E::Overloaded) => {
                let delay = self.backoff_ms();
                let player = &mut self.clients[client];
                player.pending = None;
                player.enter_attempts += 1;
                if player.enter_attempts < ENTER_ATTEMPTS_MAX {
                    self.wake_client_in(client, delay);
                } else {
                    self.go_idle(client, delay);
                }
            }
            (Request::Call, E::InsufficientGold | E::PlayerBusy | E::CrossingInProgress)
            | (Request::Call, E::Overloaded | E::Unavailable)
            | (Request::Cross, _) => {
                self.clients[client].pending = None;
                let delay = self.think_ms();
                self.wake_client_in(client, delay);
            }
            _ => {
                let player = &self.clients[client];
                self.checker.fail(
                    Property::ClientsGetExpectedAnswers,
                    format!(
                        "player of role {} on {}: {kind:?} refused with {code:?} ({message})",
                        player.roleid,
                        srvname(player.node)
                    ),
                );
            }
        }
    }

    /// The player got an answer that shows it can play. It counts as
    /// playable after healing the first time this happens after the healing
    /// instant, as the liveness deadline judges it (not in its millisecond).
    fn playable(&mut self, client: usize) {
        let before_ms = self.clients[client].playable_at_ms;
        self.clients[client].playable_at_ms = self.now_ms;
        if let Phase::Liveness { healed_at_ms } = self.phase
            && before_ms <= healed_at_ms
            && self.now_ms > healed_at_ms
        {
            self.playable_after_heal += 1;
        }
    }

    /// One action of a player in the game.
    fn act(&mut self, client: usize) {
        let draw = self.prng.below(u64::from(PPM)) as u32;
        let (cross, logoff, replay) =
            (self.mix.cross_ppm, self.mix.logoff_ppm, self.mix.replay_ppm);
        if draw < cross {
            let call = if self.prng.chance(PPM / 3) {
                Call::GoHome(GoHome {})
            } else {
                let target = self.prng.index(self.nodes.len());
                Call::GoServer(GoServer {
                    srvname: srvname(target),
                })
            };
            self.send(
                client,
                In::Call(GameCall { call: Some(call) }),
                Request::Cross,
            );
        } else if draw < cross + logoff {
            self.send(client, In::Logoff(Logoff {}), Request::Logoff);
        } else if draw < cross + logoff + replay {
            self.replay_token(client);
            let delay = self.think_ms();
            self.wake_client_in(client, delay);
        } else {
            let call = self.gameplay_call(client);
            self.send(
                client,
                In::Call(GameCall { call: Some(call) }),
                Request::Call,
            );
        }
    }

    /// A gameplay call of `client`; a credit names its request id in its
    /// reason, so each gold ledger line can be matched to the one request
    /// it answers.
    fn gameplay_call(&mut self, client: usize) -> Call {
        match self.prng.below(100) {
            0..40 => {
                let amount = self.prng.between(1, 100);
                let player = &self.clients[client];
                let request = player.next_request;
                self.checker.credit_sent(player.roleid, request, amount);
                Call::AddGold(AddGold {
                    amount,
                    reason: format!("{CREDIT_REASON_PREFIX}{request}"),
                })
            }
            40..65 => Call::SpendGold(SpendGold {
                amount: self.prng.between(1, 60),
                reason: "sim:spend".to_owned(),
            }),
            65..85 => Call::AddItem(AddItem {
                item_type: self.prng.between(1, 4) as u32,
                count: self.prng.between(1, 3),
                reason: "sim:item".to_owned(),
            }),
            85..95 => self.gift_call(client),
            _ => Call::GetPlayer(GetPlayer {}),
        }
    }

    /// The zone healed: offline players log in soon, the rest carry on.
    pub(crate) fn client_healed(&mut self, client: usize) {
        if self.clients[client].state == ClientState::Idle {
            let delay = self.prng.between(0, 200);
            self.wake_client_in(client, delay);
        }
    }
}

#[cfg(test)]
mod tests;
