//! Ghosts: second connections of a simulated player that present its tokens
//! where they must be refused (item 11's adversarial clients). A ghost
//! replays a redeemed token where it was redeemed or (login tokens) at any
//! server, or presents a fresh crossing token at its target with another
//! player's role id; the player carries on as if nothing happened.

use wire::client::client_frame::Body as In;
use wire::client::server_frame::Body as Out;
use wire::client::{Authenticate, ClientFrame, ServerFrame};

use crate::Property;
use crate::fault_kinds::FaultKind;
use crate::prng::PPM;
use crate::world::World;

impl World {
    /// A second connection presents an already redeemed token: where it was
    /// redeemed, or (half of the login tokens) at any server, where it was
    /// never valid (a login token admits only at the server `LoginOk` named).
    pub(crate) fn replay_token(&mut self, client: usize) {
        let Some(presented) = self.clients[client].last_redeemed else {
            return;
        };
        let node = if presented.roleid == 0 && self.prng.chance(PPM / 2) {
            self.prng.index(self.nodes.len())
        } else {
            presented.node
        };
        self.inject(FaultKind::TokenReplay);
        let session = self.open_link(None, node);
        let authenticate = Authenticate {
            token: presented.token.to_be_bytes().to_vec(),
            roleid: presented.roleid,
        };
        self.send_to_node(
            session,
            ClientFrame {
                request_id: 1,
                body: Some(In::Authenticate(authenticate)),
            },
        );
    }

    /// A ghost presents the player's fresh crossing token at its target with
    /// another player's role id: it must be refused (`BAD_TOKEN`), and the
    /// refusal must not burn the token for the player itself.
    pub(crate) fn present_forged_role(&mut self, client: usize, node: usize, token: u128) {
        let other = (client + 1 + self.prng.index(self.clients.len() - 1)) % self.clients.len();
        self.inject(FaultKind::ForgedRole);
        let session = self.open_link(None, node);
        self.links
            .get_mut(&session)
            .expect("just opened")
            .forged_role = true;
        let authenticate = Authenticate {
            token: token.to_be_bytes().to_vec(),
            roleid: self.clients[other].roleid.get(),
        };
        self.send_to_node(
            session,
            ClientFrame {
                request_id: 1,
                body: Some(In::Authenticate(authenticate)),
            },
        );
    }

    /// The answer a forged-role ghost got: anything but `Authenticated`.
    pub(crate) fn check_forged_role_refused(&mut self, frame: &ServerFrame) {
        if matches!(frame.body, Some(Out::Authenticated(_))) {
            self.checker.fail(
                Property::TokenAdmitsOnlyItsRole,
                "a crossing token admitted a client that named another role".to_owned(),
            );
        }
    }
}
