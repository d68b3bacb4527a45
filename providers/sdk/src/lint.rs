//! Warnings a provider gives about resources as they are written, without
//! contacting anything: a component past its end of life (a chart, an
//! image, an API version, a cluster version). The provider that knows the
//! component knows when it ends; the engine only asks, points each warning
//! at the text it is about, and lets `[meshmon] acknowledge` silence it by
//! its code.
//!
//! Some warnings depend on another resource of the spec (a manifest's API
//! version matters only if the cluster it runs on no longer serves it):
//! providers first say what they know about their resources as [`Facts`],
//! then every provider lints with all of them.

use std::collections::BTreeMap;

use crate::value::Map;

/// A stable warning code and what it is about: a public contract, since
/// `[meshmon] acknowledge` names it.
pub type WarningCode = (&'static str, &'static str);

/// What resources of a spec tell about the world they will make, by name:
/// `kubernetes.minor` is the Kubernetes minor version of the spec's cluster.
#[derive(Clone, Debug, Default)]
pub struct Facts(BTreeMap<&'static str, String>);

impl Facts {
    /// The first value given for `name` stays.
    pub fn add(&mut self, name: &'static str, value: String) {
        self.0.entry(name).or_insert(value);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The Kubernetes minor version of the spec's cluster (`35` for 1.35).
pub const KUBERNETES_MINOR: &str = "kubernetes.minor";

/// One warning about one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// One of the provider's [`WarningCode`]s.
    pub code: &'static str,
    /// The attribute the warning is about.
    pub attribute: &'static str,
    /// The text inside the attribute's value to point at (an API version
    /// in a manifest), when it can be found as written; the whole value
    /// otherwise.
    pub needle: Option<String>,
    /// What is pointed at, for the label: "the chart", "an API version".
    pub label: &'static str,
    pub message: String,
    /// What to do instead.
    pub help: String,
}

/// What a lint sees of one resource: its type and the attributes written
/// as literals (a value built from references is not known here).
pub struct Written<'a> {
    pub type_name: &'a str,
    pub inputs: &'a Map,
}

impl Written<'_> {
    /// A literal string attribute.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.inputs.get(name).and_then(|v| v.as_str())
    }
}
