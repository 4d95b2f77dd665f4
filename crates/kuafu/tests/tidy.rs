//! Tidy check over the workspace's sources (after rust-analyzer's tidy
//! test): every module opens with a `//!` doc. (Debugging leftovers such as
//! `dbg!` and `todo!` are denied by the workspace's clippy lints.)

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for krate in std::fs::read_dir(workspace_root().join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        for part in ["src", "tests", "benches", "examples"] {
            if krate.join(part).is_dir() {
                rust_files(&krate.join(part), &mut found);
            }
        }
    }
    assert!(found.len() > 20, "found the workspace's sources");
    found
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let undocumented: Vec<_> = sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "modules without a //! doc: {undocumented:#?}"
    );
}
