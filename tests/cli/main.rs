//! Integration tests that drive the built `meshmon` binary on built-in
//! resources (no cloud). Where to find what:
//!
//! - `lifecycle.rs`: plan → apply → no-op → update → replace → delete →
//!   destroy, saved plans, targets, prevent_destroy, confirmation prompts.
//! - `drift.rs`: out-of-band changes to `local_file`, drift formats and
//!   exit codes, refresh-only plans.
//! - `completions.rs`: shell completions and man pages from the flags.
//! - `crash.rs`: SIGKILL in the middle of an apply, racing applies and the
//!   state lock, force-unlock.
//! - `diagnostics.rs`: snapshots of every spec diagnostic and of the plan.
//! - `init.rs`: `init` writes each embedded example, which plans offline;
//!   it never overwrites a file nor writes through a symlink.
//! - `schema.rs`: the JSON Schema from `meshmon schema` accepts every
//!   example and rejects misspelt keys.
//! - `reports.rs`: `plan --format markdown` (snapshot, masking, GitHub's
//!   comment limit) and reports written to files from one refresh.
//! - `state_cmds.rs`: `state`, `output`, `import`, `graph`, `docs`, variables.
//! - `hostile.rs`: secrets, damaged or planted files, hangs, panics and
//!   values that must fail at validate.
//! - `careless.rs`: one test per class of careless or hostile input: the
//!   process environment, state and journal contents, report targets,
//!   saved plans, output changes, exit codes and signals CI relies on.
//! - `warnings.rs`: repeated warnings folded, `[meshmon] acknowledge`.
//! - `components.rs`: components used once and per key, nested, their
//!   outputs, and mistakes reported in the component's own file.
//! - `keys.rs`: `for_each` instances, added and removed keys, keys known
//!   only after apply, `[[moved]]` into a keyed block.
//! - `lookups.rs`: `[data.…]` look-ups read while planning or during
//!   apply, recorded, shown when they find something new, never destroyed.

mod common;

mod careless;
mod completions;
mod components;
mod crash;
mod diagnostics;
mod drift;
mod hostile;
mod init;
mod keys;
mod lifecycle;
mod lookups;
mod refactoring;
mod reports;
mod schema;
mod state_cmds;
mod warnings;
