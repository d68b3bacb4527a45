//! `meshmon init`: the example specs, with the manifests and dashboards they
//! read, compiled into the binary so that an installed meshmon can start a
//! project without a clone of its repository. Each example is one entry of
//! `EXAMPLES`; its spec is written as `meshmon.toml`, so `meshmon plan` in
//! the new directory needs no `-f`, and every other file keeps its path
//! relative to the spec, which is what the spec's `file("…")` calls resolve
//! against.
//!
//! Nothing is overwritten: every target is checked before the first byte is
//! written, and each file is created with `O_EXCL`, which also refuses to
//! follow a symlink planted at the target.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// One example: what `--example NAME` writes.
pub struct Example {
    pub name: &'static str,
    pub about: &'static str,
    /// The spec as it sits in the repository, for rewriting its own
    /// `-f examples/…` hints.
    spec_path: &'static str,
    spec: &'static str,
    /// Files the spec reads, relative to it.
    files: &'static [(&'static str, &'static str)],
}

/// The file every example's spec is written as.
pub const SPEC_FILE: &str = "meshmon.toml";
/// The JSON Schema written beside the spec, named by its `#:schema` line.
pub const SCHEMA_FILE: &str = "meshmon.schema.json";

/// Every example in this build; the first is the default.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "recipe",
        about: "the recipe as written: EKS, App Mesh, AMP, Grafana Agent, AMG, SNS",
        spec_path: "examples/meshmon.toml",
        spec: include_str!("../examples/meshmon.toml"),
        files: &[
            (
                "manifests/grafana-agent.yaml",
                include_str!("../examples/manifests/grafana-agent.yaml"),
            ),
            (
                "manifests/djapp-mesh.yaml",
                include_str!("../examples/manifests/djapp-mesh.yaml"),
            ),
            (
                "manifests/djapp.yaml",
                include_str!("../examples/manifests/djapp.yaml"),
            ),
            (
                "manifests/load-generator.yaml",
                include_str!("../examples/manifests/load-generator.yaml"),
            ),
            (
                "dashboards/envoy-mesh.json",
                include_str!("../examples/dashboards/envoy-mesh.json"),
            ),
        ],
    },
    Example {
        name: "istio",
        about: "the same job on the live stack: Istio, the AMP managed collector, AMP alerting, AMG, SNS",
        spec_path: "examples/istio.toml",
        spec: include_str!("../examples/istio.toml"),
        files: &[
            (
                "collector/istio-scrape.yaml",
                include_str!("../examples/collector/istio-scrape.yaml"),
            ),
            (
                "manifests/aps-collector-rbac.yaml",
                include_str!("../examples/manifests/aps-collector-rbac.yaml"),
            ),
            (
                "manifests/djapp-istio.yaml",
                include_str!("../examples/manifests/djapp-istio.yaml"),
            ),
            (
                "manifests/djapp-istio-routes.yaml",
                include_str!("../examples/manifests/djapp-istio-routes.yaml"),
            ),
            (
                "manifests/load-generator.yaml",
                include_str!("../examples/manifests/load-generator.yaml"),
            ),
            (
                "dashboards/istio-mesh.json",
                include_str!("../examples/dashboards/istio-mesh.json"),
            ),
        ],
    },
    Example {
        name: "existing-cluster",
        about: "the live stack's monitoring added to one EKS cluster you already run, with Istio in it",
        spec_path: "examples/existing-cluster.toml",
        spec: include_str!("../examples/existing-cluster.toml"),
        files: &[
            (
                "collector/istio-scrape.yaml",
                include_str!("../examples/collector/istio-scrape.yaml"),
            ),
            (
                "manifests/aps-collector-rbac.yaml",
                include_str!("../examples/manifests/aps-collector-rbac.yaml"),
            ),
            (
                "dashboards/istio-mesh.json",
                include_str!("../examples/dashboards/istio-mesh.json"),
            ),
        ],
    },
    Example {
        name: "fleet",
        about: "the live stack's monitoring for many existing EKS clusters in several accounts, into one AMP and one Grafana",
        spec_path: "examples/fleet.toml",
        spec: include_str!("../examples/fleet.toml"),
        files: &[
            (
                "components/cluster-monitoring/component.toml",
                include_str!("../examples/components/cluster-monitoring/component.toml"),
            ),
            (
                "manifests/aps-collector-rbac.yaml",
                include_str!("../examples/manifests/aps-collector-rbac.yaml"),
            ),
            (
                "dashboards/istio-fleet.json",
                include_str!("../examples/dashboards/istio-fleet.json"),
            ),
        ],
    },
    Example {
        name: "istio-alloy",
        about: "the live stack with Grafana Alloy in the cluster instead of the managed collector",
        spec_path: "examples/istio-alloy.toml",
        spec: include_str!("../examples/istio-alloy.toml"),
        files: &[
            (
                "manifests/djapp-istio.yaml",
                include_str!("../examples/manifests/djapp-istio.yaml"),
            ),
            (
                "manifests/djapp-istio-routes.yaml",
                include_str!("../examples/manifests/djapp-istio-routes.yaml"),
            ),
            (
                "manifests/load-generator.yaml",
                include_str!("../examples/manifests/load-generator.yaml"),
            ),
            (
                "dashboards/istio-mesh.json",
                include_str!("../examples/dashboards/istio-mesh.json"),
            ),
        ],
    },
    Example {
        name: "builtin",
        about: "built-in resources only: plans and applies with no cloud account",
        spec_path: "examples/builtin.toml",
        spec: include_str!("../examples/builtin.toml"),
        files: &[],
    },
];

pub fn example(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    EXAMPLES.iter().map(|e| e.name)
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Files of the example are already there; nothing was written.
    #[error("{} already exist{} in {dir}: {}; nothing was written", plural(.files.len()), if .files.len() == 1 { "s" } else { "" }, .files.join(", "))]
    Exists { dir: String, files: Vec<String> },
    /// A directory on the way to a file is a symlink or not a directory.
    #[error("{path} is {what}; meshmon init writes only into plain directories it can see")]
    NotADirectory { path: String, what: &'static str },
    /// The file system refused.
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

impl Example {
    /// Every file of the example, relative to the target directory. The
    /// spec gains a `#:schema` line first when a schema is written beside
    /// it, so that taplo and Even Better TOML validate and complete it.
    pub fn files(&self, schema: Option<&str>) -> Vec<(String, Cow<'static, [u8]>)> {
        let mut spec = String::new();
        if schema.is_some() {
            spec.push_str(&format!("#:schema ./{SCHEMA_FILE}\n"));
        }
        spec.push_str(&self.spec.replace(&format!(" -f {}", self.spec_path), ""));
        let mut out = vec![(SPEC_FILE.to_string(), Cow::Owned(spec.into_bytes()))];
        for (path, text) in self.files {
            out.push((path.to_string(), Cow::Borrowed(text.as_bytes())));
        }
        if let Some(s) = schema {
            out.push((SCHEMA_FILE.to_string(), Cow::Owned(s.as_bytes().to_vec())));
        }
        out
    }

    /// Writes the example into `dir` (created if needed) and returns the
    /// files written, relative to `dir`.
    pub fn write(&self, dir: &Path, schema: Option<&str>) -> Result<Vec<String>, InitError> {
        let files = self.files(schema);
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| InitError::Io { path, source }
        };
        let mut existing = Vec::new();
        for (rel, _) in &files {
            check_dirs(dir, rel)?;
            if std::fs::symlink_metadata(dir.join(rel)).is_ok() {
                existing.push(rel.clone());
            }
        }
        if !existing.is_empty() {
            return Err(InitError::Exists {
                dir: dir.display().to_string(),
                files: existing,
            });
        }
        let mut written = Vec::new();
        for (rel, bytes) in &files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io(&path))?;
            f.write_all(bytes).map_err(io(&path))?;
            written.push(rel.clone());
        }
        Ok(written)
    }
}

/// Refuses a symlink or a non-directory between `dir` and the file `rel`.
/// `dir` itself may be a symlink: the user named it.
fn check_dirs(dir: &Path, rel: &str) -> Result<(), InitError> {
    let mut at = dir.to_path_buf();
    let parts: Vec<Component> = Path::new(rel).components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        at.push(c);
        let what = match std::fs::symlink_metadata(&at) {
            Err(_) => return Ok(()),
            Ok(m) if m.file_type().is_symlink() => "a symlink",
            Ok(m) if !m.is_dir() => "not a directory",
            Ok(_) => continue,
        };
        return Err(InitError::NotADirectory {
            path: PathBuf::from(&at).display().to_string(),
            what,
        });
    }
    Ok(())
}
