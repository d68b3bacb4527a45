//! `aws_iam_oidc_provider` (the cluster's identity provider, which IRSA
//! trusts) and `aws_iam_policy` (a managed policy; a change publishes a new
//! default version, pruning the oldest non-default one when the five
//! versions IAM allows are all taken). Roles live in `iam_role`. IAM keeps
//! a provider's URL and a policy's name unique: `recover` finds each by
//! that (looking a few seconds, since IAM is eventually consistent) and
//! takes it if it carries the create's tags (see [`meshmon_aws_common::ownership`]).

use std::sync::Arc;

use aws_sdk_iam::types::Tag;
use meshmon_aws_common::error::{NO_HINT, api, found, gone_ok};
use meshmon_aws_common::ownership::{claimed, creation_tags};
use meshmon_aws_common::tags::{self, Tags, TagsExt, tag_list, tags_attr, tags_of};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, PlanAdvice, ProviderError, UpdateGroup, Value,
    async_trait, declare,
};

use crate::Clients;
use crate::attrs::{Attrs, answered, order_like, strings, strings_of};
use crate::{policy, wait};

pub(crate) fn iam_tags(t: &Tags) -> Result<Option<Vec<Tag>>, ProviderError> {
    tag_list(t, |k, v| Tag::builder().key(k).value(v).build())
}

pub(crate) fn tags_from(t: &[Tag]) -> Tags {
    t.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

// -------------------------------------------------- aws_iam_oidc_provider

declare! {
    pub(crate) struct OidcIn for "aws_iam_oidc_provider"
        ("An IAM OpenID Connect provider, such as an EKS cluster's issuer (for IRSA).")
    {
        url: String = required(AttrType::String)
            .force_new()
            .describe("The issuer URL, like \"${aws_eks_cluster.main.oidc_issuer}\".");
        #[serde(default)]
        client_ids: Vec<String> = optional(AttrType::list_of(AttrType::String))
            .default(strings(["sts.amazonaws.com"]))
            .describe("Audiences; changed in place.");
        thumbprints: Option<Vec<String>> = optional(AttrType::list_of(AttrType::String))
            .and_computed()
            .describe("Server certificate thumbprints; IAM finds them itself if left out; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs OidcOut {
        arn: String = computed(AttrType::String)
            .describe("What IRSA roles trust: `irsa.oidc_provider_arn`.");
        id: String = computed(AttrType::String).describe("The ARN; `meshmon import` takes it.");
        thumbprints: Option<Vec<String>>;
    }
}

pub(crate) struct OidcProvider(Arc<Clients>);

/// An OIDC provider's outputs: it is known by its ARN.
fn oidc_outputs(arn: &str, thumbprints: Option<Vec<String>>) -> OidcOut {
    OidcOut {
        arn: arn.into(),
        id: arn.into(),
        thumbprints,
    }
}

/// What an OIDC provider changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OidcUpdate {
    ClientIds,
    Thumbprints,
    Tags,
}

impl OidcProvider {
    /// What a create returns once the provider exists: its ARN and the
    /// thumbprints IAM settled on.
    async fn finish(
        &self,
        ctx: &OpContext,
        arn: &str,
        inputs: &Map,
    ) -> Result<OidcOut, ProviderError> {
        let now = self.fetch(ctx, arn, inputs).await?;
        let thumbprints = now
            .map(|c| strings_of(&c.inputs, "thumbprints"))
            .unwrap_or_default();
        Ok(oidc_outputs(arn, Some(thumbprints)))
    }

    /// The ARN of the provider for `url`, if IAM has one.
    async fn find(&self, url: &str) -> Result<Option<String>, ProviderError> {
        let out = self
            .0
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| api("iam:ListOpenIDConnectProviders", e))?;
        let host = policy::issuer_host(url);
        Ok(out
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .find(|arn| {
                arn.split_once(":oidc-provider/")
                    .is_some_and(|(_, h)| policy::issuer_host(h) == host)
            })
            .map(str::to_string))
    }
}

#[async_trait]
impl Declared for OidcProvider {
    type Inputs = OidcIn;
    type Outputs = OidcOut;
    type Client = Clients;
    type Group = OidcUpdate;
    const ID: &'static str = "arn";
    const UPDATES: &'static [UpdateGroup<OidcUpdate>] = &[
        (OidcUpdate::ClientIds, &["client_ids"]),
        (OidcUpdate::Thumbprints, &["thumbprints"]),
        (OidcUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        OidcProvider(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        arn: &str,
        prior: &Map,
    ) -> Result<Option<Current<OidcOut>>, ProviderError> {
        let out = found(
            "iam:GetOpenIDConnectProvider",
            self.0
                .iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
        )?;
        let Some(p) = out else { return Ok(None) };
        // IAM drops the scheme: keep the user's spelling when it is the same URL.
        let url = p
            .url()
            .map(|host| match prior.get("url").and_then(Value::as_str) {
                Some(u) if policy::issuer_host(u) == policy::issuer_host(host) => u.to_string(),
                _ => format!("https://{}", policy::issuer_host(host)),
            });
        let inputs = Attrs::new()
            .opt("url", url)
            .set(
                "client_ids",
                strings(order_like(prior, "client_ids", p.client_id_list().to_vec())),
            )
            .set(
                "thumbprints",
                strings(order_like(
                    prior,
                    "thumbprints",
                    p.thumbprint_list().to_vec(),
                )),
            )
            .tags(prior, tags_from(p.tags()))
            .build();
        Ok(Some(Current::new(inputs, oidc_outputs(arn, None))))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, OidcIn>,
    ) -> Result<OidcOut, ProviderError> {
        let tags = iam_tags(&creation_tags(ctx, &i.tags))?;
        let out = wait::create_call(ctx, "iam:CreateOpenIDConnectProvider", || {
            self.0
                .create
                .iam
                .create_open_id_connect_provider()
                .url(&i.url)
                .set_client_id_list(Some(i.client_ids.clone()))
                .set_thumbprint_list(i.thumbprints.clone())
                .set_tags(tags.clone())
                .send()
        })
        .await?;
        // Made but not named: `recover` finds it by its URL.
        let arn = answered(
            "iam:CreateOpenIDConnectProvider",
            "ARN",
            out.open_id_connect_provider_arn(),
        )
        .map_err(|e| e.ambiguous())?;
        self.finish(ctx, arn, i.raw()).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, OidcIn>,
    ) -> Result<Option<OidcOut>, ProviderError> {
        let Some(arn) = wait::find_settled(wait::RECOVER_SETTLE, || self.find(&i.url)).await?
        else {
            return Ok(None);
        };
        let out = found(
            "iam:GetOpenIDConnectProvider",
            self.0
                .iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .send()
                .await,
        )?;
        match out {
            Some(p) if claimed(ctx, p.tags().iter().map(|t| (t.key(), t.value())))? => {
                self.finish(ctx, &arn, i.raw()).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: OidcUpdate,
        arn: &str,
        prior: &Current,
        i: &Inputs<'_, OidcIn>,
    ) -> Result<Option<OidcOut>, ProviderError> {
        let iam = &self.0.iam;
        match group {
            OidcUpdate::ClientIds => {
                let old = strings_of(&prior.inputs, "client_ids");
                for id in old.iter().filter(|o| !i.client_ids.contains(o)) {
                    gone_ok(
                        "iam:RemoveClientIDFromOpenIDConnectProvider",
                        iam.remove_client_id_from_open_id_connect_provider()
                            .open_id_connect_provider_arn(arn)
                            .client_id(id)
                            .send()
                            .await,
                    )?;
                }
                for id in i.client_ids.iter().filter(|n| !old.contains(n)) {
                    iam.add_client_id_to_open_id_connect_provider()
                        .open_id_connect_provider_arn(arn)
                        .client_id(id)
                        .send()
                        .await
                        .map_err(|e| api("iam:AddClientIDToOpenIDConnectProvider", e))?;
                }
            }
            OidcUpdate::Thumbprints => {
                iam.update_open_id_connect_provider_thumbprint()
                    .open_id_connect_provider_arn(arn)
                    // Left out, the thumbprints are cleared.
                    .set_thumbprint_list(Some(i.thumbprints.clone().unwrap_or_default()))
                    .send()
                    .await
                    .map_err(|e| api("iam:UpdateOpenIDConnectProviderThumbprint", e))?;
            }
            OidcUpdate::Tags => {
                tags::retag(
                    NO_HINT,
                    &tags_of(&prior.inputs, "tags"),
                    &i.tags,
                    ("iam:TagOpenIDConnectProvider", |set| {
                        Ok(iam
                            .tag_open_id_connect_provider()
                            .open_id_connect_provider_arn(arn)
                            .set_tags(iam_tags(&set)?)
                            .send())
                    }),
                    ("iam:UntagOpenIDConnectProvider", |remove| {
                        Ok(iam
                            .untag_open_id_connect_provider()
                            .open_id_connect_provider_arn(arn)
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
        arn: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        gone_ok(
            "iam:DeleteOpenIDConnectProvider",
            self.0
                .iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await,
        )
    }
}

// --------------------------------------------------------- aws_iam_policy

/// IAM keeps at most five versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

declare! {
    pub(crate) struct PolicyIn for "aws_iam_policy" ("A customer-managed IAM policy.") {
        name: String = required(AttrType::String).force_new();
        description: Option<String> = optional(AttrType::String)
            .force_new()
            .describe("IAM cannot change it after creation.");
        policy: Value = required(AttrType::Json).describe(
            "The policy document (a table or a JSON string); a change publishes a new default version.",
        );
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs PolicyOut {
        arn: String = computed(AttrType::String);
        id: String = computed(AttrType::String)
            .describe("The ARN; `meshmon import` takes it or the name.");
        policy_id: Option<String> = computed(AttrType::String);
        default_version_id: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct Policy(Arc<Clients>);

/// What a policy changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PolicyUpdate {
    /// A new default version.
    Document,
    Tags,
}

/// The outputs of the policy IAM has under `arn`, at version `version`.
fn policy_outputs(
    arn: &str,
    p: Option<&aws_sdk_iam::types::Policy>,
    version: Option<String>,
) -> PolicyOut {
    PolicyOut {
        arn: arn.into(),
        id: arn.into(),
        policy_id: p.and_then(|p| p.policy_id()).map(str::to_string),
        default_version_id: version,
    }
}

/// The policy's default version; IAM names a new policy's first one v1.
fn default_version(p: &aws_sdk_iam::types::Policy) -> String {
    p.default_version_id().unwrap_or("v1").to_string()
}

impl Policy {
    /// The ARN IAM gives a policy of this name (meshmon creates policies
    /// at the root path).
    async fn arn_of(&self, name: &str) -> Result<String, ProviderError> {
        self.0
            .caller
            .arn("iam", "", &format!("policy/{name}"))
            .await
    }

    /// Makes room for a new version: deletes the oldest non-default one
    /// when all five are taken.
    async fn prune(&self, arn: &str) -> Result<(), ProviderError> {
        let out = self
            .0
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| api("iam:ListPolicyVersions", e))?;
        let versions = out.versions();
        if versions.len() < MAX_POLICY_VERSIONS {
            return Ok(());
        }
        let oldest = versions
            .iter()
            .filter(|v| !v.is_default_version())
            // Only an order: a version without a date counts as the oldest.
            .min_by_key(|v| {
                v.create_date()
                    .map(|d| (d.secs(), d.subsec_nanos()))
                    .unwrap_or_default()
            });
        if let Some(id) = oldest.and_then(|v| v.version_id()) {
            gone_ok(
                "iam:DeletePolicyVersion",
                self.0
                    .iam
                    .delete_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
                    .await,
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl Declared for Policy {
    type Inputs = PolicyIn;
    type Outputs = PolicyOut;
    type Client = Clients;
    type Group = PolicyUpdate;
    const ID: &'static str = "arn";
    const UPDATES: &'static [UpdateGroup<PolicyUpdate>] = &[
        (PolicyUpdate::Document, &["policy"]),
        (PolicyUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Policy(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        arn: &str,
        prior: &Map,
    ) -> Result<Option<Current<PolicyOut>>, ProviderError> {
        let out = found(
            "iam:GetPolicy",
            self.0.iam.get_policy().policy_arn(arn).send().await,
        )?;
        let Some(p) = out.and_then(|o| o.policy) else {
            return Ok(None);
        };
        let version = default_version(&p);
        let v = found(
            "iam:GetPolicyVersion",
            self.0
                .iam
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&version)
                .send()
                .await,
        )?;
        let Some(doc) = v.and_then(|v| v.policy_version).and_then(|v| v.document) else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .opt("name", p.policy_name())
            .opt("description", p.description().filter(|d| !d.is_empty()))
            .set(
                "policy",
                policy::like(prior.get("policy"), policy::from_aws(&doc)?),
            )
            .tags(prior, tags_from(p.tags()))
            .build();
        Ok(Some(Current::new(
            inputs,
            policy_outputs(arn, Some(&p), Some(version)),
        )))
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        if id.starts_with("arn:") {
            Ok(id.to_string())
        } else {
            self.arn_of(id).await
        }
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, PolicyIn>,
    ) -> Result<PolicyOut, ProviderError> {
        let document = policy::to_aws(&i.policy)?;
        let tags = iam_tags(&creation_tags(ctx, &i.tags))?;
        let out = wait::create_call(ctx, "iam:CreatePolicy", || {
            self.0
                .create
                .iam
                .create_policy()
                .policy_name(&i.name)
                .policy_document(&document)
                .set_description(i.description.clone())
                .set_tags(tags.clone())
                .send()
        })
        .await?;
        let p = out
            .policy
            .ok_or_else(|| ProviderError::new("iam:CreatePolicy returned no policy"))?;
        Ok(policy_outputs(
            // Made but not named: `recover` finds it by its name.
            answered("iam:CreatePolicy", "ARN", p.arn()).map_err(|e| e.ambiguous())?,
            Some(&p),
            Some(default_version(&p)),
        ))
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, PolicyIn>,
    ) -> Result<Option<PolicyOut>, ProviderError> {
        let arn = self.arn_of(&i.name).await?;
        let policy = wait::find_settled(wait::RECOVER_SETTLE, || async {
            let out = found(
                "iam:GetPolicy",
                self.0.iam.get_policy().policy_arn(&arn).send().await,
            )?;
            Ok(out.and_then(|o| o.policy))
        })
        .await?;
        match policy {
            Some(p) if claimed(ctx, p.tags().iter().map(|t| (t.key(), t.value())))? => Ok(Some(
                policy_outputs(&arn, Some(&p), Some(default_version(&p))),
            )),
            _ => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        group: PolicyUpdate,
        arn: &str,
        prior: &Current,
        i: &Inputs<'_, PolicyIn>,
    ) -> Result<Option<PolicyOut>, ProviderError> {
        let iam = &self.0.iam;
        match group {
            PolicyUpdate::Document => {
                let new_doc = policy::to_aws(&i.policy)?;
                self.prune(arn).await?;
                let out = iam
                    .create_policy_version()
                    .policy_arn(arn)
                    .policy_document(new_doc)
                    .set_as_default(true)
                    .send()
                    .await
                    .map_err(|e| api("iam:CreatePolicyVersion", e))?;
                let version = out.policy_version.and_then(|v| v.version_id);
                // The policy ID stays as recorded.
                Ok(Some(policy_outputs(arn, None, version)))
            }
            PolicyUpdate::Tags => {
                tags::retag(
                    NO_HINT,
                    &tags_of(&prior.inputs, "tags"),
                    &i.tags,
                    ("iam:TagPolicy", |set| {
                        Ok(iam
                            .tag_policy()
                            .policy_arn(arn)
                            .set_tags(iam_tags(&set)?)
                            .send())
                    }),
                    ("iam:UntagPolicy", |remove| {
                        Ok(iam
                            .untag_policy()
                            .policy_arn(arn)
                            .set_tag_keys(Some(remove))
                            .send())
                    }),
                )
                .await?;
                Ok(None)
            }
        }
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        arn: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
        let Some(out) = found(
            "iam:ListPolicyVersions",
            self.0
                .iam
                .list_policy_versions()
                .policy_arn(arn)
                .send()
                .await,
        )?
        else {
            return Ok(());
        };
        // IAM refuses to delete a policy that still has non-default versions.
        for v in out.versions().iter().filter(|v| !v.is_default_version()) {
            if let Some(id) = v.version_id() {
                gone_ok(
                    "iam:DeletePolicyVersion",
                    self.0
                        .iam
                        .delete_policy_version()
                        .policy_arn(arn)
                        .version_id(id)
                        .send()
                        .await,
                )?;
            }
        }
        gone_ok(
            "iam:DeletePolicy",
            self.0.iam.delete_policy().policy_arn(arn).send().await,
        )
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let changed =
            prior.is_some_and(|p| !policy::same(p.inputs.get("policy"), desired.get("policy")));
        PlanAdvice {
            unknown_after_update: if changed {
                vec!["default_version_id".into()]
            } else {
                Vec::new()
            },
            ..PlanAdvice::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    const POLICY: &str = "arn:aws:iam::123456789012:policy/agent";

    fn query(action: &str, result: &str) -> Answer {
        Answer::ok(&format!(
            "<{action}Response><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
        ))
    }

    #[tokio::test]
    async fn a_policy_change_makes_room_then_publishes_a_new_default_version() {
        let versions: String = (1..=5)
            .map(|n| {
                format!(
                    "<member><VersionId>v{n}</VersionId><IsDefaultVersion>{}</IsDefaultVersion>\
                     <CreateDate>2024-01-0{n}T00:00:00Z</CreateDate></member>",
                    n == 5
                )
            })
            .collect();
        let (replay, c) = clients([
            query(
                "ListPolicyVersions",
                &format!("<Versions>{versions}</Versions><IsTruncated>false</IsTruncated>"),
            ),
            Answer::ok(
                "<DeletePolicyVersionResponse><ResponseMetadata><RequestId>r</RequestId>\
                 </ResponseMetadata></DeletePolicyVersionResponse>",
            ),
            query(
                "CreatePolicyVersion",
                "<PolicyVersion><VersionId>v6</VersionId><IsDefaultVersion>true</IsDefaultVersion>\
                 </PolicyVersion>",
            ),
        ]);
        let raw = inputs(json!({
            "name": "agent",
            "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": "*"}]},
        }));
        let prior = Current::new(Map::new(), Map::new());
        let out = Policy::new(c)
            .update(
                &creating("aws_iam_policy.agent"),
                PolicyUpdate::Document,
                POLICY,
                &prior,
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap()
            .expect("the new version");
        assert_eq!(out.default_version_id.as_deref(), Some("v6"));
        assert_eq!(out.policy_id, None, "left as recorded");
        let sent = replay.sent();
        assert_eq!(sent[0].form()["PolicyArn"], POLICY);
        let deleted = sent[1].form();
        assert_eq!(deleted["Action"], "DeletePolicyVersion");
        assert_eq!(
            deleted["VersionId"], "v1",
            "the oldest that is not the default"
        );
        let created = sent[2].form();
        assert_eq!(created["SetAsDefault"], "true");
        let sent_doc: serde_json::Value = serde_json::from_str(&created["PolicyDocument"]).unwrap();
        assert_eq!(sent_doc["Statement"][0]["Action"], "aps:RemoteWrite");
    }

    #[tokio::test]
    async fn an_oidc_provider_reads_back_with_the_users_url_and_order() {
        let (replay, c) = clients([query(
            "GetOpenIDConnectProvider",
            "<Url>oidc.eks.eu-west-1.amazonaws.com/id/ABC</Url>\
             <ClientIDList><member>sts.amazonaws.com</member></ClientIDList>\
             <ThumbprintList><member>bb</member><member>aa</member></ThumbprintList>\
             <Tags><member><Key>meshmon:token</Key><Value>t-1</Value></member></Tags>",
        )]);
        let arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC";
        let prior = inputs(json!({
            "url": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "thumbprints": ["bb", "aa"],
        }));
        let now = OidcProvider::new(c)
            .fetch(&creating("aws_iam_oidc_provider.eks"), arn, &prior)
            .await
            .unwrap()
            .expect("the provider");
        assert_eq!(replay.sent()[0].form()["OpenIDConnectProviderArn"], arn);
        assert_eq!(now.inputs["url"], prior["url"], "IAM drops the scheme");
        assert_eq!(now.inputs["thumbprints"], prior["thumbprints"]);
        assert!(
            !now.inputs.contains_key("tags"),
            "meshmon's tags are not the user's"
        );
        assert_eq!(now.outputs, oidc_outputs(arn, None));
    }
}
