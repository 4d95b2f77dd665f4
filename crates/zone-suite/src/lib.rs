//! The zone test suite (DESIGN §14): the zone's tests over real sockets —
//! players, logins, crossings, bad input, restarts, gifts — written once over
//! [`TestZone`] and run on both backends: the embedded mode
//! (`crates/zone/tests/suite.rs`, [`EmbeddedZone`]) and the distributed
//! mode, every node a process of the kuafu binary on NATS and PostgreSQL
//! (`crates/kuafu/tests/zone_suite.rs`, which alone can reach the binary).
//!
//! A backend's test file implements [`TestZone`] and calls
//! [`zone_suite!`](crate::zone_suite) once; a later feature's tests are
//! added to a module here and to the macro's list, so they run on both.
//!
//! A stall is the node's own hook in process and SIGSTOP/SIGCONT of its
//! process on the process backend. Tests that need what only the zone's
//! process has (a lagging clock, a home server's kuafu marks, the embedded
//! mode's take-back and data directory lock) stay embedded-only in
//! `crates/zone/tests/`, each file saying why; they share the helpers
//! ([`helpers`], [`embedded`]) and, where a flow is common, its function
//! here.

pub mod bad_input;
pub mod calls;
pub mod crossing;
pub mod embedded;
pub mod gifts;
pub mod helpers;
pub mod login_queue;
pub mod logins;
pub mod players;
pub mod ranks;
pub mod restarts;
pub mod summaries;
pub mod transfers;

use std::path::Path;
use std::time::Duration;

pub use embedded::EmbeddedZone;
use wire::node::RankPage;
use zone::ZoneConfig;

/// A running zone as the suite sees it: what a client, an operator and a
/// crash can do to it from outside its processes.
///
/// The suite runs every test on its own runtime and never sends a zone to
/// another task, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait TestZone: Sized {
    /// Starts a zone like `config` (the backend picks the data directory
    /// and the ports); `None` when a service the backend needs is
    /// unreachable outside CI (it says why; under `CI=true` it fails).
    async fn start(config: ZoneConfig) -> Option<Self>;
    /// The account center's TCP address.
    fn account(&self) -> String;
    /// The account center's WebSocket address.
    fn account_ws(&self) -> String;
    /// Game server `name`'s TCP address.
    fn game_addr(&self, name: &str) -> String;
    /// Crashes game server `name`: nothing is saved or released.
    async fn kill_game(&mut self, name: &str);
    /// Starts the killed game server `name` again (a new incarnation).
    async fn restart_game(&mut self, name: &str);
    /// Fault injection: game server `name` stops processing anything for
    /// `duration` (a stop-the-world pause, as a long GC or a frozen VM
    /// would cause); returns once the pause has begun.
    async fn stall(&self, name: &str, duration: Duration);
    /// Waits until game server `name`'s stall has ended.
    async fn awake(&self, name: &str);
    /// Stops the whole zone gracefully and starts it again on its data.
    async fn restart(self) -> Self;
    /// Where the data center says `roleid` is: `(srvname, online)`.
    async fn current_server(&self, roleid: u64) -> Result<Option<(String, bool)>, bus::BusError>;
    /// The zone's players, called as an operator (DESIGN §9).
    fn players(&self) -> game::Players;
    /// The first `limit` roles of the rank server's live board `board`.
    async fn rank_top(&self, board: &str, limit: u32) -> Result<RankPage, bus::BusError>;
    /// `roleid`'s rank on the live board `board`, and `radius` neighbours
    /// on each side.
    async fn rank_around(
        &self,
        board: &str,
        roleid: u64,
        radius: u32,
    ) -> Result<RankPage, bus::BusError>;
    /// A read-only copy of `roleid` from its home database (as the transfer
    /// table routes it).
    async fn load_readonly(&self, roleid: u64) -> Result<store::ReadOnlyPlayer, store::StoreError>;
    /// The operator's transfer of `roleid` to srvno `to` (转服), stopping
    /// after step `until` (`None`: the whole transfer).
    async fn transfer(
        &self,
        roleid: u64,
        to: u32,
        until: Option<zone::TransferStep>,
    ) -> Result<zone::Transferred, zone::TransferError>;
    /// How many problems the ledger audit of every player database finds.
    async fn audit_problems(&self) -> usize;
    /// Stops the zone gracefully.
    async fn shutdown(self);
    /// The embedded zone itself, where the test runs in the zone's process:
    /// a test then also checks what only memory shows (a home server's
    /// kuafu marks, a server's counters). `None` on the process backend.
    fn in_process(&self) -> Option<&zone::Zone> {
        None
    }
}

/// The demo zone of `game_servers` servers (gs1.., srvno = index) with
/// production timings; the backend sets the data directory and ports.
pub fn demo_zone(game_servers: u32) -> ZoneConfig {
    ZoneConfig::demo(Path::new("."), game_servers)
}

/// The demo zone with leases, timers and tokens short enough for failure
/// tests.
pub fn fast_zone(game_servers: u32) -> ZoneConfig {
    let mut config = demo_zone(game_servers);
    config.timing.lease_ttl_ms = 1_500;
    config.timing.lease_renew_interval_ms = 300;
    config.timing.skew_margin_ms = 300;
    config.timing.save_interval_ms = 200;
    config.timing.heartbeat_interval_ms = 200;
    config.timing.token_ttl_ms = 1_000;
    config.timing.request_deadline_ms = 500;
    config
}

/// Instantiates every test of the suite for one backend:
/// `zone_suite!(Zone)`, where `Zone: TestZone` is named in the calling
/// module, makes one `#[tokio::test]` per suite test, in a module per
/// suite module (`players::a_new_player_…`).
#[macro_export]
macro_rules! zone_suite {
    ($zone:ty) => {
        $crate::zone_tests!(
            $zone;
            players {
                a_new_player_registers_enters_the_recommended_server_and_plays,
                logoff_and_login_again_keep_the_player,
                a_second_login_kicks_the_first_connection,
                a_horn_reaches_players_on_every_server_of_the_zone,
                the_same_messages_work_over_websocket,
                fights_run_on_the_battle_server_and_wins_pay_gold,
                a_login_lists_the_level_list_roles_shows_after_a_level_up_and_logoff,
                a_login_lists_the_level_a_role_crossed_with_and_then_logged_off_with,
            }
            restarts {
                accounts_players_and_role_ids_survive_a_restart_and_ids_are_never_reused,
                a_crashed_server_does_not_reuse_role_ids_after_restart,
            }
            crossing {
                every_seed_flow_moves_the_player_and_keeps_routing_right,
                refused_crossings_get_typed_errors_and_leave_the_player_where_it_was,
                a_client_that_never_arrives_goes_home_on_its_next_login,
                a_crossing_token_presented_for_another_role_still_admits_its_own,
                a_login_after_an_abandoned_crossing_names_the_server_the_data_center_last_placed_it_on,
                a_target_that_dies_after_arrival_frees_the_player,
                a_read_only_copy_shows_an_away_player_and_its_owner,
                a_source_that_dies_before_the_handoff_leaves_the_last_save,
            }
            bad_input {
                malformed_empty_oversized_and_unknown_frames_get_typed_errors_while_others_play,
                wrong_passwords_bad_or_reused_tokens_and_unknown_roles_get_typed_errors,
                a_role_of_another_account_cannot_be_entered,
                thousands_of_idle_connections_do_not_stop_a_player,
            }
            login_queue {
                logins_beyond_the_pool_wait_and_beyond_the_queue_are_busy,
                a_client_that_reconnects_within_the_grace_window_keeps_its_place,
                a_client_gone_past_the_grace_window_is_dropped_and_costs_no_hash,
                a_replayed_or_unknown_queue_ticket_is_refused_and_a_live_one_takes_the_login_over,
                the_client_library_resumes_a_queued_login_after_its_connection_drops,
                the_client_library_logs_in_again_when_its_queue_ticket_is_refused,
                repeated_wrong_passwords_are_limited_and_the_right_one_works_after_the_wait,
            }
            summaries {
                summary_changes_reach_subscribers_on_two_servers_in_order_without_gaps,
                subscribers_losing_pushes_never_regress_and_reach_the_last_change,
                the_friend_list_shows_live_data_after_the_friend_crosses,
            }
            calls {
                a_proxy_call_reaches_a_player_on_another_server,
                a_proxy_call_follows_a_player_who_crossed_mid_call,
                proxy_calls_fail_with_typed_errors,
                a_durable_call_retried_returns_the_first_answer_and_applies_once,
            }
            ranks {
                level_ups_on_several_servers_rank_right_and_survive_a_zone_restart,
            }
            logins {
                a_full_game_server_sends_a_new_role_elsewhere,
                a_login_token_is_valid_only_at_the_server_the_login_names,
            }
            gifts {
                a_gift_to_a_player_on_another_server_is_credited_once_under_retries,
                a_gift_to_an_offline_player_is_credited_on_its_next_login,
                a_gift_is_credited_once_when_the_senders_server_is_killed,
                a_gift_is_credited_once_when_the_receivers_server_is_killed,
            }
            transfers {
                a_transferred_role_routes_to_its_new_home_on_every_node,
                a_transfer_stopped_at_any_step_ends_the_same_when_run_again,
            }
        );
    };
}

/// The body of [`zone_suite!`](crate::zone_suite): one test per listed
/// suite function, run on a multi-threaded runtime of two workers (what a
/// node process has on the 2-core CI machine).
#[doc(hidden)]
#[macro_export]
macro_rules! zone_tests {
    ($zone:ty; $($module:ident { $($test:ident),* $(,)? })*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $test() {
                        $crate::$module::$test::<$zone>().await;
                    }
                )*
            }
        )*
    };
}
