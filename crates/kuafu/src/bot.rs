//! A bot: one account with one role that logs in (by device id, or registers
//! a password account or logs back in), enters the server the account center
//! names, and plays until told to stop: adds and spends gold, adds items, and
//! now and then crosses to another server and comes home, all over real
//! sockets through the client library; and it befriends other bots, sees
//! them move, gives them gold and sounds horns (`social`). After every
//! crossing it completes, a bot compares the gold the target server entered
//! it with against the gold it last saw before leaving (the handoff saves
//! it, DESIGN §6) and counts any loss, as an error too (gold can only grow
//! meanwhile, by gifts from other bots; `kuafu audit` pairs every gift's
//! credit with its debit). A bot waits in the login queue and retries
//! retryable errors with backoff and jitter (`client::retry`); every error
//! it ends on is counted by kind.

mod social;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use social::Friends;
pub use social::Roster;
use std::time::Duration;

use client::retry::{RetryPolicy, with_retry};
use client::{CallOutcome, ClientError, GameSession};
use rand::RngExt;
use wire::client::game_call::Call;
use wire::client::{AddGold, AddItem, ErrorCode, GetPlayer, LoginOk, SpendGold};

/// Pause between two calls of one bot.
pub const CALL_INTERVAL: Duration = Duration::from_millis(50);
/// Chance, per call, that a bot crosses (one in this many).
pub const CROSS_ONE_IN: u32 = 60;

/// The error kind of a completed crossing that lost some of the bot's gold.
pub const CROSSING_GOLD_CHANGED: &str = "crossing_gold_changed";

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
    /// Crossings asked for and not yet answered, now.
    pub crossings_in_flight: AtomicU64,
    /// Completed crossings whose target entered the bot with less gold
    /// than it had seen before leaving; each is also counted as an error of
    /// kind [`CROSSING_GOLD_CHANGED`].
    pub crossing_gold_changed: AtomicU64,
    /// Friends added.
    pub friends: AtomicU64,
    /// Times a bot saw a friend on another server than before.
    pub friend_moves_seen: AtomicU64,
    /// Gifts sent (each answered once debited).
    pub gifts: AtomicU64,
    /// Horns sounded.
    pub horns: AtomicU64,
    /// Errors of any kind.
    pub errors: AtomicU64,
    /// Errors by kind (an error code's name, `timeout`, `closed`, ...); as
    /// many kinds as the client library's errors have.
    pub errors_by_kind: Mutex<BTreeMap<String, u64>>,
}

impl BotCounters {
    /// Counts one error under its kind.
    pub fn count_error(&self, kind: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut kinds = self
            .errors_by_kind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *kinds.entry(kind).or_default() += 1;
    }
}

/// How bots log in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginKind {
    /// By device id: no password hash, so the demo does not measure argon2.
    #[default]
    Device,
    /// Register a password account (or log in to it on a rerun).
    Password,
}

/// The kind of a client error, for the demo's last line.
pub fn error_kind(error: &ClientError) -> String {
    match error {
        ClientError::Server { code, .. } => code.as_str_name().to_owned(),
        ClientError::Timeout => "timeout".into(),
        ClientError::Closed { .. } => "closed".into(),
        ClientError::Io(_) => "io".into(),
        ClientError::Protocol(_) => "protocol".into(),
        ClientError::Frame(_) => "frame".into(),
    }
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
    /// How it logs in.
    pub login: LoginKind,
    /// The demo's bots in the game, to befriend; `None`: the bot plays
    /// alone (no friends, gifts or horns).
    pub roster: Option<Arc<Roster>>,
}

impl Bot {
    /// Plays until `stop` fires, then comes home and logs off. Every failure
    /// is counted in `counters.errors` and logged.
    pub async fn run(self, counters: Arc<BotCounters>, stop: tokio::sync::watch::Receiver<bool>) {
        if let Err(error) = self.play(&counters, stop).await {
            counters.count_error(error_kind(&error));
            tracing::warn!(account = self.account, %error, "bot failed");
        }
    }

    async fn play(
        &self,
        counters: &BotCounters,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let login = self.log_in().await?;
        if !login.roles.is_empty() {
            counters.returning.fetch_add(1, Ordering::Relaxed);
        }
        let server = login
            .server
            .clone()
            .ok_or_else(|| ClientError::Protocol("login named no server".into()))?;
        let roleid = login.roles.first().map(|role| role.roleid);
        let mut session =
            GameSession::enter(&server, &login.login_token, roleid, &self.account).await?;
        counters.entered.fetch_add(1, Ordering::Relaxed);
        counters.online.fetch_add(1, Ordering::Relaxed);
        let me = session
            .entered()
            .player
            .as_ref()
            .map_or(0, |player| player.roleid);
        let mut friends = Friends::new(me);
        if let Some(roster) = &self.roster {
            roster.join(me);
            friends.load(&session, counters).await?;
        }
        let played = self
            .play_until_stopped(&mut session, &mut friends, counters, stop)
            .await;
        counters.online.fetch_sub(1, Ordering::Relaxed);
        let gold = played?;
        if session.current_srvname() != session.home_srvname() {
            cross(&mut session, Crossing::Home, gold, counters).await?;
        }
        session.logoff().await
    }

    /// Logs in by device id, or registers (an account left by an earlier
    /// run logs in instead); waits in the queue, retries retryable errors.
    async fn log_in(&self) -> Result<LoginOk, ClientError> {
        let policy = RetryPolicy::default();
        let (addr, account) = (&self.account_addr, &self.account);
        if self.login == LoginKind::Device {
            let device_id = format!("{account}-device");
            return with_retry(&policy, || client::account::login_device(addr, &device_id)).await;
        }
        let password = format!("{account}-secret");
        let registered = with_retry(&policy, || {
            client::account::register(addr, account, &password)
        })
        .await;
        match registered {
            Err(ClientError::Server {
                code: ErrorCode::AccountExists,
                ..
            }) => {
                with_retry(&policy, || {
                    client::account::login_password(addr, account, &password)
                })
                .await
            }
            other => other,
        }
    }

    /// Plays until `stop` fires; returns the gold it saw last.
    async fn play_until_stopped(
        &self,
        session: &mut GameSession,
        friends: &mut Friends,
        counters: &BotCounters,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<u64, ClientError> {
        let mut gold = match session.call(Call::GetPlayer(GetPlayer {})).await? {
            CallOutcome::Reply(reply) => reply.player.map_or(0, |player| player.gold),
            CallOutcome::Crossed { .. } => {
                return Err(ClientError::Protocol("GetPlayer redirected".into()));
            }
        };
        while !*stop.borrow() {
            tokio::time::sleep(CALL_INTERVAL).await;
            friends.hear(session, counters);
            let social = self
                .roster
                .as_ref()
                .and_then(|roster| friends.next(roster, gold));
            if let Some(social) = social {
                if let Some(after_gift) = friends.act(session, social, counters).await? {
                    gold = after_gift;
                }
                counters.calls.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match self.next_call(session, gold) {
                Action::Call(call) => {
                    if let CallOutcome::Reply(reply) = session.call(call).await? {
                        gold = reply.player.map_or(gold, |player| player.gold);
                    }
                    counters.calls.fetch_add(1, Ordering::Relaxed);
                }
                Action::Cross(target) => {
                    gold = cross(session, Crossing::To(target), gold, counters).await?;
                }
            }
        }
        Ok(gold)
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

/// Where a crossing goes.
enum Crossing {
    Home,
    To(String),
}

/// Crosses; counts the crossing, and a loss between `gold_before` and the
/// gold the target entered the bot with. Returns the gold after.
async fn cross(
    session: &mut GameSession,
    crossing: Crossing,
    gold_before: u64,
    counters: &BotCounters,
) -> Result<u64, ClientError> {
    counters.crossings_in_flight.fetch_add(1, Ordering::Relaxed);
    let entered = match &crossing {
        Crossing::Home => session.go_home().await,
        Crossing::To(target) => session.go_server(target).await,
    };
    counters.crossings_in_flight.fetch_sub(1, Ordering::Relaxed);
    let gold_after = entered?.player.map_or(0, |player| player.gold);
    counters.crossings.fetch_add(1, Ordering::Relaxed);
    if gold_after < gold_before {
        counters
            .crossing_gold_changed
            .fetch_add(1, Ordering::Relaxed);
        counters.count_error(CROSSING_GOLD_CHANGED.to_owned());
        tracing::error!(
            to = session.current_srvname(),
            gold_before,
            gold_after,
            "a crossing lost gold"
        );
    }
    Ok(gold_after)
}
