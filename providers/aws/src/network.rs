//! The network an EKS cluster runs in, as eksctl would make it: `aws_vpc`,
//! `aws_subnet` (with the tags EKS looks for when it places load
//! balancers), `aws_internet_gateway` (`internet_gateway.rs`) and
//! `aws_route_table` (`route_table.rs`) with its routes
//! and subnet associations. Deletes retry `DependencyViolation` for a while:
//! ENIs that EKS leaves behind take minutes to go, and "a VPC can't be
//! deleted while it still has subnets" is eventually true, not at once.
//!
//! EC2 keeps none of these names unique, so each create tags its object
//! with its marks (see [`meshmon_aws_common::ownership`]) and `recover` finds it by
//! them, with a Describe call filtered on those tags.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification, VpcAttributeName,
};
use meshmon_aws_common::error::{NO_HINT, api, found, gone_ok};
use meshmon_aws_common::ownership::{creation_tags, only_one, required_marks};
use meshmon_aws_common::tags::{self, Tags, TagsExt, tags_attr, tags_of};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

use crate::Clients;
use crate::attrs::{Attrs, answered, typed};
use crate::wait;

pub(crate) fn spec(rt: ResourceType, tags: &Tags) -> Option<TagSpecification> {
    (!tags.is_empty()).then(|| {
        TagSpecification::builder()
            .resource_type(rt)
            .set_tags(Some(ec2_tags(tags)))
            .build()
    })
}

pub(crate) fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn tags_from(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            // A tag without a value is one whose value is empty.
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Applies a tag change to any EC2 object.
pub(crate) async fn retag(
    c: &Clients,
    id: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let keys = |remove: Vec<String>| {
        remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect()
    };
    tags::retag(
        NO_HINT,
        old,
        new,
        ("ec2:CreateTags", |set| {
            Ok(c.ec2
                .create_tags()
                .resources(id)
                .set_tags(Some(ec2_tags(&set)))
                .send())
        }),
        ("ec2:DeleteTags", |remove| {
            Ok(c.ec2
                .delete_tags()
                .resources(id)
                .set_tags(Some(keys(remove)))
                .send())
        }),
    )
    .await
}

/// Describe filters that match only the object this create made: one
/// `tag:KEY` filter per mark.
pub(crate) fn made_by_filters(ctx: &OpContext) -> Result<Vec<Filter>, ProviderError> {
    Ok(required_marks(ctx)?
        .into_iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
        .collect())
}

/// The one object of `kind` that a create with `ctx`'s marks made, with
/// its ID, if EC2 lists it within [`wait::RECOVER_SETTLE`]. `list` sends
/// the Describe call (`operation`) with the marks' filters.
pub(crate) async fn find_marked<T, F, Fut>(
    ctx: &OpContext,
    operation: &str,
    kind: &str,
    id_of: fn(&T) -> Option<&str>,
    list: F,
) -> Result<Option<(String, T)>, ProviderError>
where
    F: Fn(Vec<Filter>) -> Fut,
    Fut: Future<Output = Result<Option<Vec<T>>, ProviderError>>,
{
    let filters = made_by_filters(ctx)?;
    let found = wait::find_settled(wait::RECOVER_SETTLE, || async {
        // No list in the answer: nothing carries the marks.
        let listed = list(filters.clone()).await?.unwrap_or_default();
        only_one(ctx, kind, listed, |t| listed_id(id_of(t)))
    })
    .await?;
    match found {
        Some(t) => {
            let id = answered(operation, &format!("{kind} ID"), id_of(&t))?.to_string();
            Ok(Some((id, t)))
        }
        None => Ok(None),
    }
}

pub(crate) fn dependency_violation(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("DependencyViolation")
}

/// The object's ARN, when EC2 names its owner (the account in it).
pub(crate) fn arn(c: &Clients, owner: Option<&str>, kind: &str, id: &str) -> Option<String> {
    owner.map(|owner| format!("arn:aws:ec2:{}:{owner}:{kind}/{id}", c.region))
}

/// An object's ID for the error that lists what a lookup found.
pub(crate) fn listed_id(id: Option<&str>) -> String {
    id.unwrap_or("(no ID)").to_string()
}

// ---------------------------------------------------------------- aws_vpc

declare! {
    pub(crate) struct VpcIn for "aws_vpc" ("A VPC for the cluster.") {
        cidr_block: String = required(AttrType::String)
            .force_new()
            .describe("IPv4 range, like \"192.168.0.0/16\".");
        enable_dns_support: Option<bool> = optional(AttrType::Bool)
            .default(true)
            .describe("Amazon DNS in the VPC (EKS needs it).");
        enable_dns_hostnames: Option<bool> = optional(AttrType::Bool)
            .default(true)
            .describe("DNS names for instances (EKS needs it).");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs VpcOut {
        id: String = computed(AttrType::String).describe("The VPC ID.");
        arn: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct Vpc(Arc<Clients>);

/// What a VPC changes in place: one attribute per call, as EC2 takes them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum VpcUpdate {
    DnsSupport,
    DnsHostnames,
    Tags,
}

impl Vpc {
    async fn set_dns(
        &self,
        id: &str,
        support: Option<bool>,
        hostnames: Option<bool>,
    ) -> Result<(), ProviderError> {
        // One attribute per call: the API rejects both at once.
        if let Some(v) = support {
            let b = AttributeBooleanValue::builder().value(v).build();
            self.0
                .ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_support(b)
                .send()
                .await
                .map_err(|e| api("ec2:ModifyVpcAttribute", e))?;
        }
        if let Some(v) = hostnames {
            let b = AttributeBooleanValue::builder().value(v).build();
            self.0
                .ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_hostnames(b)
                .send()
                .await
                .map_err(|e| api("ec2:ModifyVpcAttribute", e))?;
        }
        Ok(())
    }

    /// A DNS attribute of the VPC; `None` when the VPC is gone or the
    /// answer does not say.
    async fn dns(&self, id: &str, name: VpcAttributeName) -> Result<Option<bool>, ProviderError> {
        let out = self
            .0
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(name.clone())
            .send()
            .await;
        let Some(out) = found("ec2:DescribeVpcAttribute", out)? else {
            return Ok(None);
        };
        Ok(match name {
            VpcAttributeName::EnableDnsHostnames => {
                out.enable_dns_hostnames().and_then(|b| b.value())
            }
            _ => out.enable_dns_support().and_then(|b| b.value()),
        })
    }

    /// What a create does once the VPC exists: the DNS attributes, then the
    /// outputs. Setting them again is harmless, so a recovery runs it too.
    async fn finish(
        &self,
        i: &Inputs<'_, VpcIn>,
        id: &str,
        vpc: &aws_sdk_ec2::types::Vpc,
    ) -> Result<VpcOut, ProviderError> {
        let outputs = VpcOut {
            id: id.into(),
            arn: arn(&self.0, vpc.owner_id(), "vpc", id),
        };
        // A new VPC has DNS support on and hostnames off; set what differs.
        self.set_dns(
            id,
            i.enable_dns_support.filter(|v| !v),
            i.enable_dns_hostnames.filter(|v| *v),
        )
        .await
        .map_err(|e| e.with_partial(i.partial(outputs.clone())))?;
        Ok(outputs)
    }
}

#[async_trait]
impl Declared for Vpc {
    type Inputs = VpcIn;
    type Outputs = VpcOut;
    type Client = Clients;
    type Group = VpcUpdate;
    const UPDATES: &'static [UpdateGroup<VpcUpdate>] = &[
        (VpcUpdate::DnsSupport, &["enable_dns_support"]),
        (VpcUpdate::DnsHostnames, &["enable_dns_hostnames"]),
        (VpcUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Vpc(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<VpcOut>>, ProviderError> {
        let out = found(
            "ec2:DescribeVpcs",
            self.0.ec2.describe_vpcs().vpc_ids(id).send().await,
        )?;
        // No list is no VPC.
        let Some(vpc) = out.and_then(|o| o.vpcs.unwrap_or_default().into_iter().next()) else {
            return Ok(None);
        };
        let support = self.dns(id, VpcAttributeName::EnableDnsSupport).await?;
        let hostnames = self.dns(id, VpcAttributeName::EnableDnsHostnames).await?;
        let inputs = Attrs::new()
            .opt("cidr_block", vpc.cidr_block())
            .opt("enable_dns_support", support)
            .opt("enable_dns_hostnames", hostnames)
            .tags(prior, tags_from(vpc.tags()))
            .build();
        let outputs = VpcOut {
            id: id.into(),
            arn: arn(&self.0, vpc.owner_id(), "vpc", id),
        };
        Ok(Some(Current::new(inputs, outputs)))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, VpcIn>,
    ) -> Result<VpcOut, ProviderError> {
        let tags = spec(ResourceType::Vpc, &creation_tags(ctx, &i.tags)).map(|s| vec![s]);
        let out = wait::create_call(ctx, "ec2:CreateVpc", || {
            self.0
                .create
                .ec2
                .create_vpc()
                .cidr_block(&i.cidr_block)
                .set_tag_specifications(tags.clone())
                .send()
        })
        .await?;
        let vpc = out
            .vpc
            .ok_or_else(|| ProviderError::new("ec2:CreateVpc returned no VPC"))?;
        let id = answered("ec2:CreateVpc", "VPC ID", vpc.vpc_id()).map_err(|e| e.ambiguous())?;
        self.finish(i, id, &vpc).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, VpcIn>,
    ) -> Result<Option<VpcOut>, ProviderError> {
        let found = find_marked(
            ctx,
            "ec2:DescribeVpcs",
            "VPC",
            aws_sdk_ec2::types::Vpc::vpc_id,
            |filters| async {
                self.0
                    .ec2
                    .describe_vpcs()
                    .set_filters(Some(filters))
                    .send()
                    .await
                    .map(|o| o.vpcs)
                    .map_err(|e| api("ec2:DescribeVpcs", e))
            },
        )
        .await?;
        match found {
            Some((id, vpc)) => self.finish(i, &id, &vpc).await.map(Some),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: VpcUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, VpcIn>,
    ) -> Result<Option<VpcOut>, ProviderError> {
        match group {
            VpcUpdate::DnsSupport => {
                self.set_dns(id, Some(i.enable_dns_support.unwrap_or(true)), None)
                    .await?
            }
            VpcUpdate::DnsHostnames => {
                self.set_dns(id, None, Some(i.enable_dns_hostnames.unwrap_or(true)))
                    .await?
            }
            VpcUpdate::Tags => retag(&self.0, id, &tags_of(&prior.inputs, "tags"), &i.tags).await?,
        }
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        wait::retry_transient(ctx, wait::SHORT * 2, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteVpc",
                self.0.ec2.delete_vpc().vpc_id(id).send().await,
            )
        })
        .await
    }
}

// ------------------------------------------------------------- aws_subnet

const ELB_TAG: &str = "kubernetes.io/role/elb";
const INTERNAL_ELB_TAG: &str = "kubernetes.io/role/internal-elb";

declare! {
    pub(crate) struct SubnetIn for "aws_subnet" ("A subnet of a VPC.") {
        vpc_id: String = required(AttrType::String).force_new();
        cidr_block: String = required(AttrType::String).force_new();
        availability_zone: Option<String> = optional(AttrType::String)
            .and_computed()
            .force_new()
            .describe("Like \"eu-west-1a\"; AWS picks one if left out.");
        #[serde(default)]
        map_public_ip_on_launch: bool = optional(AttrType::Bool)
            .default(false)
            .describe("Give instances a public IP (public subnets).");
        load_balancer_role: Option<String> = optional(AttrType::String)
            .check(load_balancer_role)
            .describe("\"public\" or \"internal\": adds the tag EKS looks for when it places load balancers (kubernetes.io/role/elb or kubernetes.io/role/internal-elb).");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs SubnetOut {
        id: String = computed(AttrType::String).describe("The subnet ID.");
        arn: Option<String> = computed(AttrType::String);
        availability_zone: Option<String>;
    }
}

pub(crate) struct Subnet(Arc<Clients>);

/// The check of `load_balancer_role` in `validate` and `plan`.
fn load_balancer_role(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some("public" | "internal") => Ok(()),
        _ => Err("is neither \"public\" nor \"internal\"".into()),
    }
}

/// What a subnet changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SubnetUpdate {
    PublicIp,
    /// The role is a tag: one tag change sets both.
    Tags,
}

impl SubnetIn {
    /// The user's tags plus the one `load_balancer_role` asks for.
    fn all_tags(&self) -> Result<Tags, ProviderError> {
        let mut t = self.tags.clone();
        match self.load_balancer_role.as_deref() {
            None => {}
            Some("public") => {
                t.insert(ELB_TAG.into(), "1".into());
            }
            Some("internal") => {
                t.insert(INTERNAL_ELB_TAG.into(), "1".into());
            }
            Some(other) => {
                return Err(ProviderError::new(format!(
                    "load_balancer_role {other:?} is not \"public\" or \"internal\""
                )));
            }
        }
        Ok(t)
    }
}

impl Subnet {
    /// The subnet's ARN: EC2's, or made from its owner.
    fn arn_of(&self, s: &aws_sdk_ec2::types::Subnet, id: &str) -> Option<String> {
        s.subnet_arn()
            .map(str::to_string)
            .or_else(|| arn(&self.0, s.owner_id(), "subnet", id))
    }

    /// What a create does once the subnet exists: public IPs on launch if
    /// asked for, then the outputs. A recovery runs it too.
    async fn finish(
        &self,
        i: &Inputs<'_, SubnetIn>,
        id: &str,
        s: &aws_sdk_ec2::types::Subnet,
    ) -> Result<SubnetOut, ProviderError> {
        let outputs = SubnetOut {
            id: id.into(),
            arn: self.arn_of(s, id),
            availability_zone: s.availability_zone().map(str::to_string),
        };
        if i.map_public_ip_on_launch {
            self.set_public_ip(id, true)
                .await
                .map_err(|e| e.with_partial(i.partial(outputs.clone())))?;
        }
        Ok(outputs)
    }

    async fn set_public_ip(&self, id: &str, v: bool) -> Result<(), ProviderError> {
        let b = AttributeBooleanValue::builder().value(v).build();
        self.0
            .ec2
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(b)
            .send()
            .await
            .map_err(|e| api("ec2:ModifySubnetAttribute", e))?;
        Ok(())
    }
}

#[async_trait]
impl Declared for Subnet {
    type Inputs = SubnetIn;
    type Outputs = SubnetOut;
    type Client = Clients;
    type Group = SubnetUpdate;
    const UPDATES: &'static [UpdateGroup<SubnetUpdate>] = &[
        (SubnetUpdate::PublicIp, &["map_public_ip_on_launch"]),
        (SubnetUpdate::Tags, &["load_balancer_role", "tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Subnet(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<SubnetOut>>, ProviderError> {
        let out = found(
            "ec2:DescribeSubnets",
            self.0.ec2.describe_subnets().subnet_ids(id).send().await,
        )?;
        // No list is no subnet.
        let Some(s) = out.and_then(|o| o.subnets.unwrap_or_default().into_iter().next()) else {
            return Ok(None);
        };
        let mut tags = tags_from(s.tags());
        // The load-balancer tag is reported as the role when the user set
        // the role, and as a plain tag when they wrote it as one.
        let mut role = None;
        // An import (no prior) takes the role view too.
        if prior.contains_key("load_balancer_role") || prior.is_empty() {
            if tags.remove(ELB_TAG).is_some() {
                role = Some("public");
            } else if tags.remove(INTERNAL_ELB_TAG).is_some() {
                role = Some("internal");
            }
        }
        let inputs = Attrs::new()
            .opt("vpc_id", s.vpc_id())
            .opt("cidr_block", s.cidr_block())
            .opt("availability_zone", s.availability_zone())
            .opt("map_public_ip_on_launch", s.map_public_ip_on_launch())
            .opt("load_balancer_role", role)
            .tags(prior, tags)
            .build();
        let outputs = SubnetOut {
            id: id.into(),
            arn: self.arn_of(&s, id),
            availability_zone: None,
        };
        Ok(Some(Current::new(inputs, outputs)))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, SubnetIn>,
    ) -> Result<SubnetOut, ProviderError> {
        let tags = spec(ResourceType::Subnet, &creation_tags(ctx, &i.all_tags()?)).map(|s| vec![s]);
        let out = wait::create_call(ctx, "ec2:CreateSubnet", || {
            self.0
                .create
                .ec2
                .create_subnet()
                .vpc_id(&i.vpc_id)
                .cidr_block(&i.cidr_block)
                .set_availability_zone(i.availability_zone.clone())
                .set_tag_specifications(tags.clone())
                .send()
        })
        .await?;
        let s = out
            .subnet
            .ok_or_else(|| ProviderError::new("ec2:CreateSubnet returned no subnet"))?;
        let id =
            answered("ec2:CreateSubnet", "subnet ID", s.subnet_id()).map_err(|e| e.ambiguous())?;
        self.finish(i, id, &s).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, SubnetIn>,
    ) -> Result<Option<SubnetOut>, ProviderError> {
        let found = find_marked(
            ctx,
            "ec2:DescribeSubnets",
            "subnet",
            aws_sdk_ec2::types::Subnet::subnet_id,
            |filters| async {
                self.0
                    .ec2
                    .describe_subnets()
                    .set_filters(Some(filters))
                    .send()
                    .await
                    .map(|o| o.subnets)
                    .map_err(|e| api("ec2:DescribeSubnets", e))
            },
        )
        .await?;
        match found {
            Some((id, s)) => self.finish(i, &id, &s).await.map(Some),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: SubnetUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, SubnetIn>,
    ) -> Result<Option<SubnetOut>, ProviderError> {
        let old: SubnetIn = typed(&prior.inputs)?;
        match group {
            SubnetUpdate::PublicIp => {
                if old.map_public_ip_on_launch != i.map_public_ip_on_launch {
                    self.set_public_ip(id, i.map_public_ip_on_launch).await?;
                }
            }
            SubnetUpdate::Tags => retag(&self.0, id, &old.all_tags()?, &i.all_tags()?).await?,
        }
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        wait::retry_transient(ctx, wait::SHORT * 2, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteSubnet",
                self.0.ec2.delete_subnet().subnet_id(id).send().await,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_provider_sdk::Value;
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    const EC2: &str = "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"";

    #[tokio::test]
    async fn a_vpc_create_tags_it_with_its_marks_then_turns_dns_hostnames_on() {
        let (replay, c) = clients([
            Answer::ok(&format!(
                "<CreateVpcResponse {EC2}><requestId>r</requestId><vpc><vpcId>vpc-1</vpcId>\
                 <ownerId>123456789012</ownerId><cidrBlock>10.0.0.0/16</cidrBlock></vpc></CreateVpcResponse>"
            )),
            Answer::ok(&format!(
                "<ModifyVpcAttributeResponse {EC2}><requestId>r</requestId><return>true</return>\
                 </ModifyVpcAttributeResponse>"
            )),
        ]);
        let raw = inputs(json!({
            "cidr_block": "10.0.0.0/16",
            "enable_dns_support": true,
            "enable_dns_hostnames": true,
            "tags": {"Name": "main"},
        }));
        let out = Vpc::new(c)
            .create(&creating("aws_vpc.main"), &Inputs::decode(&raw).unwrap())
            .await
            .unwrap();
        assert_eq!(
            out,
            VpcOut {
                id: "vpc-1".into(),
                arn: Some("arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1".into()),
            }
        );
        let sent = replay.sent();
        assert_eq!(sent[0].action(), "CreateVpc");
        assert_eq!(sent[0].form()["CidrBlock"], "10.0.0.0/16");
        let tags = sent[0].form_under("TagSpecification.1.");
        assert_eq!(tags["ResourceType"], "vpc");
        let values: Vec<&str> = tags.values().map(String::as_str).collect();
        for v in [
            "Name",
            "main",
            "meshmon:lineage",
            "L1",
            "meshmon:token",
            "t-1",
        ] {
            assert!(values.contains(&v), "{v} in {tags:?}");
        }
        // Support is on in a new VPC: only hostnames are set.
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].action(), "ModifyVpcAttribute");
        assert_eq!(sent[1].form()["EnableDnsHostnames.Value"], "true");
    }

    #[tokio::test]
    async fn a_subnet_answer_without_owner_or_zone_records_neither() {
        let (_, c) = clients([Answer::ok(&format!(
            "<DescribeSubnetsResponse {EC2}><requestId>r</requestId><subnetSet><item>\
             <subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock>\
             <mapPublicIpOnLaunch>true</mapPublicIpOnLaunch><tagSet>\
             <item><key>kubernetes.io/role/elb</key><value>1</value></item>\
             <item><key>Name</key><value>public-a</value></item>\
             <item><key>meshmon:token</key><value>t-1</value></item>\
             </tagSet></item></subnetSet></DescribeSubnetsResponse>"
        ))]);
        let now = Subnet::new(c)
            .fetch(&creating("aws_subnet.a"), "subnet-1", &Map::new())
            .await
            .unwrap()
            .expect("the subnet");
        assert_eq!(now.outputs.arn, None, "no owner, no ARN");
        assert!(!now.inputs.contains_key("availability_zone"));
        assert_eq!(now.inputs["load_balancer_role"], Value::from("public"));
        assert_eq!(
            now.inputs["tags"],
            Value::from(json!({"Name": "public-a"})),
            "the role's tag and meshmon's are not the user's tags"
        );
        assert_eq!(now.inputs["map_public_ip_on_launch"], Value::Bool(true));
    }

    #[tokio::test]
    async fn a_vpc_that_is_gone_reads_as_none() {
        let (_, c) = clients([Answer::ec2_error(400, "InvalidVpcID.NotFound")]);
        let gone = Vpc::new(c)
            .fetch(&creating("aws_vpc.main"), "vpc-1", &Map::new())
            .await
            .unwrap();
        assert!(gone.is_none());
    }
}
