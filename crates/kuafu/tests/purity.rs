//! Pure means pure (ARCHITECTURE.md, "Architecture invariant"): the crates
//! that decide the protocol (ownership, routing, store, and the cores of the
//! game server, the account center and the data center) do no I/O, read no
//! clock, draw no randomness, start no thread and print nothing, so the
//! simulator runs exactly the code production runs. Two checks: their normal
//! dependency trees hold no async runtime, RNG or database driver, and their
//! sources name no clock, socket, file, thread, RNG or printer. The
//! simulator may read the wall clock only for its progress report, outside
//! the simulated world.

mod common;

use std::path::{Path, PathBuf};

use common::rust_files;
use std::process::Command;

/// The crates that must stay pure.
const PURE_CRATES: &[&str] = &[
    "ownership",
    "routing",
    "store",
    "gamecore",
    "accountcore",
    "datacentercore",
    "rankcore",
];

/// Crates none of them may depend on (normal dependencies, transitively).
const IMPURE_DEPENDENCIES: &[&str] = &["tokio", "rand", "rusqlite", "async-nats", "tokio-postgres"];

/// What a pure source must not name, and what naming it would mean.
const IMPURE_NAMES: &[(&str, &str)] = &[
    ("SystemTime", "a clock"),
    ("Instant", "a clock"),
    ("std::time::", "a clock"),
    ("rand::", "an RNG"),
    ("OsRng", "an RNG"),
    ("getrandom", "an RNG"),
    ("std::net", "a socket"),
    ("TcpStream", "a socket"),
    ("std::fs", "a file"),
    ("File::", "a file"),
    ("std::thread", "a thread"),
    ("thread::spawn", "a thread"),
    ("println!", "printing"),
    ("eprintln!", "printing"),
    ("print!(", "printing"),
    ("dbg!(", "printing"),
    ("std::io::stdout", "printing"),
    ("std::process", "a process"),
    ("std::env", "the environment"),
    ("tokio::", "an async runtime"),
];

/// Files of the simulator allowed to read the wall clock: the sweep's
/// progress report (steps per second), outside every simulated world.
const SIMULATOR_CLOCK_READERS: &[&str] = &["sweep.rs"];

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// Every `(file, line number, line)` of `dir`'s sources that names one of
/// `names`, comments left out.
fn impure_lines(dir: &Path, names: &[(&str, &str)], allowed_files: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    let mut found = Vec::new();
    for file in files {
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        if allowed_files.contains(&file_name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (name, meaning) in names {
                if line.contains(name) {
                    found.push(format!(
                        "{}:{}: names {name} ({meaning}): {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn pure_crates_depend_on_no_runtime_rng_or_database() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut impure = Vec::new();
    for krate in PURE_CRATES {
        assert!(
            crate_dir(krate).join("Cargo.toml").is_file(),
            "the pure crate {krate} exists"
        );
        for dependency in IMPURE_DEPENDENCIES {
            let output = Command::new(&cargo)
                .args([
                    "tree",
                    "--offline",
                    "-e",
                    "normal",
                    "-p",
                    krate,
                    "-i",
                    dependency,
                ])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("cargo tree runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.success() && !stdout.trim().is_empty() {
                impure.push(format!("{krate} depends on {dependency}:\n{stdout}"));
            } else {
                assert!(
                    stderr.contains("did not match any packages"),
                    "cargo tree -p {krate} -i {dependency} failed: {stderr}"
                );
            }
        }
    }
    assert!(impure.is_empty(), "{}", impure.join("\n"));
}

#[test]
fn pure_crates_name_no_clock_socket_file_thread_rng_or_printer() {
    let found: Vec<String> = PURE_CRATES
        .iter()
        .flat_map(|krate| impure_lines(&crate_dir(krate).join("src"), IMPURE_NAMES, &[]))
        .collect();
    assert!(
        found.is_empty(),
        "impure code in a pure crate:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_simulator_reads_the_wall_clock_only_for_its_progress_report() {
    let clocks_and_rngs: Vec<(&str, &str)> = IMPURE_NAMES
        .iter()
        .copied()
        .filter(|(_, meaning)| matches!(*meaning, "a clock" | "an RNG" | "a thread"))
        .collect();
    let found = impure_lines(
        &crate_dir("sim").join("src"),
        &clocks_and_rngs,
        SIMULATOR_CLOCK_READERS,
    );
    assert!(
        found.is_empty(),
        "the simulator reads a clock or an RNG:\n{}",
        found.join("\n")
    );
}
