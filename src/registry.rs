//! The providers compiled into this binary and the resource types (and
//! warnings) they offer.
//! A resource type belongs to exactly one provider; the spec loader and the
//! engine both look types up here.

use std::collections::BTreeMap;
use std::sync::Arc;

use meshmon_provider_sdk::{Provider, Schema};

pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
    types: BTreeMap<&'static str, (&'static str, Schema)>,
    /// Look-ups (`[data.TYPE.NAME]`), by type name: a name may also be a
    /// resource type's.
    lookups: BTreeMap<&'static str, (&'static str, Schema)>,
}

impl Registry {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        let mut r = Registry {
            providers: BTreeMap::new(),
            types: BTreeMap::new(),
            lookups: BTreeMap::new(),
        };
        for p in providers {
            for s in p.resource_schemas() {
                r.types.insert(s.type_name, (p.name(), s));
            }
            for s in p.lookup_schemas() {
                r.lookups.insert(s.type_name, (p.name(), s));
            }
            r.providers.insert(p.name(), p);
        }
        r
    }

    /// The stable code of every warning this build gives, with what it is
    /// about, in the order the providers give them. The codes are a public
    /// contract: `[meshmon] acknowledge` names them.
    pub fn warning_codes(&self) -> Vec<(&'static str, &'static str)> {
        let mut codes = Vec::new();
        for p in self.providers.values() {
            for c in p.warning_codes() {
                if !codes.contains(c) {
                    codes.push(*c);
                }
            }
        }
        codes
    }

    /// Every provider this build of meshmon knows.
    /// How the services the providers talk to have answered so far, one
    /// entry per service (providers sharing a transport report it once).
    pub fn traffic(&self) -> Vec<meshmon_provider_sdk::Traffic> {
        let mut out: BTreeMap<String, meshmon_provider_sdk::Traffic> = BTreeMap::new();
        for p in self.providers.values() {
            for t in p.traffic() {
                out.entry(t.service.clone()).or_insert(t);
            }
        }
        out.into_values().collect()
    }

    /// The services that throttled calls so far, if any did.
    pub fn throttling(&self) -> Vec<meshmon_provider_sdk::Traffic> {
        self.traffic()
            .into_iter()
            .filter(|t| t.throttled > 0)
            .collect()
    }

    pub fn standard() -> Self {
        let registry = Self::new(vec![
            Arc::new(crate::builtin::Builtin),
            Arc::new(meshmon_provider_aws::Aws),
            Arc::new(meshmon_provider_grafana::Amg),
            Arc::new(meshmon_provider_grafana::Grafana),
            Arc::new(meshmon_provider_kubernetes::Kubernetes),
        ]);
        // Addresses of these types order without reading their parts.
        crate::addr::rank_types(registry.types.keys());
        registry
    }

    pub fn schema(&self, type_name: &str) -> Option<&Schema> {
        self.types.get(type_name).map(|(_, s)| s)
    }

    pub fn provider_of(&self, type_name: &str) -> Option<&'static str> {
        self.types.get(type_name).map(|(p, _)| *p)
    }

    /// The look-up `type_name`'s schema.
    pub fn lookup_schema(&self, type_name: &str) -> Option<&Schema> {
        self.lookups.get(type_name).map(|(_, s)| s)
    }

    /// The schema of what `address` names: a look-up's for `data.…`, a
    /// resource type's otherwise.
    pub fn schema_at(&self, address: &crate::addr::Address) -> Option<&Schema> {
        match address.is_data() {
            true => self.lookup_schema(address.type_name()),
            false => self.schema(address.type_name()),
        }
    }

    /// The provider that offers look-up `type_name`.
    pub fn lookup_provider_of(&self, type_name: &str) -> Option<&'static str> {
        self.lookups.get(type_name).map(|(p, _)| *p)
    }

    pub fn lookup_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.lookups.keys().copied()
    }

    pub fn lookup_schemas(&self) -> impl Iterator<Item = (&'static str, &Schema)> + '_ {
        self.lookups.values().map(|(p, s)| (*p, s))
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

    /// The `[providers.NAME]` block of the provider that offers look-up
    /// `type_name`.
    pub fn lookup_config_block_of(&self, type_name: &str) -> Option<&'static str> {
        self.provider(self.lookup_provider_of(type_name)?)
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
