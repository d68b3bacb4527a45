//! Lints every GitHub Actions workflow the project ships: the release
//! workflow in `.github/workflows/` and the CI examples in `examples/ci/`
//! that users copy. actionlint checks the workflow syntax, expressions,
//! contexts and action inputs, and runs shellcheck on every `run:` script.
//! Without this, a typo shows up only when a tag is pushed or when a user's
//! scheduled job fails.
//!
//! actionlint and shellcheck are pinned in `tests/requirements.txt`;
//! `scripts/test` installs them into `.venv` and exports
//! `MESHMON_ACTIONLINT` and `MESHMON_SHELLCHECK`. Both default to `.venv/bin`
//! in the repository, and a missing tool fails the tests: a lint that cannot
//! run must not pass. The last tests feed actionlint broken workflows, so a
//! lint that silently stopped checking anything would fail too.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A test tool from the environment variable `var`, else `.venv/bin/NAME`.
fn tool(var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin").join(name));
    assert!(
        path.is_file(),
        "{name} not found at {} ({var}): the workflow lint needs it. Run the tests through \
         `scripts/test`, which installs tests/requirements.txt into .venv, or: python3 -m venv \
         .venv && .venv/bin/pip install -r tests/requirements.txt",
        path.display()
    );
    path
}

struct Lint {
    /// actionlint's exit code: 0 clean, 1 problems found, 2 bad invocation,
    /// 3 fatal error.
    code: Option<i32>,
    output: String,
}

/// Runs actionlint on `files` (relative to `dir`) with shellcheck enabled.
fn actionlint(dir: &Path, files: &[PathBuf]) -> Lint {
    let out = Command::new(tool("MESHMON_ACTIONLINT", "actionlint"))
        .arg("-no-color")
        .arg("-shellcheck")
        .arg(tool("MESHMON_SHELLCHECK", "shellcheck"))
        // No Python in the workflows; an installed pyflakes must not change
        // the result from one machine to the next.
        .arg("-pyflakes=")
        .args(files)
        .current_dir(dir)
        .output()
        .expect("actionlint runs");
    Lint {
        code: out.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The YAML files directly in `dir`, relative to the repository root.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            p.strip_prefix(repo_root())
                .expect("under the repository")
                .to_path_buf()
        })
        .collect();
    files.sort();
    files
}

#[test]
fn shipped_workflows_pass_actionlint() {
    let mut files = yaml_files(".github/workflows");
    files.extend(yaml_files("examples/ci"));
    for expected in [
        ".github/workflows/release.yml",
        "examples/ci/drift.yml",
        "examples/ci/plan.yml",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(expected)),
            "{expected} is missing from the linted files {files:?}"
        );
    }
    let lint = actionlint(repo_root(), &files);
    assert_eq!(
        lint.code,
        Some(0),
        "actionlint found problems in {files:?}:\n{}",
        lint.output
    );
}

/// Writes `workflow` into a scratch repository and lints it.
fn lint_one(workflow: &str) -> Lint {
    let dir = tempfile::tempdir().expect("temp dir");
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("workflows dir");
    std::fs::write(workflows.join("broken.yml"), workflow).expect("write workflow");
    actionlint(dir.path(), &[PathBuf::from(".github/workflows/broken.yml")])
}

/// The problem must be reported as a finding (exit 1), naming what is wrong,
/// not as actionlint failing to run.
fn assert_finds(lint: &Lint, needle: &str) {
    assert_eq!(
        lint.code,
        Some(1),
        "actionlint should report a problem (exit 1):\n{}",
        lint.output
    );
    assert!(
        lint.output.contains(needle),
        "actionlint's report should mention {needle:?}:\n{}",
        lint.output
    );
}

#[test]
fn actionlint_rejects_a_misspelt_key() {
    let lint = lint_one(
        "name: broken
on: push
jobs:
  check:
    runs_on: ubuntu-latest
    steps:
      - run: echo checking
",
    );
    assert_finds(&lint, "runs_on");
}

#[test]
fn actionlint_rejects_a_reference_to_an_undefined_step() {
    let lint = lint_one(
        "name: broken
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - id: drift
        run: echo \"code=2\" >> \"$GITHUB_OUTPUT\"
      - if: steps.drfit.outputs.code == '2'
        run: echo drift
",
    );
    assert_finds(&lint, "drfit");
}

#[test]
fn actionlint_runs_shellcheck_on_run_scripts() {
    // An unquoted variable in a `run:` script: shellcheck's SC2086.
    let lint = lint_one(
        "name: broken
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - run: cp $RUNNER_TEMP/a.tar.gz .
",
    );
    assert_finds(&lint, "SC2086");
}
