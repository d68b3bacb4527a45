//! Resources that need no cloud: `null_resource`, `time_sleep` and
//! `local_file`, and the look-up of a `local_file` that exists. They make the engine testable and benchmarkable on its own,
//! and are useful in real specs (a sleep while IAM settles, a rendered file).

pub(crate) mod checks;
mod local_file;
mod null_resource;
mod time_sleep;

use std::sync::Arc;

use meshmon_provider_sdk::{
    Configured, Map, Provider, ProviderError, Resource, Schema, TypeEntry, Types, async_trait,
};

pub struct Builtin;

#[async_trait]
impl Provider for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn config_schema(&self) -> Schema {
        Schema::new("builtin", "Built-in resources; takes no configuration.")
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        types().schemas()
    }

    fn lookup_schemas(&self) -> Vec<Schema> {
        types().lookup_schemas()
    }

    async fn configure(&self, _config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        Ok(Arc::new(BuiltinConfigured))
    }
}

/// Every built-in type, once: the schemas and the resources both come
/// from this list.
fn types() -> Types<()> {
    Types(vec![
        TypeEntry::declared::<null_resource::NullResource>(),
        TypeEntry::declared::<time_sleep::TimeSleep>(),
        TypeEntry::declared::<local_file::LocalFile>(),
        TypeEntry::lookup::<local_file::FileLookup>(),
    ])
}

struct BuiltinConfigured;

impl Configured for BuiltinConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        types().resource(type_name, &Arc::new(()))
    }

    fn lookup(&self, type_name: &str) -> Option<Arc<dyn meshmon_provider_sdk::Lookup>> {
        types().lookup(type_name, &Arc::new(()))
    }
}

/// A fresh random ID (what Terraform's null provider also hands out).
fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn outputs(pairs: impl IntoIterator<Item = (&'static str, meshmon_provider_sdk::Value)>) -> Map {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_type_is_registered_once_and_declared_soundly() {
        super::types().check().unwrap();
    }
}
