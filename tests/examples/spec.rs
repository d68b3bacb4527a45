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
pub const SPECS: [&str; 4] = [
    "meshmon.toml",
    "istio.toml",
    "istio-alloy.toml",
    "existing-cluster.toml",
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
        spec
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
            .filter(move |(a, _)| a.split('.').next() == Some(kind))
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

/// Every `${TYPE.NAME…}` reference in `v`, as `TYPE.NAME`.
fn references(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                let inner = &rest[i + 2..];
                let end = inner.find('}').unwrap_or(inner.len());
                let mut parts = inner[..end].split('.');
                if let (Some(t), Some(n)) = (parts.next(), parts.next())
                    && t != "var"
                {
                    out.push(format!("{t}.{n}"));
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
