//! The client library against fake servers built on the gateway: an account
//! center and two game servers (`gs1`, `gs2`) that answer with canned replies and
//! redirect between each other.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use client::{CallOutcome, ClientConfig, ClientError, Connection, GameSession, account};
use gateway::{Gateway, GatewayConfig, GatewayEvent, GatewayHandle, SessionId};
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{
    AddGold, Authenticated, CallReply, ClientFrame, Entered, Error, ErrorCode, GameCall, GetPlayer,
    HornHeard, Kicked, LevelUp, ListRoles, LoginOk, PlayerView, Push, Redirect, RoleCreated,
    RoleSummary, ServerAddress, ServerFrame, SpendGold, game_call, login, push,
};

const LOGIN_TOKEN: &[u8] = b"login-token";
const ROLEID: u64 = 1_000_001;
const ACCOUNT_ID: u64 = 7;
const HOME: &str = "gs1";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn address(srvname: &str, gateway: &Gateway) -> ServerAddress {
    let ws = gateway.ws_local_addr.expect("a WebSocket listener");
    ServerAddress {
        srvname: srvname.into(),
        tcp_addr: gateway.tcp_local_addr.to_string(),
        ws_addr: ws.to_string(),
    }
}

/// The token `srvname` accepts for a crossing.
fn crossing_token(srvname: &str) -> Vec<u8> {
    format!("cross-to-{srvname}").into_bytes()
}

/// Addresses of the fake zone's servers.
struct Zone {
    account: String,
    servers: BTreeMap<String, ServerAddress>,
}

impl Zone {
    fn server(&self, srvname: &str) -> &ServerAddress {
        &self.servers[srvname]
    }
}

async fn zone() -> Zone {
    zone_with(|_| {}).await
}

/// Starts the account center and both game servers, with `tune` applied to each
/// gateway's configuration.
async fn zone_with(tune: impl Fn(&mut GatewayConfig)) -> Zone {
    let mut gateways = BTreeMap::new();
    for srvname in ["account", "gs1", "gs2"] {
        let mut config = GatewayConfig::new(srvname, loopback(), Some(loopback()));
        tune(&mut config);
        gateways.insert(
            srvname,
            gateway::start(config).await.expect("gateway starts"),
        );
    }
    let servers: BTreeMap<String, ServerAddress> = ["gs1", "gs2"]
        .into_iter()
        .map(|srvname| (srvname.to_string(), address(srvname, &gateways[srvname])))
        .collect();
    let account = gateways["account"].tcp_local_addr.to_string();
    for (srvname, gateway) in gateways {
        let servers = servers.clone();
        tokio::spawn(serve(srvname, gateway, servers));
    }
    Zone { account, servers }
}

/// Answers every frame a fake server receives.
async fn serve(
    srvname: &'static str,
    mut gateway: Gateway,
    servers: BTreeMap<String, ServerAddress>,
) {
    while let Some(event) = gateway.events.recv().await {
        let GatewayEvent::Frame { session, frame } = event else {
            continue;
        };
        let server = Fake {
            srvname,
            handle: &gateway.handle,
            servers: &servers,
            session,
            request_id: frame.request_id,
        };
        server.answer(frame);
    }
}

/// One frame's context on a fake server.
struct Fake<'a> {
    srvname: &'static str,
    handle: &'a GatewayHandle,
    servers: &'a BTreeMap<String, ServerAddress>,
    session: SessionId,
    request_id: u64,
}

impl Fake<'_> {
    fn frame(&self, body: Reply) -> ServerFrame {
        ServerFrame {
            request_id: self.request_id,
            body: Some(body),
        }
    }

    fn reply(&self, body: Reply) {
        self.handle.send(self.session, self.frame(body));
    }

    fn error(&self, code: ErrorCode, message: &str) {
        let error = Error {
            code: code as i32,
            message: message.into(),
        };
        self.reply(Reply::Error(error));
    }

    fn push(&self, body: Reply) {
        let frame = ServerFrame {
            request_id: 0,
            body: Some(body),
        };
        self.handle.send(self.session, frame);
    }

    fn answer(&self, frame: ClientFrame) {
        match frame.body {
            Some(Body::Register(register)) if register.account == "taken" => {
                self.error(ErrorCode::AccountExists, "account exists");
            }
            Some(Body::Register(_)) => self.login_ok(),
            Some(Body::Login(login)) => self.login(login.credential),
            Some(Body::Authenticate(authenticate)) => {
                self.authenticate(&authenticate.token, authenticate.roleid);
            }
            Some(Body::CreateRole(create)) => {
                let role = RoleSummary {
                    roleid: ROLEID,
                    name: create.name,
                    level: 1,
                    home_srvname: HOME.into(),
                };
                self.reply(Reply::RoleCreated(RoleCreated { role: Some(role) }));
            }
            Some(Body::EnterGame(enter)) => self.reply(Reply::Entered(self.entered(enter.roleid))),
            Some(Body::Call(GameCall { call: Some(call) })) => self.call(call),
            Some(Body::Horn(horn)) => {
                let heard = HornHeard {
                    from_roleid: ROLEID,
                    from_name: "hero".into(),
                    text: horn.text,
                };
                self.push(Reply::HornHeard(heard.clone()));
                self.reply(Reply::HornHeard(heard));
            }
            Some(Body::Logoff(_)) => {
                let kicked = Kicked {
                    code: ErrorCode::Unspecified as i32,
                    message: "logged off".into(),
                };
                let last = self.frame(Reply::Kicked(kicked));
                self.handle.close(self.session, Some(last));
            }
            // Never answered: the client's timeout is tested with it.
            Some(Body::ListRoles(_)) => {}
            other => self.error(ErrorCode::UnexpectedMessage, &format!("{other:?}")),
        }
    }

    fn login_ok(&self) {
        let login_ok = LoginOk {
            account_id: ACCOUNT_ID,
            roles: Vec::new(),
            server: Some(self.servers[HOME].clone()),
            login_token: LOGIN_TOKEN.to_vec(),
            token_ttl_ms: 30_000,
        };
        self.reply(Reply::LoginOk(login_ok));
    }

    fn login(&self, credential: Option<login::Credential>) {
        match credential {
            Some(login::Credential::Password(password)) if password.password != "secret" => {
                self.error(ErrorCode::BadCredentials, "wrong password");
            }
            Some(_) => self.login_ok(),
            None => self.error(ErrorCode::BadArgument, "no credential"),
        }
    }

    fn authenticate(&self, token: &[u8], roleid: u64) {
        let login = token == LOGIN_TOKEN && roleid == 0;
        let crossing = token == crossing_token(self.srvname) && roleid == ROLEID;
        if login || crossing {
            let authenticated = Authenticated {
                account_id: ACCOUNT_ID,
            };
            self.reply(Reply::Authenticated(authenticated));
        } else {
            self.error(ErrorCode::BadToken, "bad token");
        }
    }

    fn player(&self, roleid: u64) -> PlayerView {
        PlayerView {
            roleid,
            name: "hero".into(),
            level: 1,
            gold: 100,
            items: Vec::new(),
        }
    }

    fn entered(&self, roleid: u64) -> Entered {
        Entered {
            player: Some(self.player(roleid)),
            srvname: self.srvname.into(),
            home_srvname: HOME.into(),
            context: None,
        }
    }

    fn call(&self, call: game_call::Call) {
        match call {
            game_call::Call::AddGold(add) => self.add_gold_later(add.amount),
            game_call::Call::SpendGold(_) => self.error(ErrorCode::InsufficientGold, "poor"),
            game_call::Call::GetPlayer(_) => {
                let player = self.player(ROLEID);
                let push = Push {
                    push: Some(push::Push::Player(player.clone())),
                };
                self.push(Reply::Push(push));
                let reply = CallReply {
                    player: Some(player),
                    applied: 0,
                };
                self.reply(Reply::CallReply(reply));
            }
            game_call::Call::LevelUp(_) => {
                let kicked = Kicked {
                    code: ErrorCode::LoggedInElsewhere as i32,
                    message: "logged in elsewhere".into(),
                };
                let last = ServerFrame {
                    request_id: 0,
                    body: Some(Reply::Kicked(kicked)),
                };
                self.handle.close(self.session, Some(last));
            }
            game_call::Call::GoServer(go) => self.redirect(&go.srvname),
            game_call::Call::GoHome(_) => self.redirect(HOME),
            game_call::Call::AddItem(_)
            | game_call::Call::Fight(_)
            | game_call::Call::AddFriend(_)
            | game_call::Call::RemoveFriend(_)
            | game_call::Call::ListFriends(_)
            | game_call::Call::SendGift(_) => {
                self.error(ErrorCode::BadArgument, "not on this fake server")
            }
        }
    }

    /// Answers after a delay that shrinks with the amount, so that concurrent
    /// requests are answered out of order.
    fn add_gold_later(&self, amount: u64) {
        let handle = self.handle.clone();
        let (session, frame) = (
            self.session,
            self.frame(Reply::CallReply(CallReply {
                player: None,
                applied: amount,
            })),
        );
        let delay = Duration::from_millis(60u64.saturating_sub(amount * 10));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            handle.send(session, frame);
        });
    }

    fn redirect(&self, srvname: &str) {
        let Some(address) = self.servers.get(srvname) else {
            self.error(ErrorCode::UnknownServer, srvname);
            return;
        };
        let redirect = Redirect {
            address: Some(address.clone()),
            go_srvname: srvname.into(),
            home_srvname: HOME.into(),
            token: crossing_token(srvname),
            roleid: ROLEID,
        };
        let last = self.frame(Reply::Redirect(redirect));
        self.handle.close(self.session, Some(last));
    }
}

async fn enter(zone: &Zone) -> GameSession {
    GameSession::enter(zone.server("gs1"), LOGIN_TOKEN, None, "hero")
        .await
        .expect("entered")
}

fn add_gold(amount: u64) -> game_call::Call {
    game_call::Call::AddGold(AddGold {
        amount,
        reason: "test".into(),
    })
}

fn server_code(error: &ClientError) -> Option<ErrorCode> {
    match error {
        ClientError::Server { code, .. } => Some(*code),
        _ => None,
    }
}

async fn next_push(
    connection_pushes: &mut tokio::sync::mpsc::Receiver<ServerFrame>,
) -> ServerFrame {
    let push = tokio::time::timeout(Duration::from_secs(5), connection_pushes.recv()).await;
    push.expect("a push in time").expect("connection open")
}

#[tokio::test]
async fn the_handshake_works_over_tcp_and_websocket() {
    let zone = zone().await;
    let gs1 = zone.server("gs1");
    let tcp = Connection::connect_tcp(&gs1.tcp_addr).await.unwrap();
    assert_eq!(tcp.server_name(), "gs1");
    let ws = Connection::connect_ws(&gs1.ws_addr).await.unwrap();
    assert_eq!(ws.server_name(), "gs1");
    let url = format!("ws://{}/any/path", gs1.ws_addr);
    let by_url = Connection::connect_ws(&url).await.unwrap();
    assert_eq!(by_url.server_name(), "gs1");
    let tls = Connection::connect_ws("wss://example.invalid/").await;
    assert!(
        matches!(tls, Err(ClientError::Protocol(_))),
        "{:?}",
        tls.err()
    );
    let authenticate = Body::Authenticate(wire::client::Authenticate {
        token: LOGIN_TOKEN.to_vec(),
        roleid: 0,
    });
    let reply = ws.request(authenticate).await.unwrap();
    assert!(matches!(reply, Reply::Authenticated(a) if a.account_id == ACCOUNT_ID));
}

#[tokio::test]
async fn concurrent_requests_get_their_own_replies() {
    let zone = zone().await;
    let connection = Connection::connect_tcp(&zone.server("gs1").tcp_addr)
        .await
        .unwrap();
    let request = |amount| {
        let call = GameCall {
            call: Some(add_gold(amount)),
        };
        connection.request(Body::Call(call))
    };
    let (one, three, five) = tokio::join!(request(1), request(3), request(5));
    for (reply, amount) in [(one, 1), (three, 3), (five, 5)] {
        assert!(matches!(reply.unwrap(), Reply::CallReply(r) if r.applied == amount));
    }
}

#[tokio::test]
async fn server_errors_are_typed() {
    let zone = zone().await;
    let refused = GameSession::enter(zone.server("gs1"), b"forged", None, "hero").await;
    assert_eq!(
        server_code(&refused.err().unwrap()),
        Some(ErrorCode::BadToken)
    );
    let mut session = enter(&zone).await;
    let spend = game_call::Call::SpendGold(SpendGold {
        amount: 1_000,
        reason: "test".into(),
    });
    let error = session.call(spend).await.unwrap_err();
    assert_eq!(server_code(&error), Some(ErrorCode::InsufficientGold));
    let outcome = session.call(add_gold(2)).await.unwrap();
    assert!(matches!(outcome, CallOutcome::Reply(r) if r.applied == 2));
}

#[tokio::test]
async fn pushes_arrive_on_the_push_channel() {
    let zone = zone().await;
    let mut session = enter(&zone).await;
    session.horn("hello zone").await.unwrap();
    let heard = next_push(session.pushes()).await;
    assert!(matches!(heard.body, Some(Reply::HornHeard(h)) if h.text == "hello zone"));
    let get = game_call::Call::GetPlayer(GetPlayer {});
    let outcome = session.call(get).await.unwrap();
    assert!(matches!(outcome, CallOutcome::Reply(r) if r.player.is_some()));
    let pushed = next_push(session.pushes()).await;
    assert!(matches!(pushed.body, Some(Reply::Push(_))), "{pushed:?}");
    assert_eq!(session.connection().pushes_dropped(), 0);
}

#[tokio::test]
async fn a_kick_closes_the_connection_with_its_reason() {
    let zone = zone().await;
    let mut session = enter(&zone).await;
    let error = session
        .call(game_call::Call::LevelUp(LevelUp {}))
        .await
        .unwrap_err();
    let ClientError::Closed {
        kicked: Some(kicked),
    } = error
    else {
        panic!("expected Closed with a reason, got {error:?}");
    };
    assert_eq!(kicked.code, ErrorCode::LoggedInElsewhere as i32);
    let again = session.call(add_gold(1)).await.unwrap_err();
    assert!(
        matches!(again, ClientError::Closed { kicked: Some(_) }),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_followed_to_the_next_server_and_back_home() {
    let zone = zone().await;
    let mut session = enter(&zone).await;
    assert_eq!(
        (session.current_srvname(), session.home_srvname()),
        ("gs1", HOME)
    );
    let entered = session.go_server("gs2").await.unwrap();
    assert_eq!(entered.srvname, "gs2");
    assert_eq!(entered.player.map(|p| p.roleid), Some(ROLEID));
    assert_eq!(
        (session.current_srvname(), session.home_srvname()),
        ("gs2", HOME)
    );
    let outcome = session.call(add_gold(4)).await.unwrap();
    assert!(matches!(outcome, CallOutcome::Reply(r) if r.applied == 4));
    let go_home = game_call::Call::GoHome(wire::client::GoHome {});
    let outcome = session.call(go_home).await.unwrap();
    assert!(matches!(outcome, CallOutcome::Crossed { entered } if entered.srvname == "gs1"));
    assert_eq!(session.current_srvname(), "gs1");
    let unknown = session.go_server("gs9").await.unwrap_err();
    assert_eq!(server_code(&unknown), Some(ErrorCode::UnknownServer));
}

#[tokio::test]
async fn a_crossing_records_its_steps_within_the_time_it_took() {
    let zone = zone().await;
    let mut session = enter(&zone).await;
    assert_eq!(session.last_crossing(), None, "no crossing yet");
    let started = std::time::Instant::now();
    session.go_server("gs2").await.unwrap();
    let took = started.elapsed();
    let steps = session.last_crossing().expect("the crossing's steps");
    assert!(steps.total() <= took, "{steps:?} within {took:?}");
    for step in [
        steps.redirect,
        steps.connect,
        steps.authenticate,
        steps.enter,
    ] {
        assert!(step > std::time::Duration::ZERO, "{steps:?}");
    }
    session.call(add_gold(1)).await.unwrap();
    assert_eq!(
        session.last_crossing(),
        Some(steps),
        "a plain call is no crossing"
    );
}

#[tokio::test]
async fn a_request_without_an_answer_times_out_and_the_connection_goes_on() {
    let zone = zone().await;
    let config = ClientConfig {
        request_timeout: Duration::from_millis(100),
        ..ClientConfig::default()
    };
    let gs1 = &zone.server("gs1").tcp_addr;
    let connection = Connection::connect_tcp_with(gs1, config).await.unwrap();
    let error = connection
        .request(Body::ListRoles(ListRoles {}))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    let call = GameCall {
        call: Some(add_gold(5)),
    };
    let reply = connection.request(Body::Call(call)).await.unwrap();
    assert!(matches!(reply, Reply::CallReply(r) if r.applied == 5));
}

#[tokio::test]
async fn account_helpers_log_in_and_the_login_enters_the_game() {
    let zone = zone().await;
    let login_ok = account::register(&zone.account, "alice", "secret")
        .await
        .unwrap();
    let server = login_ok.server.expect("a server to enter");
    assert_eq!(server, *zone.server("gs1"));
    let taken = account::register(&zone.account, "taken", "secret")
        .await
        .unwrap_err();
    assert_eq!(server_code(&taken), Some(ErrorCode::AccountExists));
    let wrong = account::login_password(&zone.account, "alice", "wrong")
        .await
        .unwrap_err();
    assert_eq!(server_code(&wrong), Some(ErrorCode::BadCredentials));
    account::login_password(&zone.account, "alice", "secret")
        .await
        .unwrap();
    let by_device = account::login_device(&zone.account, "device-1")
        .await
        .unwrap();
    let session = GameSession::enter(&server, &by_device.login_token, Some(ROLEID), "")
        .await
        .unwrap();
    assert_eq!(
        session.entered().player.as_ref().map(|p| p.roleid),
        Some(ROLEID)
    );
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn an_overloaded_server_refuses_the_handshake() {
    let zone = zone_with(|config| config.connections_max = 0).await;
    let refused = Connection::connect_tcp(&zone.server("gs1").tcp_addr).await;
    assert_eq!(
        server_code(&refused.err().unwrap()),
        Some(ErrorCode::Overloaded)
    );
}

#[tokio::test]
async fn the_keepalive_holds_an_idle_connection_open() {
    let zone = zone_with(|config| config.idle_timeout = Duration::from_millis(200)).await;
    let config = ClientConfig {
        keepalive_interval: Duration::from_millis(50),
        ..ClientConfig::default()
    };
    let gs1 = zone.server("gs1");
    let session = GameSession::enter_with(config, gs1, LOGIN_TOKEN, None, "hero")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    session.horn("still here").await.unwrap();
}
