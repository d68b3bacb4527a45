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
use meshmon_aws_common::identity::last_segment;
use meshmon_aws_common::ownership::{
    claimed_map, creation_tags, made_by, only_one, required_marks,
};
use meshmon_aws_common::retag_by_arn;
use meshmon_aws_common::tags::{Tags, TagsExt, tags_attr, tags_from_map, tags_hash_map};
use meshmon_provider_sdk::{
    Current, Declared, Inputs, Map, OpContext, ProviderError, UpdateGroup, Value, async_trait,
    declare,
};

use crate::Clients;
use crate::attrs::{Attrs, str_of};
use crate::wait;

/// A workspace that is still CREATING (or busy with another change)
/// answers ConflictException to what goes into it.
pub(crate) fn workspace_busy(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("ConflictException")
}

// ------------------------------------------------------ aws_amp_workspace

declare! {
    pub(crate) struct WorkspaceIn for "aws_amp_workspace"
        ("An Amazon Managed Service for Prometheus workspace.")
    {
        alias: Option<String> = optional(AttrType::String)
            .describe("A friendly name, like \"AMP-APPMESH\"; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs WorkspaceOut {
        id: String = computed(AttrType::String)
            .describe("The workspace ID (ws-…); `meshmon import` takes it.");
        arn: String = computed(AttrType::String);
        account_id: Option<String> = computed(AttrType::String).describe(
            "The account that owns the workspace, for policies that must name it (an SNS topic policy's aws:SourceAccount).",
        );
        prometheus_endpoint: Option<String> = computed(AttrType::String)
            .describe("https://aps-workspaces.REGION.amazonaws.com/workspaces/ID/");
        remote_write_url: Option<String> = computed(AttrType::String)
            .describe("Where collectors send samples (SigV4).");
        query_url: Option<String> = computed(AttrType::String)
            .describe("The Prometheus query API, for Grafana's data source.");
        status: Option<String> = computed(AttrType::String);
    }
}

pub(crate) struct Workspace(Arc<Clients>);

/// What a workspace changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WorkspaceUpdate {
    Alias,
    Tags,
}

/// The outputs of a workspace as AMP describes it; the URLs only when AMP
/// gives its endpoint.
pub(crate) fn workspace_outputs(w: &aws_sdk_amp::types::WorkspaceDescription) -> WorkspaceOut {
    let endpoint = w.prometheus_endpoint().filter(|e| !e.is_empty()).map(|e| {
        if e.ends_with('/') {
            e.to_string()
        } else {
            format!("{e}/")
        }
    });
    WorkspaceOut {
        // arn:PARTITION:aps:REGION:ACCOUNT:workspace/ID
        account_id: w.arn().split(':').nth(4).map(str::to_string),
        remote_write_url: endpoint.as_ref().map(|e| format!("{e}api/v1/remote_write")),
        query_url: endpoint.as_ref().map(|e| format!("{e}api/v1/query")),
        prometheus_endpoint: endpoint,
        status: w.status().map(|s| s.status_code().as_str().to_string()),
        ..made(w.workspace_id(), w.arn())
    }
}

/// A workspace AMP has made, known by its ID and ARN alone until it is
/// described.
fn made(id: &str, arn: &str) -> WorkspaceOut {
    WorkspaceOut {
        id: id.into(),
        arn: arn.into(),
        account_id: None,
        prometheus_endpoint: None,
        remote_write_url: None,
        query_url: None,
        status: None,
    }
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

    /// What a create does once AMP has the workspace: waits for ACTIVE and
    /// returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, WorkspaceIn>,
        first: WorkspaceOut,
    ) -> Result<WorkspaceOut, ProviderError> {
        match self.wait_active(ctx, &first.id).await {
            Ok(w) => Ok(workspace_outputs(&w)),
            Err(e) => Err(e.with_partial(i.partial(first))),
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
impl Declared for Workspace {
    type Inputs = WorkspaceIn;
    type Outputs = WorkspaceOut;
    type Client = Clients;
    type Group = WorkspaceUpdate;
    const UPDATES: &'static [UpdateGroup<WorkspaceUpdate>] = &[
        (WorkspaceUpdate::Alias, &["alias"]),
        (WorkspaceUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Workspace(clients)
    }

    async fn fetch(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Map,
    ) -> Result<Option<Current<WorkspaceOut>>, ProviderError> {
        let Some(w) = self.describe(id).await? else {
            return Ok(None);
        };
        let inputs = Attrs::new()
            .opt("alias", w.alias())
            .tags(prior, tags_from_map(w.tags()))
            .build();
        Ok(Some(Current::new(inputs, workspace_outputs(&w))))
    }

    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(last_segment(id).to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<WorkspaceOut, ProviderError> {
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
        self.finish(ctx, i, made(out.workspace_id(), out.arn()))
            .await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<Option<WorkspaceOut>, ProviderError> {
        let found =
            wait::find_settled(wait::RECOVER_SETTLE, || self.find(ctx, i.alias.as_deref())).await?;
        let Some(w) = found else {
            return Ok(None);
        };
        self.finish(ctx, i, made(w.workspace_id(), w.arn()))
            .await
            .map(Some)
    }

    /// Either group waits for ACTIVE after its change, as a workspace
    /// that is being updated takes no rules.
    async fn update(
        &self,
        ctx: &OpContext,
        group: WorkspaceUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<Option<WorkspaceOut>, ProviderError> {
        match group {
            WorkspaceUpdate::Alias => {
                self.0
                    .amp
                    .update_workspace_alias()
                    .workspace_id(id)
                    // Left out, the alias is cleared.
                    .set_alias(Some(i.alias.clone().unwrap_or_default()))
                    .send()
                    .await
                    .map_err(|e| api("aps:UpdateWorkspaceAlias", e))?;
            }
            WorkspaceUpdate::Tags => {
                let arn = str_of(&prior.outputs, "arn")?;
                retag_by_arn!(self.0.amp, "aps", arn, prior, &i.tags).await?
            }
        }
        Ok(Some(workspace_outputs(&self.wait_active(ctx, id).await?)))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
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
}

// ------------------------------------------ aws_amp_rule_groups_namespace

declare! {
    pub(crate) struct NamespaceIn for "aws_amp_rule_groups_namespace"
        ("Prometheus recording and alerting rules in an AMP workspace.")
    {
        workspace_id: String = required(AttrType::String).force_new();
        name: String = required(AttrType::String).force_new();
        data: String = required(AttrType::Yaml).describe(
            "Prometheus rule groups as YAML (`groups: [...]`); compared as data; changed in place.",
        );
        #[serde(default)]
        tags: Tags = tags_attr();
    }
    outputs NamespaceOut {
        arn: String = computed(AttrType::String);
        id: String = computed(AttrType::String).describe("The ARN; `meshmon import` takes it.");
    }
}

pub(crate) struct RuleGroupsNamespace(Arc<Clients>);

/// A namespace's outputs: it is known by its ARN.
fn namespace_outputs(arn: &str) -> NamespaceOut {
    NamespaceOut {
        arn: arn.into(),
        id: arn.into(),
    }
}

/// What a rule groups namespace changes in place.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NamespaceUpdate {
    Data,
    Tags,
}

/// The workspace and name of a rule groups namespace, from its ARN
/// (`arn:aws:aps:REGION:ACCOUNT:rulegroupsnamespace/WORKSPACE_ID/NAME`) or
/// from `WORKSPACE_ID/NAME`.
fn namespace_of(id: &str) -> Result<(&str, &str), ProviderError> {
    let tail = id
        .split_once(":rulegroupsnamespace/")
        .map(|(_, t)| t)
        .unwrap_or(id);
    tail.split_once('/').ok_or_else(|| {
        ProviderError::new(format!("{id:?} is not a rule groups namespace ARN"))
            .with_hint("import it by ARN, or as WORKSPACE_ID/NAME")
    })
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

    /// What a create does once AMP has the namespace: waits for ACTIVE and
    /// returns the outputs, or what exists (`first`) as a partial result.
    async fn finish(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NamespaceIn>,
        first: NamespaceOut,
    ) -> Result<NamespaceOut, ProviderError> {
        match self.wait_active(ctx, &i.workspace_id, &i.name).await {
            Ok(arn) => Ok(namespace_outputs(&arn)),
            Err(e) => Err(e.with_partial(i.partial(first))),
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

#[async_trait]
impl Declared for RuleGroupsNamespace {
    type Inputs = NamespaceIn;
    type Outputs = NamespaceOut;
    type Client = Clients;
    type Group = NamespaceUpdate;
    const ID: &'static str = "arn";
    const UPDATES: &'static [UpdateGroup<NamespaceUpdate>] = &[
        (NamespaceUpdate::Data, &["data"]),
        (NamespaceUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        RuleGroupsNamespace(clients)
    }

    /// Found by the recorded workspace and name; on import, by those in
    /// the ARN (or `WORKSPACE_ID/NAME`) given.
    async fn fetch(
        &self,
        _ctx: &OpContext,
        arn: &str,
        prior: &Map,
    ) -> Result<Option<Current<NamespaceOut>>, ProviderError> {
        let recorded = |k: &str| prior.get(k).and_then(Value::as_str);
        let (ws, name) = match (recorded("workspace_id"), recorded("name")) {
            (Some(ws), Some(name)) => (ws, name),
            _ => namespace_of(arn)?,
        };
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
        Ok(Some(Current::new(inputs, namespace_outputs(n.arn()))))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NamespaceIn>,
    ) -> Result<NamespaceOut, ProviderError> {
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
        self.finish(ctx, i, namespace_outputs(out.arn())).await
    }

    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, NamespaceIn>,
    ) -> Result<Option<NamespaceOut>, ProviderError> {
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
        self.finish(ctx, i, namespace_outputs(n.arn()))
            .await
            .map(Some)
    }

    async fn update(
        &self,
        ctx: &OpContext,
        group: NamespaceUpdate,
        arn: &str,
        prior: &Current,
        i: &Inputs<'_, NamespaceIn>,
    ) -> Result<Option<NamespaceOut>, ProviderError> {
        match group {
            NamespaceUpdate::Data => {
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
            NamespaceUpdate::Tags => retag_by_arn!(self.0.amp, "aps", arn, prior, &i.tags).await?,
        }
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _arn: &str,
        prior: &Current,
    ) -> Result<(), ProviderError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, creating, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    const ARN: &str = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-1";

    #[tokio::test]
    async fn a_workspace_create_sends_its_token_and_marks_and_records_its_urls() {
        let (replay, c) = clients([
            Answer::ok(
                &json!({"workspaceId": "ws-1", "arn": ARN, "status": {"statusCode": "CREATING"}})
                    .to_string(),
            ),
            Answer::ok(
                &json!({"workspace": {
                    "workspaceId": "ws-1", "arn": ARN, "alias": "AMP-APPMESH",
                    "status": {"statusCode": "ACTIVE"}, "createdAt": 1.7e9,
                    "prometheusEndpoint": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1",
                }})
                .to_string(),
            ),
        ]);
        let raw = inputs(json!({"alias": "AMP-APPMESH"}));
        let out = Workspace::new(c)
            .create(
                &creating("aws_amp_workspace.main"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        let endpoint = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/";
        assert_eq!(
            out,
            WorkspaceOut {
                id: "ws-1".into(),
                arn: ARN.into(),
                account_id: Some("123456789012".into()),
                prometheus_endpoint: Some(endpoint.into()),
                remote_write_url: Some(format!("{endpoint}api/v1/remote_write")),
                query_url: Some(format!("{endpoint}api/v1/query")),
                status: Some("ACTIVE".into()),
            }
        );
        let sent = replay.sent();
        assert_eq!(
            (sent[0].method.as_str(), sent[0].path.as_str()),
            ("POST", "/workspaces")
        );
        let body = sent[0].json();
        assert_eq!(body["alias"], "AMP-APPMESH");
        assert_eq!(body["clientToken"], "t-1");
        assert_eq!(body["tags"]["meshmon:lineage"], "L1");
        assert_eq!(sent[1].path, "/workspaces/ws-1");
    }

    #[tokio::test]
    async fn a_workspace_without_an_endpoint_yet_records_no_urls() {
        let (_, c) = clients([Answer::ok(
            &json!({"workspace": {
                "workspaceId": "ws-1", "arn": ARN, "status": {"statusCode": "CREATING"}, "createdAt": 1.7e9,
            }})
            .to_string(),
        )]);
        let now = Workspace::new(c)
            .fetch(&creating("aws_amp_workspace.main"), "ws-1", &Map::new())
            .await
            .unwrap()
            .expect("the workspace");
        assert_eq!(now.outputs.prometheus_endpoint, None);
        assert_eq!(now.outputs.remote_write_url, None);
        assert_eq!(now.outputs.query_url, None);
        assert!(!now.inputs.contains_key("alias"));
    }

    #[tokio::test]
    async fn a_rule_groups_namespace_is_found_by_workspace_and_name() {
        let data = "groups:\n  - name: envoy\n    rules: []\n";
        let (replay, c) = clients([Answer::ok(
            &json!({"ruleGroupsNamespace": {
                "arn": "arn:aws:aps:eu-west-1:1:rulegroupsnamespace/ws-1/mesh", "name": "mesh",
                "data": "Z3JvdXBzOgogIC0gbmFtZTogZW52b3kKICAgIHJ1bGVzOiBbXQo=",
                "status": {"statusCode": "ACTIVE"}, "createdAt": 1.7e9, "modifiedAt": 1.7e9,
            }})
            .to_string(),
        )]);
        let arn = "arn:aws:aps:eu-west-1:1:rulegroupsnamespace/ws-1/mesh";
        // Imported: nothing recorded, so the ARN names them.
        let now = RuleGroupsNamespace::new(c)
            .fetch(
                &creating("aws_amp_rule_groups_namespace.mesh"),
                arn,
                &Map::new(),
            )
            .await
            .unwrap()
            .expect("the namespace");
        assert_eq!(
            replay.sent()[0].path,
            "/workspaces/ws-1/rulegroupsnamespaces/mesh"
        );
        assert_eq!(now.inputs["data"], Value::from(data));
        assert_eq!(now.inputs["workspace_id"], Value::from("ws-1"));
        assert_eq!(now.outputs, namespace_outputs(arn));
    }
}
