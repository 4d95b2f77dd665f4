//! What the kuafu tests share: for the tests that run the kuafu binary, the
//! account center's address from a zone's output and a player's gold; for
//! the crash tests, a private PostgreSQL cluster ([`private_postgres`]) and
//! a zone of node processes ([`nodes`]); for the source-reading tests
//! (`purity.rs`, `sizes.rs`, `tidy.rs`), the walk over source files.

#![allow(dead_code)]

pub mod nodes;
pub mod private_postgres;

use std::io::BufRead;
use std::path::{Path, PathBuf};

use client::{CallOutcome, GameSession};
use wire::client::GetPlayer;
use wire::client::game_call::Call;

/// Lines of a zone's output read while looking for its address.
pub const STARTUP_LINES_MAX: usize = 1_000;

/// Reads `output` up to the line naming the account center's address
/// (`account center at ADDRESS;`) and returns the address; keeps draining
/// the rest on a thread, so the zone never blocks on a full pipe.
pub fn account_address(output: impl BufRead + Send + 'static) -> String {
    let mut lines = output.lines();
    let address = lines
        .by_ref()
        .take(STARTUP_LINES_MAX)
        .map_while(Result::ok)
        .find_map(|line| {
            let (_, rest) = line.split_once("account center at ")?;
            Some(rest.split(';').next()?.trim().to_owned())
        })
        .expect("the zone prints its account center's address");
    std::thread::spawn(move || lines.for_each(drop));
    address
}

/// The player's gold, read from the server it is on.
pub async fn gold(session: &mut GameSession) -> u64 {
    match session.call(Call::GetPlayer(GetPlayer {})).await.unwrap() {
        CallOutcome::Reply(reply) => reply.player.unwrap().gold,
        CallOutcome::Crossed { .. } => panic!("a read redirected"),
    }
}

/// Every file under `dir`, recursively, whose extension is one of
/// `extensions`, appended to `found`.
pub fn files_with_extensions(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_with_extensions(&path, extensions, found);
        } else if path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| extensions.contains(&extension))
        {
            found.push(path);
        }
    }
}

/// Every `.rs` file under `dir`, recursively, appended to `found`.
pub fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    files_with_extensions(dir, &["rs"], found);
}
