//! `aws_iam_role`: trust policy (written out, or built from `irsa = { … }`
//! for a Kubernetes service account), managed policy attachments, inline
//! policies and tags, all changed in place. Policy documents are read back
//! decoded and in the user's shape so that IAM's reformatting is no change.
//! `managed_policy_arns` and `inline_policies` are exclusive when set: what
//! else is attached is removed; left out, whatever is attached is recorded.
//! IAM keeps role names unique: `recover` finds the role by name, takes it
//! if it carries the create's tags (see [`meshmon_aws_common::ownership`]) and finishes
//! it as create does, from what is attached already.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meshmon_aws_common::error::{api, found, gone_ok, is_not_found};
use meshmon_aws_common::ownership::{claimed, creation_tags};
use meshmon_aws_common::tags::{Tags, TagsExt, tag_diff, tags_attr, tags_of};
use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, Value,
    async_trait,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, order_like, str_of, strings, typed};
use crate::iam::{iam_tags, name_of, tags_from};
use crate::{policy, wait};

pub fn role_schema() -> Schema {
    Schema::new("aws_iam_role", "An IAM role, optionally for a Kubernetes service account (IRSA).")
        .attr(Attribute::required("name", AttrType::String).force_new())
        .attr(Attribute::optional("description", AttrType::String).describe("Changed in place."))
        .attr(
            Attribute::optional("assume_role_policy", AttrType::Json)
                .and_computed()
                .describe("Who may assume the role (a table or a JSON string); built from `irsa` when that is set; changed in place."),
        )
        .attr(
            Attribute::optional("irsa", AttrType::map_of(AttrType::String)).describe(
                "{ oidc_provider_arn, oidc_issuer, namespace, service_account }: trust that service account through the cluster's OIDC provider (with both :sub and :aud conditions).",
            ),
        )
        .attr(Attribute::optional("managed_policy_arns", AttrType::list_of(AttrType::String)).and_computed().describe("Managed policies attached to the role; changed in place."))
        .attr(Attribute::optional("inline_policies", AttrType::map_of(AttrType::Json)).and_computed().describe("Inline policies by name; changed in place."))
        .attr(tags_attr("tags"))
        .attr(Attribute::computed("arn", AttrType::String))
        .attr(Attribute::computed("id", AttrType::String).describe("The role's name."))
        .attr(Attribute::computed("unique_id", AttrType::String))
}

pub struct Role(pub Arc<Clients>);

#[derive(Deserialize)]
struct RoleIn {
    name: String,
    description: Option<String>,
    assume_role_policy: Option<Value>,
    irsa: Option<Map>,
    managed_policy_arns: Option<Vec<String>>,
    inline_policies: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    tags: Tags,
}

impl RoleIn {
    /// The trust policy to send: from `irsa` when set (it wins over the
    /// recorded document the plan carries forward), else as written.
    fn trust(&self) -> Result<Value, ProviderError> {
        match (&self.irsa, &self.assume_role_policy) {
            (Some(irsa), _) => Ok(Value::from(policy::irsa_trust_policy(irsa)?)),
            (None, Some(doc)) => Ok(doc.clone()),
            (None, None) => Err(ProviderError::new("a role needs `assume_role_policy` or `irsa`")
                .with_hint("write the trust policy, or `irsa = { oidc_provider_arn, namespace, service_account }` for a Kubernetes service account")),
        }
    }
}

/// A policy created moments ago may not be attachable yet.
const ATTACH_SETTLE: Duration = Duration::from_secs(30);

impl Role {
    async fn attached(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .0
                .iam
                .list_attached_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| api("iam:ListAttachedRolePolicies", e))?;
            out.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string)),
            );
            marker = page.marker().map(str::to_string);
            if !page.is_truncated() || marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn inline(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, ProviderError> {
        let mut out = BTreeMap::new();
        let mut marker = None;
        loop {
            let page = self
                .0
                .iam
                .list_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| api("iam:ListRolePolicies", e))?;
            for p in page.policy_names() {
                let got = found(
                    "iam:GetRolePolicy",
                    self.0
                        .iam
                        .get_role_policy()
                        .role_name(name)
                        .policy_name(p)
                        .send()
                        .await,
                )?;
                if let Some(g) = got {
                    out.insert(p.clone(), policy::from_aws(g.policy_document())?);
                }
            }
            marker = page.marker().map(str::to_string);
            if !page.is_truncated() || marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn fetch(&self, name: &str, prior: &Current) -> Result<Option<Current>, ProviderError> {
        let out = found(
            "iam:GetRole",
            self.0.iam.get_role().role_name(name).send().await,
        )?;
        let Some(role) = out.and_then(|o| o.role) else {
            return Ok(None);
        };
        let p = &prior.inputs;
        let trust = match role.assume_role_policy_document() {
            Some(d) => Some(policy::like(
                p.get("assume_role_policy")
                    .or(prior.outputs.get("assume_role_policy")),
                policy::from_aws(d)?,
            )),
            None => None,
        };
        let prior_inline = p.get("inline_policies").and_then(Value::as_map);
        let inline: Map = self
            .inline(name)
            .await?
            .into_iter()
            .map(|(k, doc)| {
                let shaped = policy::like(prior_inline.and_then(|m| m.get(&k)), doc);
                (k, shaped)
            })
            .collect();
        let inputs = Attrs::new()
            .set("name", role.role_name())
            .opt("description", role.description().filter(|d| !d.is_empty()))
            .opt("assume_role_policy", trust)
            .keep(p, "irsa")
            .set(
                "managed_policy_arns",
                strings(order_like(
                    p,
                    "managed_policy_arns",
                    self.attached(name).await?,
                )),
            )
            .set("inline_policies", Value::Map(inline))
            .tags(p, tags_from(role.tags()))
            .build();
        let outputs = Attrs::new()
            .set("arn", role.arn())
            .set("id", role.role_name())
            .set("unique_id", role.role_id())
            .build();
        Ok(Some(Current::new(inputs, outputs)))
    }

    /// What a create does once IAM has the role: attachments and inline
    /// policies made to match from what the role has (`have_managed`,
    /// `have_inline`), then the outputs.
    async fn finish(
        &self,
        ctx: &OpContext,
        inputs: &Map,
        i: &RoleIn,
        role: &aws_sdk_iam::types::Role,
        have_managed: &[String],
        have_inline: &Map,
    ) -> Result<Map, ProviderError> {
        let mut outputs = Attrs::new()
            .set("arn", role.arn())
            .set("id", role.role_name())
            .set("unique_id", role.role_id())
            .build();
        if i.assume_role_policy.is_none() || i.irsa.is_some() {
            outputs.insert(
                "assume_role_policy".into(),
                policy::like(None, serde_json::Value::from(i.trust()?)),
            );
        }
        if let Err(e) = self.converge(ctx, i, have_managed, have_inline).await {
            return Err(e.with_partial(Current::new(inputs.clone(), outputs)));
        }
        if i.managed_policy_arns.is_none() {
            outputs.insert("managed_policy_arns".into(), Value::List(Vec::new()));
        }
        if i.inline_policies.is_none() {
            outputs.insert("inline_policies".into(), Value::Map(Map::new()));
        }
        Ok(outputs)
    }

    /// Makes attachments and inline policies what `want` says; `None`
    /// leaves that part alone.
    async fn converge(
        &self,
        ctx: &OpContext,
        want: &RoleIn,
        have_managed: &[String],
        have_inline: &Map,
    ) -> Result<(), ProviderError> {
        let iam = &self.0.iam;
        let name = want.name.as_str();
        if let Some(managed) = &want.managed_policy_arns {
            for arn in have_managed.iter().filter(|a| !managed.contains(a)) {
                gone_ok(
                    "iam:DetachRolePolicy",
                    iam.detach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await,
                )?;
            }
            for arn in managed.iter().filter(|a| !have_managed.contains(a)) {
                wait::retry_transient(ctx, ATTACH_SETTLE, is_not_found, || async {
                    iam.attach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| api("iam:AttachRolePolicy", e))
                })
                .await?;
            }
        }
        if let Some(inline) = &want.inline_policies {
            for k in have_inline.keys().filter(|k| !inline.contains_key(*k)) {
                gone_ok(
                    "iam:DeleteRolePolicy",
                    iam.delete_role_policy()
                        .role_name(name)
                        .policy_name(k)
                        .send()
                        .await,
                )?;
            }
            for (k, doc) in inline {
                if !policy::same(have_inline.get(k), Some(doc)) {
                    iam.put_role_policy()
                        .role_name(name)
                        .policy_name(k)
                        .policy_document(policy::to_aws(doc)?)
                        .send()
                        .await
                        .map_err(|e| api("iam:PutRolePolicy", e))?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for Role {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: RoleIn = typed(inputs)?;
        let trust = policy::to_aws(&i.trust()?)?;
        let tags = iam_tags(&creation_tags(ctx, &i.tags))?;
        let out = wait::create_call(ctx, "iam:CreateRole", || {
            self.0
                .create
                .iam
                .create_role()
                .role_name(&i.name)
                .assume_role_policy_document(&trust)
                .set_description(i.description.clone())
                .set_tags(tags.clone())
                .send()
        })
        .await?;
        let role = out
            .role
            .ok_or_else(|| ProviderError::new("iam:CreateRole returned no role"))?;
        self.finish(ctx, inputs, &i, &role, &[], &Map::new()).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i: RoleIn = typed(inputs)?;
        let role = wait::find_settled(wait::RECOVER_SETTLE, || async {
            let out = found(
                "iam:GetRole",
                self.0.iam.get_role().role_name(&i.name).send().await,
            )?;
            Ok(out.and_then(|o| o.role))
        })
        .await?;
        let Some(role) = role else {
            return Ok(None);
        };
        if !claimed(ctx, role.tags().iter().map(|t| (t.key(), t.value())))? {
            return Ok(None);
        }
        let have_managed = self.attached(&i.name).await?;
        let have_inline: Map = self
            .inline(&i.name)
            .await?
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        self.finish(ctx, inputs, &i, &role, &have_managed, &have_inline)
            .await
            .map(Some)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(str_of(&prior.inputs, "name")?, prior).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let i: RoleIn = typed(inputs)?;
        let name = i.name.as_str();
        let iam = &self.0.iam;
        let mut outputs = prior.outputs.clone();
        let old_desc = prior.inputs.get("description").and_then(Value::as_str);
        if old_desc != i.description.as_deref() {
            iam.update_role()
                .role_name(name)
                .description(i.description.clone().unwrap_or_default())
                .send()
                .await
                .map_err(|e| api("iam:UpdateRole", e))?;
        }
        let trust = i.trust()?;
        let recorded = prior
            .inputs
            .get("assume_role_policy")
            .or(prior.outputs.get("assume_role_policy"));
        if !policy::same(recorded, Some(&trust)) {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(policy::to_aws(&trust)?)
                .send()
                .await
                .map_err(|e| api("iam:UpdateAssumeRolePolicy", e))?;
        }
        if i.irsa.is_some() {
            outputs.insert(
                "assume_role_policy".into(),
                policy::like(recorded, serde_json::Value::from(trust)),
            );
        }
        let have_managed = self.attached(name).await?;
        let have_inline: Map = self
            .inline(name)
            .await?
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        self.converge(ctx, &i, &have_managed, &have_inline).await?;
        let (set, remove) = tag_diff(&tags_of(&prior.inputs, "tags"), &i.tags);
        if !set.is_empty() {
            iam.tag_role()
                .role_name(name)
                .set_tags(iam_tags(&set)?)
                .send()
                .await
                .map_err(|e| api("iam:TagRole", e))?;
        }
        if !remove.is_empty() {
            iam.untag_role()
                .role_name(name)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api("iam:UntagRole", e))?;
        }
        Ok(outputs)
    }

    async fn delete(&self, _ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let name = str_of(&prior.inputs, "name")?;
        let iam = &self.0.iam;
        // IAM refuses to delete a role that still has policies or sits in
        // an instance profile.
        let Some(_) = found("iam:GetRole", iam.get_role().role_name(name).send().await)? else {
            return Ok(());
        };
        for arn in self.attached(name).await? {
            gone_ok(
                "iam:DetachRolePolicy",
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await,
            )?;
        }
        for k in self.inline(name).await?.keys() {
            gone_ok(
                "iam:DeleteRolePolicy",
                iam.delete_role_policy()
                    .role_name(name)
                    .policy_name(k)
                    .send()
                    .await,
            )?;
        }
        let profiles = iam
            .list_instance_profiles_for_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| api("iam:ListInstanceProfilesForRole", e))?;
        for p in profiles.instance_profiles() {
            gone_ok(
                "iam:RemoveRoleFromInstanceProfile",
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(p.instance_profile_name())
                    .role_name(name)
                    .send()
                    .await,
            )?;
        }
        gone_ok(
            "iam:DeleteRole",
            iam.delete_role().role_name(name).send().await,
        )
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        self.fetch(name_of(id), &Current::default()).await
    }
}
