//! The layers of the engine crate, checked on its source: the spec loader
//! knows nothing above it (the graph, the lints), and the CLI leaves every
//! state protocol to the engine — it never names the journal, the serial or
//! the lineage.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no sources under {}", dir.display());
    out
}

/// Every line of the sources under `dir` that matches `bad`, as
/// `path:line: text`.
fn offending(dir: &str, bad: impl Fn(&str) -> bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for path in sources(&root.join(dir)) {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if bad(line) {
                found.push(format!(
                    "{}:{}: {}",
                    path.strip_prefix(root).unwrap().display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn the_spec_loader_does_not_reach_up_to_the_graph_or_the_lints() {
    let found = offending("src/spec", |line| {
        [
            "crate::graph",
            "crate::lint",
            "crate::validate",
            "crate::engine",
        ]
        .iter()
        .any(|m| line.contains(m))
            || (line.contains("use crate::{") && ["graph", "lint"].iter().any(|m| line.contains(m)))
    });
    assert!(
        found.is_empty(),
        "src/spec reaches up:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cli_leaves_the_state_protocols_to_the_engine() {
    let found = offending("src/cli", |line| {
        let lower = line.to_lowercase();
        ["journal", "serial", "lineage"]
            .iter()
            .any(|w| lower.contains(w))
    });
    assert!(
        found.is_empty(),
        "src/cli names what only the engine's protocols may touch:\n{}",
        found.join("\n")
    );
}
