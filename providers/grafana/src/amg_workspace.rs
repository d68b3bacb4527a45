//! `aws_grafana_workspace`: an Amazon Managed Grafana workspace. Creating
//! one takes minutes (CREATING → ACTIVE) and so do its updates (UPDATING,
//! VERSION_UPDATING); every operation waits for ACTIVE, since AMG refuses
//! a second change to a busy workspace with a ConflictException. Nothing
//! forces a replacement: names, descriptions, permissions, data sources,
//! notification destinations and the role change with UpdateWorkspace,
//! authentication with UpdateWorkspaceAuthentication, the Grafana version
//! (upgrades only) with UpdateWorkspaceConfiguration, tags with TagResource.
//!
//! Workspace names need not be unique, so a create is known by its intent:
//! CreateWorkspace carries the intent's token as `clientToken` (AMG makes
//! one workspace however often a request with it arrives) and the
//! ownership tags (`meshmon:lineage`, `meshmon:address`) plus the token
//! itself as `meshmon:token`, and `recover` lists the workspaces for the
//! one those tags mark — the token tells this create's workspace from an
//! older one of the same address that a replacement has not deleted yet.
//! Tags starting with `meshmon:` are meshmon's: reads leave them out,
//! updates never remove them, and the spec may not set them.

use std::sync::Arc;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use aws_sdk_grafana::types::{
    AccountAccessType, AuthenticationProviderTypes, DataSourceType, NotificationDestinationType,
    PermissionType, WorkspaceDescription, WorkspaceStatus,
};
use meshmon_aws_common::error::{api_with, found_with};
use meshmon_aws_common::ownership::{creation_tags, made_by, only_one, required_marks};
use meshmon_aws_common::tags::{
    Tags, TagsExt, refuse_reserved, tag_diff, tags_attr, tags_from_map, tags_hash_map,
};
use meshmon_aws_common::wait::{create_call_with, until};
use meshmon_provider_sdk::{
    AttrType, Attribute, Current, Map, OpContext, ProviderError, Resource, Schema, async_trait,
};
use serde::Deserialize;

use crate::amg::{Clients, WORKSPACE_WAIT, hint};
use crate::attrs::{Attrs, order_like, str_of, strings, typed};

pub fn schema() -> Schema {
    let list = || AttrType::list_of(AttrType::String);
    Schema::new(
        "aws_grafana_workspace",
        "An Amazon Managed Grafana workspace.",
    )
    .attr(
        Attribute::optional("name", AttrType::String)
            .describe("The workspace name; changed in place."),
    )
    .attr(Attribute::optional("description", AttrType::String).describe("Changed in place."))
    .attr(
        Attribute::optional("account_access_type", AttrType::String)
            .default("CURRENT_ACCOUNT")
            .describe("CURRENT_ACCOUNT or ORGANIZATION; changed in place."),
    )
    .attr(
        Attribute::required("authentication_providers", list())
            .describe("AWS_SSO (IAM Identity Center) and/or SAML; changed in place."),
    )
    .attr(
        Attribute::optional("permission_type", AttrType::String)
            .default("SERVICE_MANAGED")
            .describe("SERVICE_MANAGED or CUSTOMER_MANAGED; changed in place."),
    )
    .attr(
        Attribute::optional("data_sources", list())
            .describe("AWS data sources the service-managed role may read, like [\"PROMETHEUS\"]."),
    )
    .attr(
        Attribute::optional("notification_destinations", list())
            .describe("Where alerts may go, like [\"SNS\"] (topics must be named grafana*)."),
    )
    .attr(
        Attribute::optional("grafana_version", AttrType::String)
            .and_computed()
            .describe("Like \"10.4\"; AMG picks the newest when left out. Upgraded in place."),
    )
    .attr(
        Attribute::optional("role_arn", AttrType::String)
            .and_computed()
            .describe("The IAM role the workspace assumes to read data sources; changed in place."),
    )
    .attr(
        tags_attr("tags")
            .describe("Changed in place; keys starting with meshmon: are meshmon's own."),
    )
    .attr(
        Attribute::computed("id", AttrType::String)
            .describe("The workspace ID (g-…); `meshmon import` takes it."),
    )
    .attr(
        Attribute::computed("endpoint", AttrType::String)
            .describe("The workspace's host name, without https://."),
    )
    .attr(Attribute::computed("status", AttrType::String))
}

#[derive(Deserialize)]
struct WorkspaceIn {
    name: Option<String>,
    description: Option<String>,
    account_access_type: String,
    authentication_providers: Vec<String>,
    permission_type: String,
    #[serde(default)]
    data_sources: Vec<String>,
    #[serde(default)]
    notification_destinations: Vec<String>,
    grafana_version: Option<String>,
    role_arn: Option<String>,
    #[serde(default)]
    tags: Tags,
}

impl WorkspaceIn {
    fn auth(&self) -> Vec<AuthenticationProviderTypes> {
        self.authentication_providers
            .iter()
            .map(|s| s.as_str().into())
            .collect()
    }
    fn sources(&self) -> Vec<DataSourceType> {
        self.data_sources
            .iter()
            .map(|s| s.as_str().into())
            .collect()
    }
    fn destinations(&self) -> Vec<NotificationDestinationType> {
        self.notification_destinations
            .iter()
            .map(|s| s.as_str().into())
            .collect()
    }
}

pub struct Workspace(pub Arc<Clients>);

fn outputs(w: &WorkspaceDescription) -> Map {
    Attrs::new()
        .set("id", w.id())
        .set("endpoint", w.endpoint())
        .set("status", w.status().as_str())
        .set("grafana_version", w.grafana_version())
        .opt("role_arn", w.workspace_role_arn())
        .build()
}

fn inputs(w: &WorkspaceDescription, prior: &Map) -> Map {
    let names = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
    let auth = names(
        w.authentication()
            .map(|a| a.providers().iter().map(|p| p.as_str()).collect())
            .unwrap_or_default(),
    );
    let sources = names(w.data_sources().iter().map(|d| d.as_str()).collect());
    let dests = names(
        w.notification_destinations()
            .iter()
            .map(|d| d.as_str())
            .collect(),
    );
    Attrs::new()
        .opt("name", w.name())
        .opt("description", w.description())
        .opt(
            "account_access_type",
            w.account_access_type().map(|a| a.as_str()),
        )
        .set(
            "authentication_providers",
            strings(order_like(prior, "authentication_providers", auth)),
        )
        .opt("permission_type", w.permission_type().map(|p| p.as_str()))
        .unless_empty(
            prior,
            "data_sources",
            strings(order_like(prior, "data_sources", sources)),
        )
        .unless_empty(
            prior,
            "notification_destinations",
            strings(order_like(prior, "notification_destinations", dests)),
        )
        .set("grafana_version", w.grafana_version())
        .opt("role_arn", w.workspace_role_arn())
        .tags(prior, tags_from_map(w.tags()))
        .build()
}

impl Workspace {
    async fn describe(&self, id: &str) -> Result<Option<WorkspaceDescription>, ProviderError> {
        let out = found_with(
            hint,
            "grafana:DescribeWorkspace",
            self.0
                .grafana
                .describe_workspace()
                .workspace_id(id)
                .send()
                .await,
        )?;
        Ok(out.and_then(|o| o.workspace))
    }

    /// Waits until the workspace is ACTIVE; a *_FAILED status is an error.
    async fn wait_active(
        &self,
        ctx: &OpContext,
        id: &str,
    ) -> Result<WorkspaceDescription, ProviderError> {
        until(ctx, WORKSPACE_WAIT, &format!("workspace {id} to become ACTIVE"), || async {
            let w = self
                .describe(id)
                .await?
                .ok_or_else(|| ProviderError::new(format!("workspace {id} disappeared")))?;
            match w.status() {
                WorkspaceStatus::Active => Ok(Ok(w)),
                s if s.as_str().ends_with("FAILED") => Err(ProviderError::api(
                    "grafana:DescribeWorkspace",
                    Some(s.as_str().to_string()),
                    format!("workspace {id} is {}", s.as_str()),
                )
                .with_hint("see the workspace in the AMG console for the cause; `meshmon apply -replace` recreates it")),
                s => Ok(Err(format!("status {}", s.as_str()))),
            }
        })
        .await
    }

    /// What a create does once the workspace exists: waits for ACTIVE. A
    /// failure leaves the workspace recorded, to be repaired or replaced.
    async fn finish(
        &self,
        ctx: &OpContext,
        inputs: &Map,
        first: &WorkspaceDescription,
    ) -> Result<Map, ProviderError> {
        match self.wait_active(ctx, first.id()).await {
            Ok(w) => Ok(outputs(&w)),
            Err(e) => Err(e.with_partial(Current::new(inputs.clone(), outputs(first)))),
        }
    }

    /// Changes the user's tags from `old` to `new` ([`tag_diff`]): AWS's and
    /// meshmon's own are never touched.
    async fn retag(&self, id: &str, old: &Tags, new: &Tags) -> Result<(), ProviderError> {
        let (set, remove) = tag_diff(old, new);
        if set.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let arn = self.0.workspace_arn(id).await?;
        if !set.is_empty() {
            self.0
                .grafana
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(tags_hash_map(&set))
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:TagResource", e))?;
        }
        if !remove.is_empty() {
            self.0
                .grafana
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:UntagResource", e))?;
        }
        Ok(())
    }
}

fn changed(prior: &Map, inputs: &Map, keys: &[&str]) -> bool {
    keys.iter().any(|k| prior.get(*k) != inputs.get(*k))
}

#[async_trait]
impl Resource for Workspace {
    async fn create(&self, ctx: &OpContext, inputs: &Map) -> Result<Map, ProviderError> {
        let i: WorkspaceIn = typed(inputs)?;
        refuse_reserved(&i.tags)?;
        let tags = creation_tags(ctx, &i.tags);
        let g = &self.0.creates;
        let out = create_call_with(ctx, hint, "grafana:CreateWorkspace", || {
            g.create_workspace()
                .account_access_type(AccountAccessType::from(i.account_access_type.as_str()))
                .set_authentication_providers(Some(i.auth()))
                .permission_type(PermissionType::from(i.permission_type.as_str()))
                .set_workspace_data_sources((!i.data_sources.is_empty()).then(|| i.sources()))
                .set_workspace_notification_destinations(
                    (!i.notification_destinations.is_empty()).then(|| i.destinations()),
                )
                .set_workspace_name(i.name.clone())
                .set_workspace_description(i.description.clone())
                .set_grafana_version(i.grafana_version.clone())
                .set_workspace_role_arn(i.role_arn.clone())
                .set_tags(tags_hash_map(&tags))
                .set_client_token(ctx.client_token().map(str::to_string))
                .send()
        })
        .await?;
        let first = out
            .workspace()
            .ok_or_else(|| ProviderError::new("grafana:CreateWorkspace returned no workspace"))?;
        self.finish(ctx, inputs, first).await
    }

    /// Lists the workspaces for the one this create's tags mark (see the
    /// module docs), then waits for it to be ACTIVE as the create would. A
    /// workspace being deleted is not found.
    async fn recover(&self, ctx: &OpContext, inputs: &Map) -> Result<Option<Map>, ProviderError> {
        required_marks(ctx)?;
        let mut mine = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .0
                .grafana
                .list_workspaces()
                .max_results(100)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:ListWorkspaces", e))?;
            mine.extend(
                out.workspaces()
                    .iter()
                    .filter(|w| {
                        w.tags().is_some_and(|t| {
                            made_by(ctx, t.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        })
                    })
                    .filter(|w| *w.status() != WorkspaceStatus::Deleting)
                    .map(|w| w.id().to_string()),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        let Some(id) = only_one(ctx, "workspace", mine, String::clone)? else {
            return Ok(None);
        };
        let Some(w) = self.describe(&id).await? else {
            return Ok(None);
        };
        self.finish(ctx, inputs, &w).await.map(Some)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        prior: &Current,
    ) -> Result<Option<Current>, ProviderError> {
        let Some(w) = self.describe(str_of(&prior.outputs, "id")?).await? else {
            return Ok(None);
        };
        Ok(Some(Current::new(inputs(&w, &prior.inputs), outputs(&w))))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        prior: &Current,
        inputs: &Map,
    ) -> Result<Map, ProviderError> {
        let id = str_of(&prior.outputs, "id")?;
        let i: WorkspaceIn = typed(inputs)?;
        refuse_reserved(&i.tags)?;
        let old = &prior.inputs;
        let g = &self.0.grafana;
        let general = [
            "name",
            "description",
            "account_access_type",
            "permission_type",
            "data_sources",
            "notification_destinations",
            "role_arn",
        ];
        if changed(old, inputs, &general) {
            g.update_workspace()
                .workspace_id(id)
                .account_access_type(AccountAccessType::from(i.account_access_type.as_str()))
                .permission_type(PermissionType::from(i.permission_type.as_str()))
                .set_workspace_data_sources(Some(i.sources()))
                .set_workspace_notification_destinations(Some(i.destinations()))
                .set_workspace_name(i.name.clone())
                .set_workspace_description(Some(i.description.clone().unwrap_or_default()))
                .set_workspace_role_arn(i.role_arn.clone())
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:UpdateWorkspace", e))?;
            self.wait_active(ctx, id).await?;
        }
        if changed(old, inputs, &["authentication_providers"]) {
            g.update_workspace_authentication()
                .workspace_id(id)
                .set_authentication_providers(Some(i.auth()))
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:UpdateWorkspaceAuthentication", e))?;
            self.wait_active(ctx, id).await?;
        }
        if let Some(version) = &i.grafana_version
            && changed(old, inputs, &["grafana_version"])
        {
            // The call needs the configuration too: keep what is there.
            let conf = g
                .describe_workspace_configuration()
                .workspace_id(id)
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:DescribeWorkspaceConfiguration", e))?;
            g.update_workspace_configuration()
                .workspace_id(id)
                .configuration(conf.configuration())
                .grafana_version(version)
                .send()
                .await
                .map_err(|e| api_with(hint, "grafana:UpdateWorkspaceConfiguration", e))?;
            self.wait_active(ctx, id).await?;
        }
        let old_tags: Tags = typed::<TagsOnly>(old).map(|t| t.tags).unwrap_or_default();
        self.retag(id, &old_tags, &i.tags).await?;
        Ok(outputs(&self.wait_active(ctx, id).await?))
    }

    async fn delete(&self, ctx: &OpContext, prior: &Current) -> Result<(), ProviderError> {
        let id = str_of(&prior.outputs, "id")?;
        loop {
            let sent = self
                .0
                .grafana
                .delete_workspace()
                .workspace_id(id)
                .send()
                .await;
            match sent {
                Ok(_) => break,
                // Busy: being updated (wait, then delete), or already being
                // deleted by an earlier attempt whose answer was lost.
                Err(e) if e.code() == Some("ConflictException") => {
                    let settled = until(
                        ctx,
                        WORKSPACE_WAIT,
                        &format!("workspace {id} to settle before it is deleted"),
                        || async {
                            Ok(match self.describe(id).await? {
                                None => Ok(None),
                                Some(w) => match w.status().as_str() {
                                    "DELETING" => Ok(Some(true)),
                                    "ACTIVE" | "FAILED" | "CREATION_FAILED" => Ok(Some(false)),
                                    other => Err(format!("status {other}")),
                                },
                            })
                        },
                    )
                    .await?;
                    match settled {
                        None => return Ok(()),
                        Some(true) => break,
                        Some(false) => continue,
                    }
                }
                Err(e) => {
                    found_with(hint, "grafana:DeleteWorkspace", Err::<(), _>(e))?;
                    break;
                }
            }
        }
        until(
            ctx,
            WORKSPACE_WAIT,
            &format!("workspace {id} to be deleted"),
            || async {
                Ok(match self.describe(id).await? {
                    None => Ok(()),
                    Some(w) => Err(format!("status {}", w.status().as_str())),
                })
            },
        )
        .await
    }

    async fn import(&self, _ctx: &OpContext, id: &str) -> Result<Option<Current>, ProviderError> {
        let id = id.rsplit('/').next().unwrap_or(id);
        let Some(w) = self.describe(id).await? else {
            return Ok(None);
        };
        Ok(Some(Current::new(inputs(&w, &Map::new()), outputs(&w))))
    }
}

#[derive(Deserialize)]
struct TagsOnly {
    #[serde(default)]
    tags: Tags,
}
