//! The network an EKS cluster runs in, as eksctl would make it: `aws_vpc`,
//! `aws_subnet` (with the tags EKS looks for when it places load
//! balancers), `aws_internet_gateway` and `aws_route_table` with its routes
//! and subnet associations. Deletes retry `DependencyViolation` for a while:
//! ENIs that EKS leaves behind take minutes to go, and "a VPC can't be
//! deleted while it still has subnets" is eventually true, not at once.
//!
//! EC2 keeps none of these names unique, so each create tags its object
//! with its marks (see [`meshmon_aws_common::ownership`]) and `recover` finds it by
//! them, with a Describe call filtered on those tags.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::sync::Arc;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification, VpcAttributeName,
};
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::ownership::{creation_tags, only_one, required_marks};
use meshmon_aws_common::tags::{Tags, TagsExt, tag_diff, tags_attr, tags_of};
use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, changed, typed};
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
    let (set, remove) = tag_diff(old, new);
    if !set.is_empty() {
        c.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(&set)))
            .send()
            .await
            .map_err(|e| api("ec2:CreateTags", e))?;
    }
    if !remove.is_empty() {
        let keys = remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        c.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(keys))
            .send()
            .await
            .map_err(|e| api("ec2:DeleteTags", e))?;
    }
    Ok(())
}

/// Describe filters that match only the object this create made: one
/// `tag:KEY` filter per mark.
pub(crate) fn made_by_filters(ctx: &OpContext) -> Result<Vec<Filter>, ProviderError> {
    Ok(required_marks(ctx)?
        .into_iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
        .collect())
}

pub(crate) fn dependency_violation(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("DependencyViolation")
}

pub(crate) fn arn(c: &Clients, owner: Option<&str>, kind: &str, id: &str) -> String {
    format!(
        "arn:aws:ec2:{}:{}:{kind}/{id}",
        c.region,
        owner.unwrap_or_default()
    )
}

// ---------------------------------------------------------------- aws_vpc

pub fn vpc_schema() -> Schema {
    Schema::new("aws_vpc", "A VPC for the cluster.")
        .attr(
            Attribute::required("cidr_block", AttrType::String)
                .force_new()
                .describe("IPv4 range, like \"192.168.0.0/16\"."),
        )
        .attr(
            Attribute::optional("enable_dns_support", AttrType::Bool)
                .default(true)
                .describe("Amazon DNS in the VPC (EKS needs it)."),
        )
        .attr(
            Attribute::optional("enable_dns_hostnames", AttrType::Bool)
                .default(true)
                .describe("DNS names for instances (EKS needs it)."),
        )
        .attr(tags_attr("tags"))
        .attr(Attribute::computed("id", AttrType::String).describe("The VPC ID."))
        .attr(Attribute::computed("arn", AttrType::String))
}

pub struct Vpc(pub Arc<Clients>);

#[derive(Deserialize)]
struct VpcIn {
    cidr_block: String,
    enable_dns_support: Option<bool>,
    enable_dns_hostnames: Option<bool>,
    #[serde(default)]
    tags: Tags,
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
        let v = match name {
            VpcAttributeName::EnableDnsHostnames => {
                out.enable_dns_hostnames().and_then(|b| b.value())
            }
            _ => out.enable_dns_support().and_then(|b| b.value()),
        };
        Ok(Some(v.unwrap_or(false)))
    }

    /// What a create does once the VPC exists: the DNS attributes, then the
    /// outputs. Setting them again is harmless, so a recovery runs it too.
    async fn finish(
        &self,
        inputs: &Map,
        i: &VpcIn,
        vpc: &aws_sdk_ec2::types::Vpc,
    ) -> Result<Map, ProviderError> {
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        let created = Current::new(inputs.clone(), Attrs::new().set("id", id.as_str()).build());
        // A new VPC has DNS support on and hostnames off; set what differs.
        self.set_dns(
            &id,
            i.enable_dns_support.filter(|v| !v),
            i.enable_dns_hostnames.filter(|v| *v),
        )
        .await
        .map_err(|e| e.with_partial(created))?;
        Ok(Attrs::new()
            .set("id", id.as_str())
            .set("arn", arn(&self.0, vpc.owner_id(), "vpc", &id))
            .build())
    }

    async fn fetch(&self, id: &str, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let out = found(
            "ec2:DescribeVpcs",
            self.0.ec2.describe_vpcs().vpc_ids(id).send().await,
        )?;
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
        let outputs = Attrs::new()
            .set("id", id)
            .set("arn", arn(&self.0, vpc.owner_id(), "vpc", id))
            .build();
        Ok(Some(Current::new(inputs, outputs)))
    }
}

#[async_trait]
impl Resource for Vpc {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: VpcIn = typed(inputs)?;
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
        self.finish(inputs, &i, &vpc).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i: VpcIn = typed(inputs)?;
        let filters = made_by_filters(ctx)?;
        let vpc = wait::find_settled(wait::RECOVER_SETTLE, || async {
            let out = self
                .0
                .ec2
                .describe_vpcs()
                .set_filters(Some(filters.clone()))
                .send()
                .await
                .map_err(|e| api("ec2:DescribeVpcs", e))?;
            only_one(ctx, "VPC", out.vpcs.unwrap_or_default(), |v| {
                v.vpc_id().unwrap_or_default().to_string()
            })
        })
        .await?;
        match vpc {
            Some(vpc) => self.finish(inputs, &i, &vpc).await.map(Some),
            None => Ok(None),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(crate::attrs::str_of(&prior.outputs, "id")?, &prior.inputs)
            .await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = crate::attrs::str_of(&prior.outputs, "id")?;
        let i: VpcIn = typed(inputs)?;
        let support = changed(&prior.inputs, inputs, "enable_dns_support")
            .then_some(i.enable_dns_support.unwrap_or(true));
        let hostnames = changed(&prior.inputs, inputs, "enable_dns_hostnames")
            .then_some(i.enable_dns_hostnames.unwrap_or(true));
        self.set_dns(id, support, hostnames).await?;
        retag(&self.0, id, &tags_of(&prior.inputs, "tags"), &i.tags).await?;
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let id = crate::attrs::str_of(&prior.outputs, "id")?;
        wait::retry_transient(ctx, wait::SHORT * 2, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteVpc",
                self.0.ec2.delete_vpc().vpc_id(id).send().await,
            )
        })
        .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(id, &Map::new()).await
    }
}

// ------------------------------------------------------------- aws_subnet

const ELB_TAG: &str = "kubernetes.io/role/elb";
const INTERNAL_ELB_TAG: &str = "kubernetes.io/role/internal-elb";

pub fn subnet_schema() -> Schema {
    Schema::new("aws_subnet", "A subnet of a VPC.")
        .attr(Attribute::required("vpc_id", AttrType::String).force_new())
        .attr(Attribute::required("cidr_block", AttrType::String).force_new())
        .attr(Attribute::optional("availability_zone", AttrType::String).and_computed().force_new().describe("Like \"eu-west-1a\"; AWS picks one if left out."))
        .attr(Attribute::optional("map_public_ip_on_launch", AttrType::Bool).default(false).describe("Give instances a public IP (public subnets)."))
        .attr(
            Attribute::optional("load_balancer_role", AttrType::String)
                .describe("\"public\" or \"internal\": adds the tag EKS looks for when it places load balancers (kubernetes.io/role/elb or kubernetes.io/role/internal-elb)."),
        )
        .attr(tags_attr("tags"))
        .attr(Attribute::computed("id", AttrType::String).describe("The subnet ID."))
        .attr(Attribute::computed("arn", AttrType::String))
}

pub struct Subnet(pub Arc<Clients>);

#[derive(Deserialize)]
struct SubnetIn {
    vpc_id: String,
    cidr_block: String,
    availability_zone: Option<String>,
    #[serde(default)]
    map_public_ip_on_launch: bool,
    load_balancer_role: Option<String>,
    #[serde(default)]
    tags: Tags,
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
    async fn fetch(&self, id: &str, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let out = found(
            "ec2:DescribeSubnets",
            self.0.ec2.describe_subnets().subnet_ids(id).send().await,
        )?;
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
            .set(
                "map_public_ip_on_launch",
                s.map_public_ip_on_launch().unwrap_or(false),
            )
            .opt("load_balancer_role", role)
            .tags(prior, tags)
            .build();
        let outputs = Attrs::new()
            .set("id", id)
            .set(
                "arn",
                s.subnet_arn()
                    .map(str::to_string)
                    .unwrap_or_else(|| arn(&self.0, s.owner_id(), "subnet", id)),
            )
            .build();
        Ok(Some(Current::new(inputs, outputs)))
    }

    /// What a create does once the subnet exists: public IPs on launch if
    /// asked for, then the outputs. A recovery runs it too.
    async fn finish(
        &self,
        inputs: &Map,
        i: &SubnetIn,
        s: &aws_sdk_ec2::types::Subnet,
    ) -> Result<Map, ProviderError> {
        let id = s.subnet_id().unwrap_or_default().to_string();
        let outputs = Attrs::new()
            .set("id", id.as_str())
            .set(
                "arn",
                s.subnet_arn()
                    .map(str::to_string)
                    .unwrap_or_else(|| arn(&self.0, s.owner_id(), "subnet", &id)),
            )
            .opt("availability_zone", s.availability_zone())
            .build();
        if i.map_public_ip_on_launch {
            self.set_public_ip(&id, true)
                .await
                .map_err(|e| e.with_partial(Current::new(inputs.clone(), outputs.clone())))?;
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
impl Resource for Subnet {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: SubnetIn = typed(inputs)?;
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
        self.finish(inputs, &i, &s).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i: SubnetIn = typed(inputs)?;
        let filters = made_by_filters(ctx)?;
        let subnet = wait::find_settled(wait::RECOVER_SETTLE, || async {
            let out = self
                .0
                .ec2
                .describe_subnets()
                .set_filters(Some(filters.clone()))
                .send()
                .await
                .map_err(|e| api("ec2:DescribeSubnets", e))?;
            only_one(ctx, "subnet", out.subnets.unwrap_or_default(), |s| {
                s.subnet_id().unwrap_or_default().to_string()
            })
        })
        .await?;
        match subnet {
            Some(s) => self.finish(inputs, &i, &s).await.map(Some),
            None => Ok(None),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(crate::attrs::str_of(&prior.outputs, "id")?, &prior.inputs)
            .await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = crate::attrs::str_of(&prior.outputs, "id")?;
        let old: SubnetIn = typed(&prior.inputs)?;
        let new: SubnetIn = typed(inputs)?;
        if old.map_public_ip_on_launch != new.map_public_ip_on_launch {
            self.set_public_ip(id, new.map_public_ip_on_launch).await?;
        }
        retag(&self.0, id, &old.all_tags()?, &new.all_tags()?).await?;
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let id = crate::attrs::str_of(&prior.outputs, "id")?;
        wait::retry_transient(ctx, wait::SHORT * 2, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteSubnet",
                self.0.ec2.delete_subnet().subnet_id(id).send().await,
            )
        })
        .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(id, &Map::new()).await
    }
}

// --------------------------------------------------- aws_internet_gateway

pub fn internet_gateway_schema() -> Schema {
    Schema::new(
        "aws_internet_gateway",
        "An internet gateway, attached to a VPC.",
    )
    .attr(
        Attribute::optional("vpc_id", AttrType::String)
            .describe("The VPC to attach it to; moved in place."),
    )
    .attr(tags_attr("tags"))
    .attr(Attribute::computed("id", AttrType::String).describe("The gateway ID."))
    .attr(Attribute::computed("arn", AttrType::String))
}

pub struct InternetGateway(pub Arc<Clients>);

#[derive(Deserialize)]
struct IgwIn {
    vpc_id: Option<String>,
    #[serde(default)]
    tags: Tags,
}

impl InternetGateway {
    async fn fetch(&self, id: &str, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let out = found(
            "ec2:DescribeInternetGateways",
            self.0
                .ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await,
        )?;
        let Some(g) = out.and_then(|o| o.internet_gateways.unwrap_or_default().into_iter().next())
        else {
            return Ok(None);
        };
        let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
        let inputs = Attrs::new()
            .opt("vpc_id", vpc)
            .tags(prior, tags_from(g.tags()))
            .build();
        let outputs = Attrs::new()
            .set("id", id)
            .set("arn", arn(&self.0, g.owner_id(), "internet-gateway", id))
            .build();
        Ok(Some(Current::new(inputs, outputs)))
    }

    /// What a create does once the gateway exists: attach it to its VPC
    /// unless it is attached already (a recovery runs this too), then the
    /// outputs.
    async fn finish(
        &self,
        i: &IgwIn,
        g: &aws_sdk_ec2::types::InternetGateway,
    ) -> Result<Map, ProviderError> {
        let id = g.internet_gateway_id().unwrap_or_default().to_string();
        let outputs = Attrs::new()
            .set("id", id.as_str())
            .set("arn", arn(&self.0, g.owner_id(), "internet-gateway", &id))
            .build();
        if let Some(vpc) = &i.vpc_id
            && !g.attachments().iter().any(|a| a.vpc_id() == Some(vpc))
        {
            self.attach(&id, vpc)
                .await
                .map_err(|e| e.with_partial(Current::new(Map::new(), outputs.clone())))?;
        }
        Ok(outputs)
    }

    async fn attach(&self, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let attached = self
            .0
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await;
        match attached {
            Ok(_) => Ok(()),
            // The SDK retried an attach whose answer was lost: the gateway
            // is attached already (to which VPC, the next read shows).
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") => Ok(()),
            Err(e) => Err(api("ec2:AttachInternetGateway", e)),
        }
    }

    async fn detach(&self, ctx: &OpContext, id: &str, vpc: &str) -> Result<(), ProviderError> {
        // Detaching fails while instances in the VPC still have public
        // addresses mapped; those go away as their subnets empty.
        wait::retry_transient(ctx, wait::SHORT * 2, dependency_violation, || async {
            gone_ok(
                "ec2:DetachInternetGateway",
                self.0
                    .ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(vpc)
                    .send()
                    .await,
            )
        })
        .await
    }
}

#[async_trait]
impl Resource for InternetGateway {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: IgwIn = typed(inputs)?;
        let tags =
            spec(ResourceType::InternetGateway, &creation_tags(ctx, &i.tags)).map(|s| vec![s]);
        let out = wait::create_call(ctx, "ec2:CreateInternetGateway", || {
            self.0
                .create
                .ec2
                .create_internet_gateway()
                .set_tag_specifications(tags.clone())
                .send()
        })
        .await?;
        let g = out
            .internet_gateway
            .ok_or_else(|| ProviderError::new("ec2:CreateInternetGateway returned no gateway"))?;
        self.finish(&i, &g).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i: IgwIn = typed(inputs)?;
        let filters = made_by_filters(ctx)?;
        let gateway = wait::find_settled(wait::RECOVER_SETTLE, || async {
            let out = self
                .0
                .ec2
                .describe_internet_gateways()
                .set_filters(Some(filters.clone()))
                .send()
                .await
                .map_err(|e| api("ec2:DescribeInternetGateways", e))?;
            only_one(
                ctx,
                "internet gateway",
                out.internet_gateways.unwrap_or_default(),
                |g| g.internet_gateway_id().unwrap_or_default().to_string(),
            )
        })
        .await?;
        match gateway {
            Some(g) => self.finish(&i, &g).await.map(Some),
            None => Ok(None),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(crate::attrs::str_of(&prior.outputs, "id")?, &prior.inputs)
            .await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = crate::attrs::str_of(&prior.outputs, "id")?;
        let old: IgwIn = typed(&prior.inputs)?;
        let new: IgwIn = typed(inputs)?;
        if old.vpc_id != new.vpc_id {
            if let Some(vpc) = &old.vpc_id {
                self.detach(ctx, id, vpc).await?;
            }
            if let Some(vpc) = &new.vpc_id {
                self.attach(id, vpc).await?;
            }
        }
        retag(&self.0, id, &old.tags, &new.tags).await?;
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let id = crate::attrs::str_of(&prior.outputs, "id")?;
        let Some(now) = self.fetch(id, &prior.inputs).await? else {
            return Ok(());
        };
        if let Some(vpc) = now.inputs.get("vpc_id").and_then(Value::as_str) {
            self.detach(ctx, id, vpc).await?;
        }
        wait::retry_transient(ctx, wait::SHORT, dependency_violation, || async {
            gone_ok(
                "ec2:DeleteInternetGateway",
                self.0
                    .ec2
                    .delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await,
            )
        })
        .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(id, &Map::new()).await
    }
}
