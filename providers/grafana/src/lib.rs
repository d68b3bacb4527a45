//! Two providers for Grafana, in one crate because they share a purpose but
//! not a configuration:
//!
//! - `amg` ([`Amg`]): the Amazon Managed Grafana control plane through
//!   aws-sdk-grafana — `aws_grafana_workspace`, `aws_grafana_role_association`,
//!   `aws_grafana_service_account` and `aws_grafana_service_account_token`.
//!   It reads the `[providers.aws]` block, like every other AWS service.
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
mod amg_token;
mod amg_workspace;
mod attrs;
mod client;
mod grafana_alert_rule;
mod grafana_contact_point;
mod grafana_dashboard;
mod grafana_data_source;
mod grafana_folder;

use std::sync::Arc;

use aws_config::SdkConfig;
use meshmon_provider_sdk::{
    AttrType, Attribute, Configured, Map, Provider, ProviderError, Resource, Schema, Value,
    async_trait,
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

    // The `aws` provider owns the block's schema (it is registered first);
    // this one only says which keys it reads.
    fn config_schema(&self) -> Schema {
        Schema::new(
            "aws",
            "Amazon Managed Grafana reads the `[providers.aws]` block.",
        )
        .attr(Attribute::optional("region", AttrType::String))
        .attr(Attribute::optional("profile", AttrType::String))
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        vec![
            amg_workspace::schema(),
            amg_access::role_association_schema(),
            amg_access::service_account_schema(),
            amg_token::schema(),
        ]
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

struct AmgConfigured(Arc<amg::Clients>);

impl Configured for AmgConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        let c = self.0.clone();
        Some(match type_name {
            "aws_grafana_workspace" => Arc::new(amg_workspace::Workspace(c)),
            "aws_grafana_role_association" => Arc::new(amg_access::RoleAssociation(c)),
            "aws_grafana_service_account" => Arc::new(amg_access::ServiceAccount(c)),
            "aws_grafana_service_account_token" => Arc::new(amg_token::Token(c)),
            _ => return None,
        })
    }
}

/// A Grafana reached through its HTTP API: an AMG workspace or any other.
pub struct Grafana;

#[async_trait]
impl Provider for Grafana {
    fn name(&self) -> &'static str {
        "grafana"
    }

    fn config_schema(&self) -> Schema {
        Schema::new("grafana", "A Grafana instance, through its HTTP API.")
            .attr(Attribute::required("url", AttrType::String).describe(
                "The Grafana root URL, like \"https://${aws_grafana_workspace.main.endpoint}\".",
            ))
            .attr(
                Attribute::required("auth", AttrType::String)
                    .sensitive()
                    .describe(
                        "A service-account token or API key (sent as a bearer token), or \"user:password\".",
                    ),
            )
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        vec![
            grafana_folder::schema(),
            grafana_data_source::schema(),
            grafana_dashboard::schema(),
            grafana_contact_point::schema(),
            grafana_alert_rule::schema(),
        ]
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        let url = config
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let auth = config
            .get("auth")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let client = client::Client::new(url, auth)?;
        Ok(Arc::new(GrafanaConfigured(Arc::new(client))))
    }
}

struct GrafanaConfigured(Arc<client::Client>);

impl Configured for GrafanaConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        let c = self.0.clone();
        Some(match type_name {
            "grafana_folder" => Arc::new(grafana_folder::Folder(c)),
            "grafana_data_source" => Arc::new(grafana_data_source::DataSource(c)),
            "grafana_dashboard" => Arc::new(grafana_dashboard::Dashboard(c)),
            "grafana_contact_point" => Arc::new(grafana_contact_point::ContactPoint(c)),
            "grafana_alert_rule" => Arc::new(grafana_alert_rule::AlertRule(c)),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_has_a_resource_and_sensible_flags() {
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
        let token = amg_token::schema();
        assert!(token.get("key").unwrap().sensitive);
        assert!(!token.get("renew_before").unwrap().force_new);
    }
}
