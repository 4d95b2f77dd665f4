//! Kuafu's deterministic simulator, modelled on TigerBeetle's VOPR and
//! FoundationDB's simulator (DESIGN §14; see docs/crossing.md, "The simulator").
//!
//! A run builds a whole zone from the production protocol cores (one
//! [`gamecore::GameCore`] per game server, the account center's
//! [`accountcore::AccountCore`] and the data center's
//! `datacentercore::DataCenterCore`) on a simulated bus, simulated clocks
//! and the model store (`store::model`), plus simulated players speaking
//! the real client protocol. One seeded scheduler with virtual time drives
//! everything through one pinned PRNG algorithm, so a seed replays exactly,
//! after any upgrade.
//!
//! Each seed draws its own fault mix (swarm testing, [`faults`]). A run has a
//! safety phase with faults, then heals and runs a liveness phase. The
//! checked [`Property`]s are judged against the authority (the store's rows
//! and clock), not the nodes' beliefs: after every step, every copy a node
//! treats as writable matches its row; a node acknowledges a call only while
//! it may write the player; no acknowledged save is lost; gold and items are
//! conserved; a token is redeemed at most once; a redirect follows a durable
//! handoff; SQLite agrees with the model (on the seeds that run it); no core
//! panics. After healing, every player becomes playable again and the data
//! center's current servers converge to the rows. Named sometimes-properties
//! fail a sweep in which they never happened.
//!
//! Entry points: [`run_seed`] (one seed) and [`sweep`] (many, on several
//! threads); `kuafu sim` prints a [`SweepReport`].
//!
//! Architecture invariant: no wall clock and no unordered map anywhere in a
//! run; the only clock read is the sweep's elapsed time for `steps_per_s`.

pub mod fault_kinds;
pub mod faults;
pub mod prng;
pub mod properties;

mod account_link;
mod bus;
mod checker;
mod client_link;
mod clients;
mod datacenter_link;
mod db;
mod ghosts;
mod gifts;
mod inject;
mod judge;
mod queue;
mod sqlite;
mod store_link;
mod sweep;
mod trace;
mod world;

use std::fmt;
use std::str::FromStr;

pub use properties::{Expectation, Property, Sometimes};
pub use sweep::{SweepConfig, SweepReport, sweep};

/// A deliberate bug, switched on to prove the simulator catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// A handoff is not checked against the writer's owner and epoch
    /// (`ownership::Rules { handoff_checks_epoch: false }`).
    HandoffWithoutEpochCheck,
    /// Owners serve until their lease ends by their own clock, without the
    /// skew margin.
    NoSkewMargin,
    /// Tokens stay valid after redemption.
    ReusableTokens,
    /// The redirect is sent when the handoff is submitted, before it commits.
    RedirectBeforeCommit,
    /// The account center grants one login token to every candidate server
    /// of a login instead of a fresh one each.
    SharedLoginToken,
    /// A game server sends each note (where a player is now) once and never
    /// again, even when it was not acknowledged.
    NotesNotResent,
    /// A home server clears a kuafu mark when its heartbeat misses reach the
    /// bound, without reading the row.
    MarksClearedOnMisses,
    /// A lease renewal is not checked against the renewer's owner and epoch
    /// (`ownership::Rules { renew_checks_epoch: false }`).
    RenewWithoutEpochCheck,
    /// A crossing token admits a role other than its own
    /// (`gamecore::Mutations::crossing_token_admits_any_role`).
    CrossingTokenAdmitsAnyRole,
    /// A game server applies an `AddGold` twice, with two ledger lines
    /// (`gamecore::Mutations::double_credit`).
    DoubleCredit,
    /// A receiver credits a gift delivered again, not remembering it was
    /// credited (`gamecore::Mutations::gifts_not_remembered`).
    GiftsNotRemembered,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: [Mutation; 11] = [
        Mutation::HandoffWithoutEpochCheck,
        Mutation::NoSkewMargin,
        Mutation::ReusableTokens,
        Mutation::RedirectBeforeCommit,
        Mutation::SharedLoginToken,
        Mutation::NotesNotResent,
        Mutation::MarksClearedOnMisses,
        Mutation::RenewWithoutEpochCheck,
        Mutation::CrossingTokenAdmitsAnyRole,
        Mutation::DoubleCredit,
        Mutation::GiftsNotRemembered,
    ];

    /// The name `--mutation` takes.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::HandoffWithoutEpochCheck => "handoff-without-epoch-check",
            Mutation::NoSkewMargin => "no-skew-margin",
            Mutation::ReusableTokens => "reusable-tokens",
            Mutation::RedirectBeforeCommit => "redirect-before-commit",
            Mutation::SharedLoginToken => "shared-login-token",
            Mutation::NotesNotResent => "notes-not-resent",
            Mutation::MarksClearedOnMisses => "marks-cleared-on-misses",
            Mutation::RenewWithoutEpochCheck => "renew-without-epoch-check",
            Mutation::CrossingTokenAdmitsAnyRole => "crossing-token-admits-any-role",
            Mutation::DoubleCredit => "double-credit",
            Mutation::GiftsNotRemembered => "gifts-not-remembered",
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--mutation` name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMutation(pub String);

impl fmt::Display for UnknownMutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Mutation::ALL
            .iter()
            .map(|mutation| mutation.name())
            .collect();
        write!(
            f,
            "unknown mutation {:?}; one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownMutation {}

impl FromStr for Mutation {
    type Err = UnknownMutation;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Mutation::ALL
            .into_iter()
            .find(|mutation| mutation.name() == name)
            .ok_or_else(|| UnknownMutation(name.to_owned()))
    }
}

/// Steps a seed runs in its safety phase unless told otherwise.
pub const STEPS_PER_SEED_DEFAULT: u64 = 100_000;
/// One seed in this many also runs the real SQLite store beside the model.
pub const SQLITE_EVERY_DEFAULT: u64 = 8;

/// How to run one seed.
#[derive(Clone, Debug)]
pub struct SeedConfig {
    /// Steps of the safety phase; the liveness phase follows.
    pub steps: u64,
    /// The deliberate bug to switch on, if any.
    pub mutation: Option<Mutation>,
    /// One seed in this many runs SQLite beside the model (0: never).
    pub sqlite_every: u64,
    /// Print every event to stderr (for replaying a failure).
    pub log: bool,
    /// Known failures: a violation of one of these properties still ends
    /// the run but is reported in [`SeedReport::waived`], not as a
    /// violation. Empty by default (`kuafu sim` waives nothing); a test that
    /// waives one says which bug it waits for.
    pub waived: Vec<Property>,
}

impl Default for SeedConfig {
    fn default() -> Self {
        Self {
            steps: STEPS_PER_SEED_DEFAULT,
            mutation: None,
            sqlite_every: SQLITE_EVERY_DEFAULT,
            log: false,
            waived: Vec::new(),
        }
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The seed that found it.
    pub seed: u64,
    /// The step after which it was seen.
    pub step: u64,
    /// Virtual time since the start of the run.
    pub time_ms: u64,
    /// The property broken.
    pub property: Property,
    /// What broke, in detail.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} step {} (t={}ms): {}: {}",
            self.seed, self.step, self.time_ms, self.property, self.what
        )
    }
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Steps run (safety and liveness).
    pub steps: u64,
    /// Virtual time the run covered.
    pub virtual_ms: u64,
    /// Faults injected, per kind, and the steps run with each kind on.
    pub faults: fault_kinds::FaultCounts,
    /// Violations (a run stops at the first).
    pub violations: Vec<Violation>,
    /// Violations of the waived properties (the run stopped there too).
    pub waived: Vec<Violation>,
    /// Hash of every delivered event and of the final databases.
    pub trace_hash: u64,
    /// The seed's fault mix, printable.
    pub fault_mix: String,
    /// The sometimes-properties seen.
    pub sometimes: Sometimes,
    /// Whether SQLite ran beside the model.
    pub sqlite: bool,
}

/// Runs one seed. A panic in a core is reported as a violation.
pub fn run_seed(seed: u64, config: &SeedConfig) -> SeedReport {
    let progress = std::cell::Cell::new(0u64);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let world = world::World::new(seed, config);
        world.run_with_progress(&progress)
    }));
    outcome.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "a panic".to_owned());
        let mut mix_prng = prng::Prng::new(seed, 1);
        SeedReport {
            seed,
            steps: progress.get(),
            virtual_ms: 0,
            faults: fault_kinds::FaultCounts::default(),
            violations: vec![Violation {
                seed,
                step: progress.get(),
                time_ms: 0,
                property: Property::NoPanic,
                what: format!("panic: {message}"),
            }],
            waived: Vec::new(),
            trace_hash: 0,
            fault_mix: faults::FaultMix::draw(&mut mix_prng).to_string(),
            sometimes: Sometimes::default(),
            sqlite: false,
        }
    })
}
