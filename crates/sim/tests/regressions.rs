//! Regression tests for the game-core bugs the simulator found, each as a
//! short script that drives one `GameCore` through its public API, with the
//! model store answering its store operations.

use gamecore::{
    Config, Entropy, Event, GameCore, Output, RequestId, ServerInfo, SessionId, ZoneMap,
};
use routing::{RoleId, Srvno};
use store::model::ModelStore;
use store::{OpOutcome, PlayerOp, PlayerStore};
use wire::client::client_frame::Body as In;
use wire::client::game_call::Call;
use wire::client::server_frame::Body as Out;
use wire::client::{
    AddGold, Authenticate, ClientFrame, EnterGame, ErrorCode, GameCall, GoServer, ServerAddress,
};
use wire::node::node_message::Body;
use wire::node::{GrantLogin, NodeMessage, Prepare};

const ACCOUNT: u64 = 1_000;
const T0: u64 = 1_000_000;

struct FixedEntropy(u128);

impl Entropy for FixedEntropy {
    fn token(&mut self) -> u128 {
        self.0 += 1;
        self.0
    }
}

/// One game server `gs1` (srvno 1) of a two-server zone, its database, and
/// everything it said.
struct Harness {
    core: GameCore,
    db: ModelStore,
    outputs: Vec<Output>,
    roleid: RoleId,
    next_request: u64,
}

impl Harness {
    fn new() -> Self {
        let srvno = Srvno::new(1).unwrap();
        let zone = ZoneMap::new((1..=2).map(|number| ServerInfo {
            address: ServerAddress {
                srvname: format!("gs{number}"),
                ..ServerAddress::default()
            },
            srvnos: vec![Srvno::new(number).unwrap()],
        }));
        let mut config = Config::new("gs1", 7, srvno, zone);
        config.lease_ttl_ms = 3_000;
        config.lease_renew_interval_ms = 500;
        config.skew_margin_ms = 1_000;
        let mut db = ModelStore::new(&[srvno], ownership::Rules::default());
        let create = PlayerOp::CreateRole {
            srvno,
            account_id: ACCOUNT,
            name: "p".into(),
        };
        let Some(Ok(OpOutcome::Created(record))) = db.apply(T0, &[create]).pop() else {
            panic!("role created")
        };
        Self {
            core: GameCore::new(config, T0),
            db,
            outputs: Vec::new(),
            roleid: record.roleid,
            next_request: 1,
        }
    }

    /// Drains the core; store ops are applied at `now_ms` and answered at
    /// once, unless `hold_store` (then they are kept in `outputs`).
    fn drain(&mut self, now_ms: u64, hold_store: bool) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Store { op, operation, .. } if !hold_store => {
                    let answer = self.db.apply(now_ms, &[operation]).pop().unwrap();
                    self.core.handle_store_answer(now_ms, op, answer);
                }
                other => self.outputs.push(other),
            }
        }
    }

    fn request(&mut self, now_ms: u64, body: Body) {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.core
            .handle_request(now_ms, request, "account", NodeMessage { body: Some(body) });
        self.drain(now_ms, false);
    }

    fn frame(&mut self, now_ms: u64, session: u64, request_id: u64, body: In) {
        let frame = ClientFrame {
            request_id,
            body: Some(body),
        };
        self.core
            .handle_client_frame(now_ms, SessionId(session), frame, &mut FixedEntropy(900));
        self.drain(now_ms, false);
    }

    /// A session logs in with a login token and enters the role.
    fn log_in_and_enter(&mut self, now_ms: u64, session: u64, token: u128) {
        let grant = GrantLogin {
            token: token.to_be_bytes().to_vec(),
            account_id: ACCOUNT,
            ttl_ms: 2_000,
            online_roleid: 0,
        };
        self.request(now_ms, Body::GrantLogin(grant));
        self.core.handle_session_opened(SessionId(session));
        let authenticate = Authenticate {
            token: token.to_be_bytes().to_vec(),
            roleid: 0,
        };
        self.frame(now_ms, session, 1, In::Authenticate(authenticate));
        self.frame(
            now_ms,
            session,
            2,
            In::EnterGame(EnterGame {
                roleid: self.roleid.get(),
            }),
        );
        assert!(
            self.sent(session, |body| matches!(body, Out::Entered(_))),
            "entered: {:?}",
            self.outputs
        );
    }

    fn sent(&self, session: u64, wanted: impl Fn(&Out) -> bool) -> bool {
        self.outputs.iter().any(|output| match output {
            Output::Send { session: to, frame } => {
                to.0 == session && frame.body.as_ref().is_some_and(&wanted)
            }
            Output::Close {
                session: to,
                last: Some(frame),
            } => to.0 == session && frame.body.as_ref().is_some_and(&wanted),
            _ => false,
        })
    }

    fn writable(&self, now_ms: u64) -> bool {
        self.core
            .writable_players(now_ms)
            .any(|(roleid, _)| roleid == self.roleid)
    }
}

/// Found by the simulator's pause fault: after a stall, a client frame
/// queued during it was served before the lease timer fired, on a lease that
/// could have run out. The core now checks the lease before serving.
#[test]
fn a_call_after_the_lease_could_have_lapsed_is_not_served() {
    let mut harness = Harness::new();
    harness.log_in_and_enter(T0, 1, 11);
    let lapsed = T0 + 2_500; // lease runs to T0 + 3_000; the margin is 1_000
    assert!(!harness.writable(lapsed));
    harness.outputs.clear();
    let add = Call::AddGold(AddGold {
        amount: 5,
        reason: "test".into(),
    });
    harness.frame(lapsed, 1, 3, In::Call(GameCall { call: Some(add) }));
    assert!(
        !harness.sent(1, |body| matches!(body, Out::CallReply(_))),
        "served on a lapsed lease"
    );
    assert!(harness.sent(
        1,
        |body| matches!(body, Out::Kicked(kicked) if kicked.code == ErrorCode::LeaseLost as i32)
    ));
    let lease_lost = Output::Event(Event::LeaseLost {
        roleid: harness.roleid,
    });
    assert!(harness.outputs.contains(&lease_lost));
}

/// Found by the single-writer check: a source whose handoff had committed
/// (its answer still on the way) still listed the player as writable while
/// the target already held it.
#[test]
fn a_crossing_copy_is_not_writable_once_its_handoff_is_submitted() {
    let mut harness = Harness::new();
    harness.log_in_and_enter(T0, 1, 11);
    let go = Call::GoServer(GoServer {
        srvname: "gs2".into(),
    });
    harness.frame(T0 + 10, 1, 3, In::Call(GameCall { call: Some(go) }));
    assert!(
        harness.writable(T0 + 10),
        "still ours while the target prepares"
    );
    let prepare = harness.outputs.iter().find_map(|output| match output {
        Output::Request { call, to, .. } if to == "gs2" => Some(*call),
        _ => None,
    });
    let ack = NodeMessage {
        body: Some(Body::Ack(wire::node::Ack {})),
    };
    harness
        .core
        .handle_call_answer(T0 + 10, prepare.expect("a Prepare to gs2"), Ok(ack));
    harness.outputs.clear();
    harness.drain(T0 + 20, true);
    let handoff = harness.outputs.iter().find_map(|output| match output {
        Output::Store {
            op,
            operation: PlayerOp::Handoff { .. },
            ..
        } => Some(*op),
        _ => None,
    });
    assert!(
        handoff.is_some(),
        "the handoff is submitted: {:?}",
        harness.outputs
    );
    assert!(
        !harness.writable(T0 + 20),
        "in doubt until the commit is known"
    );
}

/// Found by a delayed frame on an abandoned connection: it entered the player
/// under that old login session, and the player's new connection, admitted
/// by a crossing token for this very role, was refused `NOT_YOUR_ROLE`.
#[test]
fn a_crossing_session_takes_the_player_over_from_an_older_connection() {
    let mut harness = Harness::new();
    let crossing_token: u128 = 22;
    let prepare = Prepare {
        roleid: harness.roleid.get(),
        token: crossing_token.to_be_bytes().to_vec(),
        home_srvname: "gs1".into(),
        context: None,
        ttl_ms: 2_000,
        from_srvname: "gs2".into(),
    };
    harness.request(T0, Body::Prepare(prepare));
    harness.log_in_and_enter(T0 + 5, 1, 11);
    harness.outputs.clear();
    harness.core.handle_session_opened(SessionId(2));
    let authenticate = Authenticate {
        token: crossing_token.to_be_bytes().to_vec(),
        roleid: harness.roleid.get(),
    };
    harness.frame(T0 + 10, 2, 1, In::Authenticate(authenticate));
    harness.frame(
        T0 + 10,
        2,
        2,
        In::EnterGame(EnterGame {
            roleid: harness.roleid.get(),
        }),
    );
    assert!(
        harness.sent(2, |body| matches!(body, Out::Entered(_))),
        "{:?}",
        harness.outputs
    );
    assert!(
        harness.sent(1, |body| matches!(body, Out::Kicked(_))),
        "the older connection is kicked"
    );
}
