//! The `amg` provider's look-ups (`[data.aws_grafana_workspace.NAME]`): a
//! workspace made elsewhere, found by its ID or its name and never
//! changed. It reports the attributes the `aws_grafana_workspace` resource
//! records, shaped by the resource's own read, plus the ARN AMG never
//! returns (built from the caller's identity, as tagging builds it).
//!
//! Workspace names need not be unique, so a search by name that matches
//! several is an error listing their IDs, never a pick; workspaces being
//! deleted are left out of it, since a replaced workspace still DELETING
//! would otherwise make its successor's name ambiguous.

use std::sync::Arc;

use aws_sdk_grafana::types::{WorkspaceDescription, WorkspaceStatus, WorkspaceSummary};
use meshmon_aws_common::tags::Tags;
use meshmon_provider_sdk::attrs::typed;
use meshmon_provider_sdk::lookup::{ambiguous, not_found};
use meshmon_provider_sdk::{
    AttrType, DeclaredLookup, DeclaredOutputs, Inputs, Map, OpContext, ProviderError, Value,
    async_trait, declare,
};

use crate::amg::Clients;
use crate::amg_workspace;

/// What the errors call the object searched for.
const WHAT: &str = "Amazon Managed Grafana workspace";

fn list() -> AttrType {
    AttrType::list_of(AttrType::String)
}

declare! {
    pub(crate) struct WorkspaceLookupIn for "aws_grafana_workspace" (
        "An existing Amazon Managed Grafana workspace of the provider's region, found by `id` \
         (grafana:DescribeWorkspace) or by `name` among all its workspaces (grafana:ListWorkspaces, \
         then DescribeWorkspace); set exactly one of them."
    ) {
        id: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("The workspace ID (g-…) to find; set this or `name`.");
        name: Option<String> = optional(AttrType::String).and_computed().describe(
            "The workspace name to find; set this or `id`. Names need not be unique: \
             several workspaces with it are an error that lists their IDs.",
        );
    }
    checks {
        one_key: ["id", "name"];
    }
    outputs WorkspaceFound {
        id: String;
        name: Option<String>;
        arn: String = computed(AttrType::String)
            .describe("arn:PARTITION:grafana:REGION:ACCOUNT:/workspaces/ID.");
        endpoint: String = computed(AttrType::String)
            .describe("The workspace's host name, without https://.");
        status: String = computed(AttrType::String).describe("ACTIVE, UPDATING, …");
        description: Option<String> = computed(AttrType::String).describe("Its description.");
        account_access_type: Option<String> = computed(AttrType::String)
            .describe("CURRENT_ACCOUNT or ORGANIZATION.");
        #[serde(default)]
        authentication_providers: Vec<String> = computed(list())
            .describe("AWS_SSO and/or SAML.");
        permission_type: Option<String> = computed(AttrType::String)
            .describe("SERVICE_MANAGED or CUSTOMER_MANAGED.");
        #[serde(default)]
        data_sources: Vec<String> = computed(list())
            .describe("The AWS data sources the workspace may read, like [\"PROMETHEUS\"].");
        #[serde(default)]
        notification_destinations: Vec<String> = computed(list())
            .describe("Where its alerts may go, like [\"SNS\"].");
        grafana_version: String = computed(AttrType::String).describe("Like \"10.4\".");
        role_arn: Option<String> = computed(AttrType::String)
            .describe("The IAM role the workspace assumes to read data sources.");
        #[serde(default)]
        tags: Tags = computed(AttrType::map_of(AttrType::String))
            .describe("Its tags, without AWS's own and meshmon's (meshmon:…).");
    }
}

/// The one key a workspace is found by, or which attribute is wrong and
/// why; "" is not set, like a variable left at an empty default.
fn key(inputs: &Map) -> Result<Key<'_>, (&'static str, String)> {
    let set = |k: &str| {
        inputs
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    match (set("id"), set("name")) {
        (Some(id), None) => Ok(Key::Id(id)),
        (None, Some(name)) => Ok(Key::Name(name)),
        (Some(_), Some(_)) => Err((
            "name",
            "is set together with `id`: a workspace is found by one of them".into(),
        )),
        (None, None) => Err((
            "id",
            "is missing, and so is `name`: a workspace is found by one of them".into(),
        )),
    }
}

/// The declaration's check that the inputs name exactly one key.
fn one_key(inputs: &Map) -> Result<(), (&'static str, String)> {
    key(inputs).map(drop)
}

enum Key<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// How a workspace is named among the candidates of a failed search by
/// ID: `g-0123456789 (appmesh)`, so that the hint says which is which.
fn label(w: &WorkspaceSummary) -> String {
    match w.name() {
        Some(name) if !name.is_empty() => format!("{} ({name})", w.id()),
        _ => w.id().to_string(),
    }
}

pub(crate) struct WorkspaceLookup(Arc<Clients>);

impl WorkspaceLookup {
    async fn by_id(&self, id: &str) -> Result<WorkspaceDescription, ProviderError> {
        if let Some(w) = amg_workspace::describe(&self.0, id).await? {
            return Ok(w);
        }
        let existing = amg_workspace::list_all(&self.0).await?;
        Err(not_found(
            WHAT,
            &[("id", &Value::from(id))],
            id,
            existing.iter().map(label),
        ))
    }

    async fn by_name(&self, name: &str) -> Result<WorkspaceDescription, ProviderError> {
        let keys = [("name", &Value::from(name))];
        let live: Vec<WorkspaceSummary> = amg_workspace::list_all(&self.0)
            .await?
            .into_iter()
            .filter(|w| *w.status() != WorkspaceStatus::Deleting)
            .collect();
        let ids: Vec<String> = live
            .iter()
            .filter(|w| w.name() == Some(name))
            .map(|w| w.id().to_string())
            .collect();
        let names = || live.iter().filter_map(|w| w.name()).map(str::to_string);
        match ids.as_slice() {
            [] => Err(not_found(WHAT, &keys, name, names())),
            // Deleted between the list and the describe: as good as never there.
            [id] => amg_workspace::describe(&self.0, id)
                .await?
                .ok_or_else(|| not_found(WHAT, &keys, name, names())),
            _ => Err(ambiguous(WHAT, &keys, &ids).with_hint(
                "workspace names need not be unique: find it by `id` (one of those) instead of `name`",
            )),
        }
    }
}

#[async_trait]
impl DeclaredLookup for WorkspaceLookup {
    type Inputs = WorkspaceLookupIn;
    type Outputs = WorkspaceFound;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        WorkspaceLookup(clients)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, WorkspaceLookupIn>,
    ) -> Result<WorkspaceFound, ProviderError> {
        let w = match key(i.raw())
            .map_err(|(attribute, why)| ProviderError::new(format!("`{attribute}` {why}")))?
        {
            Key::Id(id) => self.by_id(id).await?,
            Key::Name(name) => self.by_name(name).await?,
        };
        // What the resource's read records: every attribute, none shaped
        // by a prior (a look-up has none), so empty lists and tags are
        // left out and come back empty from the outputs' defaults.
        let read = amg_workspace::current(&w, &Map::new());
        let mut found = read.inputs;
        found.extend(read.outputs.into_map());
        found.insert(
            "arn".into(),
            Value::from(self.0.workspace_arn(w.id()).await?),
        );
        typed(&found).map_err(|e| {
            ProviderError::new(format!(
                "workspace {} as read does not fit the look-up's attributes: {}",
                w.id(),
                e.message
            ))
            .with_hint(
                "this is a bug in meshmon: the look-up reports what the resource's read records",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use meshmon_provider_sdk::Declaration;

    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect()
    }

    #[test]
    fn the_look_up_reports_every_attribute_the_resource_records() {
        let found = WorkspaceLookupIn::schema();
        for a in &amg_workspace::WorkspaceIn::schema().attributes {
            let f = found.get(a.name);
            assert!(f.is_some_and(|f| f.computed), "{}", a.name);
        }
    }

    #[test]
    fn a_workspace_is_found_by_exactly_one_key() {
        assert!(matches!(key(&keys(&[("id", "g-1")])), Ok(Key::Id("g-1"))));
        assert!(matches!(
            key(&keys(&[("name", "mesh"), ("id", "")])),
            Ok(Key::Name("mesh"))
        ));
        let (attribute, why) = one_key(&keys(&[("id", "g-1"), ("name", "mesh")])).unwrap_err();
        assert_eq!(attribute, "name");
        assert!(why.contains("together with `id`"), "{why}");
        let (attribute, why) = one_key(&Map::new()).unwrap_err();
        assert_eq!(attribute, "id");
        assert!(why.contains("and so is `name`"), "{why}");
    }
}
