//! A harness for one game core in the style of quinn-proto's tests: it
//! builds a `GameCore` of server `gs1` in a two-server zone, drives it only
//! through its public `handle_*` inputs at a virtual time it moves by hand,
//! drains `poll_output()` after every input, and answers store operations
//! with a `store::model::ModelStore` holding both servers' databases.
//!
//! Store operations are answered at once unless `hold_store` is set; then
//! they wait in the harness, and a test commits them and delivers their
//! answers in the order it wants. Everything else the core says (frames,
//! peer requests, events) is kept in `outputs` for the test to read.

// Each test file uses a part of the harness.
#![allow(dead_code)]
use gamecore::{
    CallId, Config, Entropy, Event, GameCore, OpId, Output, PeerError, RequestId, ServerInfo,
    SessionId, ZoneMap,
};
use routing::{RoleId, Srvno};
use store::model::ModelStore;
use store::{OpOutcome, PlayerOp, PlayerStore, StoreError};
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{
    Authenticate, ClientFrame, EnterGame, ErrorCode, GameCall, GoServer, ServerAddress, ServerFrame,
};
use wire::node::node_message::Body;
use wire::node::{Ack, GrantLogin, NodeMessage, Prepare};

/// Virtual time the harness starts at (a node's clock in milliseconds).
pub const T0: u64 = 1_000_000;
/// The core's lease: a claim or renewal at `t` holds the row to `t` + this.
pub const LEASE_TTL_MS: u64 = 3_000;
/// How far the core's clock may lag the database's.
pub const SKEW_MARGIN_MS: u64 = 1_000;
/// How often the core renews its leases.
pub const LEASE_RENEW_INTERVAL_MS: u64 = 500;
/// How long login and crossing tokens of the harness stay valid.
pub const TOKEN_TTL_MS: u64 = 2_000;

/// The first moment a copy whose lease was last granted at `granted_ms` may
/// no longer serve (the lease end minus the skew margin).
pub fn lease_lapsed_ms(granted_ms: u64) -> u64 {
    granted_ms + LEASE_TTL_MS - SKEW_MARGIN_MS
}

/// Whether `operation` is a crossing's handoff.
pub fn is_handoff(operation: &PlayerOp) -> bool {
    matches!(operation, PlayerOp::Handoff { .. })
}

/// Tokens 1, 2, 3, … for the core's crossings and fights.
struct CountingEntropy(u128);

impl Entropy for CountingEntropy {
    fn token(&mut self) -> u128 {
        self.0 += 1;
        self.0
    }
}

/// The role a store operation names, if one.
fn role_of(operation: &PlayerOp) -> Option<RoleId> {
    match operation {
        PlayerOp::Claim { roleid, .. }
        | PlayerOp::ReadOwnership { roleid }
        | PlayerOp::ReadHolder { roleid } => Some(*roleid),
        PlayerOp::Save(write) | PlayerOp::Release(write) | PlayerOp::Handoff { write, .. } => {
            Some(write.roleid)
        }
        _ => None,
    }
}

/// One core, its databases and virtual time. See the module docs.
pub struct Harness {
    /// The core under test.
    pub core: GameCore,
    /// Its configuration, kept for a restart.
    config: Config,
    /// The databases of srvnos 1 (gs1) and 2 (gs2).
    pub db: ModelStore,
    /// The core's clock; the databases run on the same clock.
    pub now_ms: u64,
    /// Keep store operations in the harness instead of answering them.
    pub hold_store: bool,
    held: Vec<(OpId, PlayerOp)>,
    /// What the core said, in order, minus the store operations.
    pub outputs: Vec<Output>,
    /// The database (srvno) of every store operation, with its role if it
    /// names one, in order.
    pub store_targets: Vec<(Srvno, Option<RoleId>)>,
    entropy: CountingEntropy,
    next_session: u64,
    next_request_id: u64,
    next_token: u128,
}

impl Harness {
    /// `gs1` (srvno 1) of a zone with `gs2` (srvno 2), with short leases.
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    /// [`Harness::new`] with the core's config changed by `adjust` first.
    pub fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let srvnos: Vec<Srvno> = (1..=2).map(|number| Srvno::new(number).unwrap()).collect();
        let zone = ZoneMap::new(srvnos.iter().map(|srvno| ServerInfo {
            address: ServerAddress {
                srvname: format!("gs{srvno}"),
                ..ServerAddress::default()
            },
            srvnos: vec![*srvno],
        }));
        let mut config = Config::new("gs1", 7, srvnos[0], zone);
        config.lease_ttl_ms = LEASE_TTL_MS;
        config.lease_renew_interval_ms = LEASE_RENEW_INTERVAL_MS;
        config.skew_margin_ms = SKEW_MARGIN_MS;
        config.handoff_ttl_ms = TOKEN_TTL_MS;
        config.token_ttl_ms = TOKEN_TTL_MS;
        adjust(&mut config);
        let mut harness = Self {
            core: GameCore::new(config.clone(), T0),
            config,
            db: ModelStore::new(&srvnos, ownership::Rules::default()),
            now_ms: T0,
            hold_store: false,
            held: Vec::new(),
            outputs: Vec::new(),
            store_targets: Vec::new(),
            entropy: CountingEntropy(0),
            next_session: 1,
            next_request_id: 1,
            next_token: 1_000,
        };
        harness.drain();
        harness
    }

    /// The core's config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// gs1 restarts: a new incarnation with empty memory, over the same
    /// databases; its first outputs (the marks' rebuild) are carried out.
    pub fn restart(&mut self) {
        self.config.incarnation += 1;
        self.core = GameCore::new(self.config.clone(), self.now_ms);
        self.outputs.clear();
        self.held.clear();
        self.drain();
    }

    /// Creates a role of `account_id` at home on gs1, in its database.
    pub fn create_role(&mut self, account_id: u64) -> RoleId {
        let create = PlayerOp::CreateRole {
            srvno: Srvno::new(1).unwrap(),
            account_id,
            name: format!("role of {account_id}"),
        };
        match self.commit(create) {
            Ok(OpOutcome::Created(record)) => record.roleid,
            other => panic!("role creation answered {other:?}"),
        }
    }

    /// Moves virtual time to `now_ms` (never back).
    pub fn advance_to(&mut self, now_ms: u64) {
        assert!(now_ms >= self.now_ms, "virtual time runs forward");
        self.now_ms = now_ms;
    }

    /// Jumps to the core's next timer (`poll_timeout`) and runs it.
    pub fn fire_next_timer(&mut self) {
        let due_ms = self.core.poll_timeout().max(self.now_ms);
        self.advance_to(due_ms);
        self.core.handle_timeout(self.now_ms);
        self.drain();
    }

    /// Drains the core's outputs: store operations are answered at once or
    /// held (`hold_store`); the rest is kept in `outputs`.
    fn drain(&mut self) {
        while let Some(output) = self.core.poll_output() {
            if let Output::Store {
                srvno, operation, ..
            } = &output
            {
                self.store_targets.push((*srvno, role_of(operation)));
            }
            match output {
                Output::Store { op, operation, .. } if self.hold_store => {
                    self.held.push((op, operation));
                }
                Output::Store { op, operation, .. } => {
                    let answer = self.commit(operation);
                    self.core.handle_store_answer(self.now_ms, op, answer);
                }
                other => self.outputs.push(other),
            }
        }
    }

    /// Applies `operation` to the databases now and returns the answer,
    /// without telling the core.
    pub fn commit(&mut self, operation: PlayerOp) -> Result<OpOutcome, StoreError> {
        let mut answers = self.db.apply(self.now_ms, &[operation]);
        answers.pop().expect("one answer per operation")
    }

    /// Takes the first held store operation that `wanted` picks.
    pub fn take_held(&mut self, wanted: impl Fn(&PlayerOp) -> bool) -> (OpId, PlayerOp) {
        let index = self
            .held
            .iter()
            .position(|(_, operation)| wanted(operation))
            .unwrap_or_else(|| panic!("no such store operation held: {:?}", self.held));
        self.held.remove(index)
    }

    /// The held store operations.
    pub fn held(&self) -> impl Iterator<Item = &PlayerOp> {
        self.held.iter().map(|(_, operation)| operation)
    }

    /// Gives the core the answer to store operation `op`.
    pub fn deliver(&mut self, op: OpId, answer: Result<OpOutcome, StoreError>) {
        self.core.handle_store_answer(self.now_ms, op, answer);
        self.drain();
    }

    /// A request from peer node `from`.
    pub fn peer_request(&mut self, from: &str, body: Body) {
        let request = RequestId(self.next_request_id);
        self.next_request_id += 1;
        let message = NodeMessage { body: Some(body) };
        self.core
            .handle_request(self.now_ms, request, from, message);
        self.drain();
    }

    /// The core's answer to the last peer request.
    pub fn last_peer_reply(&self) -> Option<&NodeMessage> {
        self.outputs.iter().rev().find_map(|output| match output {
            Output::Reply { message, .. } => Some(message),
            _ => None,
        })
    }

    /// The account center grants `account_id` login token `token` here.
    pub fn grant_login(&mut self, token: u128, account_id: u64) {
        self.grant_login_online(token, account_id, 0);
    }

    /// [`Harness::grant_login`] for an account whose role `online_roleid`
    /// the data center says is online here.
    pub fn grant_login_online(&mut self, token: u128, account_id: u64, online_roleid: u64) {
        let grant = GrantLogin {
            token: token.to_be_bytes().to_vec(),
            account_id,
            ttl_ms: TOKEN_TTL_MS,
            online_roleid,
        };
        self.peer_request("account", Body::GrantLogin(grant));
    }

    /// A message on one of the node's topics (a horn, a summary push).
    pub fn topic(&mut self, message: NodeMessage) {
        self.core.handle_topic(message);
        self.drain();
    }

    /// Takes the first request the core sent to node `to`.
    pub fn take_request(&mut self, to: &str) -> (CallId, NodeMessage) {
        let index = self
            .outputs
            .iter()
            .position(|output| matches!(output, Output::Request { to: name, .. } if name == to))
            .unwrap_or_else(|| panic!("no request to {to}: {:?}", self.outputs));
        match self.outputs.remove(index) {
            Output::Request { call, message, .. } => (call, message),
            _ => unreachable!("matched a request"),
        }
    }

    /// Gives the core the answer to its peer request `call`.
    pub fn answer_call(&mut self, call: CallId, answer: Result<NodeMessage, PeerError>) {
        self.core.handle_call_answer(self.now_ms, call, answer);
        self.drain();
    }

    /// A positive answer to a peer request.
    pub fn ack() -> NodeMessage {
        NodeMessage {
            body: Some(Body::Ack(Ack {})),
        }
    }

    /// gs2 prepares the arrival of `roleid` here with crossing token `token`.
    pub fn prepare_arrival(&mut self, token: u128, roleid: RoleId) {
        let prepare = Prepare {
            roleid: roleid.get(),
            token: token.to_be_bytes().to_vec(),
            home_srvname: "gs1".into(),
            context: None,
            ttl_ms: TOKEN_TTL_MS,
            from_srvname: "gs2".into(),
        };
        self.peer_request("gs2", Body::Prepare(prepare));
    }

    /// A client connection finishes its handshake.
    pub fn open(&mut self) -> SessionId {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        self.core.handle_session_opened(session);
        session
    }

    /// A client frame on `session`; returns its request id.
    pub fn send(&mut self, session: SessionId, body: In) -> u64 {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let frame = ClientFrame {
            request_id,
            body: Some(body),
        };
        self.core
            .handle_client_frame(self.now_ms, session, frame, &mut self.entropy);
        self.drain();
        request_id
    }

    /// `Authenticate{token, roleid}` on `session`; returns its request id.
    pub fn authenticate(&mut self, session: SessionId, token: u128, raw_roleid: u64) -> u64 {
        let authenticate = Authenticate {
            token: token.to_be_bytes().to_vec(),
            roleid: raw_roleid,
        };
        self.send(session, In::Authenticate(authenticate))
    }

    /// `EnterGame{roleid}` on `session`; returns its request id.
    pub fn enter(&mut self, session: SessionId, roleid: RoleId) -> u64 {
        let enter = EnterGame {
            roleid: roleid.get(),
        };
        self.send(session, In::EnterGame(enter))
    }

    /// A gameplay call on `session`; returns its request id.
    pub fn call(&mut self, session: SessionId, call: Call) -> u64 {
        self.send(session, In::Call(GameCall { call: Some(call) }))
    }

    /// The account center grants `account_id` a login token, and a new
    /// connection presents it.
    pub fn log_in(&mut self, account_id: u64) -> SessionId {
        let token = self.next_token;
        self.next_token += 1;
        self.grant_login(token, account_id);
        let session = self.open();
        let request_id = self.authenticate(session, token, 0);
        assert!(
            matches!(self.reply(session, request_id), Some(Out::Authenticated(_))),
            "logged in: {:?}",
            self.outputs
        );
        session
    }

    /// [`Harness::log_in`], then enters `roleid` (store answered at once).
    pub fn log_in_and_enter(&mut self, account_id: u64, roleid: RoleId) -> SessionId {
        let session = self.log_in(account_id);
        let request_id = self.enter(session, roleid);
        assert!(
            matches!(self.reply(session, request_id), Some(Out::Entered(_))),
            "entered: {:?}",
            self.outputs
        );
        session
    }

    /// A role of `account_id` enters and asks to cross to `target`; the
    /// store is held from then on and the `Prepare` is left unanswered.
    /// Returns the role, its session and the request id of its `GoServer`.
    pub fn start_crossing(&mut self, account_id: u64, target: &str) -> (RoleId, SessionId, u64) {
        let roleid = self.create_role(account_id);
        let session = self.log_in_and_enter(account_id, roleid);
        self.hold_store = true;
        let go = GoServer {
            srvname: target.to_owned(),
        };
        let go = self.call(session, Call::GoServer(go));
        (roleid, session, go)
    }

    /// Every frame the core sent to `session`, a closing one last.
    pub fn frames_to(&self, session: SessionId) -> Vec<&ServerFrame> {
        self.outputs
            .iter()
            .filter_map(|output| match output {
                Output::Send { session: to, frame } if *to == session => Some(frame),
                Output::Close {
                    session: to,
                    last: Some(frame),
                } if *to == session => Some(frame),
                _ => None,
            })
            .collect()
    }

    /// The answer `session` got to its request `request_id`, if any.
    pub fn reply(&self, session: SessionId, request_id: u64) -> Option<&Out> {
        self.frames_to(session)
            .into_iter()
            .find(|frame| frame.request_id == request_id)
            .and_then(|frame| frame.body.as_ref())
    }

    /// The error code `session` got for its request `request_id`, if any.
    pub fn error(&self, session: SessionId, request_id: u64) -> Option<ErrorCode> {
        match self.reply(session, request_id)? {
            Out::Error(error) => ErrorCode::try_from(error.code).ok(),
            _ => None,
        }
    }

    /// Why `session` was kicked, if it was.
    pub fn kicked(&self, session: SessionId) -> Option<ErrorCode> {
        self.frames_to(session)
            .into_iter()
            .find_map(|frame| match &frame.body {
                Some(Out::Kicked(kicked)) => ErrorCode::try_from(kicked.code).ok(),
                _ => None,
            })
    }

    /// Whether the core reported `event`.
    pub fn reported(&self, event: &Event) -> bool {
        self.outputs.contains(&Output::Event(event.clone()))
    }

    /// Whether the core lists `roleid` as a copy it may write now.
    pub fn writable(&self, roleid: RoleId) -> bool {
        self.core
            .writable_players(self.now_ms)
            .any(|(writable, _)| writable == roleid)
    }
}
