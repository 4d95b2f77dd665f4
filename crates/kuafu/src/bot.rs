//! A bot: one account with one role that registers (or logs back in), enters
//! the server the account center names, and plays until told to stop: adds and
//! spends gold, adds items, and now and then crosses to another server and
//! comes home, all over real sockets through the client library.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use client::{CallOutcome, ClientError, GameSession};
use rand::RngExt;
use wire::client::game_call::Call;
use wire::client::{AddGold, AddItem, ErrorCode, GetPlayer, LoginOk, SpendGold};

/// Pause between two calls of one bot.
pub const CALL_INTERVAL: Duration = Duration::from_millis(50);
/// Chance, per call, that a bot crosses (one in this many).
pub const CROSS_ONE_IN: u32 = 60;

/// Counters every bot adds to.
#[derive(Debug, Default)]
pub struct BotCounters {
    /// Bots in the game now.
    pub online: AtomicU64,
    /// Bots that entered the game at least once.
    pub entered: AtomicU64,
    /// Bots whose account already existed (a rerun on the same data).
    pub returning: AtomicU64,
    /// Gameplay calls answered.
    pub calls: AtomicU64,
    /// Crossings completed (entered on the target).
    pub crossings: AtomicU64,
    /// Errors of any kind.
    pub errors: AtomicU64,
}

/// One bot's identity and the zone it plays in.
#[derive(Clone, Debug)]
pub struct Bot {
    /// Account name (and password seed).
    pub account: String,
    /// The account center's TCP address.
    pub account_addr: String,
    /// Every game server's name, for crossings.
    pub servers: Vec<String>,
}

impl Bot {
    /// Plays until `stop` fires, then comes home and logs off. Every failure
    /// is counted in `counters.errors` and logged.
    pub async fn run(self, counters: Arc<BotCounters>, stop: tokio::sync::watch::Receiver<bool>) {
        if let Err(error) = self.play(&counters, stop).await {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(account = self.account, %error, "bot failed");
        }
    }

    async fn play(
        &self,
        counters: &BotCounters,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let login = self.log_in(counters).await?;
        let server = login
            .server
            .clone()
            .ok_or_else(|| ClientError::Protocol("login named no server".into()))?;
        let roleid = login.roles.first().map(|role| role.roleid);
        let mut session =
            GameSession::enter(&server, &login.login_token, roleid, &self.account).await?;
        counters.entered.fetch_add(1, Ordering::Relaxed);
        counters.online.fetch_add(1, Ordering::Relaxed);
        let played = self.play_until_stopped(&mut session, counters, stop).await;
        counters.online.fetch_sub(1, Ordering::Relaxed);
        played?;
        if session.current_srvname() != session.home_srvname() {
            session.go_home().await?;
            counters.crossings.fetch_add(1, Ordering::Relaxed);
        }
        session.logoff().await
    }

    /// Registers; an account left by an earlier run logs in instead.
    async fn log_in(&self, counters: &BotCounters) -> Result<LoginOk, ClientError> {
        let password = format!("{}-secret", self.account);
        match client::account::register(&self.account_addr, &self.account, &password).await {
            Err(ClientError::Server {
                code: ErrorCode::AccountExists,
                ..
            }) => {
                counters.returning.fetch_add(1, Ordering::Relaxed);
                client::account::login_password(&self.account_addr, &self.account, &password).await
            }
            other => other,
        }
    }

    async fn play_until_stopped(
        &self,
        session: &mut GameSession,
        counters: &BotCounters,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let mut gold = match session.call(Call::GetPlayer(GetPlayer {})).await? {
            CallOutcome::Reply(reply) => reply.player.map_or(0, |player| player.gold),
            CallOutcome::Crossed { .. } => {
                return Err(ClientError::Protocol("GetPlayer redirected".into()));
            }
        };
        while !*stop.borrow() {
            tokio::time::sleep(CALL_INTERVAL).await;
            match self.next_call(session, gold) {
                Action::Call(call) => {
                    if let CallOutcome::Reply(reply) = session.call(call).await? {
                        gold = reply.player.map_or(gold, |player| player.gold);
                    }
                    counters.calls.fetch_add(1, Ordering::Relaxed);
                }
                Action::Cross(target) => {
                    session.go_server(&target).await?;
                    counters.crossings.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    fn next_call(&self, session: &GameSession, gold: u64) -> Action {
        let mut rng = rand::rng();
        if rng.random_ratio(1, CROSS_ONE_IN) {
            let here = session.current_srvname();
            let away = session.home_srvname() != here;
            if away && rng.random_bool(0.5) {
                return Action::Cross(session.home_srvname().to_owned());
            }
            let others: Vec<&String> = self
                .servers
                .iter()
                .filter(|name| name.as_str() != here)
                .collect();
            if let Some(target) = others.get(rng.random_range(0..others.len().max(1))) {
                return Action::Cross((*target).clone());
            }
        }
        Action::Call(match rng.random_range(0..3) {
            0 if gold >= 5 => Call::SpendGold(SpendGold {
                amount: 5,
                reason: "demo:shop".into(),
            }),
            1 => Call::AddItem(AddItem {
                item_type: 105_001,
                count: 1,
                reason: "demo:drop".into(),
            }),
            _ => Call::AddGold(AddGold {
                amount: 10,
                reason: "demo:quest".into(),
            }),
        })
    }
}

enum Action {
    Call(Call),
    Cross(String),
}
