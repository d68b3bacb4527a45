//! Two providers for Grafana, in one crate because they share a purpose but
//! not a configuration:
//!
//! - `amg` ([`Amg`]): the Amazon Managed Grafana control plane through
//!   aws-sdk-grafana — `aws_grafana_workspace`, `aws_grafana_role_association`,
//!   `aws_grafana_service_account` and `aws_grafana_service_account_token`,
//!   and the `aws_grafana_workspace` look-up. It reads the `[providers.aws]`
//!   block, like every other AWS service.
//! - `grafana` ([`Grafana`]): what lives inside a Grafana — folders, data
//!   sources, dashboards, contact points and alert rules — through the
//!   Grafana HTTP API with reqwest.
//!
//! They must be two: the `grafana` provider's `url` and `auth` usually refer
//! to an AMG workspace and a service-account token, which the `amg`
//! provider creates. One provider whose configuration depended on its own
//! resources would be a cycle; two let the engine create the workspace and
//! the token first and configure `grafana` mid-apply.

mod amg;
mod amg_access;
mod amg_lookup;
mod amg_token;
mod amg_workspace;
mod attrs;
mod client;
mod grafana_alert_rule;
mod grafana_contact_point;
mod grafana_dashboard;
mod grafana_data_source;
mod grafana_folder;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use aws_config::SdkConfig;
use meshmon_aws_common::config::AwsBlock;
use meshmon_provider_sdk::attrs::typed;
use meshmon_provider_sdk::{
    Configured, Declaration, Lookup, Map, Provider, ProviderError, Resource, Schema, TypeEntry,
    Types, async_trait, declare,
};

pub use amg_token::renewal_margin;

/// The Amazon Managed Grafana control plane, configured from `[providers.aws]`.
pub struct Amg;

#[async_trait]
impl Provider for Amg {
    fn name(&self) -> &'static str {
        "amg"
    }

    fn config_block(&self) -> &'static str {
        "aws"
    }

    /// The block the `aws` provider reads too, declared once in
    /// `meshmon_aws_common::config`.
    fn config_schema(&self) -> Schema {
        AwsBlock::schema()
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        amg_types().schemas()
    }

    fn lookup_schemas(&self) -> Vec<Schema> {
        amg_types().lookup_schemas()
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        let sdk = meshmon_aws_common::config::from_block(config).await?;
        Ok(amg_configured(&sdk))
    }
}

/// The `amg` provider's resources over an SDK configuration made elsewhere
/// (tests point one at a local endpoint without touching the environment).
pub fn amg_configured(sdk: &SdkConfig) -> Arc<dyn Configured> {
    Arc::new(AmgConfigured(Arc::new(amg::Clients::new(sdk))))
}

/// Every resource type and look-up of the `amg` provider, once: their
/// schemas and their operations all come from this list.
fn amg_types() -> Types<amg::Clients> {
    Types(vec![
        TypeEntry::declared::<amg_workspace::Workspace>(),
        TypeEntry::declared::<amg_access::RoleAssociation>(),
        TypeEntry::declared::<amg_access::ServiceAccount>(),
        // Its read keeps the recorded key, which AMG shows only once.
        TypeEntry::declared::<amg_token::Token>(),
        TypeEntry::lookup::<amg_lookup::WorkspaceLookup>(),
    ])
}

struct AmgConfigured(Arc<amg::Clients>);

impl Configured for AmgConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        amg_types().resource(type_name, &self.0)
    }

    fn lookup(&self, type_name: &str) -> Option<Arc<dyn Lookup>> {
        amg_types().lookup(type_name, &self.0)
    }
}

/// A Grafana reached through its HTTP API: an AMG workspace or any other.
pub struct Grafana;

declare! {
    /// The `[providers.grafana]` block. A block left out is configured
    /// empty, and the client then says what is missing.
    pub struct GrafanaBlock for "grafana" ("A Grafana instance, through its HTTP API.") {
        #[serde(default)]
        url: String = required(AttrType::String).describe(
            "The Grafana root URL, like \"https://${aws_grafana_workspace.main.endpoint}\".",
        );
        #[serde(default)]
        auth: String = required(AttrType::String).sensitive().describe(
            "A service-account token or API key (sent as a bearer token), or \"user:password\".",
        );
    }
}

#[async_trait]
impl Provider for Grafana {
    fn name(&self) -> &'static str {
        "grafana"
    }

    fn config_schema(&self) -> Schema {
        GrafanaBlock::schema()
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        grafana_types().schemas()
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        let block: GrafanaBlock = typed(config)?;
        let client = client::Client::new(&block.url, &block.auth)?;
        Ok(Arc::new(GrafanaConfigured(Arc::new(client))))
    }
}

/// Every resource type of the `grafana` provider, once: its schemas and
/// its resources both come from this list.
fn grafana_types() -> Types<client::Client> {
    Types(vec![
        TypeEntry::declared::<grafana_folder::Folder>(),
        TypeEntry::declared::<grafana_data_source::DataSource>(),
        // Its read compares with the recorded content hash.
        TypeEntry::declared::<grafana_dashboard::Dashboard>(),
        // Its read matches receivers to the recorded uids.
        TypeEntry::declared::<grafana_contact_point::ContactPoint>(),
        TypeEntry::declared::<grafana_alert_rule::AlertRule>(),
    ])
}

struct GrafanaConfigured(Arc<client::Client>);

impl Configured for GrafanaConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        grafana_types().resource(type_name, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_has_a_resource_and_sensible_flags() {
        amg_types().check().unwrap();
        grafana_types().check().unwrap();
        meshmon_provider_sdk::declared::check_block::<GrafanaBlock>().unwrap();
        assert!(Grafana.config_schema().get("auth").unwrap().sensitive);
        for (provider, prefix) in [
            (&Amg as &dyn Provider, "aws_grafana_"),
            (&Grafana, "grafana_"),
        ] {
            for s in provider.resource_schemas() {
                assert!(s.type_name.starts_with(prefix), "{}", s.type_name);
                assert!(
                    s.get("id").is_some_and(|a| a.is_output_only()),
                    "{}",
                    s.type_name
                );
                for a in &s.attributes {
                    assert!(!(a.required && a.computed), "{}.{}", s.type_name, a.name);
                    assert!(
                        !(a.force_new && a.is_output_only()),
                        "{}.{}",
                        s.type_name,
                        a.name
                    );
                }
            }
        }
        let lookups: Vec<_> = Amg.lookup_schemas().iter().map(|s| s.type_name).collect();
        assert_eq!(lookups, ["aws_grafana_workspace"]);
        assert!(Grafana.lookup_schemas().is_empty());
        let token = <amg_token::TokenIn as meshmon_provider_sdk::Declaration>::schema();
        assert!(token.get("key").unwrap().sensitive);
        assert!(!token.get("renew_before").unwrap().force_new);
    }
}
