//! The steps of a serial crossing as its client saw them (`client::CrossingSteps`):
//! the call to its `Redirect`, the new connection with its handshake,
//! `Authenticate`, and `EnterGame` to `Entered`. Each step's distribution
//! over the serial phase says where a crossing's time goes, without
//! probes in the servers.

use std::fmt::Write as _;

use client::CrossingSteps;

use super::latency::{Latency, Recorder, ms};

/// Each step's latency over a phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Steps {
    /// `GoServer` sent → `Redirect` received: the source's `Prepare` to
    /// the target and its durable handoff.
    pub redirect: Latency,
    /// The new connection to the target and its `Hello`/`Welcome`.
    pub connect: Latency,
    /// `Authenticate` with the crossing token, to `Authenticated`.
    pub authenticate: Latency,
    /// `EnterGame` → `Entered`: the target's durable claim.
    pub enter: Latency,
}

impl Steps {
    /// Each step, named as the reports name it.
    pub fn named(&self) -> [(&'static str, Latency); 4] {
        [
            (
                "GoServer → Redirect (prepare, handoff commit)",
                self.redirect,
            ),
            ("connect + Hello/Welcome", self.connect),
            ("Authenticate → Authenticated", self.authenticate),
            ("EnterGame → Entered (claim commit)", self.enter),
        ]
    }

    /// One line per step: its p50 and p99.
    pub fn lines(&self) -> String {
        let mut text = String::new();
        for (name, latency) in self.named() {
            let _ = writeln!(
                text,
                "  {name}: p50 {} ms, p99 {} ms",
                ms(latency.p50),
                ms(latency.p99)
            );
        }
        text
    }

    /// A markdown table of the steps.
    pub fn markdown(&self) -> String {
        let mut text = String::from(
            "| step of a serial crossing (client's view) | p50 ms | p90 ms | p99 ms |\n",
        );
        text.push_str("| --- | ---: | ---: | ---: |\n");
        for (name, latency) in self.named() {
            let _ = writeln!(
                text,
                "| {name} | {} | {} | {} |",
                ms(latency.p50),
                ms(latency.p90),
                ms(latency.p99)
            );
        }
        text
    }
}

/// Collects the steps of many crossings.
#[derive(Default)]
pub struct StepsRecorder {
    redirect: Recorder,
    connect: Recorder,
    authenticate: Recorder,
    enter: Recorder,
}

impl StepsRecorder {
    /// Records one crossing's steps.
    pub fn record(&mut self, steps: &CrossingSteps) {
        self.redirect.record(steps.redirect);
        self.connect.record(steps.connect);
        self.authenticate.record(steps.authenticate);
        self.enter.record(steps.enter);
    }

    /// The distributions recorded.
    pub fn steps(&self) -> Steps {
        Steps {
            redirect: self.redirect.latency(),
            connect: self.connect.latency(),
            authenticate: self.authenticate.latency(),
            enter: self.enter.latency(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_step_is_recorded_apart() {
        let mut recorder = StepsRecorder::default();
        let millis = Duration::from_millis;
        recorder.record(&CrossingSteps {
            redirect: millis(4),
            connect: millis(1),
            authenticate: millis(2),
            enter: millis(3),
        });
        let steps = recorder.steps();
        let p50s: Vec<u128> = steps
            .named()
            .iter()
            .map(|(_, latency)| latency.p50.as_millis())
            .collect();
        assert_eq!(p50s, [4, 1, 2, 3]);
        assert_eq!(steps.enter.count, 1);
    }
}
