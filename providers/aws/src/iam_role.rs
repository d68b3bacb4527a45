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

use meshmon_aws_common::error::{NO_HINT, api, found, gone_ok, is_not_found};
use meshmon_aws_common::identity::last_segment;
use meshmon_aws_common::ownership::{claimed, creation_tags};
use meshmon_aws_common::tags::{self, Tags, TagsExt, tags_attr, tags_of};
use meshmon_provider_sdk::declared::DeclaredOutputs;
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

use crate::Clients;
use crate::attrs::{Attrs, order_like, strings};
use crate::iam::{iam_tags, tags_from};
use crate::{policy, wait};

declare! {
    pub(crate) struct RoleIn for "aws_iam_role"
        ("An IAM role, optionally for a Kubernetes service account (IRSA).")
    {
        name: String = required(AttrType::String).force_new();
        description: Option<String> = optional(AttrType::String).describe("Changed in place.");
        assume_role_policy: Option<Value> = optional(AttrType::Json)
            .and_computed()
            .describe("Who may assume the role (a table or a JSON string); built from `irsa` when that is set; changed in place.");
        irsa: Option<Map> = optional(AttrType::map_of(AttrType::String)).describe(
            "{ oidc_provider_arn, oidc_issuer, namespace, service_account }: trust that service account through the cluster's OIDC provider (with both :sub and :aud conditions).",
        );
        managed_policy_arns: Option<Vec<String>> = optional(AttrType::list_of(AttrType::String))
            .and_computed()
            .describe("Managed policies attached to the role; changed in place.");
        inline_policies: Option<BTreeMap<String, Value>> = optional(AttrType::map_of(AttrType::Json))
            .and_computed()
            .describe("Inline policies by name; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs RoleOut {
        arn: String = computed(AttrType::String);
        id: String = computed(AttrType::String).describe("The role's name.");
        unique_id: String = computed(AttrType::String);
        assume_role_policy: Option<Value>;
        managed_policy_arns: Option<Vec<String>>;
        inline_policies: Option<Map>;
    }
}

pub(crate) struct Role(Arc<Clients>);

/// The outputs of a role as IAM describes it.
fn role_outputs(role: &aws_sdk_iam::types::Role) -> RoleOut {
    RoleOut {
        arn: role.arn().into(),
        id: role.role_name().into(),
        unique_id: role.role_id().into(),
        assume_role_policy: None,
        managed_policy_arns: None,
        inline_policies: None,
    }
}

/// What a role changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RoleUpdate {
    Description,
    /// The trust policy, as written or built from `irsa`.
    Trust,
    ManagedPolicies,
    InlinePolicies,
    Tags,
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
            // Each document is its own call: they go out together.
            let mut documents = tokio::task::JoinSet::new();
            for p in page.policy_names() {
                let get = self.0.iam.get_role_policy().role_name(name).policy_name(p);
                documents.spawn(async move { found("iam:GetRolePolicy", get.send().await) });
            }
            while let Some(got) = documents.join_next().await {
                let got = got.map_err(|e| {
                    ProviderError::new(format!("reading an inline policy of {name}: {e}"))
                })??;
                if let Some(g) = got {
                    out.insert(
                        g.policy_name().to_string(),
                        policy::from_aws(g.policy_document())?,
                    );
                }
            }
            marker = page.marker().map(str::to_string);
            if !page.is_truncated() || marker.is_none() {
                return Ok(out);
            }
        }
    }

    /// What a create does once IAM has the role: attachments and inline
    /// policies made to match from what the role has (`have_managed`,
    /// `have_inline`), then the outputs.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RoleIn>,
        role: &aws_sdk_iam::types::Role,
        have_managed: &[String],
        have_inline: &Map,
    ) -> Result<RoleOut, ProviderError> {
        let mut outputs = role_outputs(role);
        if i.assume_role_policy.is_none() || i.irsa.is_some() {
            outputs.assume_role_policy =
                Some(policy::like(None, serde_json::Value::from(i.trust()?)));
        }
        if let Err(e) = self.converge(ctx, i, have_managed, have_inline).await {
            return Err(e.with_partial(i.partial(outputs)));
        }
        if i.managed_policy_arns.is_none() {
            outputs.managed_policy_arns = Some(Vec::new());
        }
        if i.inline_policies.is_none() {
            outputs.inline_policies = Some(Map::new());
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
        self.converge_managed(ctx, want, have_managed).await?;
        self.converge_inline(want, have_inline).await
    }

    /// Makes the attachments what `want` says (`None` leaves them alone).
    async fn converge_managed(
        &self,
        ctx: &OpContext,
        want: &RoleIn,
        have_managed: &[String],
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
        Ok(())
    }

    /// Makes the inline policies what `want` says (`None` leaves them
    /// alone).
    async fn converge_inline(&self, want: &RoleIn, have_inline: &Map) -> Result<(), ProviderError> {
        let iam = &self.0.iam;
        let name = want.name.as_str();
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

    /// The role's inline policies, as values.
    async fn inline_values(&self, name: &str) -> Result<Map, ProviderError> {
        Ok(self
            .inline(name)
            .await?
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect())
    }
}

#[async_trait]
impl Declared for Role {
    type Inputs = RoleIn;
    type Outputs = RoleOut;
    type Client = Clients;
    type Group = RoleUpdate;
    const UPDATES: &'static [UpdateGroup<RoleUpdate>] = &[
        (RoleUpdate::Description, &["description"]),
        (RoleUpdate::Trust, &["assume_role_policy", "irsa"]),
        (RoleUpdate::ManagedPolicies, &["managed_policy_arns"]),
        (RoleUpdate::InlinePolicies, &["inline_policies"]),
        (RoleUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Role(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        name: &str,
        p: &Map,
    ) -> Result<Option<Current<RoleOut>>, ProviderError> {
        // The role, its inline policies and its attachments are read at
        // once: each is one call (or one page) that needs only the name.
        let (out, inline, attached) = tokio::join!(
            self.0.iam.get_role().role_name(name).send(),
            self.inline(name),
            self.attached(name),
        );
        let Some(role) = found("iam:GetRole", out)?.and_then(|o| o.role) else {
            return Ok(None);
        };
        // Shaped like the document the user wrote; without one, a JSON
        // string (as the outputs keep the one built from `irsa`).
        let trust = match role.assume_role_policy_document() {
            Some(d) => Some(policy::like(
                p.get("assume_role_policy"),
                policy::from_aws(d)?,
            )),
            None => None,
        };
        let prior_inline = p.get("inline_policies").and_then(Value::as_map);
        let inline: Map = inline?
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
                strings(order_like(p, "managed_policy_arns", attached?)),
            )
            .set("inline_policies", Value::Map(inline))
            .tags(p, tags_from(role.tags()))
            .build();
        Ok(Some(Current::new(inputs, role_outputs(&role))))
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        // IAM role names hold neither `/` nor `:`.
        Ok(last_segment(id).to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RoleIn>,
    ) -> Result<RoleOut, ProviderError> {
        let trust = policy::to_aws(&i.trust()?)?;
        let tags = iam_tags(&creation_tags(ctx, &i.tags))?;
        // A trust naming a role made moments ago is refused until IAM
        // knows that role; a refused create made nothing, so it is sent
        // again.
        let out = wait::retry_transient(
            ctx,
            policy::PRINCIPAL_SETTLE,
            policy::is_unknown_principal,
            || {
                wait::create_call(ctx, "iam:CreateRole", || {
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
            },
        )
        .await?;
        let role = out
            .role
            .ok_or_else(|| ProviderError::new("iam:CreateRole returned no role"))?;
        self.finish(ctx, i, &role, &[], &Map::new()).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, RoleIn>,
    ) -> Result<Option<RoleOut>, ProviderError> {
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
        let have_inline = self.inline_values(&i.name).await?;
        self.finish(ctx, i, &role, &have_managed, &have_inline)
            .await
            .map(Some)
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: RoleUpdate,
        name: &str,
        prior: &Current,
        i: &Inputs<'_, RoleIn>,
    ) -> Result<Option<RoleOut>, ProviderError> {
        let iam = &self.0.iam;
        match group {
            RoleUpdate::Description => {
                iam.update_role()
                    .role_name(name)
                    // Left out, the description is cleared.
                    .description(i.description.clone().unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| api("iam:UpdateRole", e))?;
            }
            RoleUpdate::Trust => {
                let trust = i.trust()?;
                let recorded = prior
                    .inputs
                    .get("assume_role_policy")
                    .or(prior.outputs.get("assume_role_policy"));
                if !policy::same(recorded, Some(&trust)) {
                    policy::put_trust(ctx, iam, name, &policy::to_aws(&trust)?).await?;
                }
                if i.irsa.is_some() {
                    let built = policy::like(recorded, serde_json::Value::from(trust));
                    let mut outputs = RoleOut::recorded(&prior.outputs)?;
                    outputs.assume_role_policy = Some(built);
                    return Ok(Some(outputs));
                }
            }
            RoleUpdate::ManagedPolicies => {
                let have = self.attached(name).await?;
                self.converge_managed(ctx, i, &have).await?;
            }
            RoleUpdate::InlinePolicies => {
                let have = self.inline_values(name).await?;
                self.converge_inline(i, &have).await?;
            }
            RoleUpdate::Tags => {
                tags::retag(
                    NO_HINT,
                    &tags_of(&prior.inputs, "tags"),
                    &i.tags,
                    ("iam:TagRole", |set| {
                        Ok(iam
                            .tag_role()
                            .role_name(name)
                            .set_tags(iam_tags(&set)?)
                            .send())
                    }),
                    ("iam:UntagRole", |remove| {
                        Ok(iam
                            .untag_role()
                            .role_name(name)
                            .set_tag_keys(Some(remove))
                            .send())
                    }),
                )
                .await?
            }
        }
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        name: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    const PROVIDER: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC";

    #[tokio::test]
    async fn an_irsa_role_is_created_with_its_trust_then_its_attachments() {
        let (replay, c) = clients([
            Answer::ok(
                "<CreateRoleResponse><CreateRoleResult><Role><Path>/</Path><RoleName>agent</RoleName>\
                 <RoleId>AROA1</RoleId><Arn>arn:aws:iam::123456789012:role/agent</Arn>\
                 <CreateDate>2024-01-01T00:00:00Z</CreateDate></Role></CreateRoleResult>\
                 <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateRoleResponse>",
            ),
            Answer::ok(
                "<AttachRolePolicyResponse><ResponseMetadata><RequestId>r</RequestId>\
                 </ResponseMetadata></AttachRolePolicyResponse>",
            ),
        ]);
        let raw = inputs(json!({
            "name": "agent",
            "irsa": {"oidc_provider_arn": PROVIDER, "namespace": "grafana-agent", "service_account": "grafana-agent"},
            "managed_policy_arns": ["arn:aws:iam::aws:policy/AmazonPrometheusRemoteWriteAccess"],
        }));
        let out = Role::new(c)
            .create(
                &creating("aws_iam_role.agent"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out.arn, "arn:aws:iam::123456789012:role/agent");
        assert_eq!(
            (out.id.as_str(), out.unique_id.as_str()),
            ("agent", "AROA1")
        );
        assert_eq!(
            out.managed_policy_arns, None,
            "set in the spec: not computed"
        );
        assert_eq!(out.inline_policies, Some(Map::new()), "left out: none made");
        let built = out.assume_role_policy.expect("the trust built from irsa");
        assert!(
            built
                .as_str()
                .unwrap()
                .contains("system:serviceaccount:grafana-agent:grafana-agent")
        );

        let sent = replay.sent();
        let create = sent[0].form();
        assert_eq!(create["Action"], "CreateRole");
        assert_eq!(create["RoleName"], "agent");
        let trust: serde_json::Value =
            serde_json::from_str(&create["AssumeRolePolicyDocument"]).unwrap();
        assert_eq!(trust["Statement"][0]["Principal"]["Federated"], PROVIDER);
        let tagged: Vec<&str> = create.values().map(String::as_str).collect();
        assert!(tagged.contains(&"meshmon:token") && tagged.contains(&"t-1"));
        let attach = sent[1].form();
        assert_eq!(attach["Action"], "AttachRolePolicy");
        assert_eq!(
            attach["PolicyArn"],
            "arn:aws:iam::aws:policy/AmazonPrometheusRemoteWriteAccess"
        );
    }

    /// IAM refuses a trust naming a role it does not know yet (one made
    /// moments ago, maybe in another account): the create, which made
    /// nothing, is sent again until IAM knows it.
    #[tokio::test]
    async fn a_trust_naming_a_role_iam_does_not_know_yet_is_sent_again() {
        let unknown = Answer {
            status: 400,
            headers: vec![("content-type".into(), "text/xml".into())],
            body: "<ErrorResponse><Error><Type>Sender</Type><Code>MalformedPolicyDocument</Code>\
                   <Message>Invalid principal in policy: \"AWS\":\"arn:aws:iam::111111111111:role/source\"</Message>\
                   </Error><RequestId>r</RequestId></ErrorResponse>"
                .into(),
        };
        let (replay, c) = clients([
            unknown,
            Answer::ok(
                "<CreateRoleResponse><CreateRoleResult><Role><Path>/</Path><RoleName>target</RoleName>\
                 <RoleId>AROA2</RoleId><Arn>arn:aws:iam::123456789012:role/target</Arn>\
                 <CreateDate>2024-01-01T00:00:00Z</CreateDate></Role></CreateRoleResult>\
                 <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateRoleResponse>",
            ),
        ]);
        let raw = inputs(json!({
            "name": "target",
            "assume_role_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/source"}, "Action": "sts:AssumeRole"}]},
            "inline_policies": {},
            "managed_policy_arns": [],
        }));
        let out = Role::new(c)
            .create(
                &creating("aws_iam_role.target"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out.arn, "arn:aws:iam::123456789012:role/target");
        let actions: Vec<String> = replay.sent().iter().map(|s| s.action()).collect();
        assert_eq!(actions, ["CreateRole", "CreateRole"]);
    }

    #[tokio::test]
    async fn a_role_without_trust_or_irsa_is_refused_before_any_request() {
        let (replay, c) = clients([]);
        let raw = inputs(json!({"name": "agent"}));
        let err = Role::new(c)
            .create(
                &creating("aws_iam_role.agent"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap_err();
        assert!(
            err.message.contains("`assume_role_policy` or `irsa`"),
            "{err}"
        );
        assert!(replay.sent().is_empty());
    }
}
