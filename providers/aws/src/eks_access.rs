//! EKS access entries: `aws_eks_access_entry` (an IAM principal allowed
//! into a cluster whose authentication mode is `API` or
//! `API_AND_CONFIG_MAP`) and `aws_eks_access_policy_association` (an EKS
//! access policy granted to that principal, cluster-wide or in some
//! namespaces). Neither waits: EKS applies both synchronously. A cluster
//! still in `CONFIG_MAP` mode rejects both with InvalidRequestException,
//! which the hint explains. An access entry is unique by cluster and
//! principal, an association by cluster, principal and policy: `recover`
//! finds each by those, and takes an entry only if it carries the create's
//! tags (see [`meshmon_aws_common::ownership`]); an association has no tags. The
//! entry's create sends its token as EKS's client request token;
//! AssociateAccessPolicy takes none.
//!
//! EKS makes an entry of its own for the principal that creates a cluster
//! with `bootstrap_cluster_creator_admin_permissions` (EKS user guide,
//! "Grant IAM users access to Kubernetes with EKS access entries"), so the
//! create of an entry for that principal meets ResourceInUseException. The
//! plan says so ahead, from the caller's identity; the create adopts that
//! entry when the cluster is this environment's and the entry nobody's
//! (see [`AccessEntry::adopt_creators_entry`]) and refuses any other.

use std::sync::Arc;

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::identity::same_principal;
use meshmon_aws_common::ownership::{claimed_map, creation_tags, is_reserved};
use meshmon_aws_common::retag_by_arn;
use meshmon_aws_common::tags::{Tags, TagsExt, tags_attr, tags_from_map, tags_hash_map};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, LINEAGE_TAG, Map, NoUpdates, OpContext, ProviderError, UpdateGroup,
    Value, async_trait, declare,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, order_like, str_of, strings};
use crate::wait;

/// Access entry types EKS accepts; only STANDARD takes groups and a username.
const ENTRY_TYPES: [&str; 7] = [
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
];

/// The check of an access entry's `type` in `validate` and `plan`.
fn entry_type_check(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(t) if ENTRY_TYPES.contains(&t) => Ok(()),
        _ => Err(format!(
            "is not an access entry type: use one of {}",
            ENTRY_TYPES.join(", ")
        )),
    }
}

/// Adds the hint for the one mistake everyone makes first.
fn access_error(e: ProviderError) -> ProviderError {
    if e.code.as_deref() == Some("InvalidRequestException")
        && e.message
            .to_ascii_lowercase()
            .contains("authentication mode")
    {
        return e.with_hint(
            "set access_config = { authentication_mode = \"API_AND_CONFIG_MAP\" } on the aws_eks_cluster",
        );
    }
    e
}

// -------------------------------------------------- aws_eks_access_entry

declare! {
    pub(crate) struct AccessEntryIn for "aws_eks_access_entry"
        ("An IAM principal's entry into an EKS cluster (authentication mode API or API_AND_CONFIG_MAP).")
    {
        cluster_name: String = required(AttrType::String).force_new();
        principal_arn: String = required(AttrType::String)
            .force_new()
            .describe("The IAM role or user ARN.");
        #[serde(default)]
        kubernetes_groups: Vec<String> = optional(AttrType::list_of(AttrType::String))
            .describe("Kubernetes groups the principal is in, for RBAC bindings; changed in place.");
        username: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("The Kubernetes user name; EKS derives one from the ARN if left out; changed in place.");
        r#type: Option<String> = optional(AttrType::String)
            .default("STANDARD")
            .force_new()
            .check(entry_type_check)
            .describe("STANDARD, or EC2_LINUX / EC2_WINDOWS / FARGATE_LINUX / EC2 / HYBRID_LINUX / HYPERPOD_LINUX for node roles.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs AccessEntryOut {
        id: String = computed(AttrType::String)
            .describe("CLUSTER:PRINCIPAL_ARN, the ID `meshmon import` takes.");
        arn: Option<String> = computed(AttrType::String);
        username: Option<String>;
    }
}

pub(crate) struct AccessEntry(Arc<Clients>);

/// What an access entry changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AccessEntryUpdate {
    /// One UpdateAccessEntry sets the groups and the user name.
    Access,
    Tags,
}

/// The access entry's ID, the one `meshmon import` takes.
fn entry_id(cluster: &str, principal: &str) -> String {
    format!("{cluster}:{principal}")
}

/// The cluster and principal an ID names (the first `:` ends the
/// cluster's name, which has none).
fn split_entry_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':').ok_or_else(|| {
        ProviderError::new(format!("{id:?} is not an access entry ID"))
            .with_hint("import it as CLUSTER:PRINCIPAL_ARN")
    })
}

/// The outputs of the access entry `id` as EKS describes it.
fn entry_outputs(id: &str, e: &aws_sdk_eks::types::AccessEntry) -> AccessEntryOut {
    AccessEntryOut {
        id: id.into(),
        arn: e.access_entry_arn().map(str::to_string),
        username: e.username().map(str::to_string),
    }
}

/// Tags as EKS returns them.
type TagMap = std::collections::HashMap<String, String>;

/// Whether an object carries no meshmon tag at all: nobody's create made it.
fn unmarked(e: &aws_sdk_eks::types::AccessEntry) -> bool {
    !e.tags().is_some_and(|t| t.keys().any(|k| is_reserved(k)))
}

/// Whether a cluster carries the lineage tag of the environment `ctx`
/// works for: meshmon made it there, and with it the creator's entry.
fn made_in(cluster: &TagMap, ctx: &OpContext) -> bool {
    ctx.lineage()
        .is_some_and(|l| cluster.get(LINEAGE_TAG).is_some_and(|t| t == l))
}

/// Whether `existing`, the entry of `principal` on a cluster with tags
/// `cluster`, is the one EKS made for that cluster's creator, the caller,
/// when this environment created it: the one entry a create adopts, and
/// the plan says it will.
fn creators_entry(
    existing: &aws_sdk_eks::types::AccessEntry,
    cluster: &TagMap,
    ctx: &OpContext,
    caller: &str,
    principal: &str,
) -> bool {
    same_principal(caller, principal) && unmarked(existing) && made_in(cluster, ctx)
}

impl AccessEntry {
    /// The cluster's tags; `None` when there is no such cluster (yet).
    async fn cluster_tags(&self, cluster: &str) -> Result<Option<TagMap>, ProviderError> {
        let out = found(
            "eks:DescribeCluster",
            self.0.eks.describe_cluster().name(cluster).send().await,
        )?;
        Ok(out
            .and_then(|o| o.cluster)
            .map(|c| c.tags.unwrap_or_default()))
    }

    /// After CreateAccessEntry said the principal's entry exists: adopts
    /// it when it is the one EKS made for the creator of a cluster this
    /// environment created (the cluster carries this lineage's tag, the
    /// principal is the caller, the entry carries no meshmon tags) — the
    /// common case where the cluster admin is whoever runs meshmon. The
    /// entry is tagged as this create's, so that a retry recovers it, and
    /// given the spec's groups and user name. Any other entry is someone
    /// else's and is left alone: the error says how to import it.
    async fn adopt_creators_entry(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AccessEntryIn>,
        in_use: ProviderError,
    ) -> Result<AccessEntryOut, ProviderError> {
        let id = entry_id(&i.cluster_name, &i.principal_arn);
        let Some(existing) = self.describe(&i.cluster_name, &i.principal_arn).await? else {
            return Err(access_error(in_use));
        };
        if claimed_map(ctx, existing.tags())? {
            return Ok(entry_outputs(&id, &existing));
        }
        let caller = self.0.caller.caller_arn().await?;
        let adoptable = self
            .cluster_tags(&i.cluster_name)
            .await?
            .is_some_and(|c| creators_entry(&existing, &c, ctx, caller, &i.principal_arn));
        if !adoptable {
            return Err(ProviderError::api(
                "eks:CreateAccessEntry",
                in_use.code,
                format!(
                    "an access entry for {} already exists in cluster {} and was not made by this environment",
                    i.principal_arn, i.cluster_name
                ),
            )
            .with_hint(format!(
                "adopt it with `meshmon import {} {id}`, or remove this block from the spec",
                ctx.address
            )));
        }
        ctx.progress("adopting the entry EKS made for the cluster's creator");
        let arn = existing.access_entry_arn().ok_or_else(|| {
            ProviderError::new("eks:DescribeAccessEntry returned no access entry ARN")
        })?;
        self.0
            .eks
            .tag_resource()
            .resource_arn(arn)
            .set_tags(tags_hash_map(&creation_tags(ctx, &i.tags)))
            .send()
            .await
            .map_err(|e| api("eks:TagResource", e))?;
        let updated = self.set_access(i).await?;
        Ok(entry_outputs(&id, updated.as_ref().unwrap_or(&existing)))
    }

    /// Gives the entry the spec's groups and user name.
    async fn set_access(
        &self,
        i: &Inputs<'_, AccessEntryIn>,
    ) -> Result<Option<aws_sdk_eks::types::AccessEntry>, ProviderError> {
        let out = self
            .0
            .eks
            .update_access_entry()
            .cluster_name(&i.cluster_name)
            .principal_arn(&i.principal_arn)
            .set_kubernetes_groups(Some(i.kubernetes_groups.clone()))
            .set_username(i.username.clone())
            .send()
            .await
            .map_err(|e| access_error(api("eks:UpdateAccessEntry", e)))?;
        Ok(out.access_entry)
    }

    async fn describe(
        &self,
        cluster: &str,
        principal: &str,
    ) -> Result<Option<aws_sdk_eks::types::AccessEntry>, ProviderError> {
        let out = found(
            "eks:DescribeAccessEntry",
            self.0
                .eks
                .describe_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| o.access_entry))
    }
}

#[async_trait]
impl Declared for AccessEntry {
    type Inputs = AccessEntryIn;
    type Outputs = AccessEntryOut;
    type Client = Clients;
    type Group = AccessEntryUpdate;
    const LOOKS_AHEAD: bool = true;
    const UPDATES: &'static [UpdateGroup<AccessEntryUpdate>] = &[
        (
            AccessEntryUpdate::Access,
            &["kubernetes_groups", "username"],
        ),
        (AccessEntryUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        AccessEntry(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<AccessEntryOut>>, ProviderError> {
        let (cluster, principal) = split_entry_id(id)?;
        let Some(e) = self.describe(cluster, principal).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .set("cluster_name", cluster)
            .set("principal_arn", principal)
            .unless_empty(
                prior,
                "kubernetes_groups",
                strings(order_like(
                    prior,
                    "kubernetes_groups",
                    e.kubernetes_groups().to_vec(),
                )),
            )
            .opt("username", e.username())
            .opt("type", e.r#type())
            .tags(prior, tags_from_map(e.tags()))
            .build();
        Ok(Some(Current::new(inputs, entry_outputs(id, &e))))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AccessEntryIn>,
    ) -> Result<AccessEntryOut, ProviderError> {
        let kind = i.r#type.clone().unwrap_or_else(|| "STANDARD".into());
        if !ENTRY_TYPES.contains(&kind.as_str()) {
            return Err(
                ProviderError::new(format!("{kind:?} is not an access entry type"))
                    .with_hint(format!("use one of {}", ENTRY_TYPES.join(", "))),
            );
        }
        let tags = tags_hash_map(&creation_tags(ctx, &i.tags));
        let created = wait::create_call(ctx, "eks:CreateAccessEntry", || {
            self.0
                .create
                .eks
                .create_access_entry()
                .cluster_name(&i.cluster_name)
                .principal_arn(&i.principal_arn)
                .set_kubernetes_groups(
                    (!i.kubernetes_groups.is_empty()).then(|| i.kubernetes_groups.clone()),
                )
                .set_username(i.username.clone())
                .r#type(kind.as_str())
                .set_tags(tags.clone())
                .set_client_request_token(ctx.client_token().map(str::to_string))
                .send()
        })
        .await;
        let out = match created {
            Ok(out) => out,
            Err(e) if e.code.as_deref() == Some("ResourceInUseException") => {
                return self.adopt_creators_entry(ctx, i, e).await;
            }
            Err(e) => return Err(access_error(e)),
        };
        let e = out
            .access_entry
            .ok_or_else(|| ProviderError::new("eks:CreateAccessEntry returned no access entry"))?;
        Ok(entry_outputs(
            &entry_id(&i.cluster_name, &i.principal_arn),
            &e,
        ))
    }

    /// Says at plan time what the create will meet: the entry EKS makes
    /// for the cluster's creator, which the create adopts (see
    /// [`AccessEntry::adopt_creators_entry`]), or an entry someone else
    /// made, which fails the apply unless it is imported.
    async fn look_ahead(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AccessEntryIn>,
    ) -> Result<Vec<String>, ProviderError> {
        let caller = self.0.caller.caller_arn().await?;
        let Some(cluster) = self.cluster_tags(&i.cluster_name).await? else {
            return Ok(if same_principal(caller, &i.principal_arn) {
                vec![format!(
                    "{} is the principal meshmon runs as: a cluster created with \
                     bootstrap_cluster_creator_admin_permissions (the default) comes with this \
                     entry, and apply adopts it, setting its groups, user name and tags, \
                     instead of creating it",
                    i.principal_arn
                )]
            } else {
                Vec::new()
            });
        };
        let Some(existing) = self.describe(&i.cluster_name, &i.principal_arn).await? else {
            return Ok(Vec::new());
        };
        if creators_entry(&existing, &cluster, ctx, caller, &i.principal_arn) {
            return Ok(vec![format!(
                "EKS made this entry for the cluster's creator ({}); apply adopts it, setting \
                 its groups, user name and tags",
                i.principal_arn
            )]);
        }
        Ok(vec![format!(
            "an access entry for {} already exists in cluster {} and was not made by this \
             environment: apply fails unless it is imported (`meshmon import {} {}`) or this \
             block is removed",
            i.principal_arn,
            i.cluster_name,
            ctx.address,
            entry_id(&i.cluster_name, &i.principal_arn)
        )])
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AccessEntryIn>,
    ) -> Result<Option<AccessEntryOut>, ProviderError> {
        match self.describe(&i.cluster_name, &i.principal_arn).await? {
            Some(e) if claimed_map(ctx, e.tags())? => Ok(Some(entry_outputs(
                &entry_id(&i.cluster_name, &i.principal_arn),
                &e,
            ))),
            _ => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: AccessEntryUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, AccessEntryIn>,
    ) -> Result<Option<AccessEntryOut>, ProviderError> {
        let eks = &self.0.eks;
        match group {
            AccessEntryUpdate::Access => {
                Ok(self.set_access(i).await?.map(|e| entry_outputs(id, &e)))
            }
            AccessEntryUpdate::Tags => {
                let arn = str_of(&prior.outputs, "arn")?;
                retag_by_arn!(eks, "eks", arn, prior, &i.tags).await?;
                Ok(None)
            }
        }
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        let (cluster, principal) = split_entry_id(id)?;
        gone_ok(
            "eks:DeleteAccessEntry",
            self.0
                .eks
                .delete_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
                .send()
                .await,
        )
    }
}

// ------------------------------------- aws_eks_access_policy_association

declare! {
    pub(crate) struct AssociationIn for "aws_eks_access_policy_association"
        ("An EKS access policy granted to an access entry's principal, cluster-wide or in some namespaces.")
    {
        cluster_name: String = required(AttrType::String).force_new();
        principal_arn: String = required(AttrType::String).force_new();
        policy_arn: String = required(AttrType::String)
            .force_new()
            .describe("Like \"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\".");
        access_scope: ScopeIn = required(AttrType::map_of(AttrType::Any))
            .force_new()
            .check(scope_check)
            .describe("{ type = \"cluster\" } or { type = \"namespace\", namespaces = [\"prod\"] }.");
    }
    outputs AssociationOut {
        id: String = computed(AttrType::String)
            .describe("CLUSTER#PRINCIPAL_ARN#POLICY_ARN, the ID `meshmon import` takes.");
        associated_at: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct AccessPolicyAssociation(Arc<Clients>);

/// The association's ID, the one `meshmon import` takes.
fn association_id(cluster: &str, principal: &str, policy: &str) -> String {
    format!("{cluster}#{principal}#{policy}")
}

/// `access_scope`, with exactly the keys a scope has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    namespaces: Vec<String>,
}

/// The scope type `kind` with namespaces or without, or why EKS would
/// refuse it (a message for after the attribute's name).
fn scope_type(kind: &str, namespaced: bool) -> Result<AccessScopeType, &'static str> {
    match (kind, namespaced) {
        ("cluster", false) => Ok(AccessScopeType::Cluster),
        ("cluster", true) => Err(
            "takes no namespaces when its type is \"cluster\": use type = \"namespace\" to limit the policy to namespaces",
        ),
        ("namespace", true) => Ok(AccessScopeType::Namespace),
        ("namespace", false) => Err(
            "needs namespaces when its type is \"namespace\": list them, like namespaces = [\"prod\"]",
        ),
        _ => Err("needs a `type` of \"cluster\" or \"namespace\""),
    }
}

/// The check of `access_scope` in `validate` and `plan`: the keys a scope
/// has, and a type that agrees with its namespaces.
fn scope_check(v: &Value) -> Result<(), String> {
    let Some(m) = v.as_map() else {
        return Err("must be a table like { type = \"cluster\" }".into());
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "namespaces"))
    {
        return Err(format!(
            "has no key `{k}`: a scope takes `type` and `namespaces`"
        ));
    }
    let namespaced = m
        .get("namespaces")
        .and_then(Value::as_list)
        .is_some_and(|l| !l.is_empty());
    let kind = m.get("type").and_then(Value::as_str).unwrap_or_default();
    scope_type(kind, namespaced)
        .map(drop)
        .map_err(str::to_string)
}

fn scope(s: &ScopeIn) -> Result<AccessScope, ProviderError> {
    let kind = scope_type(&s.kind, !s.namespaces.is_empty())
        .map_err(|why| ProviderError::new(format!("`access_scope` {why}")))?;
    Ok(AccessScope::builder()
        .r#type(kind)
        .set_namespaces((!s.namespaces.is_empty()).then(|| s.namespaces.clone()))
        .build())
}

impl AccessPolicyAssociation {
    async fn find(
        &self,
        cluster: &str,
        principal: &str,
        policy: &str,
        prior: &Map,
    ) -> Result<Option<Current<AssociationOut>>, ProviderError> {
        let mut token: Option<String> = None;
        loop {
            let Some(out) = found(
                "eks:ListAssociatedAccessPolicies",
                self.0
                    .eks
                    .list_associated_access_policies()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .set_next_token(token.clone())
                    .send()
                    .await,
            )?
            else {
                return Ok(None);
            };
            if let Some(p) = out
                .associated_access_policies()
                .iter()
                .find(|p| p.policy_arn() == Some(policy))
            {
                // The scope as recorded (none on import), to shape the one read.
                let prior_scope = prior
                    .get("access_scope")
                    .and_then(Value::as_map)
                    .cloned()
                    .unwrap_or_default();
                let mut scope = Attrs::new();
                if let Some(s) = p.access_scope() {
                    scope = scope
                        .opt("type", s.r#type().map(|t| t.as_str()))
                        .unless_empty(
                            &prior_scope,
                            "namespaces",
                            strings(order_like(
                                &prior_scope,
                                "namespaces",
                                s.namespaces().to_vec(),
                            )),
                        );
                }
                let inputs = Attrs::new()
                    .set("cluster_name", cluster)
                    .set("principal_arn", principal)
                    .set("policy_arn", policy)
                    .set("access_scope", Value::Map(scope.build()))
                    .build();
                let outputs = AssociationOut {
                    id: association_id(cluster, principal, policy),
                    associated_at: p.associated_at().map(|t| t.to_string()),
                };
                return Ok(Some(Current::new(inputs, outputs)));
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }
}

/// The cluster, principal and policy an ID names.
fn split_association_id(id: &str) -> Result<(&str, &str, &str), ProviderError> {
    let parts: Vec<&str> = id.splitn(3, '#').collect();
    let [cluster, principal, policy] = parts.as_slice() else {
        return Err(
            ProviderError::new(format!("{id:?} is not an access policy association ID"))
                .with_hint("import it as CLUSTER#PRINCIPAL_ARN#POLICY_ARN"),
        );
    };
    Ok((cluster, principal, policy))
}

#[async_trait]
impl Declared for AccessPolicyAssociation {
    type Inputs = AssociationIn;
    type Outputs = AssociationOut;
    type Client = Clients;
    type Group = NoUpdates;

    fn new(clients: Arc<Clients>) -> Self {
        AccessPolicyAssociation(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<AssociationOut>>, ProviderError> {
        let (cluster, principal, policy) = split_association_id(id)?;
        self.find(cluster, principal, policy, prior).await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, AssociationIn>,
    ) -> Result<AssociationOut, ProviderError> {
        let access_scope = scope(&i.access_scope)?;
        let out = wait::create_call(ctx, "eks:AssociateAccessPolicy", || {
            self.0
                .create
                .eks
                .associate_access_policy()
                .cluster_name(&i.cluster_name)
                .principal_arn(&i.principal_arn)
                .policy_arn(&i.policy_arn)
                .access_scope(access_scope.clone())
                .send()
        })
        .await
        .map_err(access_error)?;
        Ok(AssociationOut {
            id: association_id(&i.cluster_name, &i.principal_arn, &i.policy_arn),
            associated_at: out
                .associated_access_policy()
                .and_then(|p| p.associated_at())
                .map(|t| t.to_string()),
        })
    }

    async fn recover(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, AssociationIn>,
    ) -> Result<Option<AssociationOut>, ProviderError> {
        Ok(self
            .find(&i.cluster_name, &i.principal_arn, &i.policy_arn, i.raw())
            .await?
            .map(|c| c.outputs))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        let (cluster, principal, policy) = split_association_id(id)?;
        gone_ok(
            "eks:DisassociateAccessPolicy",
            self.0
                .eks
                .disassociate_access_policy()
                .cluster_name(cluster)
                .principal_arn(principal)
                .policy_arn(policy)
                .send()
                .await,
        )
    }
}

#[cfg(test)]
#[path = "eks_access_test.rs"]
mod tests;
