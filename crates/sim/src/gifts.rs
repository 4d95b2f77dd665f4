//! Gifts in the simulation (DESIGN §9): players send gold to other players,
//! wherever they are, while the faults run (crashes between the debit and
//! the credit, lost and duplicated deliveries and answers). The checker
//! pairs every credit with its debit across the databases
//! (`Property::GiftCreditedOnce`) and, after healing, expects every gift
//! in flight at the healing to be credited
//! (`Property::GiftsDeliveredAfterHealing`).

use wire::client::SendGift;
use wire::client::game_call::Call;

use crate::world::World;

/// The most gold one simulated gift gives.
const GIFT_GOLD_MAX: u64 = 30;

impl World {
    /// A `SendGift` of `client` to another simulated player (a look at its
    /// own player when it is alone).
    pub(crate) fn gift_call(&mut self, client: usize) -> Call {
        let others = self.clients.len() - 1;
        if others == 0 {
            return Call::GetPlayer(wire::client::GetPlayer {});
        }
        let other = (client + 1 + self.prng.index(others)) % self.clients.len();
        Call::SendGift(SendGift {
            to_roleid: self.clients[other].roleid.get(),
            gold: self.prng.between(1, GIFT_GOLD_MAX),
        })
    }
}
