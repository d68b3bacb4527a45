//! Integration tests that drive the built `meshmon` binary on built-in
//! resources (no cloud). Where to find what:
//!
//! - `lifecycle.rs`: plan → apply → no-op → update → replace → delete →
//!   destroy, saved plans, targets, prevent_destroy, confirmation prompts.
//! - `drift.rs`: out-of-band changes to `local_file`, drift formats and
//!   exit codes, refresh-only plans.
//! - `crash.rs`: SIGKILL in the middle of an apply, racing applies and the
//!   state lock, force-unlock.
//! - `diagnostics.rs`: snapshots of every spec diagnostic and of the plan.
//! - `reports.rs`: `plan --format markdown` (snapshot, masking, GitHub's
//!   comment limit) and reports written to files from one refresh.
//! - `state_cmds.rs`: `state`, `output`, `import`, `graph`, `docs`, variables.

mod common;

mod crash;
mod diagnostics;
mod drift;
mod lifecycle;
mod reports;
mod state_cmds;
