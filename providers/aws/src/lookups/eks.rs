//! `aws_eks_cluster` as a look-up: a cluster found by its name, which EKS
//! keeps unique in a region. What it finds has the resource type's
//! attribute names (see `crate::eks`), and the VPC the cluster runs in,
//! which the resource does not record. Names to suggest come from
//! ListClusters only after DescribeCluster found nothing, so a look-up
//! that succeeds costs one call.

use std::sync::Arc;

use aws_sdk_eks::types::Cluster;
use meshmon_aws_common::error::{api, found};
use meshmon_aws_common::tags::{Tags, is_users_tag, tags_from_map};
use meshmon_provider_sdk::lookup::not_found;
use meshmon_provider_sdk::{
    DeclaredLookup, Inputs, Map, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::Clients;
use crate::eks::cluster_outputs;

declare! {
    pub(crate) struct ClusterIn for "aws_eks_cluster" (
        "An existing EKS cluster, found by name in the provider's region (eks:DescribeCluster; \
         eks:ListClusters for the names to suggest when there is none)."
    ) {
        name: String = required(AttrType::String)
            .describe("The cluster's name, unique in its region.");
    }
    outputs ClusterOut {
        id: String = computed(AttrType::String).describe("The cluster's name.");
        arn: Option<String> = computed(AttrType::String).describe("The cluster's ARN.");
        version: Option<String> = computed(AttrType::String)
            .describe("The Kubernetes version, like \"1.33\".");
        role_arn: Option<String> = computed(AttrType::String)
            .describe("The IAM role the control plane runs as.");
        vpc_id: Option<String> = computed(AttrType::String)
            .describe("The VPC the cluster runs in.");
        subnet_ids: Option<Vec<String>> = computed(AttrType::list_of(AttrType::String))
            .describe("The subnets the control plane's network interfaces are in.");
        security_group_ids: Option<Vec<String>> = computed(AttrType::list_of(AttrType::String))
            .describe("The security groups given at creation (not the one EKS made: see cluster_security_group_id).");
        cluster_security_group_id: Option<String> = computed(AttrType::String)
            .describe("The security group EKS made for the control plane and managed nodes.");
        endpoint_public_access: Option<bool> = computed(AttrType::Bool)
            .describe("Whether the API server is reachable from the internet.");
        endpoint_private_access: Option<bool> = computed(AttrType::Bool)
            .describe("Whether the API server is reachable from inside the VPC (the AMP managed collector needs it).");
        access_config: Option<Value> = computed(AttrType::map_of(AttrType::Any)).describe(
            "{ authentication_mode, bootstrap_cluster_creator_admin_permissions }: how the cluster \
             authenticates IAM principals (CONFIG_MAP, API_AND_CONFIG_MAP or API; CONFIG_MAP when \
             EKS does not say, as for clusters older than access entries); the second key only when EKS reports it.",
        );
        enabled_log_types: Option<Vec<String>> = computed(AttrType::list_of(AttrType::String))
            .describe("Control-plane logs sent to CloudWatch, sorted.");
        endpoint: Option<String> = computed(AttrType::String).describe("The API server URL.");
        certificate_authority: Option<String> = computed(AttrType::String)
            .describe("The cluster CA, base64-encoded PEM.");
        oidc_issuer: Option<String> = computed(AttrType::String)
            .describe("The OIDC issuer URL, for aws_iam_oidc_provider.");
        status: Option<String> = computed(AttrType::String)
            .describe("CREATING, ACTIVE, UPDATING, DELETING or FAILED.");
        platform_version: Option<String> = computed(AttrType::String)
            .describe("The EKS platform version, like \"eks.5\".");
        tags: Tags = computed(AttrType::map_of(AttrType::String))
            .describe("The cluster's tags, without `aws:` and `meshmon:` ones.");
    }
}

pub(crate) struct ClusterLookup(Arc<Clients>);

/// `access_config` as the resource writes it. EKS leaves the mode out for
/// clusters that predate access entries, which authenticate through the
/// aws-auth ConfigMap only; the resource reads it the same way.
fn access_config(c: &Cluster) -> Value {
    let live = c.access_config();
    let mode = live
        .and_then(|a| a.authentication_mode())
        .map(|m| m.as_str())
        .unwrap_or("CONFIG_MAP");
    let mut m = Map::new();
    m.insert("authentication_mode".into(), Value::from(mode));
    if let Some(b) = live.and_then(|a| a.bootstrap_cluster_creator_admin_permissions()) {
        m.insert(
            "bootstrap_cluster_creator_admin_permissions".into(),
            Value::Bool(b),
        );
    }
    Value::Map(m)
}

fn enabled_log_types(c: &Cluster) -> Option<Vec<String>> {
    let logging = c.logging()?;
    let mut on: Vec<String> = logging
        .cluster_logging()
        .iter()
        .filter(|s| s.enabled().unwrap_or(false))
        .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
        .collect();
    on.sort();
    on.dedup();
    Some(on)
}

fn outputs(name: &str, c: &Cluster) -> ClusterOut {
    let described = cluster_outputs(name, Some(c));
    let vpc = c.resources_vpc_config();
    ClusterOut {
        id: described.id,
        arn: described.arn,
        version: described.version,
        role_arn: c.role_arn().map(str::to_string),
        vpc_id: vpc.and_then(|v| v.vpc_id()).map(str::to_string),
        subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()),
        security_group_ids: vpc.map(|v| v.security_group_ids().to_vec()),
        cluster_security_group_id: described.cluster_security_group_id,
        endpoint_public_access: vpc.map(|v| v.endpoint_public_access()),
        endpoint_private_access: vpc.map(|v| v.endpoint_private_access()),
        access_config: Some(access_config(c)),
        enabled_log_types: enabled_log_types(c),
        endpoint: described.endpoint,
        certificate_authority: described.certificate_authority,
        oidc_issuer: described.oidc_issuer,
        status: described.status,
        platform_version: described.platform_version,
        tags: tags_from_map(c.tags())
            .into_iter()
            .filter(|(k, _)| is_users_tag(k))
            .collect(),
    }
}

#[async_trait]
impl DeclaredLookup for ClusterLookup {
    type Inputs = ClusterIn;
    type Outputs = ClusterOut;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        ClusterLookup(clients)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, ClusterIn>,
    ) -> Result<ClusterOut, ProviderError> {
        let eks = &self.0.eks;
        let described = found(
            "eks:DescribeCluster",
            eks.describe_cluster().name(&i.name).send().await,
        )?;
        if let Some(c) = described.and_then(|o| o.cluster) {
            return Ok(outputs(&i.name, &c));
        }
        let names: Vec<String> = eks
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api("eks:ListClusters", e))?;
        Err(not_found(
            "EKS cluster",
            &[("name", &Value::from(i.name.as_str()))],
            &i.name,
            names,
        ))
    }
}
