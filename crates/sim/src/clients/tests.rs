//! The liveness count: a player counts as playable after healing once, and
//! only when it is playable after the healing instant (as the liveness
//! deadline judges it).

use crate::SeedConfig;
use crate::world::{Phase, World};

/// Found when seeds 600 and 663 of `kuafu sim --seeds 1000` ran their
/// liveness phase to the step bound with every player playing: a player
/// playable in the very millisecond of the heal was counted, stayed "not
/// playable after the heal" by its time, and was counted again, so the count
/// passed the number of players and never equalled it.
#[test]
fn a_player_playable_in_the_healing_millisecond_is_counted_once() {
    let mut world = World::new(1, &SeedConfig::default());
    let healed_at_ms = world.now_ms;
    world.phase = Phase::Liveness { healed_at_ms };
    world.playable(0);
    world.playable(0);
    assert_eq!(world.playable_after_heal, 0, "not after the heal yet");
    world.now_ms += 1;
    world.playable(0);
    world.playable(0);
    assert_eq!(world.playable_after_heal, 1, "counted once");
}
