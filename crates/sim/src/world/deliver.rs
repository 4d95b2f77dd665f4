//! Event delivery: one popped [`SimEvent`] goes to the part of the zone it
//! is for. Events into a game server's process are handled by
//! [`World::deliver_node_event`]; every other event (clients, the account
//! center, faults, the liveness deadline) by [`World::deliver_zone_event`].
//! A delivery that finds its event stale or lost is not a step.

use std::ops::ControlFlow;

use gamecore::{Entropy, OpId, SessionId};
use store::StoreError;
use wire::client::ClientFrame;

use super::{ACCOUNT_BIT, CLIENTS_BIT, Endpoint, World, srvname};
use crate::prng::Prng;
use crate::queue::SimEvent;

/// Tokens for the cores, from the run's PRNG.
struct PrngEntropy<'a>(&'a mut Prng);

impl Entropy for PrngEntropy<'_> {
    fn token(&mut self) -> u128 {
        self.0.token()
    }
}

impl World {
    /// Delivers one event; false when it was stale or lost (not a step).
    pub(super) fn deliver(&mut self, event: SimEvent) -> bool {
        match self.deliver_node_event(event) {
            ControlFlow::Break(step) => step,
            ControlFlow::Continue(event) => self.deliver_zone_event(event),
        }
    }

    /// Delivers an event for a game server's process or its links (breaks
    /// with whether it was a step); any other event continues to
    /// [`World::deliver_zone_event`].
    fn deliver_node_event(&mut self, event: SimEvent) -> ControlFlow<bool, SimEvent> {
        ControlFlow::Break(match event {
            SimEvent::NodeTimer {
                node,
                incarnation,
                generation,
            } => self.node_timer_fires(node, incarnation, generation),
            SimEvent::BusRequest {
                from,
                from_incarnation,
                call,
                to,
                message,
            } => self.request_arrives(from, from_incarnation, call, to, message),
            SimEvent::BusAnswer {
                from,
                to,
                incarnation,
                call,
                answer,
            } => self.answer_arrives(from, to, incarnation, call, answer),
            SimEvent::BusDeadline {
                to,
                incarnation,
                call,
            } => self.deadline_passes(to, incarnation, call),
            SimEvent::Topic {
                from,
                node,
                incarnation,
                message,
            } => self.topic_arrives(from, node, incarnation, message),
            SimEvent::StorePump {
                node,
                incarnation,
                db,
            } => self.pump_to_db(node, incarnation, db),
            SimEvent::AnswerPump {
                node,
                incarnation,
                db,
            } => self.pump_to_node(node, incarnation, db),
            SimEvent::StoreDeadline {
                node,
                incarnation,
                op,
            } => self.store_deadline_passes(node, incarnation, op),
            SimEvent::DataCenterWritten { batch } => self.datacenter_written(batch),
            SimEvent::Connect { session } => self.connect_arrives(session),
            SimEvent::FrameAtNode { session, frame } => self.frame_arrives_at_node(session, frame),
            SimEvent::ClosedAtNode { session } => self.close_reaches_node(session),
            other => return ControlFlow::Continue(other),
        })
    }

    /// Delivers an event for the players, the account center, the fault
    /// schedule or the run itself.
    fn deliver_zone_event(&mut self, event: SimEvent) -> bool {
        let now = self.now_ms;
        match event {
            SimEvent::FrameAtClient {
                session,
                frame,
                close,
            } => self.frame_reaches_client(session, frame, close),
            SimEvent::ClientWake { client, generation } => {
                if self.clients[client].generation != generation {
                    return false;
                }
                self.trace.add(&[now, 13, client as u64]);
                self.client_wakes(client);
                true
            }
            SimEvent::ClientTimeout { client, request } => {
                if self.clients[client].pending_request() != Some(request) {
                    return false;
                }
                self.trace.add(&[now, 14, client as u64, request]);
                self.client_backs_off(client);
                true
            }
            SimEvent::LoginAtAccount { client, attempt } => {
                if self.cut_until(CLIENTS_BIT, ACCOUNT_BIT).is_some() {
                    return false;
                }
                self.trace.add(&[now, 15, client as u64, attempt]);
                self.login_arrives(client, attempt);
                true
            }
            SimEvent::LoginAnswer {
                client,
                attempt,
                granted,
            } => {
                if self.cut_until(ACCOUNT_BIT, CLIENTS_BIT).is_some() {
                    return false;
                }
                let granted_flag = u64::from(granted.is_some());
                self.trace
                    .add(&[now, 16, client as u64, attempt, granted_flag]);
                self.login_answered(client, attempt, granted);
                true
            }
            SimEvent::CrashTick => self.crash_tick(),
            SimEvent::Restart { node } => {
                if self.nodes[node].core.is_some() {
                    return false;
                }
                self.trace.add(&[now, 18, node as u64]);
                self.start_node(node);
                true
            }
            SimEvent::PartitionTick => self.partition_tick(),
            SimEvent::PartitionEnd { id } => self.partition_ends(id),
            SimEvent::CutTick => self.cut_tick(),
            SimEvent::PauseTick => self.pause_tick(),
            SimEvent::LivenessDeadline => {
                self.trace.add(&[now, 22]);
                self.liveness_deadline();
                true
            }
            _ => unreachable!("deliver_node_event handles every node event"),
        }
    }

    /// A node's timer fires, unless the node restarted or re-armed it since.
    fn node_timer_fires(&mut self, node: usize, incarnation: u64, generation: u64) -> bool {
        let slot = &self.nodes[node];
        if !self.alive(node, incarnation) || slot.timer_generation != generation {
            return false;
        }
        let now = self.now_ms;
        self.trace.add(&[now, 1, node as u64]);
        self.nodes[node].timer_at_ms = None;
        let own = self.nodes[node].own_now(now);
        self.core_mut(node).handle_timeout(own);
        self.after_core(node);
        true
    }

    /// The shell's deadline for a store op passes before its answer came:
    /// the core gets a backend error.
    fn store_deadline_passes(&mut self, node: usize, incarnation: u64, op: u64) -> bool {
        if !self.pending_ops.remove(&(node, incarnation, op)) || !self.alive(node, incarnation) {
            return false;
        }
        let now = self.now_ms;
        self.trace.add(&[now, 8, node as u64, op]);
        let answer = Err(StoreError::Backend(
            "no answer before the shell's deadline".to_owned(),
        ));
        let own = self.nodes[node].own_now(now);
        self.core_mut(node)
            .handle_store_answer(own, OpId(op), answer);
        self.after_core(node);
        true
    }

    /// A client's frame reaches the node serving its session.
    fn frame_arrives_at_node(&mut self, session: u64, frame: ClientFrame) -> bool {
        let Some(node) = self.frame_reaches_node(session) else {
            return false;
        };
        self.log(|| {
            format!(
                "{} gets #{} on session {session}",
                srvname(node),
                frame.request_id
            )
        });
        let now = self.now_ms;
        self.trace.add(&[now, 10, session, frame.request_id]);
        let own = self.nodes[node].own_now(now);
        let core = self.nodes[node]
            .core
            .as_mut()
            .expect("frame_reaches_node checked");
        core.handle_client_frame(
            own,
            SessionId(session),
            frame,
            &mut PrngEntropy(&mut self.prng),
        );
        self.after_core(node);
        true
    }

    /// If `event` goes into a paused node's process, when the node resumes.
    pub(super) fn paused_target(&self, event: &SimEvent) -> Option<u64> {
        let node = match event {
            SimEvent::NodeTimer { node, .. }
            | SimEvent::Topic { node, .. }
            | SimEvent::AnswerPump { node, .. }
            | SimEvent::StoreDeadline { node, .. } => *node,
            SimEvent::BusRequest {
                to: Endpoint::Node(node),
                ..
            }
            | SimEvent::BusAnswer {
                to: Endpoint::Node(node),
                ..
            }
            | SimEvent::BusDeadline {
                to: Endpoint::Node(node),
                ..
            } => *node,
            SimEvent::Connect { session }
            | SimEvent::FrameAtNode { session, .. }
            | SimEvent::ClosedAtNode { session } => self.links.get(session)?.node,
            _ => return None,
        };
        let resume_ms = self.nodes[node].paused_until_ms;
        (resume_ms > self.now_ms).then_some(resume_ms)
    }
}
