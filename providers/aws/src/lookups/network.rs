//! `aws_vpc` (one VPC, by ID and/or tags) and `aws_subnets` (the IDs of
//! every subnet of a VPC and/or with some tags; there is no resource of
//! that name). EC2 keeps no name unique, so both search by Describe
//! filters (`vpc-id`, `tag:KEY`), and then compare again exactly: EC2's
//! filter values are patterns, so `{ Name = "prod*" }` would otherwise
//! also match a VPC named "prod-old".
//!
//! When nothing matches, the hint names what exists that is close: for a
//! wrong ID, the IDs; for tags, the values of the first searched tag (Name
//! first) that no object carries, or, when each tag matches some object
//! but none carries them all, each object's values of the searched tags.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_ec2::types::{Filter, VpcAttributeName};
use meshmon_aws_common::error::{api, found};
use meshmon_aws_common::tags::{Tags, is_users_tag, tags_value};
use meshmon_provider_sdk::lookup::{ambiguous, not_found};
use meshmon_provider_sdk::{
    DeclaredLookup, Inputs, Map, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::Clients;
use crate::network::{arn, listed_id, tags_from};

/// The `tag:KEY` filters for `tags`.
fn tag_filters(tags: &Tags) -> impl Iterator<Item = Filter> + '_ {
    tags.iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
}

/// Whether an object's tags hold every searched tag, exactly.
fn carries(object: &Tags, searched: &Tags) -> bool {
    searched.iter().all(|(k, v)| object.get(k) == Some(v))
}

/// What a tag search that found nothing compares, and with what, for
/// [`not_found`]'s "did you mean": see the module's documentation.
fn tag_candidates<'a>(
    searched: &Tags,
    objects: impl Iterator<Item = &'a Tags> + Clone,
) -> (String, Vec<String>) {
    let mut keys: Vec<&String> = searched.keys().collect();
    keys.sort_by_key(|k| *k != "Name");
    let culprit = keys.into_iter().find(|k| {
        let v = &searched[*k];
        !objects.clone().any(|o| o.get(*k) == Some(v))
    });
    if let Some(k) = culprit {
        let values: BTreeSet<String> = objects.filter_map(|o| o.get(k).cloned()).collect();
        return (searched[k].clone(), values.into_iter().collect());
    }
    let shown = |t: &Tags| -> String {
        searched
            .keys()
            .filter_map(|k| Some(format!("{k}={}", t.get(k)?)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let combos: BTreeSet<String> = objects.map(shown).filter(|s| !s.is_empty()).collect();
    (shown(searched), combos.into_iter().collect())
}

/// The keys a search gave, for messages.
fn given<'a>(keys: &[(&'a str, Option<&'a Value>)]) -> Vec<(&'a str, &'a Value)> {
    keys.iter().filter_map(|(k, v)| Some((*k, (*v)?))).collect()
}

/// The tags of a search: none when left out or empty.
fn searched_tags(tags: &Option<Tags>) -> Tags {
    tags.clone().unwrap_or_default()
}

/// The refusal of a search with no key; `keys` names them.
fn no_keys(type_name: &str, keys: &str) -> ProviderError {
    ProviderError::new(format!("{type_name} needs something to search by"))
        .with_hint(format!("set {keys}"))
}

// ---------------------------------------------------------------- aws_vpc

declare! {
    pub(crate) struct VpcIn for "aws_vpc" (
        "An existing VPC, found by ID, by tags, or by both (ec2:DescribeVpcs filtered on vpc-id and \
         tag:KEY; ec2:DescribeVpcAttribute for its DNS settings). Exactly one VPC must match."
    ) {
        id: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("The VPC ID (vpc-…).");
        tags: Option<Tags> = optional(AttrType::map_of(AttrType::String))
            .and_computed()
            .describe(
                "Tags the VPC carries, every one with this value, like { Name = \"prod\" }. \
                 Left out of the search, the VPC's tags (without `aws:` and `meshmon:` ones).",
            );
    }
    checks {
        vpc_keys: ["id", "tags"];
    }
    outputs VpcOut {
        id: String;
        arn: Option<String> = computed(AttrType::String).describe("The VPC's ARN.");
        cidr_block: Option<String> = computed(AttrType::String)
            .describe("The VPC's primary IPv4 range, like \"192.168.0.0/16\".");
        enable_dns_support: Option<bool> = computed(AttrType::Bool)
            .describe("Whether Amazon DNS answers in the VPC (EKS needs it).");
        enable_dns_hostnames: Option<bool> = computed(AttrType::Bool)
            .describe("Whether instances get DNS names (EKS needs it).");
        tags: Option<Tags>;
    }
}

/// Whether the search gives key `k`: a value, or tags that are not empty.
fn searched_by(m: &Map, k: &str) -> bool {
    match m.get(k) {
        Some(Value::Map(t)) => !t.is_empty(),
        Some(v) => !v.is_null(),
        None => false,
    }
}

/// `aws_vpc` searches by `id`, `tags` or both.
fn vpc_keys(m: &Map) -> Result<(), (&'static str, String)> {
    if searched_by(m, "id") || searched_by(m, "tags") {
        Ok(())
    } else {
        Err((
            "id",
            "is missing, and so are `tags`: a VPC is found by its ID, its tags, or both".into(),
        ))
    }
}

pub(crate) struct VpcLookup(Arc<Clients>);

impl VpcLookup {
    /// Every VPC that carries the filters, checked exactly again.
    async fn describe(
        &self,
        filters: Vec<Filter>,
    ) -> Result<Vec<aws_sdk_ec2::types::Vpc>, ProviderError> {
        self.0
            .ec2
            .describe_vpcs()
            .set_filters((!filters.is_empty()).then_some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api("ec2:DescribeVpcs", e))
    }

    /// A DNS attribute of the VPC; `None` when it is gone or EC2 does not say.
    async fn dns(&self, id: &str, name: VpcAttributeName) -> Result<Option<bool>, ProviderError> {
        let out = found(
            "ec2:DescribeVpcAttribute",
            self.0
                .ec2
                .describe_vpc_attribute()
                .vpc_id(id)
                .attribute(name.clone())
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| match name {
            VpcAttributeName::EnableDnsHostnames => o.enable_dns_hostnames()?.value(),
            _ => o.enable_dns_support()?.value(),
        }))
    }
}

#[async_trait]
impl DeclaredLookup for VpcLookup {
    type Inputs = VpcIn;
    type Outputs = VpcOut;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        VpcLookup(clients)
    }

    async fn find(&self, _ctx: &OpContext, i: &Inputs<'_, VpcIn>) -> Result<VpcOut, ProviderError> {
        let tags = searched_tags(&i.tags);
        if i.id.is_none() && tags.is_empty() {
            return Err(no_keys("aws_vpc", "`id`, `tags`, or both"));
        }
        let id_value = i.id.as_deref().map(Value::from);
        let tags_key = (!tags.is_empty()).then(|| tags_value(&tags));
        let keys = given(&[("id", id_value.as_ref()), ("tags", tags_key.as_ref())]);
        let mut filters: Vec<Filter> = tag_filters(&tags).collect();
        if let Some(id) = &i.id {
            filters.push(Filter::builder().name("vpc-id").values(id).build());
        }
        let matches = |v: &aws_sdk_ec2::types::Vpc| {
            i.id.as_deref().is_none_or(|id| v.vpc_id() == Some(id))
                && carries(&tags_from(v.tags()), &tags)
        };
        let mut matched: Vec<_> = self
            .describe(filters)
            .await?
            .into_iter()
            .filter(matches)
            .collect();
        if matched.len() > 1 {
            let mut ids: Vec<String> = matched.iter().map(|v| listed_id(v.vpc_id())).collect();
            ids.sort();
            return Err(ambiguous("VPC", &keys, &ids));
        }
        let Some(vpc) = matched.pop() else {
            let all = self.describe(Vec::new()).await?;
            let ids: Vec<String> = all
                .iter()
                .filter_map(|v| v.vpc_id())
                .map(str::to_string)
                .collect();
            let (searched, existing) = match &i.id {
                Some(id) if !ids.contains(id) => (id.clone(), ids),
                _ => {
                    let tagged: Vec<Tags> = all
                        .iter()
                        .filter(|v| i.id.as_deref().is_none_or(|id| v.vpc_id() == Some(id)))
                        .map(|v| tags_from(v.tags()))
                        .collect();
                    tag_candidates(&tags, tagged.iter())
                }
            };
            return Err(not_found("VPC", &keys, &searched, existing));
        };
        let id = listed_id(vpc.vpc_id());
        Ok(VpcOut {
            arn: arn(&self.0, vpc.owner_id(), "vpc", &id),
            cidr_block: vpc.cidr_block().map(str::to_string),
            enable_dns_support: self.dns(&id, VpcAttributeName::EnableDnsSupport).await?,
            enable_dns_hostnames: self.dns(&id, VpcAttributeName::EnableDnsHostnames).await?,
            // Searched by tags, the spec's tags stand: the look-up returns
            // only what the search left out.
            tags: tags.is_empty().then(|| {
                tags_from(vpc.tags())
                    .into_iter()
                    .filter(|(k, _)| is_users_tag(k))
                    .collect()
            }),
            id,
        })
    }
}

// ------------------------------------------------------------ aws_subnets

declare! {
    pub(crate) struct SubnetsIn for "aws_subnets" (
        "The IDs of the existing subnets of a VPC, or with some tags, or both (ec2:DescribeSubnets \
         filtered on vpc-id and tag:KEY). Finding none is an error, not an empty list: what takes \
         subnets (a cluster, a node group) cannot use none, and an error here names the search \
         where an empty list would fail later, elsewhere."
    ) {
        vpc_id: Option<String> = optional(AttrType::String)
            .describe("Only the subnets of this VPC.");
        tags: Option<Tags> = optional(AttrType::map_of(AttrType::String)).describe(
            "Only the subnets that carry every one of these tags with this value, \
             like { \"kubernetes.io/role/internal-elb\" = \"1\" }.",
        );
    }
    checks {
        subnets_keys: ["vpc_id", "tags"];
    }
    outputs SubnetsOut {
        ids: Vec<String> = computed(AttrType::list_of(AttrType::String))
            .describe("The subnets' IDs, sorted.");
        availability_zones: Vec<String> = computed(AttrType::list_of(AttrType::String))
            .describe("The availability zones the subnets are in, each once, sorted (EKS wants at least two).");
    }
}

/// `aws_subnets` searches by `vpc_id`, `tags` or both: a search by nothing
/// would be every subnet of the region, of every VPC, which no spec means.
fn subnets_keys(m: &Map) -> Result<(), (&'static str, String)> {
    if searched_by(m, "vpc_id") || searched_by(m, "tags") {
        Ok(())
    } else {
        Err((
            "vpc_id",
            "is missing, and so are `tags`: subnets are found by their VPC, their tags, or both"
                .into(),
        ))
    }
}

pub(crate) struct SubnetsLookup(Arc<Clients>);

impl SubnetsLookup {
    async fn describe(
        &self,
        filters: Vec<Filter>,
    ) -> Result<Vec<aws_sdk_ec2::types::Subnet>, ProviderError> {
        self.0
            .ec2
            .describe_subnets()
            .set_filters((!filters.is_empty()).then_some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api("ec2:DescribeSubnets", e))
    }
}

#[async_trait]
impl DeclaredLookup for SubnetsLookup {
    type Inputs = SubnetsIn;
    type Outputs = SubnetsOut;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        SubnetsLookup(clients)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, SubnetsIn>,
    ) -> Result<SubnetsOut, ProviderError> {
        let tags = searched_tags(&i.tags);
        if i.vpc_id.is_none() && tags.is_empty() {
            return Err(no_keys("aws_subnets", "`vpc_id`, `tags`, or both"));
        }
        let vpc_value = i.vpc_id.as_deref().map(Value::from);
        let tags_key = (!tags.is_empty()).then(|| tags_value(&tags));
        let keys = given(&[("vpc_id", vpc_value.as_ref()), ("tags", tags_key.as_ref())]);
        let in_vpc = |s: &aws_sdk_ec2::types::Subnet| {
            i.vpc_id.as_deref().is_none_or(|v| s.vpc_id() == Some(v))
        };
        let mut filters: Vec<Filter> = tag_filters(&tags).collect();
        if let Some(vpc) = &i.vpc_id {
            filters.push(Filter::builder().name("vpc-id").values(vpc).build());
        }
        // Subnet ID → its zone.
        let matched: BTreeMap<String, Option<String>> = self
            .describe(filters)
            .await?
            .into_iter()
            .filter(|s| in_vpc(s) && carries(&tags_from(s.tags()), &tags))
            .map(|s| {
                (
                    listed_id(s.subnet_id()),
                    s.availability_zone().map(str::to_string),
                )
            })
            .collect();
        if matched.is_empty() {
            let all = self.describe(Vec::new()).await?;
            let vpcs: BTreeSet<String> = all
                .iter()
                .filter_map(|s| s.vpc_id())
                .map(str::to_string)
                .collect();
            let (searched, existing) = match &i.vpc_id {
                Some(vpc) if !vpcs.contains(vpc) => (vpc.clone(), vpcs.into_iter().collect()),
                _ => {
                    let tagged: Vec<Tags> = all
                        .iter()
                        .filter(|s| in_vpc(s))
                        .map(|s| tags_from(s.tags()))
                        .collect();
                    tag_candidates(&tags, tagged.iter())
                }
            };
            return Err(not_found("subnet", &keys, &searched, existing));
        }
        let zones: BTreeSet<String> = matched.values().flatten().cloned().collect();
        Ok(SubnetsOut {
            ids: matched.into_keys().collect(),
            availability_zones: zones.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_tag_no_object_carries_is_compared_with_that_tags_values() {
        let objects = [
            tags(&[("Name", "prod"), ("team", "obs")]),
            tags(&[("Name", "staging"), ("team", "obs")]),
            tags(&[("team", "web")]),
        ];
        let searched = tags(&[("team", "obs"), ("Name", "prd")]);
        let (s, existing) = tag_candidates(&searched, objects.iter());
        assert_eq!(s, "prd");
        assert_eq!(existing, ["prod", "staging"]);
    }

    #[test]
    fn tags_each_carried_but_never_together_are_compared_as_combinations() {
        let objects = [
            tags(&[("Name", "prod"), ("team", "web")]),
            tags(&[("Name", "staging"), ("team", "obs")]),
        ];
        let searched = tags(&[("Name", "prod"), ("team", "obs")]);
        let (s, existing) = tag_candidates(&searched, objects.iter());
        assert_eq!(s, "Name=prod, team=obs");
        assert_eq!(existing, ["Name=prod, team=web", "Name=staging, team=obs"]);
    }

    #[test]
    fn a_search_needs_a_key() {
        let none = Map::new();
        assert!(vpc_keys(&none).is_err());
        assert!(subnets_keys(&none).is_err());
        let empty_tags: Map = [("tags".to_string(), Value::Map(Map::new()))].into();
        assert!(vpc_keys(&empty_tags).is_err());
        let by_id: Map = [("id".to_string(), Value::from("vpc-1"))].into();
        assert!(vpc_keys(&by_id).is_ok());
        let by_vpc: Map = [("vpc_id".to_string(), Value::from("vpc-1"))].into();
        assert!(subnets_keys(&by_vpc).is_ok());
    }
}
