//! The workspace over canned AMG answers: what each call sends, the record
//! an answer makes, and how AMG's refusals come back.

use meshmon_provider_sdk::{Current, Value};
use meshmon_test_support::aws_replay::{Answer, caller_identity};
use serde_json::json;

use super::*;
use crate::testing::{amg, creating, inputs};

const ENDPOINT: &str = "g-1.grafana-workspace.eu-west-1.amazonaws.com";

/// A workspace as DescribeWorkspace describes it, with `extra` fields.
fn described(status: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut w = json!({
        "id": "g-1", "endpoint": ENDPOINT, "status": status, "grafanaVersion": "10.4",
        "created": 1.7e9, "modified": 1.7e9, "dataSources": [],
        "authentication": {"providers": ["AWS_SSO"]},
    });
    for (k, v) in extra.as_object().unwrap() {
        w[k] = v.clone();
    }
    w
}

fn answer(status: &str, extra: serde_json::Value) -> Answer {
    Answer::ok(&json!({ "workspace": described(status, extra) }).to_string())
}

fn active() -> Answer {
    answer("ACTIVE", json!({}))
}

fn recorded(inputs_json: serde_json::Value) -> Current {
    Current::new(inputs(inputs_json), inputs(json!({"id": "g-1"})))
}

#[tokio::test]
async fn a_create_sends_its_token_marks_and_settings_and_waits_for_active() {
    let (replay, c) = amg([
        answer("CREATING", json!({})),
        answer(
            "ACTIVE",
            json!({"workspaceRoleArn": "arn:aws:iam::1:role/grafana"}),
        ),
    ]);
    let raw = inputs(json!({
        "name": "mesh",
        "authentication_providers": ["AWS_SSO"],
        "data_sources": ["PROMETHEUS"],
        "tags": {"team": "obs"},
    }));
    let out = Workspace::new(c)
        .create(
            &creating("aws_grafana_workspace.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        WorkspaceOut {
            id: "g-1".into(),
            endpoint: ENDPOINT.into(),
            status: "ACTIVE".into(),
            grafana_version: "10.4".into(),
            role_arn: Some("arn:aws:iam::1:role/grafana".into()),
        }
    );
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/workspaces")
    );
    let body = sent[0].json();
    assert_eq!(body["clientToken"], "t-1");
    assert_eq!(body["accountAccessType"], "CURRENT_ACCOUNT");
    assert_eq!(body["permissionType"], "SERVICE_MANAGED");
    assert_eq!(body["authenticationProviders"], json!(["AWS_SSO"]));
    assert_eq!(body["workspaceDataSources"], json!(["PROMETHEUS"]));
    assert_eq!(body["workspaceName"], "mesh");
    assert_eq!(
        body["tags"],
        json!({
            "team": "obs",
            "meshmon:lineage": "L1",
            "meshmon:address": "aws_grafana_workspace.main",
            "meshmon:token": "t-1",
        })
    );
    for left_out in [
        "workspaceNotificationDestinations",
        "grafanaVersion",
        "workspaceRoleArn",
        "workspaceDescription",
    ] {
        assert!(body.get(left_out).is_none(), "{left_out}: {body}");
    }
    assert_eq!(
        (sent[1].method.as_str(), sent[1].path.as_str()),
        ("GET", "/workspaces/g-1")
    );
}

#[tokio::test]
async fn a_workspace_that_fails_to_create_is_an_error_that_keeps_it_recorded() {
    let (_, c) = amg([
        answer("CREATING", json!({})),
        answer("CREATION_FAILED", json!({})),
    ]);
    let raw = inputs(json!({"authentication_providers": ["AWS_SSO"]}));
    let err = Workspace::new(c)
        .create(
            &creating("aws_grafana_workspace.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("CREATION_FAILED"));
    assert!(
        err.message.contains("workspace g-1 is CREATION_FAILED"),
        "{err}"
    );
    assert!(err.hint.as_deref().unwrap().contains("-replace"), "{err:?}");
    let partial = err.partial.expect("the workspace, recorded");
    assert_eq!(partial.inputs, raw);
    assert_eq!(partial.outputs["id"], Value::from("g-1"));
    assert_eq!(partial.outputs["status"], Value::from("CREATING"));
}

#[tokio::test]
async fn a_refused_create_is_not_sent_again_and_a_server_error_is_ambiguous() {
    let (replay, c) = amg([
        Answer::json_error(403, "AccessDeniedException"),
        Answer::json_error(500, "InternalServerException"),
    ]);
    let raw = inputs(json!({"authentication_providers": ["AWS_SSO"]}));
    let ws = Workspace::new(c);
    let ctx = creating("aws_grafana_workspace.main");
    let err = ws
        .create(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("grafana:CreateWorkspace"),
        "{err:?}"
    );
    assert!(!err.ambiguous);
    assert_eq!(replay.sent().len(), 1, "a refusal is not sent again");
    // AMG may have made the workspace before its 500: the engine recovers it.
    let err = ws
        .create(&ctx, &Inputs::decode(&raw).unwrap())
        .await
        .unwrap_err();
    assert!(err.ambiguous, "{err:?}");
    assert_eq!(replay.sent().len(), 2);
}

#[tokio::test]
async fn a_read_orders_like_the_spec_and_leaves_out_what_the_answer_lacks() {
    let (replay, c) = amg([answer(
        "ACTIVE",
        json!({
            "name": "mesh",
            "accountAccessType": "CURRENT_ACCOUNT",
            "permissionType": "SERVICE_MANAGED",
            "authentication": {"providers": ["SAML", "AWS_SSO"]},
            "tags": {"team": "obs", "meshmon:lineage": "L1", "meshmon:token": "t-1"},
        }),
    )]);
    let prior = inputs(json!({"authentication_providers": ["AWS_SSO", "SAML"]}));
    let ws = Workspace::new(c);
    let ctx = OpContext::quiet("aws_grafana_workspace.main");
    let id = ws
        .import_id(&ctx, "arn:aws:grafana:eu-west-1:1:/workspaces/g-1")
        .await
        .unwrap();
    assert_eq!(id, "g-1");
    let now = ws
        .fetch(&ctx, &id, &prior)
        .await
        .unwrap()
        .expect("the workspace");
    assert_eq!(replay.sent()[0].path, "/workspaces/g-1");
    assert_eq!(
        now.inputs,
        inputs(json!({
            "name": "mesh",
            "account_access_type": "CURRENT_ACCOUNT",
            "authentication_providers": ["AWS_SSO", "SAML"],
            "permission_type": "SERVICE_MANAGED",
            "grafana_version": "10.4",
            "tags": {"team": "obs"},
        })),
        "no description, sources, destinations or role; meshmon's tags are its own"
    );
    assert_eq!(now.outputs.role_arn, None);
}

#[tokio::test]
async fn a_workspace_amg_does_not_know_reads_as_gone() {
    let (_, c) = amg([Answer::json_error(404, "ResourceNotFoundException")]);
    let found = Workspace::new(c)
        .fetch(
            &OpContext::quiet("aws_grafana_workspace.main"),
            "g-1",
            &Map::new(),
        )
        .await
        .unwrap();
    assert!(found.is_none());
}

#[tokio::test]
async fn recover_pages_through_the_workspaces_for_the_one_this_create_marked() {
    let marks = |token: &str| json!({"meshmon:lineage": "L1", "meshmon:address": "aws_grafana_workspace.main", "meshmon:token": token});
    let summary = |id: &str, status: &str, token: &str| {
        json!({"id": id, "endpoint": "e", "status": status, "grafanaVersion": "10.4",
               "created": 1.7e9, "modified": 1.7e9, "authentication": {"providers": ["AWS_SSO"]},
               "tags": marks(token)})
    };
    let (replay, c) = amg([
        Answer::ok(
            &json!({
                // The one an earlier create at this address made.
                "workspaces": [summary("g-0", "ACTIVE", "t-0"), summary("g-1", "CREATING", "t-1")],
                "nextToken": "p2",
            })
            .to_string(),
        ),
        Answer::ok(
            &json!({"workspaces": [summary("g-2", "DELETING", "t-1"), {"id": "g-3", "status": "ACTIVE"}]})
                .to_string(),
        ),
        answer("CREATING", json!({})),
        active(),
    ]);
    let raw = inputs(json!({"authentication_providers": ["AWS_SSO"]}));
    let out = Workspace::new(c)
        .recover(
            &creating("aws_grafana_workspace.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap()
        .expect("the workspace");
    assert_eq!(out.id, "g-1");
    assert_eq!(out.status, "ACTIVE");
    let sent = replay.sent();
    assert_eq!(sent[0].path, "/workspaces");
    assert!(sent[0].query.contains(&("maxResults".into(), "100".into())));
    assert!(sent[1].query.contains(&("nextToken".into(), "p2".into())));
    assert_eq!(sent[2].path, "/workspaces/g-1");
    assert_eq!(
        sent[3].path, "/workspaces/g-1",
        "waited for, as the create would"
    );
    assert_eq!(replay.unused(), 0);
}

#[tokio::test]
async fn recover_without_an_intent_is_refused_before_any_request() {
    let (replay, c) = amg([]);
    let raw = inputs(json!({"authentication_providers": ["AWS_SSO"]}));
    let err = Workspace::new(c)
        .recover(
            &OpContext::quiet("aws_grafana_workspace.main"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("needs the create's intent"), "{err}");
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn a_settings_update_clears_a_removed_description_and_a_busy_one_says_so() {
    let (replay, c) = amg([
        active(),
        active(),
        Answer::json_error(409, "ConflictException"),
    ]);
    let ws = Workspace::new(c);
    let ctx = OpContext::quiet("aws_grafana_workspace.main");
    let prior = recorded(json!({"authentication_providers": ["AWS_SSO"], "description": "old"}));
    let raw = inputs(json!({
        "authentication_providers": ["AWS_SSO"],
        "notification_destinations": ["SNS"],
    }));
    let out = ws
        .update(
            &ctx,
            WorkspaceUpdate::Workspace,
            "g-1",
            &prior,
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap()
        .expect("the settled outputs");
    assert_eq!(out.status, "ACTIVE");
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("PUT", "/workspaces/g-1")
    );
    let body = sent[0].json();
    assert_eq!(body["workspaceDescription"], "");
    assert_eq!(body["workspaceNotificationDestinations"], json!(["SNS"]));
    assert_eq!(body["workspaceDataSources"], json!([]));
    assert_eq!(body["accountAccessType"], "CURRENT_ACCOUNT");
    assert_eq!(sent[1].path, "/workspaces/g-1", "then waits for ACTIVE");

    let err = ws
        .update(
            &ctx,
            WorkspaceUpdate::Workspace,
            "g-1",
            &prior,
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ConflictException"));
    assert!(err.hint.as_deref().unwrap().contains("busy"), "{err:?}");
}

#[tokio::test]
async fn an_upgrade_keeps_the_configuration_and_sends_the_version() {
    let conf = r#"{"plugins":{"pluginAdminEnabled":true}}"#;
    let (replay, c) = amg([
        Answer::ok(&json!({"configuration": conf, "grafanaVersion": "9.4"}).to_string()),
        Answer::ok("{}"),
        active(),
    ]);
    let raw = inputs(json!({"authentication_providers": ["AWS_SSO"], "grafana_version": "10.4"}));
    let prior =
        recorded(json!({"authentication_providers": ["AWS_SSO"], "grafana_version": "9.4"}));
    let out = Workspace::new(c)
        .update(
            &OpContext::quiet("aws_grafana_workspace.main"),
            WorkspaceUpdate::GrafanaVersion,
            "g-1",
            &prior,
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.grafana_version, "10.4");
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("GET", "/workspaces/g-1/configuration")
    );
    assert_eq!(
        (sent[1].method.as_str(), sent[1].path.as_str()),
        ("PUT", "/workspaces/g-1/configuration")
    );
    assert_eq!(
        sent[1].json(),
        json!({"configuration": conf, "grafanaVersion": "10.4"})
    );
}

#[tokio::test]
async fn a_tag_change_tags_and_untags_the_arn_built_from_the_caller() {
    let (replay, c) = amg([
        caller_identity(),
        Answer::ok("{}"),
        Answer::ok("{}"),
        active(),
    ]);
    let prior = recorded(json!({
        "authentication_providers": ["AWS_SSO"],
        "tags": {"team": "obs", "old": "x"},
    }));
    let raw = inputs(json!({"authentication_providers": ["AWS_SSO"], "tags": {"team": "sre"}}));
    Workspace::new(c)
        .update(
            &OpContext::quiet("aws_grafana_workspace.main"),
            WorkspaceUpdate::Tags,
            "g-1",
            &prior,
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    let sent = replay.sent();
    assert_eq!(sent[0].action(), "GetCallerIdentity");
    let arn_path = "/tags/arn:aws:grafana:eu-west-1:123456789012:/workspaces/g-1";
    assert_eq!(
        (sent[1].method.as_str(), sent[1].path.as_str()),
        ("POST", arn_path)
    );
    assert_eq!(sent[1].json(), json!({"tags": {"team": "sre"}}));
    assert_eq!(
        (sent[2].method.as_str(), sent[2].path.as_str()),
        ("DELETE", arn_path)
    );
    assert_eq!(sent[2].query, [("tagKeys".to_string(), "old".to_string())]);
}

#[tokio::test]
async fn a_delete_refused_as_busy_waits_for_the_delete_already_under_way() {
    let (replay, c) = amg([
        Answer::json_error(409, "ConflictException"),
        answer("DELETING", json!({})),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    Workspace::new(c)
        .delete(
            &OpContext::quiet("aws_grafana_workspace.main"),
            "g-1",
            &recorded(json!({})),
        )
        .await
        .unwrap();
    let calls: Vec<_> = replay
        .sent()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        calls,
        [
            "DELETE /workspaces/g-1",
            "GET /workspaces/g-1",
            "GET /workspaces/g-1"
        ]
    );
    assert_eq!(replay.unused(), 0);
}

#[tokio::test]
async fn deleting_a_workspace_already_gone_succeeds() {
    let (replay, c) = amg([
        Answer::json_error(404, "ResourceNotFoundException"),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    Workspace::new(c)
        .delete(
            &OpContext::quiet("aws_grafana_workspace.main"),
            "g-1",
            &recorded(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(replay.sent().len(), 2);
}

#[tokio::test]
async fn an_answer_without_the_authentication_leaves_the_providers_out() {
    let mut w = described("ACTIVE", json!({}));
    w.as_object_mut().unwrap().remove("authentication");
    let (_, c) = amg([Answer::ok(&json!({ "workspace": w }).to_string())]);
    let prior = inputs(json!({"authentication_providers": ["AWS_SSO"]}));
    let now = Workspace::new(c)
        .fetch(
            &OpContext::quiet("aws_grafana_workspace.main"),
            "g-1",
            &prior,
        )
        .await
        .unwrap()
        .expect("the workspace");
    assert!(
        !now.inputs.contains_key("authentication_providers"),
        "{:?}",
        now.inputs
    );
}

fn permission(kind: Option<&str>) -> Map {
    let mut m = Map::new();
    if let Some(k) = kind {
        m.insert("permission_type".into(), Value::from(k));
    }
    m
}

#[test]
fn a_service_managed_workspace_is_noted_and_a_customer_managed_one_is_not() {
    assert!(
        permission_note(&permission(None)).is_some_and(|n| n.contains("CUSTOMER_MANAGED")),
        "the default is SERVICE_MANAGED"
    );
    assert!(permission_note(&permission(Some("SERVICE_MANAGED"))).is_some());
    assert_eq!(permission_note(&permission(Some("CUSTOMER_MANAGED"))), None);
}
