//! The `amg` provider's resources against the AMG test server in
//! `tests/support` (moto has no AMG), through the real aws-sdk-grafana
//! client: waits for CREATING → ACTIVE, AWS-shaped errors with hints,
//! throttling retried, permissions added and revoked, service accounts and
//! tokens with expiry, and the token-renewal advice.

use std::sync::Arc;

use meshmon_provider_grafana::amg_configured;
use meshmon_provider_sdk::{Current, Map, OpContext, Resource, Value};
use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::moto::sdk_config_for;
use serde_json::json;

fn map(v: serde_json::Value) -> Map {
    Value::from(v).as_map().cloned().expect("a table")
}

async fn resource(amg: &AmgServer, type_name: &str) -> Arc<dyn Resource> {
    amg_configured(&sdk_config_for(&amg.endpoint()).await)
        .resource(type_name)
        .expect("type")
}

fn ctx() -> OpContext {
    OpContext::quiet("test.x")
}

fn workspace_inputs() -> Map {
    map(json!({
        "name": "appmesh", "account_access_type": "CURRENT_ACCOUNT", "authentication_providers": ["AWS_SSO"],
        "permission_type": "SERVICE_MANAGED", "data_sources": ["PROMETHEUS"], "notification_destinations": ["SNS"],
    }))
}

async fn workspace(amg: &AmgServer) -> (Arc<dyn Resource>, Current) {
    let r = resource(amg, "aws_grafana_workspace").await;
    let inputs = workspace_inputs();
    let out = r.create(&ctx(), &inputs).await.expect("create workspace");
    (r, Current::new(inputs, out))
}

#[tokio::test]
async fn workspace_create_waits_for_active_and_reads_back() {
    let amg = AmgServer::start();
    amg.settle_after(3);
    let (r, c) = workspace(&amg).await;
    assert_eq!(c.outputs["status"], Value::from("ACTIVE"));
    let polls = amg
        .calls()
        .iter()
        .filter(|c| *c == "DescribeWorkspace")
        .count();
    assert!(polls >= 3, "waited through CREATING: {:?}", amg.calls());
    let read = r.read(&ctx(), &c).await.unwrap().unwrap();
    for (k, v) in &c.inputs {
        assert_eq!(read.inputs.get(k), Some(v), "{k}");
    }
    assert!(
        read.inputs["role_arn"]
            .as_str()
            .unwrap()
            .contains(":role/service-role/AmazonGrafanaServiceRole-")
    );
    assert!(
        c.outputs["endpoint"]
            .as_str()
            .unwrap()
            .ends_with(".grafana-workspace.eu-west-1.amazonaws.com")
    );
    // Updated in place, waiting through UPDATING again.
    let mut changed = c.inputs.clone();
    changed.insert("description".into(), Value::from("Envoy mesh monitoring"));
    r.update(&ctx(), &read, &changed).await.unwrap();
    let id = c.outputs["id"].as_str().unwrap();
    assert_eq!(
        amg.workspace(id).unwrap()["description"],
        "Envoy mesh monitoring"
    );
    assert!(r.import(&ctx(), id).await.unwrap().is_some());
    r.delete(&ctx(), &c).await.unwrap();
    assert!(
        amg.workspace_ids().is_empty(),
        "deleted and waited until gone"
    );
    assert!(r.read(&ctx(), &c).await.unwrap().is_none());
}

#[tokio::test]
async fn throttling_is_retried_and_conflicts_are_explained() {
    let amg = AmgServer::start();
    amg.settle_after(0);
    amg.fail_next(2, 429, "ThrottlingException");
    let (r, _) = workspace(&amg).await;
    assert_eq!(
        amg.calls()[..2],
        ["Fault:ThrottlingException", "Fault:ThrottlingException"]
    );
    let e = r.create(&ctx(), &workspace_inputs()).await.unwrap_err();
    assert_eq!(e.operation.as_deref(), Some("grafana:CreateWorkspace"));
    assert_eq!(e.code.as_deref(), Some("ConflictException"));
    assert!(e.hint.unwrap().contains("meshmon import"));
    let mut bad = workspace_inputs();
    bad.insert("authentication_providers".into(), json!(["LDAP"]).into());
    let e = r.create(&ctx(), &bad).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ValidationException"));
    let refused = amg.model_check().take();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].member, "authenticationProviders[0]");
}

#[tokio::test]
async fn role_association_adds_revokes_and_notices_removal() {
    let amg = AmgServer::start();
    amg.settle_after(0);
    let (_, ws) = workspace(&amg).await;
    let id = ws.outputs["id"].as_str().unwrap().to_string();
    let r = resource(&amg, "aws_grafana_role_association").await;
    let inputs = map(json!({ "workspace_id": id, "role": "ADMIN", "user_ids": ["grafana-admin"] }));
    let c = Current::new(inputs.clone(), r.create(&ctx(), &inputs).await.unwrap());
    assert_eq!(c.outputs["id"], Value::from(format!("{id}/ADMIN")));
    let read = r.read(&ctx(), &c).await.unwrap().unwrap();
    assert_eq!(read.inputs, inputs);
    let more = map(
        json!({ "workspace_id": id, "role": "ADMIN", "user_ids": ["ops"], "group_ids": ["sre"] }),
    );
    r.update(&ctx(), &read, &more).await.unwrap();
    let now = r.read(&ctx(), &c).await.unwrap().unwrap();
    assert_eq!(now.inputs["user_ids"], json!(["ops"]).into());
    assert_eq!(now.inputs["group_ids"], json!(["sre"]).into());
    let bad = map(json!({ "workspace_id": id, "role": "EDITOR", "user_ids": ["missing-user"] }));
    let e = r.create(&ctx(), &bad).await.unwrap_err();
    assert_eq!(e.operation.as_deref(), Some("grafana:UpdatePermissions"));
    amg.revoke_all(&id, "ADMIN");
    assert!(
        r.read(&ctx(), &c).await.unwrap().is_none(),
        "revoked in the console: gone"
    );
    assert!(
        r.import(&ctx(), &format!("{id}/admin"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn service_account_token_expires_and_is_renewed_in_plans() {
    let amg = AmgServer::start();
    amg.settle_after(0);
    let (_, ws) = workspace(&amg).await;
    let id = ws.outputs["id"].as_str().unwrap().to_string();
    let sa = resource(&amg, "aws_grafana_service_account").await;
    let sa_in = map(json!({ "workspace_id": id, "name": "meshmon", "grafana_role": "ADMIN" }));
    let sa_c = Current::new(sa_in.clone(), sa.create(&ctx(), &sa_in).await.unwrap());
    assert_eq!(sa.read(&ctx(), &sa_c).await.unwrap().unwrap().inputs, sa_in);
    let e = sa.create(&ctx(), &sa_in).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ConflictException"));
    let sa_id = sa_c.outputs["id"].as_str().unwrap().to_string();

    let tok = resource(&amg, "aws_grafana_service_account_token").await;
    let long = map(
        json!({ "workspace_id": id, "service_account_id": sa_id, "name": "meshmon", "seconds_to_live": 2_592_000 }),
    );
    let c = Current::new(long.clone(), tok.create(&ctx(), &long).await.unwrap());
    assert!(c.outputs["key"].as_str().unwrap().starts_with("glsa_"));
    let read = tok.read(&ctx(), &c).await.unwrap().unwrap();
    assert_eq!(
        read.inputs, long,
        "seconds_to_live is derived back from the expiry"
    );
    assert_eq!(
        read.outputs["key"], c.outputs["key"],
        "the key is kept: AMG never shows it again"
    );
    assert_eq!(
        tok.advise(Some(&read), &long).replace_because,
        None,
        "30 days left, 7-day margin"
    );
    // A 60-second token with a one-hour margin is always inside it.
    let short = map(
        json!({ "workspace_id": id, "service_account_id": sa_id, "name": "short", "seconds_to_live": 60, "renew_before": "1h" }),
    );
    let s = Current::new(short.clone(), tok.create(&ctx(), &short).await.unwrap());
    let why = tok
        .advise(Some(&s), &short)
        .replace_because
        .expect("renewal planned");
    assert!(
        why.starts_with("the token expires at ")
            && why.ends_with("(within the renewal margin of 1h)"),
        "{why}"
    );
    let mut too_long = short.clone();
    too_long.insert("name".into(), Value::from("too-long"));
    too_long.insert("seconds_to_live".into(), Value::Int(2_592_001));
    let e = tok.create(&ctx(), &too_long).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ValidationException"));
    let refused = amg.model_check().take();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].member, "secondsToLive");
    let imported = tok
        .import(
            &ctx(),
            &format!("{id}/{sa_id}/{}", c.outputs["id"].as_str().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        tok.advise(Some(&imported), &long)
            .replace_because
            .unwrap()
            .contains("key is not known")
    );
    tok.delete(&ctx(), &c).await.unwrap();
    assert!(tok.read(&ctx(), &c).await.unwrap().is_none());
    sa.delete(&ctx(), &sa_c).await.unwrap();
    assert!(
        tok.read(&ctx(), &s).await.unwrap().is_none(),
        "the account's tokens went with it"
    );
    assert!(amg.tokens().is_empty());
}
