//! The login storm check of issue 12 ("Done when"), ignored by default
//! because it takes minutes and both cores: the `kuafu` binary runs
//!
//! 1. `kuafu demo --bots 2000 --duration 60 --login password`, and
//! 2. `kuafu demo --bots 500 --duration 60 --login password` while one
//!    busy-loop child process per core keeps every core busy,
//!
//! and each must end with `entered=N` and `errors=0`. Run it on a release
//! build, with nothing else heavy on the machine:
//!
//! ```text
//! CARGO_PROFILE_RELEASE_DEBUG=0 cargo test --release -p kuafu --test storm -- --ignored --nocapture
//! ```

use std::process::{Child, Command, Stdio};

/// Seconds each demo plays.
const DURATION_S: &str = "60";

/// The demo's last line: `demo: bots=N entered=N calls=C errors=E ...`.
fn demo(bots: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kuafu"))
        .args([
            "demo",
            "--bots",
            &bots.to_string(),
            "--duration",
            DURATION_S,
        ])
        .args(["--login", "password", "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::inherit())
        .output()
        .expect("kuafu runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "kuafu demo failed: {stdout}");
    let last = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with("demo:"))
        .unwrap_or_else(|| panic!("no summary line in {stdout}"));
    println!("{last}");
    last.to_owned()
}

/// The value of `name=` in the summary line.
fn field(line: &str, name: &str) -> u64 {
    let prefix = format!("{name}=");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

fn expect_everyone_in(line: &str, bots: u64) {
    assert_eq!(field(line, "entered"), bots, "{line}");
    assert_eq!(field(line, "errors"), 0, "{line}");
}

/// One busy-loop child per core; killed (by its own handle) when dropped.
struct BusyCores(Vec<Child>);

impl BusyCores {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let children = (0..cores)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .expect("a busy loop starts")
            })
            .collect();
        Self(children)
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
#[ignore = "minutes of both cores: run with --ignored on a release build"]
fn two_thousand_password_bots_all_enter() {
    expect_everyone_in(&demo(2_000), 2_000);
}

#[test]
#[ignore = "minutes of both cores: run with --ignored on a release build"]
fn five_hundred_password_bots_all_enter_while_every_core_is_busy() {
    let busy = BusyCores::start();
    let line = demo(500);
    drop(busy);
    expect_everyone_in(&line, 500);
}
