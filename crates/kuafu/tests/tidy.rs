//! Tidy checks over the workspace's sources (after rust-analyzer's tidy
//! test): every module opens with a `//!` doc, and every "DESIGN §n"
//! citation names a section that docs/design.md has. (Debugging leftovers
//! such as `dbg!` and `todo!` are denied by the workspace's clippy lints.)

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::files_with_extensions;

/// Where a citation of the design starts; every `§n` after it on the same
/// line is a section it cites ("DESIGN §5–§6", "DESIGN §6 step 2, §11").
const CITATION: &str = "DESIGN §";
/// Files whose text can cite the design.
const CITING_EXTENSIONS: [&str; 4] = ["rs", "md", "proto", "sql"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for krate in std::fs::read_dir(workspace_root().join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        for part in ["src", "tests", "benches", "examples"] {
            if krate.join(part).is_dir() {
                files_with_extensions(&krate.join(part), &["rs"], &mut found);
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

/// Every file that may cite the design: the crates (sources, tests, schemas,
/// migrations), docs/, and the Markdown files at the root.
fn citing_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut found = Vec::new();
    files_with_extensions(&root.join("crates"), &CITING_EXTENSIONS, &mut found);
    files_with_extensions(&root.join("docs"), &CITING_EXTENSIONS, &mut found);
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_some_and(|extension| extension == "md") {
            found.push(path);
        }
    }
    found
}

/// The section numbers of docs/design.md: its `## n.` headings.
fn design_sections() -> BTreeSet<u32> {
    let design = std::fs::read_to_string(workspace_root().join("docs/design.md")).unwrap();
    let sections: BTreeSet<u32> = design
        .lines()
        .filter_map(|line| line.strip_prefix("## ")?.split_once('.')?.0.parse().ok())
        .collect();
    assert!(!sections.is_empty(), "docs/design.md has numbered sections");
    sections
}

/// The section numbers a line cites: every `§n` after its first "DESIGN §".
fn cited_sections(line: &str) -> Vec<u32> {
    let Some(start) = line.find(CITATION) else {
        return Vec::new();
    };
    line[start..]
        .split('§')
        .skip(1)
        .filter_map(|after| {
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn every_design_citation_names_a_section_of_docs_design_md() {
    let sections = design_sections();
    let root = workspace_root();
    let mut citations = 0;
    let mut dangling = Vec::new();
    for path in citing_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (index, line) in text.lines().enumerate() {
            for section in cited_sections(line) {
                citations += 1;
                if !sections.contains(&section) {
                    let file = path.strip_prefix(&root).unwrap_or(&path).display();
                    dangling.push(format!("{file}:{}: §{section}", index + 1));
                }
            }
        }
    }
    assert!(citations > 20, "found the design citations");
    assert!(
        dangling.is_empty(),
        "DESIGN citations of sections docs/design.md does not have \
         (its sections are {sections:?}): {dangling:#?}"
    );
}

#[test]
fn a_citation_names_every_section_after_design_on_its_line() {
    assert_eq!(cited_sections("(DESIGN §5–§6), see §7"), [5, 6, 7]);
    assert_eq!(cited_sections("(DESIGN §6 step 2, §11): tokens"), [6, 11]);
    assert_eq!(cited_sections("§3 of protocol.md"), Vec::<u32>::new());
    assert_eq!(cited_sections("DESIGN §n in the code"), Vec::<u32>::new());
}
