//! The `aws` provider: the network an EKS cluster needs, the cluster and its
//! node groups, IAM (OIDC provider, IRSA roles, policies), an Amazon Managed
//! Service for Prometheus workspace with its rule groups, managed collector
//! and Alertmanager, EKS access entries, and SNS topics.
//!
//! The SDK configuration, error mapping, waits, ownership marks, tags and
//! the caller's identity are [`meshmon_aws_common`]'s, shared with the other
//! providers that talk to AWS. Credentials, region and endpoints come from
//! the standard aws-config chain, so a local emulator needs no code here.
//! How many requests of a service run at once follows how it answers
//! ([`meshmon_aws_common::limiter`]); retrying a throttled request is the
//! SDK's job, except for the calls that create something: those go out
//! once per attempt through
//! [`wait::create_call`], which retries only what certainly had no effect
//! and marks a lost answer as ambiguous, so that the engine asks `recover`
//! for the object instead of making a second one. Eventual consistency and
//! long-running operations are waited out with bounded backoff. A resource
//! that is gone reads as `Ok(None)`.

mod amp;
mod amp_checks;
mod amp_roles;
mod amp_scraper;
mod attrs;
mod eks;
mod eks_access;
mod eks_node_group;
mod iam;
mod iam_role;
mod iam_trust;
mod internet_gateway;
mod lint;
mod lookups;
mod network;
pub mod policy;
mod route_table;
mod sns;
#[cfg(test)]
mod testing;
mod wait;

use std::sync::Arc;

use aws_config::SdkConfig;
use meshmon_aws_common::config::AwsBlock;
use meshmon_aws_common::identity::Caller;
use meshmon_aws_common::without_retries;
use meshmon_provider_sdk::{
    Configured, Declaration, Lookup, Map, Provider, ProviderError, Resource, Schema, TypeEntry,
    Types, async_trait,
};

/// The provider as registered with the engine.
pub struct Aws;

#[async_trait]
impl Provider for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn config_schema(&self) -> Schema {
        AwsBlock::schema()
    }

    fn resource_schemas(&self) -> Vec<Schema> {
        types().schemas()
    }

    fn lookup_schemas(&self) -> Vec<Schema> {
        types().lookup_schemas()
    }

    async fn configure(&self, config: &Map) -> Result<Arc<dyn Configured>, ProviderError> {
        let sdk = meshmon_aws_common::config::from_block(config).await?;
        Ok(Arc::new(AwsConfigured {
            clients: Arc::new(Clients::new(&sdk)),
        }))
    }

    /// Every AWS call of the process goes through one set of limiters
    /// (the Grafana control plane's and the S3 state backend's too), so
    /// this provider reports them all.
    fn traffic(&self) -> Vec<meshmon_provider_sdk::Traffic> {
        meshmon_aws_common::limiter::global().traffic()
    }

    fn warning_codes(&self) -> &'static [meshmon_provider_sdk::WarningCode] {
        lint::CODES
    }

    fn facts(&self, resource: &meshmon_provider_sdk::Written<'_>) -> Vec<(&'static str, String)> {
        lint::facts(resource)
    }

    fn lint(
        &self,
        resource: &meshmon_provider_sdk::Written<'_>,
        today: &str,
        facts: &meshmon_provider_sdk::Facts,
    ) -> Vec<meshmon_provider_sdk::Finding> {
        lint::lint(resource, today, facts)
    }
}

/// One client per service, built once per configured provider.
pub(crate) struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub amp: aws_sdk_amp::Client,
    pub sns: aws_sdk_sns::Client,
    /// The clients for the calls that create something.
    pub create: CreateClients,
    pub region: String,
    /// The caller's account and partition, for ARNs meshmon builds itself.
    pub caller: Caller,
}

/// The same services with the SDK's retries off ([`without_retries`]), for
/// the one call of each create that makes the object: a retry after a lost
/// answer would make a second VPC or workspace, or turn into "already
/// exists". [`wait::create_call`] sends through these and retries only
/// failures that certainly had no effect. Every other call (tagging,
/// attaching, waiting, reading) uses the retrying clients.
pub(crate) struct CreateClients {
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub amp: aws_sdk_amp::Client,
    pub sns: aws_sdk_sns::Client,
}

impl CreateClients {
    fn new(sdk: &SdkConfig) -> Self {
        let sdk = without_retries(sdk);
        CreateClients {
            ec2: aws_sdk_ec2::Client::new(&sdk),
            eks: aws_sdk_eks::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            amp: aws_sdk_amp::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
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
            create: CreateClients::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            caller: Caller::new(sdk),
        }
    }
}

/// Every resource type of the provider, once: its schemas and its
/// resources both come from this list.
pub(crate) fn types() -> Types<Clients> {
    Types(vec![
        TypeEntry::declared::<network::Vpc>(),
        TypeEntry::declared::<network::Subnet>(),
        TypeEntry::declared::<internet_gateway::InternetGateway>(),
        TypeEntry::declared::<route_table::RouteTable>(),
        TypeEntry::declared::<eks::Cluster>(),
        TypeEntry::declared::<eks_node_group::NodeGroup>(),
        TypeEntry::declared::<eks_access::AccessEntry>(),
        TypeEntry::declared::<eks_access::AccessPolicyAssociation>(),
        TypeEntry::declared::<iam::OidcProvider>(),
        TypeEntry::declared::<iam_role::Role>(),
        TypeEntry::declared::<iam_trust::Trust>(),
        TypeEntry::declared::<iam::Policy>(),
        TypeEntry::declared::<amp::Workspace>(),
        TypeEntry::declared::<amp::RuleGroupsNamespace>(),
        TypeEntry::declared::<amp_scraper::Scraper>(),
        TypeEntry::declared::<amp_scraper::AlertManagerDefinition>(),
        TypeEntry::declared::<sns::Topic>(),
        TypeEntry::declared::<sns::Subscription>(),
        TypeEntry::lookup::<lookups::CallerIdentity>(),
        TypeEntry::lookup::<lookups::ClusterLookup>(),
        TypeEntry::lookup::<lookups::OidcProviderLookup>(),
        TypeEntry::lookup::<lookups::VpcLookup>(),
        TypeEntry::lookup::<lookups::SubnetsLookup>(),
        TypeEntry::lookup::<lookups::WorkspaceLookup>(),
        TypeEntry::lookup::<lookups::TopicLookup>(),
    ])
}

struct AwsConfigured {
    clients: Arc<Clients>,
}

impl Configured for AwsConfigured {
    fn resource(&self, type_name: &str) -> Option<Arc<dyn Resource>> {
        types().resource(type_name, &self.clients)
    }

    fn lookup(&self, type_name: &str) -> Option<Arc<dyn Lookup>> {
        types().lookup(type_name, &self.clients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshmon_provider_sdk::AttrType;

    #[test]
    fn every_schema_has_a_resource_and_sensible_flags() {
        types().check().unwrap();
        meshmon_provider_sdk::declared::check_block::<AwsBlock>().unwrap();
        let schemas = Aws.resource_schemas();
        assert_eq!(schemas.len(), 18);
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

    #[test]
    fn lookups_are_listed_apart_and_share_their_resources_names() {
        let names: Vec<&str> = Aws.lookup_schemas().iter().map(|s| s.type_name).collect();
        assert_eq!(
            names,
            [
                "aws_caller_identity",
                "aws_eks_cluster",
                "aws_iam_oidc_provider",
                "aws_vpc",
                "aws_subnets",
                "aws_amp_workspace",
                "aws_sns_topic",
            ]
        );
        let resources: Vec<&str> = Aws.resource_schemas().iter().map(|s| s.type_name).collect();
        for s in Aws.lookup_schemas() {
            assert!(!s.description.is_empty(), "{}", s.type_name);
            for a in &s.attributes {
                assert!(!a.description.is_empty(), "{}.{}", s.type_name, a.name);
            }
        }
        // A look-up of a type meshmon also manages is named like it; these
        // two have no resource type (AWS has no object for either).
        for n in names {
            assert!(
                resources.contains(&n) || ["aws_caller_identity", "aws_subnets"].contains(&n),
                "{n}"
            );
        }
    }
}
