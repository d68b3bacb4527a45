//! The harness side of the `fake-helm` test binary (src/bin/fake-helm.rs):
//! a scratch directory for its log and releases, the environment that makes
//! meshmon run it, and readers for what it recorded.
//!
//! The binary is a `[[bin]]` of this crate, built by `cargo test
//! --workspace` (what scripts/test runs) next to the test executables.

use std::path::PathBuf;

use serde_json::Value as Json;

pub struct FakeHelm {
    dir: tempfile::TempDir,
    /// What meshmon runs as helm, when not the fake-helm binary.
    program: Option<PathBuf>,
}

/// One recorded invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub args: Vec<String>,
    /// Contents of each `--values` file, read while helm ran.
    pub values: Vec<String>,
    /// What helm saw of its `--kubeconfig`: path, mode, server, has_token.
    pub kubeconfig: Json,
}

impl Invocation {
    /// The command line with the temporary paths replaced by
    /// `KUBECONFIG` and `VALUES`, for exact comparison.
    pub fn line(&self) -> String {
        let mut out = Vec::new();
        let mut prev = "";
        for a in &self.args {
            out.push(match prev {
                "--kubeconfig" => "KUBECONFIG".to_string(),
                "--values" | "-f" => "VALUES".to_string(),
                _ => a.clone(),
            });
            prev = a;
        }
        out.join(" ")
    }
}

/// Where cargo put the `fake-helm` binary: next to the test executables.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    let name = format!("fake-helm{}", std::env::consts::EXE_SUFFIX);
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the fake-helm test binary was not found near {}: run the tests with `cargo test --workspace` \
                 (scripts/test does), or build it first with `cargo build -p meshmon-test-support --bin fake-helm`",
                exe.display()
            )
        })
}

impl FakeHelm {
    pub fn new() -> Self {
        FakeHelm {
            dir: tempfile::tempdir().expect("temp dir"),
            program: None,
        }
    }

    /// A fake helm that meshmon runs as `program` instead of the fake-helm
    /// binary: a program that includes src/bin/fake-helm.rs and runs its
    /// `main` when `FAKE_HELM_DIR` is set. For a benchmark, which cargo
    /// builds without this crate's binaries.
    pub fn run_as(program: PathBuf) -> Self {
        FakeHelm {
            program: Some(program),
            ..FakeHelm::new()
        }
    }

    /// `MESHMON_HELM` and `FAKE_HELM_DIR` for the process that runs helm.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "MESHMON_HELM".into(),
                self.program
                    .clone()
                    .unwrap_or_else(binary)
                    .display()
                    .to_string(),
            ),
            (
                "FAKE_HELM_DIR".into(),
                self.dir.path().display().to_string(),
            ),
        ]
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        let text = std::fs::read_to_string(self.dir.path().join("log.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Json = serde_json::from_str(l).expect("log line is JSON");
                Invocation {
                    args: v["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_string))
                        .collect(),
                    values: v["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f["content"].as_str().map(str::to_string))
                        .collect(),
                    kubeconfig: v["kubeconfig"].clone(),
                }
            })
            .collect()
    }

    /// Invocations that change something (not `get`, not `version`).
    pub fn writes(&self) -> Vec<Invocation> {
        self.invocations()
            .into_iter()
            .filter(|i| {
                i.args
                    .first()
                    .is_some_and(|a| a == "upgrade" || a == "uninstall")
            })
            .collect()
    }

    /// The recorded releases, keyed `namespace/name`.
    pub fn releases(&self) -> Json {
        std::fs::read_to_string(self.dir.path().join("releases.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Json::Object(Default::default()))
    }

    /// Changes a release's user-supplied values behind meshmon's back.
    pub fn set_values(&self, namespace: &str, name: &str, values: Json) {
        let mut r = self.releases();
        r[format!("{namespace}/{name}")]["values"] = values;
        std::fs::write(self.dir.path().join("releases.json"), r.to_string())
            .expect("write releases");
    }

    /// Puts a release in place as another helm left it: `release` holds
    /// `chart`, `version`, `appVersion`, `revision`, `status`, `values`
    /// (and `pendingReads`, `settlesTo`: see the binary's docs).
    pub fn put_release(&self, namespace: &str, name: &str, release: Json) {
        let mut r = self.releases();
        let mut release = release;
        release["name"] = Json::from(name);
        release["namespace"] = Json::from(namespace);
        r[format!("{namespace}/{name}")] = release;
        std::fs::write(self.dir.path().join("releases.json"), r.to_string())
            .expect("write releases");
    }

    /// Makes the next `sub` ("upgrade", "uninstall", "get values") fail once.
    pub fn fail_next(&self, sub: &str) {
        std::fs::write(self.dir.path().join("fail"), sub).expect("write fail");
    }
}

impl Default for FakeHelm {
    fn default() -> Self {
        Self::new()
    }
}
