//! The game core's state, its outputs, its timers and the dispatch of store
//! answers. The handlers live by sub-protocol: `sessions` (client
//! connections, roles), `crossing::target` (tokens, `Authenticate`,
//! `EnterGame`, the claim: how any player arrives), `hosting` (a hosted
//! player's lease, renewal, release, drop), `write_path` (saves, releases
//! and handoffs, read back), `crossing::source` (a player leaving),
//! `playing` (gameplay calls, fights, horns), `home` (kuafu marks) and
//! `peers` (node requests and answers).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ownership::{LeaseView, OwnerId};
use routing::RoleId;
use store::{OpOutcome, PlayerOp, StoreError};
use wire::client::ErrorCode;
use wire::node::NodeMessage;

use crate::friends::FriendRefs;
use crate::home::MarksPage;
use crate::hosting::{Hosted, PlayerState};
use crate::limits::OUTPUTS_MAX;
use crate::marks::{Mark, MarkBook};
use crate::peers::CallPurpose;
use crate::sessions::Session;
use crate::summaries::SummaryCache;
use crate::tokens::TokenBook;
use crate::write_path::PendingWrite;
use crate::{CallId, Config, Event, OpId, Output, SessionId};

/// What a store operation in flight is for: where its answer goes.
#[derive(Clone, Debug)]
pub(crate) enum OpPurpose {
    CreateRole { session: SessionId, request_id: u64 },
    ListRoles { session: SessionId, request_id: u64 },
    Claim { roleid: RoleId, generation: u64 },
    Write(PendingWrite),
    ReadBack(PendingWrite),
    Renew { generations: Vec<(RoleId, u64)> },
    MarksPage(MarksPage),
    MarkRead { roleid: RoleId },
    GiftReceiver(crate::gifts::GiftRequest),
    GiftInbox(crate::gifts::DeliveryKey),
}

/// The protocol core of one game server. See the crate docs.
pub struct GameCore {
    pub(crate) config: Config,
    pub(crate) owner: OwnerId,
    pub(crate) sessions: BTreeMap<SessionId, Session>,
    pub(crate) players: BTreeMap<RoleId, Hosted>,
    /// Sessions a token admitted that have not entered yet: each holds one
    /// of the `players_max` places (see `crossing::target`).
    pub(crate) awaiting_entry: BTreeSet<SessionId>,
    pub(crate) tokens: TokenBook,
    pub(crate) marks: MarkBook,
    pub(crate) ops: BTreeMap<OpId, OpPurpose>,
    pub(crate) calls: BTreeMap<CallId, CallPurpose>,
    next_id: u64,
    outputs: VecDeque<Output>,
    next_save_ms: u64,
    next_renew_ms: u64,
    next_heartbeat_ms: u64,
    /// Notes owed to peers until they acknowledge them.
    pub(crate) notes: crate::notes::NoteBook,
    /// Pages of the marks' rebuild to read again on the next heartbeat.
    pub(crate) marks_pages_to_retry: Vec<MarksPage>,
    /// The summaries of the roles this node's players reference.
    pub(crate) summaries: SummaryCache,
    /// Which roles each hosted player references there.
    pub(crate) friend_refs: FriendRefs,
    /// The sequence of this node's summary updates (ordered within an epoch).
    pub(crate) summary_seq: u64,
    next_summary_refresh_ms: u64,
    /// The outbox rows of hosted senders being delivered (`gifts`).
    pub(crate) deliveries: crate::gifts::Deliveries,
    /// Departures and expected arrivals, to point player calls on.
    pub(crate) locator: crate::calls::Locator,
    /// Callers of durable player calls waiting for their saves.
    pub(crate) durable_waiters: crate::calls::DurableWaiters,
    /// The node's copy of the transfer table (module `transfers`).
    pub(crate) router: routing::Router,
}

impl GameCore {
    /// A core with no players, first timers due at `now_ms`. Its first
    /// outputs read the rows held elsewhere from its home database, to
    /// rebuild its kuafu marks: drain them at once. Panics if `config`
    /// fails [`Config::validate`]: check it first.
    pub fn new(config: Config, now_ms: u64) -> Self {
        if let Err(error) = config.validate() {
            panic!("invalid game core config: {error}");
        }
        let tokens = TokenBook::new(config.tokens_max, config.mutations);
        let marks = MarkBook::new(
            &config.srvname,
            config.heartbeat_misses_max,
            config.marks_max,
        );
        let mut core = Self {
            owner: config.owner(),
            next_save_ms: now_ms + config.save_interval_ms,
            next_renew_ms: now_ms + config.lease_renew_interval_ms,
            next_heartbeat_ms: now_ms + config.heartbeat_interval_ms,
            next_summary_refresh_ms: now_ms + config.summary_refresh_interval_ms,
            summaries: SummaryCache::new(config.summary_cache_roles_max),
            friend_refs: FriendRefs::new(),
            summary_seq: 0,
            config,
            sessions: BTreeMap::new(),
            players: BTreeMap::new(),
            awaiting_entry: BTreeSet::new(),
            tokens,
            marks,
            ops: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_id: 1,
            outputs: VecDeque::new(),
            marks_pages_to_retry: Vec::new(),
            notes: crate::notes::NoteBook::default(),
            deliveries: Default::default(),
            locator: Default::default(),
            durable_waiters: Default::default(),
            router: routing::Router::new(),
        };
        core.start_marks_rebuild();
        core
    }

    /// The next output for the shell, in the order the core made them.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`GameCore::handle_timeout`] next (own clock).
    pub fn poll_timeout(&self) -> u64 {
        let lease_checks = self
            .players
            .values()
            .filter_map(|hosted| hosted.state.leased_copy())
            .map(|copy| self.lease_view(copy.lease_until_ms).serving_deadline_ms());
        let prepare_deadlines = self
            .players
            .values()
            .filter_map(|hosted| hosted.state.crossing()?.prepare_deadline_ms());
        [
            self.next_save_ms,
            self.next_renew_ms,
            self.next_heartbeat_ms,
            self.next_summary_refresh_ms,
        ]
        .into_iter()
        .chain(lease_checks)
        .chain(prepare_deadlines)
        .chain(self.next_delivery_ms())
        .min()
        .expect("four timers")
    }

    /// Runs what is due at `now_ms`: lease checks, crossings whose
    /// `Prepare` went unanswered too long, gift deliveries, saves, the lease renewal batch,
    /// the kuafu heartbeat and token expiry.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.clamp_timers(now_ms);
        self.drop_players_past_lease(now_ms);
        self.end_stuck_prepares(now_ms);
        self.deliver_due_gifts(now_ms);
        if now_ms >= self.next_save_ms {
            self.next_save_ms = now_ms + self.config.save_interval_ms;
            self.save_dirty_players();
        }
        if now_ms >= self.next_renew_ms {
            self.next_renew_ms = now_ms + self.config.lease_renew_interval_ms;
            self.renew_leases();
            self.resend_notes();
        }
        if now_ms >= self.next_heartbeat_ms {
            self.next_heartbeat_ms = now_ms + self.config.heartbeat_interval_ms;
            self.heartbeat_marks();
            self.locator.expire(now_ms);
            let count = self.tokens.expire(now_ms);
            if count > 0 {
                self.emit(Event::TokensExpired { count });
            }
        }
        if now_ms >= self.next_summary_refresh_ms {
            self.next_summary_refresh_ms = now_ms + self.config.summary_refresh_interval_ms;
            self.refresh_summaries();
        }
    }

    /// Handles the store's answer to operation `op`, at `now_ms` (own
    /// clock). Whatever the answer lets the core tell a client that its
    /// player is served here (`Entered` after a claim, a crossing aborted
    /// after its handoff did not apply) is said only while the lease still
    /// allows it at `now_ms`: an answer handled after a stall may come after
    /// the lease could have run out. A redirect needs no lease: it follows a
    /// durable handoff, and the row is the target's.
    pub fn handle_store_answer(
        &mut self,
        now_ms: u64,
        op: OpId,
        answer: Result<OpOutcome, StoreError>,
    ) {
        let Some(purpose) = self.ops.remove(&op) else {
            return; // answered twice (a duplicated reply): the first one counted
        };
        match purpose {
            OpPurpose::CreateRole {
                session,
                request_id,
            } => self.role_created(session, request_id, answer),
            OpPurpose::ListRoles {
                session,
                request_id,
            } => self.roles_listed(session, request_id, answer),
            OpPurpose::Claim { roleid, generation } => {
                self.claimed(now_ms, roleid, generation, answer)
            }
            OpPurpose::Write(write) => self.written(now_ms, write, answer),
            OpPurpose::ReadBack(write) => self.read_back_answered(now_ms, write, answer),
            OpPurpose::Renew { generations } => self.renewed(generations, answer),
            OpPurpose::MarksPage(page) => self.marks_page_read(page, answer),
            OpPurpose::MarkRead { roleid } => self.mark_row_read(roleid, answer),
            OpPurpose::GiftReceiver(request) => self.gift_receiver_read(now_ms, request, answer),
            OpPurpose::GiftInbox(key) => self.gift_inboxed(now_ms, key, answer),
        }
    }

    /// Stops the server gracefully: every client is kicked with
    /// `SHUTTING_DOWN` and every serving player released (final save). The
    /// shell keeps driving the core until [`GameCore::is_idle`].
    pub fn handle_shutdown(&mut self) {
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.handle_session_closed(session);
            self.kick(
                session,
                ErrorCode::ShuttingDown,
                "the server is shutting down",
            );
        }
    }

    /// No player hosted and nothing in flight: safe to stop.
    pub fn is_idle(&self) -> bool {
        self.players.is_empty() && self.ops.is_empty()
    }

    /// This server's name.
    pub fn srvname(&self) -> &str {
        &self.config.srvname
    }

    /// This server as an owner of player rows.
    pub fn owner(&self) -> &OwnerId {
        &self.owner
    }

    /// Players whose writable copy this node may act on at `now_ms` (own
    /// clock), with the epoch each holds: the simulator checks that no player
    /// is writable on two nodes at once. A crossing copy whose handoff is
    /// submitted is not: the row may already be the target's, and the copy
    /// stays frozen until the outcome is known.
    pub fn writable_players(&self, now_ms: u64) -> impl Iterator<Item = (RoleId, u64)> + '_ {
        self.players.iter().filter_map(move |(roleid, hosted)| {
            let copy = hosted.state.leased_copy()?;
            self.lease_view(copy.lease_until_ms)
                .may_serve(now_ms)
                .then_some((*roleid, copy.epoch))
        })
    }

    /// Players in the game here (serving or crossing away).
    pub fn online_players(&self) -> usize {
        self.players
            .values()
            .filter(|hosted| hosted.state.writable_copy().is_some())
            .count()
    }

    /// Whether `roleid` is online here.
    pub fn is_online(&self, roleid: RoleId) -> bool {
        self.players
            .get(&roleid)
            .is_some_and(|hosted| hosted.state.writable_copy().is_some())
    }

    /// The kuafu mark of one of this server's players (seed
    /// `playermgr.getkuafuplayer(pid)`): where it went, if it is away.
    pub fn kuafu_mark(&self, roleid: RoleId) -> Option<&Mark> {
        self.marks.get(roleid)
    }

    /// Every kuafu mark, ordered by role id.
    pub fn kuafu_marks(&self) -> impl Iterator<Item = (RoleId, &Mark)> {
        self.marks.iter()
    }

    /// Notes to peers (home server, data center, account center) sent but
    /// not yet acknowledged.
    pub fn notes_owed(&self) -> usize {
        self.notes.len()
    }

    /// Store operations and peer requests still unanswered.
    pub fn inflight(&self) -> (usize, usize) {
        (self.ops.len(), self.calls.len())
    }

    pub(crate) fn lease_view(&self, lease_until_ms: u64) -> LeaseView {
        let skew_margin_ms = if self.config.mutations.no_skew_margin {
            0
        } else {
            self.config.skew_margin_ms
        };
        LeaseView {
            lease_until_ms,
            skew_margin_ms,
        }
    }

    pub(crate) fn push(&mut self, output: Output) {
        assert!(
            self.outputs.len() < OUTPUTS_MAX,
            "the shell stopped draining outputs"
        );
        self.outputs.push_back(output);
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.push(Output::Event(event));
    }

    /// Whether new work may add `count` store operations: it must leave
    /// room for one write of every player this server may host (a release,
    /// a handoff, a read-back), which cannot wait. So the bound holds: the
    /// operations of current hostings are at most one each, and every
    /// other operation (a claim, a role listing or creation, a renewal
    /// batch, a marks read, an operation of a hosting gone since) was
    /// admitted here or replaced one that was.
    pub(crate) fn ops_room(&self, count: usize) -> bool {
        let players = self.config.players_max.max(self.players.len());
        self.ops.len() + count + players <= self.config.pending_ops_max
    }

    /// Whether `count` more requests to peers fit.
    pub(crate) fn calls_room(&self, count: usize) -> bool {
        self.calls.len() + count <= self.config.pending_calls_max
    }

    /// Runs `operation` on the database of `srvno`; its answer goes where
    /// `purpose` says. New work asked [`GameCore::ops_room`] first.
    pub(crate) fn store(&mut self, purpose: OpPurpose, srvno: routing::Srvno, operation: PlayerOp) {
        assert!(
            self.ops.len() < self.config.pending_ops_max,
            "store operations in flight stay within pending_ops_max"
        );
        let op = OpId(self.take_id());
        self.ops.insert(op, purpose);
        self.push(Output::Store {
            op,
            srvno,
            operation,
        });
    }

    /// Sends `message` to node `to`; its answer goes where `purpose` says.
    /// The caller asked [`GameCore::calls_room`] first.
    pub(crate) fn request(
        &mut self,
        purpose: CallPurpose,
        to: &str,
        message: NodeMessage,
    ) -> CallId {
        assert!(
            self.calls.len() < self.config.pending_calls_max,
            "requests in flight stay within pending_calls_max"
        );
        let call = self.send_request(to, message);
        self.calls.insert(call, purpose);
        call
    }

    /// Sends a note (fire and forget) to node `to`. Nothing waits for its
    /// answer, so it is not tracked: the answer finds no entry and is
    /// ignored, as a lost note would be.
    pub(crate) fn notify(&mut self, to: &str, message: NodeMessage) {
        self.send_request(to, message);
    }

    fn send_request(&mut self, to: &str, message: NodeMessage) -> CallId {
        let call = CallId(self.take_id());
        self.push(Output::Request {
            call,
            to: to.to_owned(),
            message,
        });
        call
    }

    pub(crate) fn next_generation(&mut self) -> u64 {
        self.take_id()
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A clock that jumped back must not stall the timers: none is due later
    /// than one interval from now.
    fn clamp_timers(&mut self, now_ms: u64) {
        self.next_save_ms = self.next_save_ms.min(now_ms + self.config.save_interval_ms);
        self.next_renew_ms = self
            .next_renew_ms
            .min(now_ms + self.config.lease_renew_interval_ms);
        self.next_heartbeat_ms = self
            .next_heartbeat_ms
            .min(now_ms + self.config.heartbeat_interval_ms);
        self.next_summary_refresh_ms = self
            .next_summary_refresh_ms
            .min(now_ms + self.config.summary_refresh_interval_ms);
    }

    /// The copy of `roleid` this server holds, if any.
    pub(crate) fn hosted_copy(&self, roleid: RoleId) -> Option<&crate::hosting::WritableCopy> {
        self.players.get(&roleid)?.state.copy()
    }

    pub(crate) fn players_state(&self, roleid: RoleId) -> Option<&PlayerState> {
        self.players.get(&roleid).map(|hosted| &hosted.state)
    }
}
