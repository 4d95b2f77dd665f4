//! The battle server (seed "Server architecture" 2; DESIGN §2): every game
//! server has its own, which runs battle computations for it so fights never
//! stall the game server's loop.
//!
//! [`fight`] is pure: the outcome depends only on the levels and the seed the
//! game server drew, so a fight can be replayed. [`BattleServer`] answers
//! `BattleRequest`s on the bus.

use std::sync::Arc;

use bus::{Bus, BusError};
use gamecore::limits::LEVEL_MAX;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{BattleRequest, BattleResult, NodeMessage};

/// Rounds after which a fight that nobody won counts as lost.
pub const ROUNDS_MAX: u32 = 100;

/// Fights a monster: both sides hit each round until one falls; a draw after
/// [`ROUNDS_MAX`] rounds is a loss.
pub fn fight(request: &BattleRequest) -> BattleResult {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(request.seed);
    let mut player = Fighter::at_level(request.player_level);
    let mut monster = Fighter::at_level(request.monster_level);
    for round in 1..=ROUNDS_MAX {
        monster.take(player.hit(&mut rng));
        if monster.health == 0 {
            return BattleResult {
                won: true,
                rounds: round,
            };
        }
        player.take(monster.hit(&mut rng));
        if player.health == 0 {
            return BattleResult {
                won: false,
                rounds: round,
            };
        }
    }
    BattleResult {
        won: false,
        rounds: ROUNDS_MAX,
    }
}

struct Fighter {
    health: u64,
    attack: u64,
}

impl Fighter {
    /// A fighter of `level`, clamped to the game's level cap
    /// (`gamecore::limits::LEVEL_MAX`): its game server sends nothing above
    /// it, and a fighter is never stronger than a player or monster can be.
    fn at_level(level: u32) -> Self {
        let level = u64::from(level.min(LEVEL_MAX));
        Self {
            health: 100 + level * 20,
            attack: 10 + level * 4,
        }
    }

    /// Damage of one hit: the attack, give or take a quarter.
    fn hit(&self, rng: &mut Xoshiro256PlusPlus) -> u64 {
        let spread = self.attack / 4;
        self.attack - spread + rng.next_u64() % (2 * spread + 1)
    }

    fn take(&mut self, damage: u64) {
        self.health = self.health.saturating_sub(damage);
    }
}

/// A running battle server.
pub struct BattleServer {
    task: tokio::task::JoinHandle<()>,
}

impl BattleServer {
    /// Binds `name` on the bus and answers fights until stopped.
    pub fn start(name: &str, bus: Arc<dyn Bus>) -> Result<Self, BusError> {
        let mut inbox = bus.bind(name, bus::INBOX_MESSAGES_MAX)?;
        let task = tokio::spawn(async move {
            while let Some(incoming) = inbox.recv().await {
                let answer = match &incoming.message.body {
                    Some(Body::BattleRequest(request)) => NodeMessage {
                        body: Some(Body::BattleResult(fight(request))),
                    },
                    _ => bus::error_reply(
                        ErrorCode::UnexpectedMessage,
                        "a battle server only fights",
                    ),
                };
                incoming.reply(answer);
            }
        });
        Ok(Self { task })
    }

    /// Stops answering.
    pub fn stop(self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(player_level: u32, monster_level: u32, seed: u64) -> BattleRequest {
        BattleRequest {
            roleid: 1_000_001,
            player_level,
            monster_level,
            seed,
        }
    }

    #[test]
    fn a_fight_replays_from_its_seed() {
        for seed in 0..50 {
            assert_eq!(fight(&request(5, 5, seed)), fight(&request(5, 5, seed)));
        }
    }

    #[test]
    fn the_stronger_side_wins() {
        assert!((0..50).all(|seed| fight(&request(50, 1, seed)).won));
        assert!((0..50).all(|seed| !fight(&request(1, 50, seed)).won));
    }

    #[test]
    fn a_level_above_the_games_cap_fights_as_the_cap() {
        for seed in 0..50 {
            assert_eq!(
                fight(&request(LEVEL_MAX + 1, LEVEL_MAX, seed)),
                fight(&request(LEVEL_MAX, u32::MAX, seed))
            );
        }
    }

    #[test]
    fn every_fight_ends_within_the_round_limit() {
        for (player, monster) in [(0, 0), (LEVEL_MAX, LEVEL_MAX), (u32::MAX, u32::MAX)] {
            let result = fight(&request(player, monster, 7));
            assert!((1..=ROUNDS_MAX).contains(&result.rounds));
        }
    }
}
