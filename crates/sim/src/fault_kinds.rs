//! The kinds of fault a run injects, and how often each ran: a sweep prints,
//! per kind, how many faults of it were injected and how many steps ran in
//! seeds whose mix had it on, so a reader sees every fault really ran.

use std::fmt;

use crate::faults::FaultMix;

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// A game server crashes (and restarts later).
    Crash,
    /// A game server stops the world for a while.
    Pause,
    /// A bus message is lost.
    Loss,
    /// A bus message is delivered twice.
    Duplication,
    /// A message or store op is delayed by a spike (reordering it).
    DelaySpike,
    /// A partition cutting both directions.
    Partition,
    /// A partition cutting one direction only.
    OneWayPartition,
    /// A client connection is cut (the server may notice late).
    ClientCut,
    /// A store commit applied with its reply lost.
    ReplyLost,
    /// A store commit (or a data center write) not applied.
    NotApplied,
    /// A game server's clock offset from true time (counted per node).
    ClockSkew,
    /// A player replays a redeemed token on a second connection.
    TokenReplay,
    /// A player's crossing token presented with another role's id.
    ForgedRole,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 13] = [
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::Loss,
        FaultKind::Duplication,
        FaultKind::DelaySpike,
        FaultKind::Partition,
        FaultKind::OneWayPartition,
        FaultKind::ClientCut,
        FaultKind::ReplyLost,
        FaultKind::NotApplied,
        FaultKind::ClockSkew,
        FaultKind::TokenReplay,
        FaultKind::ForgedRole,
    ];

    /// The name a report prints.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::Loss => "loss",
            FaultKind::Duplication => "duplication",
            FaultKind::DelaySpike => "delay-spike",
            FaultKind::Partition => "partition",
            FaultKind::OneWayPartition => "one-way-partition",
            FaultKind::ClientCut => "client-cut",
            FaultKind::ReplyLost => "reply-lost",
            FaultKind::NotApplied => "not-applied",
            FaultKind::ClockSkew => "clock-skew",
            FaultKind::TokenReplay => "token-replay",
            FaultKind::ForgedRole => "forged-role",
        }
    }

    /// Whether `mix` has this kind on.
    pub fn is_on(self, mix: &FaultMix) -> bool {
        match self {
            FaultKind::Crash => mix.crash_every_ms > 0,
            FaultKind::Pause => mix.pause_every_ms > 0,
            FaultKind::Loss => mix.loss_ppm > 0,
            FaultKind::Duplication => mix.duplicate_ppm > 0,
            FaultKind::DelaySpike => mix.spike_ppm > 0,
            FaultKind::Partition => mix.partition_every_ms > 0,
            FaultKind::OneWayPartition => mix.partition_every_ms > 0 && mix.one_way_ppm > 0,
            FaultKind::ClientCut => mix.cut_every_ms > 0,
            FaultKind::ReplyLost => mix.reply_lost_ppm > 0,
            FaultKind::NotApplied => mix.not_applied_ppm > 0,
            FaultKind::ClockSkew => mix.skew_max_ms > 0,
            FaultKind::TokenReplay => mix.replay_ppm > 0,
            FaultKind::ForgedRole => mix.forged_role_ppm > 0,
        }
    }
}

/// Per fault kind: faults injected, and steps run in seeds with it on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    injected: [u64; FaultKind::ALL.len()],
    steps: [u64; FaultKind::ALL.len()],
}

impl FaultCounts {
    /// One more fault of `kind`.
    pub fn injected(&mut self, kind: FaultKind) {
        self.injected[kind as usize] += 1;
    }

    /// A seed with `mix` ran `steps` steps.
    pub fn ran(&mut self, mix: &FaultMix, steps: u64) {
        for kind in FaultKind::ALL {
            if kind.is_on(mix) {
                self.steps[kind as usize] += steps;
            }
        }
    }

    /// Faults of `kind` injected.
    pub fn injected_count(&self, kind: FaultKind) -> u64 {
        self.injected[kind as usize]
    }

    /// Steps run in seeds with `kind` on.
    pub fn steps_with(&self, kind: FaultKind) -> u64 {
        self.steps[kind as usize]
    }

    /// Every fault injected, of any kind.
    pub fn total(&self) -> u64 {
        self.injected.iter().sum()
    }

    /// Adds another run's counts.
    pub fn add(&mut self, other: &FaultCounts) {
        for kind in FaultKind::ALL {
            self.injected[kind as usize] += other.injected_count(kind);
            self.steps[kind as usize] += other.steps_with(kind);
        }
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = FaultKind::ALL
            .iter()
            .map(|kind| {
                format!(
                    "{}={}/{}",
                    kind.name(),
                    self.injected_count(*kind),
                    self.steps_with(*kind)
                )
            })
            .collect();
        write!(
            f,
            "faults (injected/steps with it on): {}",
            counts.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::Prng;

    #[test]
    fn counts_add_up_per_kind() {
        let mix = FaultMix::draw(&mut Prng::new(7, 1));
        let mut one = FaultCounts::default();
        one.injected(FaultKind::Crash);
        one.injected(FaultKind::Crash);
        one.ran(&mix, 100);
        let mut sum = FaultCounts::default();
        sum.add(&one);
        sum.add(&one);
        assert_eq!(sum.injected_count(FaultKind::Crash), 4);
        assert_eq!(sum.total(), 4);
        for kind in FaultKind::ALL {
            let expected = if kind.is_on(&mix) { 200 } else { 0 };
            assert_eq!(sum.steps_with(kind), expected, "{}", kind.name());
        }
        assert!(sum.to_string().contains("crash=4/"), "{sum}");
    }
}
