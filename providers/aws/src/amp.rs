//! Amazon Managed Service for Prometheus: `aws_amp_workspace` (with the
//! remote-write and query URLs a collector and Grafana need) and
//! `aws_amp_rule_groups_namespace` (recording and alerting rules, YAML).
//! A workspace is usable only once ACTIVE; creates and rule updates wait
//! for that, since a rule namespace put into a CREATING workspace fails.
//!
//! Workspaces have no unique name: a create tags its workspace with its
//! marks (see [`meshmon_aws_common::ownership`]) and `recover` lists workspaces and
//! takes the one that carries them. A rule groups namespace is unique by
//! workspace and name, and taken if it carries the create's marks too.
//! Both creates send their token as AMP's client token.

use std::sync::Arc;

use aws_sdk_amp::types::{RuleGroupsNamespaceStatusCode, WorkspaceStatusCode, WorkspaceSummary};
use aws_smithy_types::Blob;
use meshmon_aws_common::error::{api, found, gone_ok};
use meshmon_aws_common::ownership::{
    claimed_map, creation_tags, made_by, only_one, required_marks,
};
use meshmon_aws_common::tags::{
    Tags, TagsExt, tag_diff, tags_attr, tags_from_map, tags_hash_map, tags_of,
};
use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, async_trait,
};
use serde::Deserialize;

use crate::Clients;
use crate::attrs::{Attrs, changed, str_of, typed};
use crate::wait;

pub(crate) async fn retag(
    c: &Clients,
    arn: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tag_diff(old, new);
    if !set.is_empty() {
        c.amp
            .tag_resource()
            .resource_arn(arn)
            .set_tags(tags_hash_map(&set))
            .send()
            .await
            .map_err(|e| api("aps:TagResource", e))?;
    }
    if !remove.is_empty() {
        c.amp
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| api("aps:UntagResource", e))?;
    }
    Ok(())
}

// ------------------------------------------------------ aws_amp_workspace

pub fn workspace_schema() -> Schema {
    Schema::new(
        "aws_amp_workspace",
        "An Amazon Managed Service for Prometheus workspace.",
    )
    .attr(
        Attribute::optional("alias", AttrType::String)
            .describe("A friendly name, like \"AMP-APPMESH\"; changed in place."),
    )
    .attr(tags_attr("tags"))
    .attr(
        Attribute::computed("id", AttrType::String)
            .describe("The workspace ID (ws-…); `meshmon import` takes it."),
    )
    .attr(Attribute::computed("arn", AttrType::String))
    .attr(Attribute::computed("account_id", AttrType::String).describe(
        "The account that owns the workspace, for policies that must name it (an SNS topic policy's aws:SourceAccount).",
    ))
    .attr(
        Attribute::computed("prometheus_endpoint", AttrType::String)
            .describe("https://aps-workspaces.REGION.amazonaws.com/workspaces/ID/"),
    )
    .attr(
        Attribute::computed("remote_write_url", AttrType::String)
            .describe("Where collectors send samples (SigV4)."),
    )
    .attr(
        Attribute::computed("query_url", AttrType::String)
            .describe("The Prometheus query API, for Grafana's data source."),
    )
    .attr(Attribute::computed("status", AttrType::String))
}

pub struct Workspace(pub Arc<Clients>);

#[derive(Deserialize)]
struct WorkspaceIn {
    alias: Option<String>,
    #[serde(default)]
    tags: Tags,
}

fn workspace_outputs(w: &aws_sdk_amp::types::WorkspaceDescription) -> Map {
    let mut endpoint = w.prometheus_endpoint().unwrap_or_default().to_string();
    if !endpoint.is_empty() && !endpoint.ends_with('/') {
        endpoint.push('/');
    }
    Attrs::new()
        .set("id", w.workspace_id())
        .set("arn", w.arn())
        // arn:PARTITION:aps:REGION:ACCOUNT:workspace/ID
        .opt("account_id", w.arn().split(':').nth(4))
        .set("remote_write_url", format!("{endpoint}api/v1/remote_write"))
        .set("query_url", format!("{endpoint}api/v1/query"))
        .set("prometheus_endpoint", endpoint)
        .opt("status", w.status().map(|s| s.status_code().as_str()))
        .build()
}

impl Workspace {
    async fn describe(
        &self,
        id: &str,
    ) -> Result<Option<aws_sdk_amp::types::WorkspaceDescription>, ProviderError> {
        let out = found(
            "aps:DescribeWorkspace",
            self.0
                .amp
                .describe_workspace()
                .workspace_id(id)
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| o.workspace))
    }

    async fn fetch(&self, id: &str, prior: &Map) -> Result<Option<Current>, ProviderError> {
        let Some(w) = self.describe(id).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .opt("alias", w.alias())
            .tags(prior, tags_from_map(w.tags()))
            .build();
        Ok(Some(Current::new(inputs, workspace_outputs(&w))))
    }

    /// What a create does once AMP has the workspace: waits for ACTIVE and
    /// returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        inputs: &Map,
        id: &str,
        first: Map,
    ) -> Result<Map, ProviderError> {
        match self.wait_active(ctx, id).await {
            Ok(w) => Ok(workspace_outputs(&w)),
            Err(e) => Err(e.with_partial(Current::new(inputs.clone(), first))),
        }
    }

    /// The workspace this create made, if AMP lists it: one with the
    /// create's marks that is not being deleted.
    async fn find(
        &self,
        ctx: &OpContext,
        alias: Option<&str>,
    ) -> Result<Option<WorkspaceSummary>, ProviderError> {
        required_marks(ctx)?;
        let mut mine = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .0
                .amp
                .list_workspaces()
                .set_alias(alias.map(str::to_string))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| api("aps:ListWorkspaces", e))?;
            for w in out.workspaces() {
                if w.status().map(|s| s.status_code()) == Some(&WorkspaceStatusCode::Deleting) {
                    continue;
                }
                // The list may leave tags out; DescribeWorkspace has them.
                let tags = match w.tags() {
                    Some(t) => tags_from_map(Some(t)),
                    None => match self.describe(w.workspace_id()).await? {
                        Some(d) => tags_from_map(d.tags()),
                        None => continue,
                    },
                };
                if made_by(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                    mine.push(w.clone());
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return only_one(ctx, "workspace", mine, |w| w.workspace_id().to_string());
            }
        }
    }

    async fn wait_active(
        &self,
        ctx: &OpContext,
        id: &str,
    ) -> Result<aws_sdk_amp::types::WorkspaceDescription, ProviderError> {
        wait::until(
            ctx,
            wait::SHORT,
            &format!("workspace {id} to become ACTIVE"),
            || async {
                let w = self
                    .describe(id)
                    .await?
                    .ok_or_else(|| ProviderError::new(format!("workspace {id} disappeared")))?;
                match w.status().map(|s| s.status_code()) {
                    Some(WorkspaceStatusCode::Active) => Ok(Ok(w)),
                    Some(WorkspaceStatusCode::CreationFailed) => Err(ProviderError::api(
                        "aps:DescribeWorkspace",
                        Some("CREATION_FAILED".into()),
                        format!("workspace {id} failed to create"),
                    )),
                    s => Ok(Err(format!(
                        "status {}",
                        s.map(|s| s.as_str()).unwrap_or("unknown")
                    ))),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Resource for Workspace {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: WorkspaceIn = typed(inputs)?;
        let tags = tags_hash_map(&creation_tags(ctx, &i.tags));
        let out = wait::create_call(ctx, "aps:CreateWorkspace", || {
            self.0
                .create
                .amp
                .create_workspace()
                .set_alias(i.alias.clone())
                .set_tags(tags.clone())
                .set_client_token(ctx.client_token().map(str::to_string))
                .send()
        })
        .await?;
        let id = out.workspace_id().to_string();
        let first = Attrs::new()
            .set("id", id.as_str())
            .set("arn", out.arn())
            .build();
        self.finish(ctx, inputs, &id, first).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i: WorkspaceIn = typed(inputs)?;
        let found =
            wait::find_settled(wait::RECOVER_SETTLE, || self.find(ctx, i.alias.as_deref())).await?;
        let Some(w) = found else {
            return Ok(None);
        };
        let first = Attrs::new()
            .set("id", w.workspace_id())
            .set("arn", w.arn())
            .build();
        self.finish(ctx, inputs, w.workspace_id(), first)
            .await
            .map(Some)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(str_of(&prior.outputs, "id")?, &prior.inputs)
            .await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = str_of(&prior.outputs, "id")?;
        let i: WorkspaceIn = typed(inputs)?;
        if changed(&prior.inputs, inputs, "alias") {
            self.0
                .amp
                .update_workspace_alias()
                .workspace_id(id)
                .set_alias(Some(i.alias.clone().unwrap_or_default()))
                .send()
                .await
                .map_err(|e| api("aps:UpdateWorkspaceAlias", e))?;
        }
        retag(
            &self.0,
            str_of(&prior.outputs, "arn")?,
            &tags_of(&prior.inputs, "tags"),
            &i.tags,
        )
        .await?;
        Ok(workspace_outputs(&self.wait_active(ctx, id).await?))
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let id = str_of(&prior.outputs, "id")?;
        gone_ok(
            "aps:DeleteWorkspace",
            self.0.amp.delete_workspace().workspace_id(id).send().await,
        )?;
        wait::until(
            ctx,
            wait::SHORT,
            &format!("workspace {id} to be deleted"),
            || async {
                Ok(match self.describe(id).await? {
                    None => Ok(()),
                    Some(w) => Err(format!(
                        "status {}",
                        w.status()
                            .map(|s| s.status_code().as_str())
                            .unwrap_or("unknown")
                    )),
                })
            },
        )
        .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let id = id.rsplit('/').next().unwrap_or(id);
        self.fetch(id, &Map::new()).await
    }
}

// ------------------------------------------ aws_amp_rule_groups_namespace

pub fn rule_groups_namespace_schema() -> Schema {
    Schema::new(
        "aws_amp_rule_groups_namespace",
        "Prometheus recording and alerting rules in an AMP workspace.",
    )
    .attr(Attribute::required("workspace_id", AttrType::String).force_new())
    .attr(Attribute::required("name", AttrType::String).force_new())
    .attr(Attribute::required("data", AttrType::Yaml).describe(
        "Prometheus rule groups as YAML (`groups: [...]`); compared as data; changed in place.",
    ))
    .attr(tags_attr("tags"))
    .attr(Attribute::computed("arn", AttrType::String))
    .attr(
        Attribute::computed("id", AttrType::String).describe("The ARN; `meshmon import` takes it."),
    )
}

pub struct RuleGroupsNamespace(pub Arc<Clients>);

#[derive(Deserialize)]
struct NamespaceIn {
    workspace_id: String,
    name: String,
    data: String,
    #[serde(default)]
    tags: Tags,
}

impl RuleGroupsNamespace {
    async fn describe(
        &self,
        ws: &str,
        name: &str,
    ) -> Result<Option<aws_sdk_amp::types::RuleGroupsNamespaceDescription>, ProviderError> {
        let out = found(
            "aps:DescribeRuleGroupsNamespace",
            self.0
                .amp
                .describe_rule_groups_namespace()
                .workspace_id(ws)
                .name(name)
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| o.rule_groups_namespace))
    }

    async fn fetch(
        &self,
        ws: &str,
        name: &str,
        prior: &Map,
    ) -> Result<Option<Current>, ProviderError> {
        let Some(n) = self.describe(ws, name).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .set("workspace_id", ws)
            .set("name", n.name())
            .set(
                "data",
                String::from_utf8_lossy(n.data().as_ref()).into_owned(),
            )
            .tags(prior, tags_from_map(n.tags()))
            .build();
        Ok(Some(Current::new(
            inputs,
            Attrs::new().set("arn", n.arn()).set("id", n.arn()).build(),
        )))
    }

    /// What a create does once AMP has the namespace: waits for ACTIVE and
    /// returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        inputs: &Map,
        i: &NamespaceIn,
        first: Map,
    ) -> Result<Map, ProviderError> {
        match self.wait_active(ctx, &i.workspace_id, &i.name).await {
            Ok(arn) => Ok(Attrs::new().set("arn", arn.as_str()).set("id", arn).build()),
            Err(e) => Err(e.with_partial(Current::new(inputs.clone(), first))),
        }
    }

    async fn wait_active(
        &self,
        ctx: &OpContext,
        ws: &str,
        name: &str,
    ) -> Result<String, ProviderError> {
        wait::until(
            ctx,
            wait::SHORT,
            &format!("rule groups namespace {name} to become ACTIVE"),
            || async {
                let n = self.describe(ws, name).await?.ok_or_else(|| {
                    ProviderError::new(format!("rule groups namespace {name} disappeared"))
                })?;
                let status = n.status();
                match status.map(|s| s.status_code()) {
                    Some(RuleGroupsNamespaceStatusCode::Active) | None => {
                        Ok(Ok(n.arn().to_string()))
                    }
                    Some(
                        c @ (RuleGroupsNamespaceStatusCode::CreationFailed
                        | RuleGroupsNamespaceStatusCode::UpdateFailed),
                    ) => Err(ProviderError::api(
                        "aps:DescribeRuleGroupsNamespace",
                        Some(c.as_str().to_string()),
                        status
                            .and_then(|s| s.status_reason())
                            .unwrap_or("the rules were rejected")
                            .to_string(),
                    )
                    .with_hint("check the rule groups with `promtool check rules`")),
                    Some(c) => Ok(Err(format!("status {}", c.as_str()))),
                }
            },
        )
        .await
    }
}

/// Rejects what is not YAML before AWS does, with a clearer message.
fn check_yaml(data: &str) -> Result<(), ProviderError> {
    if data.trim().is_empty() {
        return Err(ProviderError::new("`data` is empty")
            .with_hint("write Prometheus rule groups: `groups:\\n  - name: …\\n    rules: […]`"));
    }
    Ok(())
}

fn workspace_busy(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("ConflictException")
}

#[async_trait]
impl Resource for RuleGroupsNamespace {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: NamespaceIn = typed(inputs)?;
        check_yaml(&i.data)?;
        let tags = tags_hash_map(&creation_tags(ctx, &i.tags));
        // A workspace that is still CREATING answers ConflictException.
        let out = wait::retry_transient(ctx, wait::SHORT, workspace_busy, || {
            wait::create_call(ctx, "aps:CreateRuleGroupsNamespace", || {
                self.0
                    .create
                    .amp
                    .create_rule_groups_namespace()
                    .workspace_id(&i.workspace_id)
                    .name(&i.name)
                    .data(Blob::new(i.data.as_bytes()))
                    .set_tags(tags.clone())
                    .set_client_token(ctx.client_token().map(str::to_string))
                    .send()
            })
        })
        .await?;
        let first = Attrs::new()
            .set("arn", out.arn())
            .set("id", out.arn())
            .build();
        self.finish(ctx, inputs, &i, first).await
    }

    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        let i: NamespaceIn = typed(inputs)?;
        let Some(n) = self.describe(&i.workspace_id, &i.name).await? else {
            return Ok(None);
        };
        if !claimed_map(ctx, n.tags())? {
            return Ok(None);
        }
        // One being deleted is an earlier namespace's end, not this create.
        if n.status().map(|s| s.status_code()) == Some(&RuleGroupsNamespaceStatusCode::Deleting) {
            return Ok(None);
        }
        let first = Attrs::new().set("arn", n.arn()).set("id", n.arn()).build();
        self.finish(ctx, inputs, &i, first).await.map(Some)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        self.fetch(
            str_of(&prior.inputs, "workspace_id")?,
            str_of(&prior.inputs, "name")?,
            &prior.inputs,
        )
        .await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let i: NamespaceIn = typed(inputs)?;
        if changed(&prior.inputs, inputs, "data") {
            check_yaml(&i.data)?;
            wait::retry_transient(ctx, wait::SHORT, workspace_busy, || async {
                self.0
                    .amp
                    .put_rule_groups_namespace()
                    .workspace_id(&i.workspace_id)
                    .name(&i.name)
                    .data(Blob::new(i.data.as_bytes()))
                    .send()
                    .await
                    .map_err(|e| api("aps:PutRuleGroupsNamespace", e))
            })
            .await?;
            self.wait_active(ctx, &i.workspace_id, &i.name).await?;
        }
        retag(
            &self.0,
            str_of(&prior.outputs, "arn")?,
            &tags_of(&prior.inputs, "tags"),
            &i.tags,
        )
        .await?;
        Ok(prior.outputs.clone())
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let ws = str_of(&prior.inputs, "workspace_id")?;
        let name = str_of(&prior.inputs, "name")?;
        gone_ok(
            "aps:DeleteRuleGroupsNamespace",
            self.0
                .amp
                .delete_rule_groups_namespace()
                .workspace_id(ws)
                .name(name)
                .send()
                .await,
        )?;
        wait::until(
            ctx,
            wait::SHORT,
            &format!("rule groups namespace {name} to be deleted"),
            || async {
                Ok(match self.describe(ws, name).await? {
                    None => Ok(()),
                    Some(_) => Err("status DELETING".to_string()),
                })
            },
        )
        .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        // arn:aws:aps:REGION:ACCOUNT:rulegroupsnamespace/WORKSPACE_ID/NAME
        let tail = id
            .split_once(":rulegroupsnamespace/")
            .map(|(_, t)| t)
            .unwrap_or(id);
        let (ws, name) = tail.split_once('/').ok_or_else(|| {
            ProviderError::new(format!("{id:?} is not a rule groups namespace ARN"))
                .with_hint("import it by ARN, or as WORKSPACE_ID/NAME")
        })?;
        self.fetch(ws, name, &Map::new()).await
    }
}
