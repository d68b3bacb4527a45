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
    PermissionType, WorkspaceDescription, WorkspaceStatus, WorkspaceSummary,
};
use meshmon_aws_common::error::{api_with, found_with};
use meshmon_aws_common::identity::last_segment;
use meshmon_aws_common::ownership::{creation_tags, made_by, only_one, required_marks};
use meshmon_aws_common::retag_by_arn;
use meshmon_aws_common::tags::{
    Tags, TagsExt, refuse_reserved, tag_diff, tags_attr, tags_from_map, tags_hash_map, tags_of,
};
use meshmon_aws_common::wait::{create_call_with, until};
use meshmon_provider_sdk::{
    AttrType, Current, Declared, Inputs, Map, OpContext, PlanAdvice, ProviderError, UpdateGroup,
    Value, async_trait, declare,
};

use crate::amg::{Clients, WORKSPACE_WAIT, hint};
use crate::attrs::{Attrs, order_like, strings};

const CURRENT_ACCOUNT: &str = "CURRENT_ACCOUNT";
const SERVICE_MANAGED: &str = "SERVICE_MANAGED";

// What the engine fills in for an attribute left out, for inputs decoded
// without it (the declaration's own check).
fn current_account() -> String {
    CURRENT_ACCOUNT.into()
}
fn service_managed() -> String {
    SERVICE_MANAGED.into()
}

/// What the plan says of a workspace made or switched to
/// `SERVICE_MANAGED`: AMG's API reference (CreateWorkspace,
/// permissionType) says that through the API, not the console, the role
/// is the caller's to make, so `CUSTOMER_MANAGED` with `role_arn` is what
/// works; with `SERVICE_MANAGED` the workspace reads no data source.
fn permission_note(desired: &Map) -> Option<String> {
    let kind = desired
        .get("permission_type")
        .and_then(Value::as_str)
        .unwrap_or(SERVICE_MANAGED);
    (kind == SERVICE_MANAGED).then(|| {
        "permission_type SERVICE_MANAGED: AMG creates the service-managed role and its policies \
         only from its console; through the API set permission_type = \"CUSTOMER_MANAGED\" and \
         role_arn to a role that may read the data sources (AMG API reference, CreateWorkspace)"
            .to_string()
    })
}

fn list() -> AttrType {
    AttrType::list_of(AttrType::String)
}

declare! {
    pub(crate) struct WorkspaceIn for "aws_grafana_workspace" ("An Amazon Managed Grafana workspace.") {
        name: Option<String> = optional(AttrType::String)
            .describe("The workspace name; changed in place.");
        description: Option<String> = optional(AttrType::String).describe("Changed in place.");
        #[serde(default = "current_account")]
        account_access_type: String = optional(AttrType::String)
            .default(CURRENT_ACCOUNT)
            .describe("CURRENT_ACCOUNT or ORGANIZATION; changed in place.");
        authentication_providers: Vec<String> = required(list())
            .describe("AWS_SSO (IAM Identity Center) and/or SAML; changed in place.");
        #[serde(default = "service_managed")]
        permission_type: String = optional(AttrType::String)
            .default(SERVICE_MANAGED)
            .describe("SERVICE_MANAGED or CUSTOMER_MANAGED; changed in place.");
        #[serde(default)]
        data_sources: Vec<String> = optional(list())
            .describe("AWS data sources the service-managed role may read, like [\"PROMETHEUS\"].");
        #[serde(default)]
        notification_destinations: Vec<String> = optional(list())
            .describe("Where alerts may go, like [\"SNS\"] (topics must be named grafana*).");
        grafana_version: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("Like \"10.4\"; AMG picks the newest when left out. Upgraded in place.");
        role_arn: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("The IAM role the workspace assumes to read data sources; changed in place.");
        #[serde(default)]
        tags: Tags = tags_attr()
            .describe("Changed in place; keys starting with meshmon: are meshmon's own.");
    }
    outputs WorkspaceOut {
        id: String = computed(AttrType::String)
            .describe("The workspace ID (g-…); `meshmon import` takes it.");
        endpoint: String = computed(AttrType::String)
            .describe("The workspace's host name, without https://.");
        status: String = computed(AttrType::String);
        grafana_version: String;
        role_arn: Option<String>;
    }
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

pub(crate) struct Workspace(Arc<Clients>);

/// What a workspace changes in place, each with its own call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WorkspaceUpdate {
    /// UpdateWorkspace.
    Workspace,
    /// UpdateWorkspaceAuthentication.
    Authentication,
    /// UpdateWorkspaceConfiguration.
    GrafanaVersion,
    Tags,
}

fn outputs(w: &WorkspaceDescription) -> WorkspaceOut {
    WorkspaceOut {
        id: w.id().into(),
        endpoint: w.endpoint().into(),
        status: w.status().as_str().into(),
        grafana_version: w.grafana_version().into(),
        role_arn: w.workspace_role_arn().map(str::to_string),
    }
}

/// The workspace as `read` records it, its inputs shaped like `prior`'s;
/// the `aws_grafana_workspace` look-up reports the same attributes.
pub(crate) fn current(w: &WorkspaceDescription, prior: &Map) -> Current<WorkspaceOut> {
    Current::new(inputs(w, prior), outputs(w))
}

/// DescribeWorkspace: `None` when the workspace does not exist.
pub(crate) async fn describe(
    clients: &Clients,
    id: &str,
) -> Result<Option<WorkspaceDescription>, ProviderError> {
    let out = found_with(
        hint,
        "grafana:DescribeWorkspace",
        clients
            .grafana
            .describe_workspace()
            .workspace_id(id)
            .send()
            .await,
    )?;
    Ok(out.and_then(|o| o.workspace))
}

/// Every workspace of the region, one ListWorkspaces page after another.
/// The summaries leave out the permissions, data sources and role:
/// [`describe`] has them.
pub(crate) async fn list_all(clients: &Clients) -> Result<Vec<WorkspaceSummary>, ProviderError> {
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = clients
            .grafana
            .list_workspaces()
            .max_results(100)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| api_with(hint, "grafana:ListWorkspaces", e))?;
        all.extend(out.workspaces().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(all),
        }
    }
}

fn inputs(w: &WorkspaceDescription, prior: &Map) -> Map {
    let names = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
    // An answer without the authentication leaves the attribute out. The
    // SDK fills a missing `authentication` in with an empty summary, and a
    // workspace always has at least one provider, so empty means not told.
    let auth = w
        .authentication()
        .filter(|a| !a.providers().is_empty())
        .map(|a| names(a.providers().iter().map(|p| p.as_str()).collect()));
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
        .opt(
            "authentication_providers",
            auth.map(|a| strings(order_like(prior, "authentication_providers", a))),
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
        describe(&self.0, id).await
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
        i: &Inputs<'_, WorkspaceIn>,
        first: &WorkspaceDescription,
    ) -> Result<WorkspaceOut, ProviderError> {
        match self.wait_active(ctx, first.id()).await {
            Ok(w) => Ok(outputs(&w)),
            Err(e) => Err(e.with_partial(i.partial(outputs(first)))),
        }
    }

    /// Changes the user's tags from those recorded in `prior` to `new`
    /// (`tags::retag`): AWS's and meshmon's own are never touched. AMG
    /// returns no workspace ARN, so it is built, from the caller's
    /// identity, only when a tag moves.
    async fn retag(&self, id: &str, prior: &Current, new: &Tags) -> Result<(), ProviderError> {
        let (set, remove) = tag_diff(&tags_of(&prior.inputs, "tags"), new);
        if set.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let arn = self.0.workspace_arn(id).await?;
        retag_by_arn!(self.0.grafana, "grafana", hint, &arn, prior, new).await
    }
}

#[async_trait]
impl Declared for Workspace {
    type Inputs = WorkspaceIn;
    type Outputs = WorkspaceOut;
    type Client = Clients;
    type Group = WorkspaceUpdate;
    const UPDATES: &'static [UpdateGroup<WorkspaceUpdate>] = &[
        (
            WorkspaceUpdate::Workspace,
            &[
                "name",
                "description",
                "account_access_type",
                "permission_type",
                "data_sources",
                "notification_destinations",
                "role_arn",
            ],
        ),
        (
            WorkspaceUpdate::Authentication,
            &["authentication_providers"],
        ),
        (WorkspaceUpdate::GrafanaVersion, &["grafana_version"]),
        (WorkspaceUpdate::Tags, &["tags"]),
    ];

    fn new(clients: Arc<Clients>) -> Self {
        Workspace(clients)
    }

    fn advise(&self, prior: Option<&Current>, desired: &Map) -> PlanAdvice {
        let was = prior.and_then(|p| p.inputs.get("permission_type"));
        PlanAdvice {
            notes: permission_note(desired)
                .filter(|_| was != desired.get("permission_type"))
                .into_iter()
                .collect(),
            ..PlanAdvice::default()
        }
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
        Ok(Some(current(&w, prior)))
    }

    /// A workspace ID, or anything ending in one (an ARN).
    async fn import_id(&self, _ctx: &OpContext, id: &str) -> Result<String, ProviderError> {
        Ok(last_segment(id).to_string())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<WorkspaceOut, ProviderError> {
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
        self.finish(ctx, i, first).await
    }

    /// Lists the workspaces for the one this create's tags mark (see the
    /// module docs), then waits for it to be ACTIVE as the create would. A
    /// workspace being deleted is not found.
    async fn recover(
        &self,
        ctx: &OpContext,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<Option<WorkspaceOut>, ProviderError> {
        required_marks(ctx)?;
        let mine: Vec<String> = list_all(&self.0)
            .await?
            .iter()
            .filter(|w| {
                w.tags()
                    .is_some_and(|t| made_by(ctx, t.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            })
            .filter(|w| *w.status() != WorkspaceStatus::Deleting)
            .map(|w| w.id().to_string())
            .collect();
        let Some(id) = only_one(ctx, "workspace", mine, String::clone)? else {
            return Ok(None);
        };
        let Some(w) = self.describe(&id).await? else {
            return Ok(None);
        };
        self.finish(ctx, i, &w).await.map(Some)
    }

    /// Each group's call, then a wait for ACTIVE: AMG refuses the next
    /// change to a busy workspace. The outputs are the settled workspace's.
    async fn update(
        &self,
        ctx: &OpContext,
        group: WorkspaceUpdate,
        id: &str,
        prior: &Current,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<Option<WorkspaceOut>, ProviderError> {
        refuse_reserved(&i.tags)?;
        let g = &self.0.grafana;
        match group {
            WorkspaceUpdate::Workspace => {
                g.update_workspace()
                    .workspace_id(id)
                    .account_access_type(AccountAccessType::from(i.account_access_type.as_str()))
                    .permission_type(PermissionType::from(i.permission_type.as_str()))
                    .set_workspace_data_sources(Some(i.sources()))
                    .set_workspace_notification_destinations(Some(i.destinations()))
                    .set_workspace_name(i.name.clone())
                    // A description left out is cleared.
                    .set_workspace_description(Some(i.description.clone().unwrap_or_default()))
                    .set_workspace_role_arn(i.role_arn.clone())
                    .send()
                    .await
                    .map_err(|e| api_with(hint, "grafana:UpdateWorkspace", e))?;
            }
            WorkspaceUpdate::Authentication => {
                g.update_workspace_authentication()
                    .workspace_id(id)
                    .set_authentication_providers(Some(i.auth()))
                    .send()
                    .await
                    .map_err(|e| api_with(hint, "grafana:UpdateWorkspaceAuthentication", e))?;
            }
            // A version left out leaves the workspace's as it is.
            WorkspaceUpdate::GrafanaVersion => {
                if let Some(version) = &i.grafana_version {
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
                }
            }
            WorkspaceUpdate::Tags => self.retag(id, prior, &i.tags).await?,
        }
        Ok(Some(outputs(&self.wait_active(ctx, id).await?)))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Current,
    ) -> Result<(), ProviderError> {
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
}

#[cfg(test)]
#[path = "amg_workspace_test.rs"]
mod tests;
