//! Helpers shared by the CLI integration tests: a scratch directory with a
//! spec in it, and the built `meshmon` binary run inside it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(spec: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("meshmon.toml"), spec).expect("write spec");
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_spec(&self, spec: &str) {
        std::fs::write(self.path().join("meshmon.toml"), spec).expect("write spec");
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// The built binary, run in the workspace, with no colour and no
    /// variables leaking in from the environment of the test run.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_meshmon"));
        c.current_dir(self.path()).env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("MESHMON_VAR_") {
                c.env_remove(k);
            }
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd().args(args).output().expect("run meshmon");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and insists on exit code `code`, showing all output otherwise.
    pub fn expect(&self, args: &[&str], code: i32) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.code, code,
            "meshmon {args:?} exited {}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            out.code, out.stdout, out.stderr
        );
        out
    }

    pub fn state(&self, name: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.file(&format!("state/{name}.json"))).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    pub fn state_addresses(&self, name: &str) -> Vec<String> {
        self.state(name)["resources"]
            .as_object()
            .expect("resources")
            .keys()
            .cloned()
            .collect()
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Lines of apply output that mark an operation's start or end, in order.
pub fn events(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            l.contains(": Creating...")
                || l.contains("complete after")
                || l.contains(": Destroying...")
        })
        .map(str::to_string)
        .collect()
}

/// Index of the first line containing both parts.
pub fn position(lines: &[String], a: &str, b: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(a) && l.contains(b))
        .unwrap_or_else(|| panic!("no line `{a}` … `{b}` in {lines:#?}"))
}
