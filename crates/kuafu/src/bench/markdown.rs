//! `BENCHMARKS.md`: each benchmark owns one section between two HTML comment
//! markers and rewrites only that section, so hand-written analysis around it
//! (where the time goes, what was changed) survives a new run.

use std::io;
use std::path::Path;

/// The first line of a new `BENCHMARKS.md`.
const TITLE: &str =
    "# Benchmarks\n\nFigures written by `kuafu bench`; the prose around them is written by hand.\n";

/// Where the generated section of `bench` begins.
pub fn begin_marker(bench: &str) -> String {
    format!(
        "<!-- kuafu bench {bench}: begin (generated; a new run replaces everything up to the end marker) -->"
    )
}

/// Where the generated section of `bench` ends.
pub fn end_marker(bench: &str) -> String {
    format!("<!-- kuafu bench {bench}: end -->")
}

/// Puts `section` (the text between the markers of `bench`) into the file
/// at `path`: replaces the old section, or appends one, or creates the file.
pub fn update(path: &Path, bench: &str, section: &str) -> io::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => TITLE.to_owned(),
        Err(error) => return Err(error),
    };
    std::fs::write(path, replace_section(&existing, bench, section))
}

/// `text` with the section of `bench` replaced by `section`, or with it
/// appended when `text` has no complete section of `bench`.
pub fn replace_section(text: &str, bench: &str, section: &str) -> String {
    let (begin, end) = (begin_marker(bench), end_marker(bench));
    let block = format!("{begin}\n{}\n{end}", section.trim_end());
    let span = text.find(&begin).and_then(|start| {
        let end_at = start + text[start..].find(&end)? + end.len();
        Some((start, end_at))
    });
    match span {
        Some((start, end_at)) => format!("{}{block}{}", &text[..start], &text[end_at..]),
        None => format!("{}\n\n{block}\n", text.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_appended_then_replaced_and_the_prose_kept() {
        let first = replace_section("# B\n\nprose before\n", "hop", "figures 1");
        assert!(first.starts_with("# B\n\nprose before\n\n<!-- kuafu bench hop: begin"));
        assert!(first.contains("\nfigures 1\n"));
        let with_after = format!("{first}\n## Analysis\nprose after\n");
        let second = replace_section(&with_after, "hop", "figures 2\n");
        assert!(!second.contains("figures 1"));
        assert!(second.contains("\nfigures 2\n<!-- kuafu bench hop: end -->"));
        assert!(second.starts_with("# B\n\nprose before\n"));
        assert!(second.ends_with("\n## Analysis\nprose after\n"));
        assert_eq!(second.matches("hop: begin").count(), 1);
    }
}
