//! Resources that need no cloud: `null_resource`, `time_sleep` and
//! `local_file`. They make the engine testable and benchmarkable on its own,
//! and are useful in real specs (a sleep while IAM settles, a rendered file).

pub(crate) mod checks;
mod local_file;
mod null_resource;
mod time_sleep;

use std::sync::Arc;

use meshmon_provider_sdk::{
    Configured, Map, Provider, ProviderError, Resource, Schema, async_trait,
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
        vec![
            null_resource::schema(),
            time_sleep::schema(),
            local_file::schema(),
        ]
    }

    async fn configure(&self, _config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        Ok(Arc::new(BuiltinConfigured))
    }
}

struct BuiltinConfigured;

impl Configured for BuiltinConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        match type_name {
            "null_resource" => Some(Arc::new(null_resource::NullResource)),
            "time_sleep" => Some(Arc::new(time_sleep::TimeSleep)),
            "local_file" => Some(Arc::new(local_file::LocalFile)),
            _ => None,
        }
    }
}

/// A fresh random ID (what Terraform's null provider also hands out).
fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn outputs(pairs: impl IntoIterator<Item = (&'static str, meshmon_provider_sdk::Value)>) -> Map {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
