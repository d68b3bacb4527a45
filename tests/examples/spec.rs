//! Reading the examples as a reviewer would: each spec's resources with
//! `${var.NAME}` replaced by the variable's default and `file("…")`
//! replaced by the file's content, and the Kubernetes objects of every
//! `k8s_manifest`. References to other resources (`${aws_x.y.z}`) stay as
//! written: their values exist only after an apply.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every spec that builds something on AWS (`builtin.toml` builds nothing).
pub const SPECS: [&str; 5] = [
    "meshmon.toml",
    "istio.toml",
    "istio-alloy.toml",
    "existing-cluster.toml",
    "fleet.toml",
];

/// One example spec, loaded.
pub struct Spec {
    pub file: String,
    pub defaults: BTreeMap<String, String>,
    /// `TYPE.NAME` → the resource's table, strings resolved.
    pub resources: BTreeMap<String, Json>,
}

impl Spec {
    pub fn load(file: &str) -> Spec {
        let path = examples_dir().join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json = serde_json::to_value(&doc).expect("TOML as JSON");
        let mut defaults = BTreeMap::new();
        for (name, v) in json["variables"].as_object().into_iter().flatten() {
            let text = match &v["default"] {
                Json::String(s) => s.clone(),
                Json::Null => continue,
                other => other.to_string(),
            };
            defaults.insert(name.clone(), text);
        }
        let mut spec = Spec {
            file: file.to_string(),
            defaults,
            resources: BTreeMap::new(),
        };
        for (kind, named) in json["resources"].as_object().into_iter().flatten() {
            for (name, body) in named.as_object().into_iter().flatten() {
                let resolved = spec.resolve(body);
                spec.resources.insert(format!("{kind}.{name}"), resolved);
            }
        }
        for (name, call) in json["components"].as_object().into_iter().flatten() {
            let source = call["source"].as_str().expect("a component's source");
            spec.add_component(name, &path.parent().expect("a directory").join(source));
        }
        spec
    }

    /// The resources of the component in `dir`, at `component.NAME.TYPE.N`
    /// (one instance stands for every key): its `file("…")` read from its
    /// own directory, its variables' defaults resolved, its references and
    /// `depends_on` addressed within it.
    fn add_component(&mut self, name: &str, dir: &Path) {
        let path = dir.join("component.toml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json = serde_json::to_value(&doc).expect("TOML as JSON");
        let mut inner = Spec {
            file: format!("{} ({})", self.file, path.display()),
            defaults: BTreeMap::new(),
            resources: BTreeMap::new(),
        };
        // Inputs without a default stand for a value each use gives: the
        // variable's name in capitals.
        for (var, v) in json["variables"].as_object().into_iter().flatten() {
            let value = v["default"]
                .as_str()
                .map_or_else(|| var.to_uppercase(), str::to_string);
            inner.defaults.insert(var.clone(), value);
        }
        let prefix = format!("component.{name}.");
        for (kind, named) in json["resources"].as_object().into_iter().flatten() {
            for (n, body) in named.as_object().into_iter().flatten() {
                let body = within(&read_files(body, dir), &prefix);
                let resolved = inner.resolve(&body);
                self.resources
                    .insert(format!("{prefix}{kind}.{n}"), resolved);
            }
        }
    }

    /// `body` with every string's `${var.NAME}` and `file("…")` resolved.
    fn resolve(&self, body: &Json) -> Json {
        match body {
            Json::String(s) => Json::String(self.resolve_str(s)),
            Json::Array(a) => Json::Array(a.iter().map(|v| self.resolve(v)).collect()),
            Json::Object(o) => Json::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn resolve_str(&self, s: &str) -> String {
        let t = s.trim();
        if let Some(rel) = t
            .strip_prefix("file(\"")
            .and_then(|r| r.strip_suffix("\")"))
        {
            let path = examples_dir().join(rel);
            return std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: file({rel}): {e}", self.file));
        }
        let mut out = s.to_string();
        for (name, value) in &self.defaults {
            out = out.replace(&format!("${{var.{name}}}"), value);
        }
        out
    }

    /// Whether the spec builds the cluster it monitors; a spec that looks
    /// its cluster up (existing-cluster.toml) runs nothing of its own in it
    /// but the collector's RBAC.
    pub fn builds_cluster(&self) -> bool {
        self.of_type("aws_eks_cluster").next().is_some()
    }

    /// The spec as it meets a cluster: a spec that builds its cluster as it
    /// is; one that looks its cluster up, with what examples/istio.toml
    /// runs in its cluster added (Istio, its `proxyStatsMatcher`, the
    /// sample and the load generator), which is the cluster that spec's
    /// header asks for. Its own resources win at the same address.
    pub fn in_its_cluster(&self) -> Spec {
        let mut out = Spec {
            file: self.file.clone(),
            defaults: self.defaults.clone(),
            resources: self.resources.clone(),
        };
        if self.builds_cluster() {
            return out;
        }
        let istio = Spec::load("istio.toml");
        for kind in ["k8s_namespace", "k8s_manifest", "helm_release"] {
            for (address, body) in istio.of_type(kind) {
                out.resources
                    .entry(address.clone())
                    .or_insert_with(|| body.clone());
            }
        }
        out
    }

    /// Resources of one type, as (address, body).
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Json)> {
        self.resources
            .iter()
            .filter(move |(a, _)| a.rsplit('.').nth(1) == Some(kind))
    }

    /// Every Kubernetes object of every `k8s_manifest`, with its address.
    pub fn manifest_objects(&self) -> Vec<(String, Json)> {
        let mut out = Vec::new();
        for (address, body) in self.of_type("k8s_manifest") {
            let content = body["content"].as_str().unwrap_or_default();
            for doc in yaml_documents(content) {
                out.push((address.clone(), doc));
            }
        }
        out
    }

    /// Everything `address` waits for, directly (`depends_on`, references
    /// in its values) or through those; not `address` itself.
    pub fn dependencies(&self, address: &str) -> BTreeSet<String> {
        let mut todo = vec![address.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(a) = todo.pop() {
            let Some(body) = self.resources.get(&a) else {
                continue;
            };
            let mut needs: Vec<String> = body["depends_on"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect();
            // References in values are dependencies too.
            references(body, &mut needs);
            for n in needs {
                if n != address && seen.insert(n.clone()) {
                    todo.push(n);
                }
            }
        }
        seen
    }
}

/// `body` with each `file("…")` value replaced by the file's content,
/// read from `dir`.
fn read_files(body: &Json, dir: &Path) -> Json {
    match body {
        Json::String(s) => match s
            .trim()
            .strip_prefix("file(\"")
            .and_then(|r| r.strip_suffix("\")"))
        {
            Some(rel) => Json::String(
                std::fs::read_to_string(dir.join(rel))
                    .unwrap_or_else(|e| panic!("{}: file({rel}): {e}", dir.display())),
            ),
            None => body.clone(),
        },
        Json::Array(a) => Json::Array(a.iter().map(|v| read_files(v, dir)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), read_files(v, dir)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A component's block with its references (`${TYPE.NAME…}`) and
/// `depends_on` addressed within the component (`prefix` + address).
fn within(body: &Json, prefix: &str) -> Json {
    let mut out = body.clone();
    if let Some(deps) = out.get_mut("depends_on").and_then(Json::as_array_mut) {
        for d in deps.iter_mut() {
            if let Some(a) = d.as_str() {
                *d = Json::String(format!("{prefix}{a}"));
            }
        }
    }
    fn walk(v: &mut Json, prefix: &str) {
        match v {
            Json::String(s) => {
                let mut text = String::new();
                let mut rest = s.as_str();
                while let Some(i) = rest.find("${") {
                    text.push_str(&rest[..i + 2]);
                    rest = &rest[i + 2..];
                    if !rest.starts_with("var.") && !rest.starts_with("data.") {
                        text.push_str(prefix);
                    }
                }
                text.push_str(rest);
                *s = text;
            }
            Json::Array(a) => a.iter_mut().for_each(|x| walk(x, prefix)),
            Json::Object(o) => o
                .iter_mut()
                .filter(|(k, _)| k.as_str() != "depends_on")
                .for_each(|(_, x)| walk(x, prefix)),
            _ => {}
        }
    }
    walk(&mut out, prefix);
    out
}

/// Every `${TYPE.NAME…}` reference in `v`, as `TYPE.NAME` (and
/// `component.C.TYPE.NAME` within a component).
fn references(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                let inner = &rest[i + 2..];
                let end = inner.find('}').unwrap_or(inner.len());
                let parts: Vec<&str> = inner[..end].split('.').collect();
                match parts.as_slice() {
                    ["component", c, t, n, ..] => out.push(format!("component.{c}.{t}.{n}")),
                    [t, n, ..] if *t != "var" => out.push(format!("{t}.{n}")),
                    _ => {}
                }
                rest = &inner[end..];
            }
        }
        Json::Array(a) => a.iter().for_each(|x| references(x, out)),
        Json::Object(o) => o.values().for_each(|x| references(x, out)),
        _ => {}
    }
}

/// The documents of a multi-document YAML text, as JSON (empty ones left out).
pub fn yaml_documents(text: &str) -> Vec<Json> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(text)
        .filter_map(|d| {
            let v = serde_yaml_ng::Value::deserialize(d).expect("YAML document");
            let j: Json = serde_json::to_value(v).expect("YAML as JSON");
            (!j.is_null()).then_some(j)
        })
        .collect()
}

/// Every example spec, loaded.
pub fn all() -> Vec<Spec> {
    SPECS.iter().map(|f| Spec::load(f)).collect()
}

/// `meshmon init --example NAME` writes what each example reads with
/// `file()`: every such path is in the example's list in src/init.rs.
#[test]
fn every_file_an_example_reads_is_written_by_init() {
    let init = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/init.rs"))
        .expect("src/init.rs");
    for file in SPECS {
        let text = std::fs::read_to_string(examples_dir().join(file)).expect("spec");
        let entry_start = init
            .find(&format!("\"examples/{file}\""))
            .unwrap_or_else(|| panic!("{file} is not an example of src/init.rs"));
        let entry = &init[entry_start..];
        let entry = &entry[..entry.find("Example {").unwrap_or(entry.len())];
        let mut rest = text.as_str();
        while let Some(i) = rest.find("file(\"") {
            let path = &rest[i + 6..];
            let path = &path[..path.find('"').unwrap_or(0)];
            assert!(
                entry.contains(&format!("\"{path}\"")),
                "{file} reads {path}, which `meshmon init` does not write (src/init.rs)"
            );
            rest = &rest[i + 6..];
        }
    }
}

/// Variables that once existed only so that the local sandbox and the
/// end-to-end tests could point an example at the emulators. The
/// emulators behave like AWS instead: the EKS double reports the test API
/// server as a cluster's endpoint and CA, and the Grafana test server
/// serves HTTPS with a test CA that meshmon trusts through SSL_CERT_FILE.
const SANDBOX_ONLY: [&str; 3] = [
    "kubernetes_endpoint_override",
    "kubernetes_ca_override",
    "grafana_url_scheme",
];

/// Every `.toml` file under `dir`.
fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "toml") {
            out.push(path);
        }
    }
}

/// No example spec or component, as it sits in `examples/` and as
/// `meshmon init` writes it, declares or uses a variable that exists only
/// for the emulated world: one named in [`SANDBOX_ONLY`], or one whose
/// description mentions the sandbox.
#[test]
fn no_example_has_a_variable_that_exists_only_for_the_sandbox() {
    let mut files = Vec::new();
    toml_files(&examples_dir(), &mut files);
    let init = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/init.rs"))
        .expect("src/init.rs");
    let names: Vec<&str> = init
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name: \""))
        .filter_map(|rest| rest.strip_suffix("\","))
        .collect();
    assert!(
        names.contains(&"recipe") && names.contains(&"existing-cluster"),
        "the examples of src/init.rs: {names:?}"
    );
    let written = tempfile::tempdir().expect("temp dir");
    for name in &names {
        let dir = written.path().join(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshmon"))
            .args(["init", "--example", name])
            .arg(&dir)
            .output()
            .expect("run meshmon init");
        assert!(
            out.status.success(),
            "meshmon init --example {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        toml_files(&dir, &mut files);
    }
    let mut found = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("spec");
        let doc: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let variables = doc.get("variables").and_then(|v| v.as_table());
        for (name, v) in variables.into_iter().flatten() {
            let description = v.get("description").and_then(|d| d.as_str());
            if SANDBOX_ONLY.contains(&name.as_str())
                || description.is_some_and(|d| d.to_lowercase().contains("sandbox"))
            {
                found.push(format!(
                    "{}: [variables.{name}] {description:?}",
                    path.display()
                ));
            }
        }
        for name in SANDBOX_ONLY {
            if text.contains(name) {
                found.push(format!("{}: mentions {name}", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "variables for the sandbox only, in {} files:\n{}",
        files.len(),
        found.join("\n")
    );
}
