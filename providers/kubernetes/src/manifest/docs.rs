//! A manifest's documents and the identities of the objects they describe.
//! An identity (`apps/v1 Deployment prod/dj`) is what `k8s_manifest`
//! records in its `objects` output, so that an object removed from the
//! content can be found and deleted on the next apply.

use std::fmt;

use kube::api::GroupVersionKind;
use meshmon_provider_sdk::ProviderError;
use serde::Deserialize;
use serde_json::Value as Json;

/// One object of a manifest, as written.
#[derive(Clone, Debug)]
pub struct Doc {
    pub object: Json,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as written (a namespaced object without one
    /// goes to the resource's `namespace`).
    pub namespace: Option<String>,
}

impl Doc {
    pub fn gvk(&self) -> GroupVersionKind {
        gvk(&self.api_version, &self.kind)
    }

    /// Order of application: namespaces, then CRDs, then the rest as
    /// written. Deletion runs the other way.
    pub fn rank(&self) -> u8 {
        match self.kind.as_str() {
            "Namespace" => 0,
            "CustomResourceDefinition" => 1,
            _ => 2,
        }
    }
}

pub fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// Parses a YAML stream into its objects (empty documents skipped; `List`
/// kinds expanded), each checked for `apiVersion`, `kind` and a name.
pub fn parse(content: &str) -> Result<Vec<Doc>, ProviderError> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(content).enumerate() {
        let value = Json::deserialize(doc).map_err(|e| {
            ProviderError::new(format!(
                "document {} of `content` is not valid YAML: {e}",
                i + 1
            ))
        })?;
        match value {
            Json::Null => {}
            Json::Object(ref o)
                if o.get("kind")
                    .and_then(Json::as_str)
                    .is_some_and(|k| k.ends_with("List"))
                    && o.get("items").is_some_and(Json::is_array) =>
            {
                for item in o["items"].as_array().into_iter().flatten() {
                    out.push(doc_of(item.clone(), i)?);
                }
            }
            other => out.push(doc_of(other, i)?),
        }
    }
    Ok(out)
}

fn doc_of(object: Json, i: usize) -> Result<Doc, ProviderError> {
    let field = |path: &[&str]| {
        let mut cur = &object;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().map(str::to_string)
    };
    let missing = |what: &str| {
        ProviderError::new(format!("document {} of `content` has no {what}", i + 1))
            .with_hint("every Kubernetes object needs apiVersion, kind and metadata.name")
    };
    let api_version = field(&["apiVersion"]).ok_or_else(|| missing("apiVersion"))?;
    let kind = field(&["kind"]).ok_or_else(|| missing("kind"))?;
    let name = field(&["metadata", "name"]).ok_or_else(|| missing("metadata.name"))?;
    let namespace = field(&["metadata", "namespace"]);
    Ok(Doc {
        object,
        api_version,
        kind,
        name,
        namespace,
    })
}

/// Where one applied object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ident {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Ident {
    /// The same object whatever version of its group it was written in.
    pub fn same_object(&self, other: &Ident) -> bool {
        // The core group ("v1") is "".
        let group = |a: &str| {
            a.split_once('/')
                .map(|(g, _)| g.to_string())
                .unwrap_or_default()
        };
        group(&self.api_version) == group(&other.api_version)
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }

    pub fn parse(s: &str) -> Option<Ident> {
        let mut parts = s.split(' ');
        let api_version = parts.next()?.to_string();
        let kind = parts.next()?.to_string();
        let rest = parts.next()?;
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
            None => (None, rest.to_string()),
        };
        Some(Ident {
            api_version,
            kind,
            namespace,
            name,
        })
    }

    pub fn gvk(&self) -> GroupVersionKind {
        gvk(&self.api_version, &self.kind)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} {ns}/{}", self.api_version, self.kind, self.name),
            None => write!(f, "{} {} {}", self.api_version, self.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_many_documents_and_skips_empty_ones() {
        let docs = parse(
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\n# nothing\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dj\n  namespace: prod\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].gvk().group, "apps");
        assert_eq!(docs[1].namespace.as_deref(), Some("prod"));
        assert!(
            parse("kind: Namespace\nmetadata: {name: x}\n")
                .unwrap_err()
                .message
                .contains("apiVersion")
        );
    }

    #[test]
    fn identities_round_trip_through_their_text() {
        for s in [
            "apps/v1 Deployment prod/dj",
            "apiextensions.k8s.io/v1 CustomResourceDefinition meshes.appmesh.k8s.aws",
        ] {
            assert_eq!(Ident::parse(s).unwrap().to_string(), s);
        }
        let a = Ident::parse("apps/v1 Deployment prod/dj").unwrap();
        let b = Ident::parse("apps/v1beta2 Deployment prod/dj").unwrap();
        assert!(a.same_object(&b));
    }
}
