//! `aws_amp_workspace` as a look-up: an AMP workspace found by its ID or
//! by its alias, with the resource type's attribute names and URLs (see
//! `crate::amp`). Aliases are neither unique nor matched exactly by AMP
//! (ListWorkspaces' `alias` returns every workspace whose alias starts
//! with it), so the list is compared exactly here, and two workspaces with
//! the alias are an error that names both. A workspace being deleted is
//! never found by its alias.

use std::sync::Arc;

use aws_sdk_amp::types::{WorkspaceDescription, WorkspaceStatusCode, WorkspaceSummary};
use meshmon_aws_common::error::{api, found};
use meshmon_aws_common::tags::{Tags, is_users_tag, tags_from_map};
use meshmon_provider_sdk::lookup::{ambiguous, not_found};
use meshmon_provider_sdk::{
    DeclaredLookup, Inputs, Map, OpContext, ProviderError, Value, async_trait, declare,
};

use crate::Clients;
use crate::amp::workspace_outputs;

declare! {
    pub(crate) struct WorkspaceIn for "aws_amp_workspace" (
        "An existing Amazon Managed Service for Prometheus workspace, found by ID \
         (aps:DescribeWorkspace) or by alias (aps:ListWorkspaces, then aps:DescribeWorkspace). \
         Aliases are not unique: an alias two workspaces share is an error naming both."
    ) {
        id: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("The workspace ID (ws-…); set it or `alias`, not both.");
        alias: Option<String> = optional(AttrType::String)
            .and_computed()
            .describe("The workspace's alias, matched exactly; set it or `id`, not both.");
    }
    checks {
        id_or_alias: ["id", "alias"];
    }
    outputs WorkspaceOut {
        id: String;
        alias: Option<String>;
        arn: String = computed(AttrType::String).describe("The workspace's ARN.");
        account_id: Option<String> = computed(AttrType::String)
            .describe("The account that owns the workspace.");
        prometheus_endpoint: Option<String> = computed(AttrType::String)
            .describe("https://aps-workspaces.REGION.amazonaws.com/workspaces/ID/");
        remote_write_url: Option<String> = computed(AttrType::String)
            .describe("Where collectors send samples (SigV4).");
        query_url: Option<String> = computed(AttrType::String)
            .describe("The Prometheus query API, for Grafana's data source.");
        status: Option<String> = computed(AttrType::String)
            .describe("CREATING, ACTIVE, UPDATING, DELETING, CREATION_FAILED or UPDATE_FAILED.");
        tags: Tags = computed(AttrType::map_of(AttrType::String))
            .describe("The workspace's tags, without `aws:` and `meshmon:` ones.");
    }
}

/// `aws_amp_workspace` searches by `id` or by `alias`: one of them.
fn id_or_alias(m: &Map) -> Result<(), (&'static str, String)> {
    let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    match (has("id"), has("alias")) {
        (true, false) | (false, true) => Ok(()),
        (true, true) => Err((
            "alias",
            "is set together with `id`: a workspace is found by one of them".into(),
        )),
        (false, false) => Err((
            "id",
            "is missing, and so is `alias`: a workspace is found by one of them".into(),
        )),
    }
}

pub(crate) struct WorkspaceLookup(Arc<Clients>);

fn deleting(w: &WorkspaceSummary) -> bool {
    w.status().map(|s| s.status_code()) == Some(&WorkspaceStatusCode::Deleting)
}

fn outputs(w: &WorkspaceDescription) -> WorkspaceOut {
    let described = workspace_outputs(w);
    WorkspaceOut {
        id: described.id,
        alias: w.alias().map(str::to_string),
        arn: described.arn,
        account_id: described.account_id,
        prometheus_endpoint: described.prometheus_endpoint,
        remote_write_url: described.remote_write_url,
        query_url: described.query_url,
        status: described.status,
        tags: tags_from_map(w.tags())
            .into_iter()
            .filter(|(k, _)| is_users_tag(k))
            .collect(),
    }
}

impl WorkspaceLookup {
    async fn describe(&self, id: &str) -> Result<Option<WorkspaceDescription>, ProviderError> {
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

    /// The workspaces whose alias starts with `alias` (all, without one).
    async fn list(&self, alias: Option<&str>) -> Result<Vec<WorkspaceSummary>, ProviderError> {
        self.0
            .amp
            .list_workspaces()
            .set_alias(alias.map(str::to_string))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api("aps:ListWorkspaces", e))
    }
}

#[async_trait]
impl DeclaredLookup for WorkspaceLookup {
    type Inputs = WorkspaceIn;
    type Outputs = WorkspaceOut;
    type Client = Clients;

    fn new(clients: Arc<Clients>) -> Self {
        WorkspaceLookup(clients)
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        i: &Inputs<'_, WorkspaceIn>,
    ) -> Result<WorkspaceOut, ProviderError> {
        match (&i.id, &i.alias) {
            (Some(id), None) => {
                if let Some(w) = self.describe(id).await? {
                    return Ok(outputs(&w));
                }
                let ids = self
                    .list(None)
                    .await?
                    .iter()
                    .map(|w| w.workspace_id().to_string())
                    .collect::<Vec<_>>();
                Err(not_found(
                    "AMP workspace",
                    &[("id", &Value::from(id.as_str()))],
                    id,
                    ids,
                ))
            }
            (None, Some(alias)) => {
                let keys = [("alias", &Value::from(alias.as_str()))];
                let mut ids: Vec<String> = self
                    .list(Some(alias))
                    .await?
                    .iter()
                    .filter(|w| w.alias() == Some(alias.as_str()) && !deleting(w))
                    .map(|w| w.workspace_id().to_string())
                    .collect();
                ids.sort();
                if ids.len() > 1 {
                    return Err(ambiguous("AMP workspace", &keys, &ids));
                }
                // Deleted between the list and the read: as good as absent.
                if let Some(id) = ids.first()
                    && let Some(w) = self.describe(id).await?
                {
                    return Ok(outputs(&w));
                }
                let aliases = self
                    .list(None)
                    .await?
                    .iter()
                    .filter(|w| !deleting(w))
                    .filter_map(|w| w.alias().map(str::to_string))
                    .collect::<Vec<_>>();
                Err(not_found("AMP workspace", &keys, alias, aliases))
            }
            _ => Err(ProviderError::new(
                "aws_amp_workspace searches by `id` or by `alias`, and exactly one of them",
            )
            .with_hint("set `id` (ws-…) or `alias`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{clients, inputs};
    use meshmon_test_support::aws_replay::Answer;
    use serde_json::json;

    fn summary(id: &str, alias: &str, status: &str) -> serde_json::Value {
        json!({
            "workspaceId": id, "alias": alias, "createdAt": 1.7e9,
            "arn": format!("arn:aws:aps:eu-west-1:123456789012:workspace/{id}"),
            "status": {"statusCode": status},
        })
    }

    /// AMP lists every workspace whose alias starts with the one asked
    /// for (moto matches exactly, so only canned answers show this).
    #[tokio::test]
    async fn an_alias_matches_exactly_and_never_a_workspace_being_deleted() {
        let listed = json!({"workspaces": [
            summary("ws-1", "mesh", "ACTIVE"),
            summary("ws-2", "mesh-old", "ACTIVE"),
            summary("ws-3", "mesh", "DELETING"),
        ]});
        let mut described = summary("ws-1", "mesh", "ACTIVE");
        described["prometheusEndpoint"] =
            json!("https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1");
        let (replay, c) = clients([
            Answer::ok(&listed.to_string()),
            Answer::ok(&json!({ "workspace": described }).to_string()),
        ]);
        let raw = inputs(json!({"alias": "mesh"}));
        let found = WorkspaceLookup::new(c)
            .find(
                &OpContext::quiet("data.aws_amp_workspace.t"),
                &Inputs::decode(&raw).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(found.id, "ws-1");
        assert_eq!(found.alias.as_deref(), Some("mesh"));
        let sent = replay.sent();
        assert_eq!(sent[0].path, "/workspaces");
        assert!(
            sent[0].query.contains(&("alias".into(), "mesh".into())),
            "{:?}",
            sent[0].query
        );
        assert_eq!(sent[1].path, "/workspaces/ws-1");
    }

    #[test]
    fn a_workspace_is_searched_by_one_key() {
        let key = |k: &str| (k.to_string(), Value::from("x"));
        assert!(id_or_alias(&[key("id")].into()).is_ok());
        assert!(id_or_alias(&[key("alias")].into()).is_ok());
        assert_eq!(id_or_alias(&Map::new()).unwrap_err().0, "id");
        assert_eq!(
            id_or_alias(&[key("id"), key("alias")].into())
                .unwrap_err()
                .0,
            "alias"
        );
    }
}
