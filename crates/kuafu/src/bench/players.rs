//! The benchmark's players: registered and entered up front, never timed
//! (argon2 makes registration slow by design), then crossing back and forth
//! between two game servers, each crossing timed from the client's side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{ClientError, GameSession};
use indicatif::ProgressBar;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wire::client::{ErrorCode, LoginOk};

use super::hop::HopError;

/// Registrations (argon2 hashes) and entries in flight at once during setup.
pub const SETUP_INFLIGHT_MAX: usize = 16;
/// Every bench player's password (the bench owns its accounts).
const PASSWORD: &str = "kuafu-bench-secret";

/// The two servers players cross between.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// Where players enter (the recommended server, their home).
    pub(crate) first: String,
    /// Where they cross to and back from.
    pub(crate) second: String,
}

impl Route {
    /// The server of the route that is not `here`.
    fn other(&self, here: &str) -> &str {
        if here == self.first {
            &self.second
        } else {
            &self.first
        }
    }
}

/// One player in the game.
pub(crate) struct BenchPlayer {
    account: String,
    session: GameSession,
}

impl BenchPlayer {
    /// Crosses to the other server of `route`. The time runs from sending
    /// `GoServer` on the source to receiving `Entered` on the target: the
    /// prepare, the durable handoff, the redirect, the new connection with
    /// its handshake, the token and the claim.
    pub(crate) async fn cross(&mut self, route: &Route) -> Result<Duration, HopError> {
        let target = route.other(self.session.current_srvname());
        let started = Instant::now();
        let entered = self.session.go_server(target).await;
        let elapsed = started.elapsed();
        let entered = entered.map_err(|error| self.failed("cross", error))?;
        if entered.srvname != target {
            let message = format!("crossed to {target} but entered {}", entered.srvname);
            return Err(self.failed("cross", ClientError::Protocol(message)));
        }
        Ok(elapsed)
    }

    /// The steps of this player's last crossing, as its client saw them.
    pub(crate) fn last_crossing(&self) -> Option<client::CrossingSteps> {
        self.session.last_crossing()
    }

    /// Crosses `crossings` times, each when a place in `permits` is free;
    /// returns the player and each crossing's time (waits for a place excluded).
    pub(crate) async fn cross_repeatedly(
        mut self,
        route: Arc<Route>,
        crossings: usize,
        permits: Arc<Semaphore>,
        bar: ProgressBar,
    ) -> Result<(Self, Vec<Duration>), HopError> {
        let mut timings = Vec::with_capacity(crossings);
        for _ in 0..crossings {
            let _place = permits
                .acquire()
                .await
                .map_err(|_| HopError::Invalid("no places left".into()))?;
            timings.push(self.cross(&route).await?);
            bar.inc(1);
        }
        Ok((self, timings))
    }

    /// The player's role.
    pub(crate) fn roleid(&self) -> routing::RoleId {
        let player = self.session.entered().player.as_ref();
        let raw = player.map_or(0, |player| player.roleid);
        routing::RoleId::from_raw(raw).expect("an entered player has a role id")
    }

    /// Logs off wherever the player is.
    pub(crate) async fn log_off(self) -> Result<(), HopError> {
        let account = self.account;
        self.session
            .logoff()
            .await
            .map_err(|error| HopError::Client {
                account,
                step: "log off",
                error,
            })
    }

    fn failed(&self, step: &'static str, error: ClientError) -> HopError {
        HopError::Client {
            account: self.account.clone(),
            step,
            error,
        }
    }
}

/// Registers `count` accounts `bench0..` (an account left by an earlier run
/// on the same data directory logs in instead) and enters each one's role.
pub(crate) async fn register_and_enter(
    account_addr: &str,
    count: usize,
    bar: &ProgressBar,
) -> Result<Vec<BenchPlayer>, HopError> {
    let places = Arc::new(Semaphore::new(SETUP_INFLIGHT_MAX));
    let mut tasks = JoinSet::new();
    for index in 0..count {
        let (account_addr, places) = (account_addr.to_owned(), places.clone());
        tasks.spawn(async move {
            let _place = places.acquire_owned().await;
            (index, join(&account_addr, format!("bench{index}")).await)
        });
    }
    let mut joined = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        let (index, player) = done?;
        joined.push((index, player?));
        bar.inc(1);
    }
    joined.sort_by_key(|(index, _)| *index);
    Ok(joined.into_iter().map(|(_, player)| player).collect())
}

/// Logs every player off, all at once.
pub(crate) async fn log_off_all(players: Vec<BenchPlayer>) -> Result<(), HopError> {
    let mut tasks = JoinSet::new();
    for player in players {
        tasks.spawn(player.log_off());
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Registers (or logs in) `account` and enters the server its login names.
async fn join(account_addr: &str, account: String) -> Result<BenchPlayer, HopError> {
    let failed = |step, error| HopError::Client {
        account: account.clone(),
        step,
        error,
    };
    let login = log_in(account_addr, &account)
        .await
        .map_err(|error| failed("register", error))?;
    let server = login.server.clone().ok_or_else(|| {
        failed(
            "register",
            ClientError::Protocol("the login named no server".into()),
        )
    })?;
    let roleid = login.roles.first().map(|role| role.roleid);
    let session = GameSession::enter(&server, &login.login_token, roleid, &account)
        .await
        .map_err(|error| failed("enter", error))?;
    Ok(BenchPlayer { account, session })
}

async fn log_in(account_addr: &str, account: &str) -> Result<LoginOk, ClientError> {
    match client::account::register(account_addr, account, PASSWORD).await {
        Err(ClientError::Server {
            code: ErrorCode::AccountExists,
            ..
        }) => client::account::login_password(account_addr, account, PASSWORD).await,
        other => other,
    }
}
