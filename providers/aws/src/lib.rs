//! The `aws` provider: the network an EKS cluster needs, the cluster and its
//! node groups, IAM (OIDC provider, IRSA roles, policies), an Amazon Managed
//! Service for Prometheus workspace with its rule groups, managed collector
//! and Alertmanager, EKS access entries, and SNS topics.
//!
//! Credentials, region and endpoints come from the standard aws-config chain
//! (environment, profile, SSO, web identity, instance role;
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`), so a local emulator
//! needs no code here. Throttling is the SDK's job (adaptive retries),
//! except for the calls that create something: those go out once per
//! attempt through [`wait::create_call`], which retries only what certainly
//! had no effect and marks a lost answer as ambiguous, so that the engine
//! asks `recover` for the object instead of making a second one. Eventual
//! consistency and long-running operations are waited out in [`wait`] with
//! bounded backoff. A resource that is gone reads as `Ok(None)`.

mod amp;
mod amp_checks;
mod amp_scraper;
mod attrs;
mod eks;
mod eks_access;
mod eks_node_group;
mod error;
mod iam;
mod iam_role;
mod network;
mod ownership;
pub mod policy;
mod route_table;
mod sns;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use meshmon_provider_sdk::{
    AttrType, Attribute, Configured, Map, Provider, ProviderError, Resource, Schema, Value,
    async_trait,
};
use tokio::sync::OnceCell;

/// The provider as registered with the engine.
pub struct Aws;

/// How often the SDK tries one request before giving up. Adaptive retry
/// mode also slows the client down when AWS throttles it.
const MAX_ATTEMPTS: u32 = 8;

#[async_trait]
impl Provider for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn config_schema(&self) -> Schema {
        Schema::new(
            "aws",
            "Amazon Web Services, through the standard credential and region chain.",
        )
        .attr(
            Attribute::optional("region", AttrType::String).describe(
                "The region, like \"eu-west-1\"; else AWS_REGION or the profile's region.",
            ),
        )
        .attr(
            Attribute::optional("profile", AttrType::String).describe(
                "A named profile from ~/.aws/config; else AWS_PROFILE or the default chain.",
            ),
        )
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        vec![
            network::vpc_schema(),
            network::subnet_schema(),
            network::internet_gateway_schema(),
            route_table::route_table_schema(),
            eks::cluster_schema(),
            eks_node_group::node_group_schema(),
            eks_access::access_entry_schema(),
            eks_access::access_policy_association_schema(),
            iam::oidc_provider_schema(),
            iam_role::role_schema(),
            iam::policy_schema(),
            amp::workspace_schema(),
            amp::rule_groups_namespace_schema(),
            amp_scraper::scraper_schema(),
            amp_scraper::alert_manager_definition_schema(),
            sns::topic_schema(),
            sns::subscription_schema(),
        ]
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        let region = config.get("region").and_then(Value::as_str);
        let profile = config.get("profile").and_then(Value::as_str);
        let sdk = sdk_config(region, profile).await;
        if sdk.region().is_none() {
            return Err(ProviderError::new("no AWS region is configured").with_hint(
                "set `region` under [providers.aws], or AWS_REGION, or a region in your AWS profile",
            ));
        }
        Ok(Arc::new(AwsConfigured {
            clients: Arc::new(Clients::new(&sdk)),
        }))
    }
}

/// Loads the shared SDK configuration the way every AWS tool does, with
/// meshmon's HTTP client, retry and timeout settings.
///
/// The HTTP client is rustls with the `ring` crypto provider: the SDK's
/// default (`aws-lc-rs`) needs cmake and a C toolchain and takes minutes
/// to build on a 2-core machine; ring builds in seconds.
pub async fn sdk_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(
            RetryConfig::adaptive()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// One client per service, built once per configured provider.
pub(crate) struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub amp: aws_sdk_amp::Client,
    pub sns: aws_sdk_sns::Client,
    pub sts: aws_sdk_sts::Client,
    /// The clients for the calls that create something.
    pub create: CreateClients,
    pub region: String,
    /// The caller's account ID and partition, from its ARN.
    caller: OnceCell<(String, String)>,
}

/// The same services with the SDK's retries off, for the one call of each
/// create that makes the object: a retry after a lost answer would make a
/// second VPC or workspace, or turn into "already exists".
/// [`wait::create_call`] sends through these and retries only failures
/// that certainly had no effect. Every other call (tagging, attaching,
/// waiting, reading) uses the retrying clients.
pub(crate) struct CreateClients {
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub amp: aws_sdk_amp::Client,
    pub sns: aws_sdk_sns::Client,
}

impl CreateClients {
    fn new(sdk: &SdkConfig) -> Self {
        CreateClients {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(sdk)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
            eks: aws_sdk_eks::Client::from_conf(
                aws_sdk_eks::config::Builder::from(sdk)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(sdk)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
            amp: aws_sdk_amp::Client::from_conf(
                aws_sdk_amp::config::Builder::from(sdk)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(sdk)
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
        }
    }
}

impl Clients {
    fn new(sdk: &SdkConfig) -> Self {
        Clients {
            ec2: aws_sdk_ec2::Client::new(sdk),
            eks: aws_sdk_eks::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            amp: aws_sdk_amp::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            create: CreateClients::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            caller: OnceCell::new(),
        }
    }

    /// The caller's account ID and partition, asked of STS once.
    async fn caller(&self) -> Result<&(String, String), ProviderError> {
        self.caller
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| error::api("sts:GetCallerIdentity", e))?;
                let account = out.account.ok_or_else(|| {
                    ProviderError::new("sts:GetCallerIdentity returned no account ID")
                })?;
                // arn:PARTITION:sts::ACCOUNT:assumed-role/…
                let partition = out
                    .arn
                    .as_deref()
                    .and_then(|a| a.split(':').nth(1))
                    .filter(|p| !p.is_empty())
                    .unwrap_or("aws")
                    .to_string();
                Ok((account, partition))
            })
            .await
    }

    /// The caller's account ID: an import by name (`grafana-notification`)
    /// or a recovery by name needs it to build the ARN AWS knows.
    pub async fn account_id(&self) -> Result<&str, ProviderError> {
        self.caller().await.map(|(a, _)| a.as_str())
    }

    /// The caller's partition (`aws`, `aws-cn`, `aws-us-gov`), for ARNs
    /// meshmon builds itself.
    pub async fn partition(&self) -> Result<&str, ProviderError> {
        self.caller().await.map(|(_, p)| p.as_str())
    }
}

struct AwsConfigured {
    clients: Arc<Clients>,
}

impl Configured for AwsConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        let c = self.clients.clone();
        Some(match type_name {
            "aws_vpc" => Arc::new(network::Vpc(c)),
            "aws_subnet" => Arc::new(network::Subnet(c)),
            "aws_internet_gateway" => Arc::new(network::InternetGateway(c)),
            "aws_route_table" => Arc::new(route_table::RouteTable(c)),
            "aws_eks_cluster" => Arc::new(eks::Cluster(c)),
            "aws_eks_node_group" => Arc::new(eks_node_group::NodeGroup(c)),
            "aws_eks_access_entry" => Arc::new(eks_access::AccessEntry(c)),
            "aws_eks_access_policy_association" => Arc::new(eks_access::AccessPolicyAssociation(c)),
            "aws_iam_oidc_provider" => Arc::new(iam::OidcProvider(c)),
            "aws_iam_role" => Arc::new(iam_role::Role(c)),
            "aws_iam_policy" => Arc::new(iam::Policy(c)),
            "aws_amp_workspace" => Arc::new(amp::Workspace(c)),
            "aws_amp_rule_groups_namespace" => Arc::new(amp::RuleGroupsNamespace(c)),
            "aws_amp_scraper" => Arc::new(amp_scraper::Scraper(c)),
            "aws_amp_alert_manager_definition" => Arc::new(amp_scraper::AlertManagerDefinition(c)),
            "aws_sns_topic" => Arc::new(sns::Topic(c)),
            "aws_sns_topic_subscription" => Arc::new(sns::Subscription(c)),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_has_a_resource_and_sensible_flags() {
        let schemas = Aws.resource_schemas();
        assert_eq!(schemas.len(), 17);
        for s in &schemas {
            assert!(s.type_name.starts_with("aws_"), "{}", s.type_name);
            let tags = s.get("tags");
            if let Some(t) = tags {
                assert!(
                    !t.force_new,
                    "{}: tags never force a replacement",
                    s.type_name
                );
                assert_eq!(t.ty, AttrType::map_of(AttrType::String));
            }
            for a in &s.attributes {
                assert!(!(a.required && a.computed), "{}.{}", s.type_name, a.name);
            }
        }
    }
}
