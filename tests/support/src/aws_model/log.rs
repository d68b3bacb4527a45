//! A record of every checked request across the test processes of a run:
//! with `MESHMON_AWS_MODEL_LOG` set, each check appends one tab-separated
//! line to that file (nextest runs every test in its own process, so a
//! count kept in memory would cover one test). `scripts/test` sets it and
//! prints the totals. Lines: `request SERVICE OPERATION VERDICT` (verdict
//! `passed`, `refused` or `known`), `violation TEXT`, `expected TEXT` (a
//! violation a test caused on purpose and took), `unidentified METHOD
//! PATH`, `unchecked-pattern SERVICE SHAPE PATTERN`.

use std::io::Write;

/// The variable naming the file.
pub const VAR: &str = "MESHMON_AWS_MODEL_LOG";

/// Appends one line (a single write on a file opened for appending, so
/// lines from concurrent processes do not interleave).
pub(super) fn line(text: &str) {
    let Some(path) = std::env::var_os(VAR) else {
        return;
    };
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let mut text = text.replace('\n', " ");
    text.push('\n');
    let _ = f.write_all(text.as_bytes());
}
