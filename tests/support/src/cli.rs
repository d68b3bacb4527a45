//! Runs the real `meshmon` binary in a scratch directory, with a spec file
//! and an environment that points the AWS SDK at local test servers and at
//! nothing of the developer's own AWS setup.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory with a spec in it.
pub struct Cli {
    dir: tempfile::TempDir,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

/// What one run printed, and its exit code.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    /// `bin` is `env!("CARGO_BIN_EXE_meshmon")` of the calling test.
    pub fn new(bin: impl Into<PathBuf>, env: Vec<(String, String)>) -> Self {
        Cli {
            dir: tempfile::tempdir().expect("temp dir"),
            bin: bin.into(),
            env,
        }
    }

    /// Adds or replaces one environment variable for later runs.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `meshmon.toml`: environment `test` in eu-west-1, then `body`.
    pub fn spec(&self, body: &str) {
        let text = format!(
            "[meshmon]\nname = \"test\"\n\n[providers.aws]\nregion = \"{}\"\n\n{body}",
            crate::moto::REGION
        );
        std::fs::write(self.path().join("meshmon.toml"), text).expect("write spec");
    }

    /// The command `run` runs, for a test that starts it itself (to kill
    /// it mid-way).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.current_dir(self.path()).args(args).env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("MESHMON_VAR_") {
                c.env_remove(k);
            }
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run meshmon");
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

    pub fn apply(&self) -> Output {
        self.expect(&["apply", "--auto-approve"], 0)
    }

    /// Plans and insists that there is nothing to do.
    pub fn assert_no_changes(&self) {
        let out = self.run(&["plan", "--detailed-exitcode"]);
        assert!(
            out.code == 0 && out.stdout.contains("No changes."),
            "expected no changes, got exit {}\n--- stdout\n{}\n--- stderr\n{}",
            out.code,
            out.stdout,
            out.stderr
        );
    }

    /// `meshmon drift --format json`, which must find drift (exit 2).
    pub fn drift(&self) -> serde_json::Value {
        let out = self.expect(&["drift", "--format", "json"], 2);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("drift JSON: {e}\n{}", out.stdout))
    }

    /// The drift entry of one attribute path of one resource.
    pub fn drifted(&self, address: &str, path: &str) -> serde_json::Value {
        let d = self.drift();
        let entry = d["drift"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["address"] == address))
            .cloned();
        let entry = entry.unwrap_or_else(|| panic!("no drift for {address} in {d:#}"));
        entry["attributes"]
            .as_array()
            .and_then(|l| l.iter().find(|a| a["path"] == path).cloned())
            .unwrap_or_else(|| panic!("no drift at {address} {path} in {d:#}"))
    }

    pub fn state(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.path().join("state/test.json")).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    /// One attribute of a resource in the state (outputs win over inputs).
    pub fn attr(&self, address: &str, name: &str) -> serde_json::Value {
        let s = self.state();
        let r = &s["resources"][address];
        assert!(r.is_object(), "{address} is not in the state: {s:#}");
        if !r["outputs"][name].is_null() {
            r["outputs"][name].clone()
        } else {
            r["inputs"][name].clone()
        }
    }

    pub fn attr_str(&self, address: &str, name: &str) -> String {
        self.attr(address, name)
            .as_str()
            .unwrap_or_else(|| panic!("{address}.{name} is not a string"))
            .to_string()
    }

    pub fn addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Copies a directory tree (an example with the files its spec reads).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
