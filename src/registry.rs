//! The providers compiled into this binary, the resource types they offer
//! and the warnings this build gives.
//! A resource type belongs to exactly one provider; the spec loader and the
//! engine both look types up here.

use std::collections::BTreeMap;
use std::sync::Arc;

use meshmon_provider_sdk::{Provider, Schema};

/// The stable code of each warning this build gives (the lints), with what
/// it is about. The codes are a public contract: `[meshmon] acknowledge`
/// names them.
pub const WARNING_CODES: &[(&str, &str)] = &[
    (EKS_SUPPORT, "an EKS version out of standard support"),
    (
        API_REMOVED,
        "a manifest using an API version the cluster's Kubernetes no longer serves",
    ),
    (APP_MESH_EOL, "AWS App Mesh, discontinued on 2026-09-30"),
    (GRAFANA_AGENT_EOL, "the Grafana Agent, past its end of life"),
];

pub const EKS_SUPPORT: &str = "eks-standard-support-ended";
pub const API_REMOVED: &str = "kubernetes-api-removed";
pub const APP_MESH_EOL: &str = "app-mesh-end-of-life";
pub const GRAFANA_AGENT_EOL: &str = "grafana-agent-end-of-life";

pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
    types: BTreeMap<&'static str, (&'static str, Schema)>,
}

impl Registry {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        let mut r = Registry {
            providers: BTreeMap::new(),
            types: BTreeMap::new(),
        };
        for p in providers {
            for s in p.resource_schemas() {
                r.types.insert(s.type_name, (p.name(), s));
            }
            r.providers.insert(p.name(), p);
        }
        r
    }

    /// Every provider this build of meshmon knows.
    pub fn standard() -> Self {
        Self::new(vec![
            Arc::new(crate::builtin::Builtin),
            Arc::new(meshmon_provider_aws::Aws),
            Arc::new(meshmon_provider_grafana::Amg),
            Arc::new(meshmon_provider_grafana::Grafana),
            Arc::new(meshmon_provider_kubernetes::Kubernetes),
        ])
    }

    pub fn schema(&self, type_name: &str) -> Option<&Schema> {
        self.types.get(type_name).map(|(_, s)| s)
    }

    pub fn provider_of(&self, type_name: &str) -> Option<&'static str> {
        self.types.get(type_name).map(|(p, _)| *p)
    }

    pub fn provider(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// The provider that owns a `[providers.NAME]` block (and its schema).
    pub fn block_owner(&self, block: &str) -> Option<&Arc<dyn Provider>> {
        self.providers
            .get(block)
            .or_else(|| self.providers.values().find(|p| p.config_block() == block))
    }

    pub fn config_block_of(&self, type_name: &str) -> Option<&'static str> {
        self.provider(self.provider_of(type_name)?)
            .map(|p| p.config_block())
    }

    /// Names that may appear as `[providers.NAME]`.
    pub fn provider_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let mut names: Vec<&'static str> =
            self.providers.values().map(|p| p.config_block()).collect();
        names.sort();
        names.dedup();
        names.into_iter()
    }

    pub fn type_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.types.keys().copied()
    }

    pub fn schemas(&self) -> impl Iterator<Item = (&'static str, &Schema)> + '_ {
        self.types.values().map(|(p, s)| (*p, s))
    }
}
