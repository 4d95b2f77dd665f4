//! The simulated bus (DESIGN §4): request/reply between the zone's nodes
//! with a deadline per request, and zone topics.
//!
//! A request gets exactly one answer at its caller: the reply, or
//! `PeerError::Timeout` at the deadline (the request or its reply was lost,
//! or the callee never answered), or `PeerError::Unreachable` when no node of
//! that name runs (NATS's "no responders"). An error reply becomes
//! `PeerError::Remote`, as the shell's `into_result` does. Messages are lost,
//! duplicated, delayed (with jitter, which reorders) and cut by partitions,
//! also while in flight; a duplicated request is handled twice and its second
//! answer is dropped, as the shell drops an answer to a finished call.

use gamecore::{PeerError, RequestId};
use wire::node::NodeMessage;
use wire::node::node_message::Body;

use crate::fault_kinds::FaultKind;
use crate::queue::SimEvent;
use crate::world::{Endpoint, World, node_bit};

/// A request's deadline.
pub const REQUEST_DEADLINE_MS: u64 = 1_000;

/// A request delivered to a game server, waiting for its `Reply` output.
pub(crate) struct Inbound {
    pub(crate) target: usize,
    caller: Endpoint,
    caller_incarnation: u64,
    call: u64,
}

impl World {
    fn endpoint(&self, name: &str) -> Option<Endpoint> {
        match name {
            "account" => Some(Endpoint::Account),
            "datacenter" => Some(Endpoint::DataCenter),
            _ => self
                .nodes
                .iter()
                .position(|slot| slot.name == name)
                .map(Endpoint::Node),
        }
    }

    fn endpoint_name(&self, endpoint: Endpoint) -> String {
        match endpoint {
            Endpoint::Node(node) => self.nodes[node].name.clone(),
            Endpoint::Account => "account".to_owned(),
            Endpoint::DataCenter => "datacenter".to_owned(),
        }
    }

    /// Sends a request; its answer (or a timeout at the deadline) comes back
    /// to `from` as `call`.
    pub(crate) fn request(
        &mut self,
        from: Endpoint,
        incarnation: u64,
        call: u64,
        to: &str,
        message: NodeMessage,
    ) {
        self.pending_calls.insert((from, incarnation, call));
        self.queue.push(
            self.now_ms + REQUEST_DEADLINE_MS,
            SimEvent::BusDeadline {
                to: from,
                incarnation,
                call,
            },
        );
        let Some(to) = self.endpoint(to) else {
            let answer = Err(PeerError::Unreachable);
            self.queue.push(
                self.now_ms + 1,
                SimEvent::BusAnswer {
                    from,
                    to: from,
                    incarnation,
                    call,
                    answer,
                },
            );
            return;
        };
        let event = SimEvent::BusRequest {
            from,
            from_incarnation: incarnation,
            call,
            to,
            message,
        };
        self.post(from.bit(), to.bit(), event);
    }

    pub(crate) fn request_arrives(
        &mut self,
        from: Endpoint,
        from_incarnation: u64,
        call: u64,
        to: Endpoint,
        message: NodeMessage,
    ) -> bool {
        if self.cut_until(from.bit(), to.bit()).is_some() {
            return false;
        }
        self.trace
            .add(&[self.now_ms, 2, from.tag(), call, to.tag()]);
        let answer = match to {
            Endpoint::Node(node) if self.nodes[node].core.is_none() => Err(PeerError::Unreachable),
            Endpoint::Node(node) => {
                let request = self.next_request;
                self.next_request += 1;
                let inbound = Inbound {
                    target: node,
                    caller: from,
                    caller_incarnation: from_incarnation,
                    call,
                };
                self.inbound.insert(request, inbound);
                let own = self.nodes[node].own_now(self.now_ms);
                let from_name = self.endpoint_name(from);
                self.core_mut(node)
                    .handle_request(own, RequestId(request), &from_name, message);
                self.after_core(node);
                return true;
            }
            Endpoint::Account => Ok(self.account_request(message)),
            Endpoint::DataCenter => {
                self.datacenter_request(from, from_incarnation, call, message);
                return true;
            }
        };
        self.answer(to, from, from_incarnation, call, answer);
        true
    }

    /// A game server answered request `request`.
    pub(crate) fn reply(&mut self, node: usize, request: RequestId, message: NodeMessage) {
        let Some(inbound) = self.inbound.remove(&request.0) else {
            return;
        };
        debug_assert_eq!(inbound.target, node, "a node answers only its own requests");
        self.answer(
            Endpoint::Node(node),
            inbound.caller,
            inbound.caller_incarnation,
            inbound.call,
            Ok(message),
        );
    }

    /// Sends an answer from `from` back to the caller.
    pub(crate) fn answer(
        &mut self,
        from: Endpoint,
        to: Endpoint,
        incarnation: u64,
        call: u64,
        answer: Result<NodeMessage, PeerError>,
    ) {
        let event = SimEvent::BusAnswer {
            from,
            to,
            incarnation,
            call,
            answer,
        };
        self.post(from.bit(), to.bit(), event);
    }

    pub(crate) fn answer_arrives(
        &mut self,
        from: Endpoint,
        to: Endpoint,
        incarnation: u64,
        call: u64,
        answer: Result<NodeMessage, PeerError>,
    ) -> bool {
        if from != to && self.cut_until(from.bit(), to.bit()).is_some() {
            return false;
        }
        if !self.pending_calls.remove(&(to, incarnation, call)) {
            return false;
        }
        self.trace
            .add(&[self.now_ms, 3, to.tag(), call, u64::from(answer.is_ok())]);
        let answer = answer.and_then(|message| match message.body {
            Some(Body::Error(error)) => {
                let code = wire::client::ErrorCode::try_from(error.code)
                    .unwrap_or(wire::client::ErrorCode::Internal);
                Err(PeerError::Remote(code))
            }
            _ => Ok(message),
        });
        self.call_answered(to, incarnation, call, answer);
        true
    }

    pub(crate) fn deadline_passes(&mut self, to: Endpoint, incarnation: u64, call: u64) -> bool {
        if !self.pending_calls.remove(&(to, incarnation, call)) {
            return false;
        }
        self.trace.add(&[self.now_ms, 4, to.tag(), call]);
        self.call_answered(to, incarnation, call, Err(PeerError::Timeout));
        true
    }

    fn call_answered(
        &mut self,
        to: Endpoint,
        incarnation: u64,
        call: u64,
        answer: Result<NodeMessage, PeerError>,
    ) {
        match to {
            Endpoint::Node(node) if self.alive(node, incarnation) => {
                self.core_call_answer(node, call, answer)
            }
            Endpoint::Node(_) | Endpoint::DataCenter => {}
            Endpoint::Account => self.account_answer(call, answer),
        }
    }

    /// Publishes on a zone topic: every game server gets it (best effort).
    pub(crate) fn publish(&mut self, from: usize, message: NodeMessage) {
        for node in 0..self.nodes.len() {
            if let Some(at) = self.bus_times(node_bit(from), node_bit(node)).0 {
                let incarnation = self.nodes[node].incarnation;
                self.queue.push(
                    at,
                    SimEvent::Topic {
                        from,
                        node,
                        incarnation,
                        message: message.clone(),
                    },
                );
            }
        }
    }

    pub(crate) fn topic_arrives(
        &mut self,
        from: usize,
        node: usize,
        incarnation: u64,
        message: NodeMessage,
    ) -> bool {
        if !self.alive(node, incarnation)
            || self.cut_until(node_bit(from), node_bit(node)).is_some()
        {
            return false;
        }
        self.trace.add(&[self.now_ms, 5, node as u64]);
        self.core_mut(node).handle_topic(message);
        self.after_core(node);
        true
    }

    /// Sends `event` from `from` to `to`: it is lost or cut, or queued at
    /// its arrival, and maybe duplicated (the duplicate queued first).
    fn post(&mut self, from: u32, to: u32, event: SimEvent) {
        let (first, duplicate) = self.bus_times(from, to);
        if let Some(at) = duplicate {
            self.queue.push(at, event.clone());
        }
        if let Some(at) = first {
            self.queue.push(at, event);
        }
    }

    /// When a message from `from` to `to` arrives, and when its duplicate
    /// does: `None` when lost or cut.
    fn bus_times(&mut self, from: u32, to: u32) -> (Option<u64>, Option<u64>) {
        if self.cut_until(from, to).is_some() {
            return (None, None);
        }
        if self.prng.chance(self.mix.loss_ppm) {
            self.inject(FaultKind::Loss);
            return (None, None);
        }
        let first = self.now_ms + self.latency();
        let duplicate = if self.prng.chance(self.mix.duplicate_ppm) {
            self.inject(FaultKind::Duplication);
            Some(self.now_ms + self.latency())
        } else {
            None
        };
        (Some(first), duplicate)
    }

    /// One message's latency: jitter, sometimes a spike.
    pub(crate) fn latency(&mut self) -> u64 {
        let latency = self.prng.between(1, self.mix.latency_max_ms);
        latency + self.spike()
    }

    /// A delay spike, sometimes.
    pub(crate) fn spike(&mut self) -> u64 {
        if self.prng.chance(self.mix.spike_ppm) {
            self.inject(FaultKind::DelaySpike);
            self.prng.between(1, self.mix.spike_max_ms)
        } else {
            0
        }
    }
}
