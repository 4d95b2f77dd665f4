//! The game servers of the simulated zone: starting and crashing a node's
//! production [`GameCore`], and driving it: after every input the core's
//! outputs become scheduled events and its timer is re-armed.

use gamecore::{CallId, Config, GameCore, Output, PeerError, RequestId};
use wire::client::server_frame::Body as Out;

use super::{
    Endpoint, HANDOFF_TTL_MS, HEARTBEAT_INTERVAL_MS, LEASE_RENEW_INTERVAL_MS, LEASE_TTL_MS,
    SAVE_INTERVAL_MS, SKEW_MARGIN_MS, TOKEN_TTL_MS, World, srvname,
};
use crate::Mutation;
use crate::fault_kinds::FaultKind;
use crate::queue::SimEvent;

impl World {
    pub(crate) fn alive(&self, node: usize, incarnation: u64) -> bool {
        let slot = &self.nodes[node];
        slot.incarnation == incarnation && slot.core.is_some()
    }

    pub(crate) fn core_mut(&mut self, node: usize) -> &mut GameCore {
        self.nodes[node].core.as_mut().expect("a live node")
    }

    fn core_config(&self, node: usize, incarnation: u64) -> Config {
        let slot = &self.nodes[node];
        let mut config = Config::new(&slot.name, incarnation, slot.srvno, self.zone.clone());
        config.account_node = "account".to_owned();
        config.datacenter_node = "datacenter".to_owned();
        config.lease_ttl_ms = LEASE_TTL_MS;
        config.lease_renew_interval_ms = LEASE_RENEW_INTERVAL_MS;
        config.skew_margin_ms = SKEW_MARGIN_MS;
        config.handoff_ttl_ms = HANDOFF_TTL_MS;
        config.token_ttl_ms = TOKEN_TTL_MS;
        config.save_interval_ms = SAVE_INTERVAL_MS;
        config.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS;
        config.players_max = 1_000;
        config.tokens_max = 10_000;
        config.marks_max = 10_000;
        config.mutations = gamecore::Mutations {
            no_skew_margin: self.config.mutation == Some(Mutation::NoSkewMargin),
            reusable_tokens: self.config.mutation == Some(Mutation::ReusableTokens),
            redirect_before_commit: self.config.mutation == Some(Mutation::RedirectBeforeCommit),
            notes_not_resent: self.config.mutation == Some(Mutation::NotesNotResent),
            marks_cleared_on_misses: self.config.mutation == Some(Mutation::MarksClearedOnMisses),
            crossing_token_admits_any_role: self.config.mutation
                == Some(Mutation::CrossingTokenAdmitsAnyRole),
            double_credit: self.config.mutation == Some(Mutation::DoubleCredit),
            gifts_not_remembered: self.config.mutation == Some(Mutation::GiftsNotRemembered),
        };
        config
    }

    /// Starts (or restarts) a node with a new incarnation and empty memory.
    pub(crate) fn start_node(&mut self, node: usize) {
        let incarnation = self.prng.next_u64() | 1;
        let config = self.core_config(node, incarnation);
        let own = self.nodes[node].own_now(self.now_ms);
        let slot = &mut self.nodes[node];
        slot.incarnation = incarnation;
        slot.core = Some(GameCore::new(config, own));
        slot.timer_at_ms = None;
        slot.paused_until_ms = 0;
        self.log(|| format!("{} starts as incarnation {incarnation:x}", srvname(node)));
        self.after_core(node);
    }

    /// The node dies: its memory is gone; its clients see their connections
    /// reset; requests it was answering are never answered. Its store ops
    /// already sent still reach the database.
    pub(crate) fn crash(&mut self, node: usize) {
        self.inject(FaultKind::Crash);
        self.log(|| format!("{} crashes", srvname(node)));
        let slot = &mut self.nodes[node];
        slot.core = None;
        slot.timer_at_ms = None;
        slot.paused_until_ms = 0;
        self.inbound.retain(|_, inbound| inbound.target != node);
        self.node_links_reset(node);
    }

    /// After any input to a core: carry out its outputs, then re-arm its timer.
    pub(crate) fn after_core(&mut self, node: usize) {
        let mut outputs = std::mem::take(&mut self.outputs);
        let core = self.nodes[node].core.as_mut().expect("a live node");
        while let Some(output) = core.poll_output() {
            outputs.push(output);
        }
        for output in outputs.drain(..) {
            self.carry_out(node, output);
        }
        self.outputs = outputs;
        self.arm_timer(node);
    }

    fn arm_timer(&mut self, node: usize) {
        let now_ms = self.now_ms;
        let slot = &mut self.nodes[node];
        let Some(core) = &slot.core else { return };
        let at_ms = slot.own_to_true(core.poll_timeout()).max(now_ms + 1);
        if slot.timer_at_ms == Some(at_ms) {
            return;
        }
        slot.timer_generation += 1;
        slot.timer_at_ms = Some(at_ms);
        let event = SimEvent::NodeTimer {
            node,
            incarnation: slot.incarnation,
            generation: slot.timer_generation,
        };
        self.queue.push(at_ms, event);
    }

    fn carry_out(&mut self, node: usize, output: Output) {
        match output {
            Output::Send { session, frame } => {
                if matches!(frame.body, Some(Out::CallReply(_))) {
                    self.check_serving(node, session.0);
                }
                self.send_to_client(session.0, Some(frame), false);
            }
            Output::Close { session, last } => self.send_to_client(session.0, last, true),
            Output::Request { call, to, message } => {
                let incarnation = self.nodes[node].incarnation;
                self.request(Endpoint::Node(node), incarnation, call.0, &to, message);
            }
            Output::Reply { request, message } => self.reply(node, RequestId(request.0), message),
            Output::Publish { message, .. } => self.publish(node, message),
            Output::Store {
                op,
                srvno,
                operation,
            } => self.submit_store(node, op.0, srvno, operation),
            Output::Event(event) => {
                let owner = self.nodes[node]
                    .core
                    .as_ref()
                    .expect("live")
                    .owner()
                    .clone();
                self.log(|| format!("{} event {event:?}", srvname(node)));
                if let gamecore::Event::MarkExpired { roleid } = event {
                    self.check_mark_cleared(node, roleid);
                }
                self.checker.observe(&owner, &event);
            }
        }
    }

    /// Gives a call answer to a live core.
    pub(crate) fn core_call_answer(
        &mut self,
        node: usize,
        call: u64,
        answer: Result<wire::node::NodeMessage, PeerError>,
    ) {
        let own = self.nodes[node].own_now(self.now_ms);
        self.core_mut(node)
            .handle_call_answer(own, CallId(call), answer);
        self.after_core(node);
    }
}
