//! Helpers shared by the source-reading tests (`purity.rs`, `sizes.rs`).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, appended to `found`.
pub fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}
