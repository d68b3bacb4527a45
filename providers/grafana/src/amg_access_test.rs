//! Role associations and service accounts over canned AMG answers.

use meshmon_test_support::aws_replay::{Answer, Sent};
use serde_json::json;

use super::*;
use crate::testing::{amg, creating, inputs};

fn quiet() -> OpContext {
    OpContext::quiet("aws_grafana_role_association.admins")
}

fn permission(role: &str, id: &str, ty: &str) -> serde_json::Value {
    json!({"role": role, "user": {"id": id, "type": ty}})
}

fn permissions(list: Vec<serde_json::Value>, next: Option<&str>) -> Answer {
    let mut page = json!({ "permissions": list });
    if let Some(t) = next {
        page["nextToken"] = json!(t);
    }
    Answer::ok(&page.to_string())
}

/// The instructions of an UpdatePermissions request, as
/// (action, role, [id/type]).
fn batch(sent: &Sent) -> Vec<(String, String, Vec<String>)> {
    let body = sent.json();
    body["updateInstructionBatch"]
        .as_array()
        .expect("a batch")
        .iter()
        .map(|i| {
            let who = i["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    format!(
                        "{}/{}",
                        u["id"].as_str().unwrap(),
                        u["type"].as_str().unwrap()
                    )
                })
                .collect();
            (
                i["action"].as_str().unwrap().to_string(),
                i["role"].as_str().unwrap().to_string(),
                who,
            )
        })
        .collect()
}

fn recorded(inputs_json: serde_json::Value, id: &str) -> Current {
    Current::new(inputs(inputs_json), inputs(json!({ "id": id })))
}

#[tokio::test]
async fn an_association_adds_its_users_and_groups_in_one_batch() {
    let (replay, c) = amg([Answer::ok(r#"{"errors": []}"#)]);
    let raw = inputs(json!({
        "workspace_id": "g-1", "role": "ADMIN", "user_ids": ["u1"], "group_ids": ["g1"],
    }));
    let out = RoleAssociation::new(c)
        .create(
            &creating("aws_grafana_role_association.admins"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.id, "g-1/ADMIN");
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("PATCH", "/workspaces/g-1/permissions")
    );
    assert_eq!(
        batch(&sent[0]),
        [(
            "ADD".to_string(),
            "ADMIN".to_string(),
            vec!["u1/SSO_USER".to_string(), "g1/SSO_GROUP".to_string()]
        )]
    );
}

#[tokio::test]
async fn entries_amg_could_not_apply_are_an_error_despite_the_200() {
    let (_, c) = amg([Answer::ok(
        &json!({"errors": [{
            "code": 400, "message": "user u1 does not exist",
            "causedBy": {"action": "ADD", "role": "ADMIN", "users": [{"id": "u1", "type": "SSO_USER"}]},
        }]})
        .to_string(),
    )]);
    let raw = inputs(json!({"workspace_id": "g-1", "role": "ADMIN", "user_ids": ["u1"]}));
    let err = RoleAssociation::new(c)
        .create(
            &creating("aws_grafana_role_association.admins"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("400"));
    assert_eq!(err.message, "user u1 does not exist");
    assert!(
        err.hint.as_deref().unwrap().contains("IAM Identity Center"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_association_of_nobody_is_refused_before_any_request() {
    let (replay, c) = amg([]);
    let raw = inputs(json!({"workspace_id": "g-1", "role": "ADMIN", "user_ids": []}));
    let err = RoleAssociation::new(c)
        .create(
            &creating("aws_grafana_role_association.admins"),
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(err.message.starts_with("`user_ids` is empty"), "{err}");
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn a_read_pages_through_the_permissions_and_keeps_the_roles_holders() {
    let (replay, c) = amg([
        permissions(
            vec![
                permission("ADMIN", "u2", "SSO_USER"),
                permission("VIEWER", "u9", "SSO_USER"),
            ],
            Some("p2"),
        ),
        permissions(
            vec![
                permission("ADMIN", "g1", "SSO_GROUP"),
                permission("ADMIN", "u1", "SSO_USER"),
            ],
            None,
        ),
    ]);
    let prior = inputs(json!({"workspace_id": "g-1", "role": "ADMIN", "user_ids": ["u1", "u2"]}));
    let now = RoleAssociation::new(c)
        .fetch(&quiet(), "g-1/ADMIN", &prior)
        .await
        .unwrap()
        .expect("the association");
    assert_eq!(
        now.inputs,
        inputs(json!({
            "workspace_id": "g-1", "role": "ADMIN",
            "user_ids": ["u1", "u2"], "group_ids": ["g1"],
        })),
        "users in the spec's order; a group added by hand shows as drift"
    );
    assert_eq!(now.outputs.id, "g-1/ADMIN");
    let sent = replay.sent();
    assert_eq!(sent[0].path, "/workspaces/g-1/permissions");
    assert!(sent[1].query.contains(&("nextToken".into(), "p2".into())));
}

#[tokio::test]
async fn an_association_nobody_holds_or_of_a_workspace_gone_reads_as_gone() {
    let (_, c) = amg([
        permissions(vec![permission("VIEWER", "u9", "SSO_USER")], None),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    let assoc = RoleAssociation::new(c);
    for _ in 0..2 {
        let found = assoc
            .fetch(&quiet(), "g-1/ADMIN", &Map::new())
            .await
            .unwrap();
        assert!(found.is_none());
    }
}

#[tokio::test]
async fn an_association_id_is_workspace_and_role() {
    let (replay, c) = amg([]);
    let assoc = RoleAssociation::new(c);
    assert_eq!(
        assoc.import_id(&quiet(), "g-1/admin").await.unwrap(),
        "g-1/ADMIN"
    );
    let err = assoc.fetch(&quiet(), "g-1", &Map::new()).await.unwrap_err();
    assert_eq!(err.message, "\"g-1\" is not WORKSPACE_ID/ROLE");
    assert!(err.hint.as_deref().unwrap().contains("g-abc123/ADMIN"));
    assert!(replay.sent().is_empty());
}

#[tokio::test]
async fn a_membership_change_adds_the_new_and_revokes_the_removed_in_one_batch() {
    let (replay, c) = amg([Answer::ok(r#"{"errors": []}"#)]);
    let prior = recorded(
        json!({"workspace_id": "g-1", "role": "EDITOR", "user_ids": ["u1", "u2"], "group_ids": ["g1"]}),
        "g-1/EDITOR",
    );
    let raw = inputs(json!({"workspace_id": "g-1", "role": "EDITOR", "user_ids": ["u2", "u3"]}));
    let out = RoleAssociation::new(c)
        .update(
            &quiet(),
            AssociationUpdate::Members,
            "g-1/EDITOR",
            &prior,
            &Inputs::decode(&raw).unwrap(),
        )
        .await
        .unwrap();
    assert!(out.is_none(), "the ID does not change");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        batch(&replay.sent()[0]),
        [
            ("ADD".into(), "EDITOR".into(), s(&["u3/SSO_USER"])),
            (
                "REVOKE".into(),
                "EDITOR".into(),
                s(&["u1/SSO_USER", "g1/SSO_GROUP"])
            ),
        ]
    );
}

#[tokio::test]
async fn deleting_revokes_everyone_and_a_workspace_gone_is_done() {
    let (replay, c) = amg([
        Answer::ok(r#"{"errors": []}"#),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    let prior = recorded(
        json!({"workspace_id": "g-1", "role": "VIEWER", "user_ids": ["u1"]}),
        "g-1/VIEWER",
    );
    let assoc = RoleAssociation::new(c);
    assoc.delete(&quiet(), "g-1/VIEWER", &prior).await.unwrap();
    assoc.delete(&quiet(), "g-1/VIEWER", &prior).await.unwrap();
    assert_eq!(
        batch(&replay.sent()[0]),
        [(
            "REVOKE".to_string(),
            "VIEWER".to_string(),
            vec!["u1/SSO_USER".to_string()]
        )]
    );
}

#[tokio::test]
async fn recover_finds_the_association_only_when_everyone_holds_the_role() {
    let (_, c) = amg([
        permissions(vec![permission("ADMIN", "u1", "SSO_USER")], None),
        permissions(vec![permission("ADMIN", "u1", "SSO_USER")], None),
    ]);
    let assoc = RoleAssociation::new(c);
    let ctx = creating("aws_grafana_role_association.admins");
    let all = inputs(json!({"workspace_id": "g-1", "role": "ADMIN", "user_ids": ["u1"]}));
    let found = assoc
        .recover(&ctx, &Inputs::decode(&all).unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|o| o.id).as_deref(), Some("g-1/ADMIN"));
    let more = inputs(json!({"workspace_id": "g-1", "role": "ADMIN", "user_ids": ["u1", "u2"]}));
    let found = assoc
        .recover(&ctx, &Inputs::decode(&more).unwrap())
        .await
        .unwrap();
    assert!(found.is_none(), "u2 was never added: the create runs again");
}

// ------------------------------------------------------- service accounts

fn accounts(list: serde_json::Value, next: Option<&str>) -> Answer {
    let mut page = json!({ "serviceAccounts": list, "workspaceId": "g-1" });
    if let Some(t) = next {
        page["nextToken"] = json!(t);
    }
    Answer::ok(&page.to_string())
}

fn account_ctx() -> OpContext {
    creating("aws_grafana_service_account.meshmon")
}

#[tokio::test]
async fn a_service_account_create_sends_its_name_and_role() {
    let (replay, c) = amg([Answer::ok(
        &json!({"id": "7", "name": "meshmon", "grafanaRole": "ADMIN", "workspaceId": "g-1"})
            .to_string(),
    )]);
    let raw = inputs(json!({"workspace_id": "g-1", "name": "meshmon", "grafana_role": "ADMIN"}));
    let out = ServiceAccount::new(c)
        .create(&account_ctx(), &Inputs::decode(&raw).unwrap())
        .await
        .unwrap();
    assert_eq!(out.id, "7");
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/workspaces/g-1/serviceaccounts")
    );
    assert_eq!(
        sent[0].json(),
        json!({"name": "meshmon", "grafanaRole": "ADMIN"})
    );
}

#[tokio::test]
async fn a_service_account_name_taken_is_refused_with_advice() {
    let (replay, c) = amg([Answer::json_error(409, "ConflictException")]);
    let raw = inputs(json!({"workspace_id": "g-1", "name": "meshmon", "grafana_role": "ADMIN"}));
    let err = ServiceAccount::new(c)
        .create(&account_ctx(), &Inputs::decode(&raw).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ConflictException"));
    assert!(!err.ambiguous);
    assert!(
        err.hint.as_deref().unwrap().contains("meshmon import"),
        "{err:?}"
    );
    assert_eq!(replay.sent().len(), 1);
}

#[tokio::test]
async fn an_imported_service_account_is_found_by_id_across_pages() {
    let (replay, c) = amg([
        accounts(
            json!([{"id": "3", "name": "ci", "grafanaRole": "EDITOR", "isDisabled": "false"}]),
            Some("p2"),
        ),
        accounts(
            json!([{"id": "7", "name": "meshmon", "grafanaRole": "ADMIN", "isDisabled": "false"}]),
            None,
        ),
    ]);
    let sa = ServiceAccount::new(c);
    let ctx = OpContext::quiet("aws_grafana_service_account.meshmon");
    let id = sa.import_id(&ctx, "g-1/7").await.unwrap();
    // On import nothing is recorded, so the ID names the workspace too.
    let now = sa
        .fetch(&ctx, &id, &Map::new())
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(
        now.inputs,
        inputs(json!({"workspace_id": "g-1", "name": "meshmon", "grafana_role": "ADMIN"}))
    );
    assert_eq!(now.outputs.id, "7");
    let sent = replay.sent();
    assert_eq!(sent[0].path, "/workspaces/g-1/serviceaccounts");
    assert!(sent[1].query.contains(&("nextToken".into(), "p2".into())));
    let err = sa.import_id(&ctx, "7").await.unwrap_err();
    assert!(err.hint.as_deref().unwrap().contains("g-abc123/7"));
}

#[tokio::test]
async fn a_service_account_missing_from_its_workspace_reads_as_gone() {
    let (replay, c) = amg([accounts(
        json!([{"id": "3", "name": "ci", "grafanaRole": "EDITOR", "isDisabled": "false"}]),
        None,
    )]);
    let prior = inputs(json!({"workspace_id": "g-2", "name": "meshmon", "grafana_role": "ADMIN"}));
    let found = ServiceAccount::new(c)
        .fetch(&account_ctx(), "7", &prior)
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(
        replay.sent()[0].path,
        "/workspaces/g-2/serviceaccounts",
        "the recorded workspace"
    );
}

#[tokio::test]
async fn recover_takes_an_account_of_the_same_name_only_with_the_same_role() {
    let list =
        json!([{"id": "7", "name": "meshmon", "grafanaRole": "EDITOR", "isDisabled": "false"}]);
    let (_, c) = amg([accounts(list.clone(), None), accounts(list, None)]);
    let sa = ServiceAccount::new(c);
    let admin = inputs(json!({"workspace_id": "g-1", "name": "meshmon", "grafana_role": "ADMIN"}));
    let found = sa
        .recover(&account_ctx(), &Inputs::decode(&admin).unwrap())
        .await
        .unwrap();
    assert!(found.is_none());
    let editor =
        inputs(json!({"workspace_id": "g-1", "name": "meshmon", "grafana_role": "EDITOR"}));
    let found = sa
        .recover(&account_ctx(), &Inputs::decode(&editor).unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|o| o.id).as_deref(), Some("7"));
}

#[tokio::test]
async fn a_service_account_delete_names_workspace_and_id_and_gone_is_done() {
    let (replay, c) = amg([
        Answer::ok("{}"),
        Answer::json_error(404, "ResourceNotFoundException"),
    ]);
    let prior = recorded(
        json!({"workspace_id": "g-1", "name": "meshmon", "grafana_role": "ADMIN"}),
        "7",
    );
    let sa = ServiceAccount::new(c);
    sa.delete(&account_ctx(), "7", &prior).await.unwrap();
    sa.delete(&account_ctx(), "7", &prior).await.unwrap();
    let sent = replay.sent();
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("DELETE", "/workspaces/g-1/serviceaccounts/7")
    );
}
