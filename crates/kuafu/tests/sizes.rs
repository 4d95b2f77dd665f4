//! Short files and short functions (ARCHITECTURE.md, TigerStyle): no
//! production source file over [`FILE_LINES_MAX`] lines and no production
//! function over [`FUNCTION_LINES_MAX`] lines, so each module reads top to
//! bottom and each function fits on a screen. Production code is every
//! crate's `src/`, up to its `#[cfg(test)]` module.

mod common;

use std::path::{Path, PathBuf};

use common::rust_files;

/// Longest production source file, in lines.
const FILE_LINES_MAX: usize = 600;
/// Longest production function, in lines from its signature to its closing
/// brace.
const FUNCTION_LINES_MAX: usize = 70;

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The production sources: every crate's `src/`, generated code aside.
fn production_sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for krate in std::fs::read_dir(crates_dir()).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut found);
        }
    }
    assert!(found.len() > 50, "found the workspace's sources");
    found
}

/// The lines of `text` before its `#[cfg(test)]` module.
fn production_lines(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .collect()
}

/// Whether `line` opens a function (a declaration, not a call).
fn opens_function(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(position) = words.iter().position(|word| *word == "fn") else {
        return false;
    };
    let qualifiers = [
        "pub",
        "pub(crate)",
        "pub(super)",
        "async",
        "const",
        "unsafe",
    ];
    words[..position]
        .iter()
        .all(|word| qualifiers.contains(word))
}

/// `(first line, length)` of every function body in `lines`, by braces.
fn functions(lines: &[&str]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if !opens_function(lines[index]) {
            index += 1;
            continue;
        }
        let (mut depth, mut opened, start) = (0i64, false, index);
        while index < lines.len() {
            for character in lines[index].chars() {
                match character {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            let declaration_only = !opened && lines[index].trim_end().ends_with(';');
            if declaration_only || (opened && depth == 0) {
                break;
            }
            index += 1;
        }
        if opened {
            found.push((start + 1, index - start + 1));
        }
        index += 1;
    }
    found
}

#[test]
fn no_production_file_is_longer_than_the_limit() {
    let long: Vec<String> = production_sources()
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            (lines > FILE_LINES_MAX).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {FILE_LINES_MAX} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_production_function_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for path in production_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, length) in functions(&production_lines(&text)) {
            if length > FUNCTION_LINES_MAX {
                long.push(format!("{}:{line}: {length} lines", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {FUNCTION_LINES_MAX} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_function_finder_measures_a_function_and_skips_declarations() {
    let source = "fn declared(&self);\npub(crate) fn two() {\n    call();\n}\nlet x = fn_like();";
    assert_eq!(functions(&source.lines().collect::<Vec<_>>()), vec![(2, 3)]);
}
