//! A role in the game: enter a server, make calls, follow crossing redirects.
//!
//! Entering: `Authenticate{login_token}` → `Authenticated`, then `CreateRole` →
//! `RoleCreated` when the account has no role yet, then `EnterGame` → `Entered`.
//! Crossing: the server answers a `GoServer` or `GoHome` call with `Redirect` and
//! closes the connection; the session connects to the redirect's address, sends
//! `Authenticate{token, roleid}` and `EnterGame`, and carries on there.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{
    AddFriend, Authenticate, CallReply, CreateRole, EnterGame, Entered, FriendList, GameCall,
    GoHome, GoServer, Horn, ListFriends, Logoff, Redirect, RemoveFriend, ServerAddress,
    ServerFrame, game_call,
};

use crate::retry::{RetryPolicy, with_retry};
use crate::{ClientConfig, ClientError, Connection, expect_reply, unexpected};

/// What a game call led to.
#[derive(Clone, Debug, PartialEq)]
pub enum CallOutcome {
    /// The server answered on this connection.
    Reply(CallReply),
    /// The server redirected the player, and the session entered the new server.
    Crossed {
        /// The new server's `Entered`.
        entered: Entered,
    },
}

/// How long each step of a crossing took, as the client saw it: from
/// sending the call to the `Redirect`, then the new connection (TCP connect
/// and the `Hello`/`Welcome` handshake), `Authenticate` and `EnterGame`,
/// each to its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrossingSteps {
    /// The call sent until its `Redirect` arrived (the source's and the
    /// target's work before the redirect: prepare, the durable handoff).
    pub redirect: Duration,
    /// The new connection to the target, with its handshake.
    pub connect: Duration,
    /// `Authenticate` with the crossing token, to its answer.
    pub authenticate: Duration,
    /// `EnterGame` to `Entered` (the target's claim).
    pub enter: Duration,
}

impl CrossingSteps {
    /// The whole crossing.
    pub fn total(&self) -> Duration {
        self.redirect + self.connect + self.authenticate + self.enter
    }
}

/// A role in the game on one server at a time.
pub struct GameSession {
    connection: Connection,
    config: ClientConfig,
    server: ServerAddress,
    entered: Entered,
    last_crossing: Option<CrossingSteps>,
}

impl GameSession {
    /// Enters `server` with the default configuration; see [`GameSession::enter_with`].
    pub async fn enter(
        server: &ServerAddress,
        login_token: &[u8],
        roleid: Option<u64>,
        create_name: &str,
    ) -> Result<Self, ClientError> {
        Self::enter_with(
            ClientConfig::default(),
            server,
            login_token,
            roleid,
            create_name,
        )
        .await
    }

    /// Connects to `server.tcp_addr`, authenticates with the login token, creates a
    /// role named `create_name` when `roleid` is `None`, and enters the game.
    pub async fn enter_with(
        config: ClientConfig,
        server: &ServerAddress,
        login_token: &[u8],
        roleid: Option<u64>,
        create_name: &str,
    ) -> Result<Self, ClientError> {
        let connection = Connection::connect_tcp_with(&server.tcp_addr, config.clone()).await?;
        authenticate(&connection, login_token.to_vec(), 0).await?;
        let roleid = match roleid {
            Some(roleid) => roleid,
            None => create_role(&connection, create_name).await?,
        };
        let entered = enter_game(&connection, roleid).await?;
        Ok(Self {
            connection,
            config,
            server: server.clone(),
            entered,
            last_crossing: None,
        })
    }

    /// Makes a game call; a `Redirect` answer is followed to the next server.
    pub async fn call(&mut self, call: game_call::Call) -> Result<CallOutcome, ClientError> {
        let body = Body::Call(GameCall { call: Some(call) });
        let sent = Instant::now();
        match self.connection.request(body).await? {
            Reply::CallReply(reply) => Ok(CallOutcome::Reply(reply)),
            Reply::Redirect(redirect) => {
                let entered = self.follow(sent, redirect).await?;
                Ok(CallOutcome::Crossed { entered })
            }
            other => Err(unexpected("CallReply or Redirect", &other)),
        }
    }

    /// Crosses to the game server `srvname`; returns its `Entered`.
    pub async fn go_server(&mut self, srvname: &str) -> Result<Entered, ClientError> {
        let go = GoServer {
            srvname: srvname.into(),
        };
        self.cross(game_call::Call::GoServer(go)).await
    }

    /// Crosses back to the home server; returns its `Entered`.
    pub async fn go_home(&mut self) -> Result<Entered, ClientError> {
        self.cross(game_call::Call::GoHome(GoHome {})).await
    }

    /// Adds the role `roleid` (on any server) to the player's friends;
    /// answers the friend list.
    pub async fn add_friend(&self, roleid: u64) -> Result<FriendList, ClientError> {
        self.friends_call(game_call::Call::AddFriend(AddFriend { roleid }))
            .await
    }

    /// Removes the role `roleid` from the player's friends; answers the
    /// friend list.
    pub async fn remove_friend(&self, roleid: u64) -> Result<FriendList, ClientError> {
        self.friends_call(game_call::Call::RemoveFriend(RemoveFriend { roleid }))
            .await
    }

    /// The player's friends as this server sees them now.
    pub async fn friends(&self) -> Result<FriendList, ClientError> {
        self.friends_call(game_call::Call::ListFriends(ListFriends {}))
            .await
    }

    async fn friends_call(&self, call: game_call::Call) -> Result<FriendList, ClientError> {
        let body = Body::Call(GameCall { call: Some(call) });
        let reply = self.connection.request(body).await?;
        expect_reply!(reply, FriendList)
    }

    /// Sends a zone-wide horn message; the server answers `HornHeard`.
    pub async fn horn(&self, text: &str) -> Result<(), ClientError> {
        let horn = Horn { text: text.into() };
        let reply = self.connection.request(Body::Horn(horn)).await?;
        expect_reply!(reply, HornHeard).map(drop)
    }

    /// Logs off: the server saves and releases the role, answers and closes. An
    /// answer of any kind, or the close itself, counts as done.
    pub async fn logoff(self) -> Result<(), ClientError> {
        match self.connection.request(Body::Logoff(Logoff {})).await {
            Ok(_) | Err(ClientError::Closed { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The server the session is on now.
    pub fn current_srvname(&self) -> &str {
        &self.server.srvname
    }

    /// The role's home server, as the current server reported it on entry.
    pub fn home_srvname(&self) -> &str {
        &self.entered.home_srvname
    }

    /// The current server's address.
    pub fn server(&self) -> &ServerAddress {
        &self.server
    }

    /// The `Entered` of the current server.
    pub fn entered(&self) -> &Entered {
        &self.entered
    }

    /// Pushes on the current connection; a crossing replaces the channel.
    pub fn pushes(&mut self) -> &mut mpsc::Receiver<ServerFrame> {
        self.connection.pushes()
    }

    /// The current connection, for requests this type has no method for.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// A call that must be answered by a redirect.
    async fn cross(&mut self, call: game_call::Call) -> Result<Entered, ClientError> {
        match self.call(call).await? {
            CallOutcome::Crossed { entered } => Ok(entered),
            CallOutcome::Reply(reply) => Err(unexpected("Redirect", &Reply::CallReply(reply))),
        }
    }

    /// The steps of the last crossing this session completed, if any.
    pub fn last_crossing(&self) -> Option<CrossingSteps> {
        self.last_crossing
    }

    /// Connects to the redirect's address (the call that led to it `sent`),
    /// presents its token, enters, and makes that server the current one.
    async fn follow(&mut self, sent: Instant, redirect: Redirect) -> Result<Entered, ClientError> {
        let redirected = Instant::now();
        let address = redirect
            .address
            .ok_or_else(|| ClientError::Protocol("Redirect without an address".into()))?;
        let connection =
            Connection::connect_tcp_with(&address.tcp_addr, self.config.clone()).await?;
        let connected = Instant::now();
        authenticate(&connection, redirect.token, redirect.roleid).await?;
        let authenticated = Instant::now();
        let entered = enter_game(&connection, redirect.roleid).await?;
        self.last_crossing = Some(CrossingSteps {
            redirect: redirected - sent,
            connect: connected - redirected,
            authenticate: authenticated - connected,
            enter: authenticated.elapsed(),
        });
        tracing::debug!(from = %self.server.srvname, to = %address.srvname, "crossed");
        self.connection = connection;
        self.server = address;
        self.entered = entered.clone();
        Ok(entered)
    }
}

/// Presents a login token (`roleid` 0) or a crossing token (with its role).
async fn authenticate(
    connection: &Connection,
    token: Vec<u8>,
    roleid: u64,
) -> Result<(), ClientError> {
    let reply = connection
        .request(Body::Authenticate(Authenticate { token, roleid }))
        .await?;
    expect_reply!(reply, Authenticated).map(drop)
}

/// Creates a role named `name`; returns its id.
async fn create_role(connection: &Connection, name: &str) -> Result<u64, ClientError> {
    let create = CreateRole { name: name.into() };
    let reply = connection.request(Body::CreateRole(create)).await?;
    let created = expect_reply!(reply, RoleCreated)?;
    created
        .role
        .map(|role| role.roleid)
        .ok_or_else(|| ClientError::Protocol("RoleCreated without a role".into()))
}

/// Enters the game with `roleid`.
/// `EnterGame`, retried while the server says the player is busy or the
/// server is full for now (`retry::RETRYABLE_CODES`).
async fn enter_game(connection: &Connection, roleid: u64) -> Result<Entered, ClientError> {
    let policy = RetryPolicy::default();
    let reply = with_retry(&policy, || {
        connection.request(Body::EnterGame(EnterGame { roleid }))
    })
    .await?;
    expect_reply!(reply, Entered)
}
