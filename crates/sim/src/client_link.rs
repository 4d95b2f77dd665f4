//! Client connections to game servers, as TCP gives them: frames arrive in
//! order in each direction; a partition between the players and a server
//! loses what crosses it (the player's request timeout then drops the
//! connection); a server learns that a player closed the connection when the
//! FIN arrives, or late when the link is cut (half-open).
//! When a server crashes its players see their connections reset.

use wire::client::{ClientFrame, ServerFrame};

use crate::bus::REQUEST_DEADLINE_MS;
use crate::queue::SimEvent;
use crate::world::{CLIENTS_BIT, World, node_bit};

/// A client connection (or a replaying ghost's).
pub(crate) struct Link {
    /// The client, or `None` for a ghost that replays a token.
    pub(crate) client: Option<usize>,
    /// A ghost that presents a crossing token with another role's id: it
    /// must not be admitted.
    pub(crate) forged_role: bool,
    pub(crate) node: usize,
    /// The node incarnation that accepted it (0 before the connect lands).
    incarnation: u64,
    pub(crate) client_open: bool,
    pub(crate) node_open: bool,
    to_node_last_ms: u64,
    to_client_last_ms: u64,
}

impl World {
    /// Opens a connection from a client (or a ghost) to `node`.
    pub(crate) fn open_link(&mut self, client: Option<usize>, node: usize) -> u64 {
        let session = self.next_session;
        self.next_session += 1;
        let at = self.now_ms + self.latency();
        let link = Link {
            client,
            forged_role: false,
            node,
            incarnation: 0,
            client_open: true,
            node_open: false,
            to_node_last_ms: at,
            to_client_last_ms: self.now_ms,
        };
        self.links.insert(session, link);
        self.queue.push(at, SimEvent::Connect { session });
        session
    }

    pub(crate) fn connect_arrives(&mut self, session: u64) -> bool {
        let Some(link) = self.links.get(&session) else {
            return false;
        };
        let node = link.node;
        if self.cut_until(CLIENTS_BIT, node_bit(node)).is_some() {
            return false; // the SYN is lost: the client's timeout notices
        }
        self.trace.add(&[self.now_ms, 9, session]);
        if self.nodes[node].core.is_none() {
            self.reset_at_client(session);
            return true;
        }
        let incarnation = self.nodes[node].incarnation;
        let link = self.links.get_mut(&session).expect("checked");
        link.incarnation = incarnation;
        link.node_open = true;
        self.core_mut(node)
            .handle_session_opened(gamecore::SessionId(session));
        self.after_core(node);
        true
    }

    /// The node a frame from the client reaches, if the connection is open
    /// there and the link is not cut.
    pub(crate) fn frame_reaches_node(&self, session: u64) -> Option<usize> {
        let link = self.links.get(&session)?;
        let open = link.node_open && self.alive(link.node, link.incarnation);
        (open && self.cut_until(CLIENTS_BIT, node_bit(link.node)).is_none()).then_some(link.node)
    }

    /// Sends a frame from a client to its node, in order.
    pub(crate) fn send_to_node(&mut self, session: u64, frame: ClientFrame) {
        let latency = self.latency();
        let Some(link) = self.links.get_mut(&session) else {
            return;
        };
        let at = (self.now_ms + latency).max(link.to_node_last_ms);
        link.to_node_last_ms = at;
        self.queue
            .push(at, SimEvent::FrameAtNode { session, frame });
    }

    /// Sends a frame (and maybe the close) from a node to its client.
    pub(crate) fn send_to_client(&mut self, session: u64, frame: Option<ServerFrame>, close: bool) {
        let latency = self.latency();
        let Some(link) = self.links.get_mut(&session) else {
            return;
        };
        if close {
            link.node_open = false;
        }
        if !link.client_open {
            self.forget_link_if_closed(session);
            return;
        }
        let at = (self.now_ms + latency).max(link.to_client_last_ms);
        link.to_client_last_ms = at;
        self.queue.push(
            at,
            SimEvent::FrameAtClient {
                session,
                frame,
                close,
            },
        );
    }

    pub(crate) fn frame_reaches_client(
        &mut self,
        session: u64,
        frame: Option<ServerFrame>,
        close: bool,
    ) -> bool {
        let Some(link) = self.links.get_mut(&session).filter(|link| link.client_open) else {
            return false;
        };
        let (client, node, forged_role) = (link.client, link.node, link.forged_role);
        if self.cut_until(node_bit(node), CLIENTS_BIT).is_some() {
            return false;
        }
        if close {
            self.links.get_mut(&session).expect("checked").client_open = false;
            self.forget_link_if_closed(session);
        }
        self.trace.add(&[
            self.now_ms,
            12,
            session,
            frame.as_ref().map_or(0, |frame| frame.request_id),
            u64::from(close),
        ]);
        if forged_role && let Some(frame) = &frame {
            self.check_forged_role_refused(frame);
        }
        match client {
            Some(client) => self.client_frame(client, session, frame, close),
            // A ghost hangs up after its first answer.
            None if !close => self.close_from_client(session),
            None => {}
        }
        true
    }

    /// The client side closes `session`; the node notices when the FIN
    /// arrives.
    pub(crate) fn close_from_client(&mut self, session: u64) {
        let latency = self.latency();
        let Some(link) = self.links.get_mut(&session) else {
            return;
        };
        link.client_open = false;
        if !link.node_open && link.incarnation != 0 {
            self.links.remove(&session);
            return;
        }
        let at = (self.now_ms + latency).max(link.to_node_last_ms);
        self.queue.push(at, SimEvent::ClosedAtNode { session });
    }

    /// The FIN (or the keepalive's verdict) reaches the node; across a cut
    /// link it waits for the heal, or for the keepalive.
    pub(crate) fn close_reaches_node(&mut self, session: u64) -> bool {
        let Some(link) = self.links.get(&session) else {
            return false;
        };
        let node = link.node;
        if let Some(until_ms) = self.cut_until(CLIENTS_BIT, node_bit(node)) {
            let keepalive_ms = self.now_ms
                + self
                    .prng
                    .between(0, self.mix.half_open_max_ms.max(REQUEST_DEADLINE_MS));
            self.queue.push(
                until_ms.min(keepalive_ms) + 1,
                SimEvent::ClosedAtNode { session },
            );
            return false;
        }
        if !link.node_open || !self.alive(node, link.incarnation) {
            self.forget_link_if_closed(session);
            return false;
        }
        self.trace.add(&[self.now_ms, 11, session]);
        self.links.get_mut(&session).expect("checked").node_open = false;
        self.forget_link_if_closed(session);
        self.core_mut(node)
            .handle_session_closed(gamecore::SessionId(session));
        self.after_core(node);
        true
    }

    /// A fault cuts a client's connection: the client sees it at once, the
    /// server only after up to `half_open_max_ms`.
    pub(crate) fn cut_link(&mut self, session: u64) {
        let Some(link) = self.links.get_mut(&session) else {
            return;
        };
        link.client_open = false;
        let client = link.client;
        let at = self.now_ms + self.prng.between(0, self.mix.half_open_max_ms);
        self.queue.push(at, SimEvent::ClosedAtNode { session });
        if let Some(client) = client {
            self.client_connection_lost(client, session);
        }
    }

    /// A node crashed: its connections reset.
    pub(crate) fn node_links_reset(&mut self, node: usize) {
        let sessions: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, link)| link.node == node && (link.node_open || link.incarnation == 0))
            .map(|(session, _)| *session)
            .collect();
        for session in sessions {
            let link = self.links.get_mut(&session).expect("listed");
            if link.incarnation == 0 {
                continue; // still connecting: it will reach the restarted node, or be refused
            }
            link.node_open = false;
            if link.client_open {
                self.reset_at_client(session);
            } else {
                self.links.remove(&session);
            }
        }
    }

    /// The node resets `session`: the client sees the close after one
    /// latency, whatever is still on its way to it.
    fn reset_at_client(&mut self, session: u64) {
        let at = self.now_ms + self.latency();
        let reset = SimEvent::FrameAtClient {
            session,
            frame: None,
            close: true,
        };
        self.queue.push(at, reset);
    }

    pub(crate) fn forget_link_if_closed(&mut self, session: u64) {
        if self
            .links
            .get(&session)
            .is_some_and(|link| !link.client_open && !link.node_open)
        {
            self.links.remove(&session);
        }
    }
}
