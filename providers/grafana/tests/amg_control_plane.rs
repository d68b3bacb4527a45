//! The `amg` provider's resources against the AMG test server in
//! `tests/support` (moto has no AMG), through the real aws-sdk-grafana
//! client: waits for CREATING → ACTIVE, AWS-shaped errors with hints,
//! throttling retried, permissions added and revoked, service accounts and
//! tokens with expiry, the token-renewal advice, and the
//! `aws_grafana_workspace` look-up.

use std::sync::Arc;

use meshmon_provider_grafana::amg_configured;
use meshmon_provider_sdk::lookup::{AMBIGUOUS, NOT_FOUND};
use meshmon_provider_sdk::{Current, Lookup, Map, OpContext, Resource, Value};
use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::http::{Request, Response, Server, forward};
use meshmon_test_support::moto::{ACCOUNT, REGION, sdk_config_for};
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

// ------------------------------------------------ aws_grafana_workspace look-up

/// A proxy to the AMG test server that answers STS GetCallerIdentity
/// itself: the look-up builds the workspace's ARN from the caller's
/// account, and the AMG test server serves no STS.
fn with_sts(amg: &AmgServer) -> Server {
    let upstream = amg.endpoint();
    Server::start(Arc::new(move |req: &Request| {
        if !String::from_utf8_lossy(&req.body).contains("Action=GetCallerIdentity") {
            return forward(&upstream, req);
        }
        let body = format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/test</Arn>\
             <UserId>AIDATEST</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: body.into_bytes(),
        }
    }))
}

#[tokio::test]
async fn workspace_lookup_finds_by_id_or_name_what_the_resource_reads() {
    let amg = AmgServer::start();
    amg.settle_after(0);
    let sts = with_sts(&amg);
    let configured = amg_configured(&sdk_config_for(&sts.endpoint()).await);
    let r = configured.resource("aws_grafana_workspace").expect("type");
    let lookup: Arc<dyn Lookup> = configured
        .lookup("aws_grafana_workspace")
        .expect("the amg provider offers the aws_grafana_workspace look-up");
    let find = |keys: serde_json::Value| {
        let lookup = lookup.clone();
        async move {
            lookup
                .find(
                    &OpContext::quiet("data.aws_grafana_workspace.x"),
                    &map(keys),
                )
                .await
        }
    };

    // Made out of band, as far as the look-up knows.
    let mut inputs = workspace_inputs();
    inputs.insert("tags".into(), json!({ "team": "obs" }).into());
    let made = Current::new(inputs.clone(), r.create(&ctx(), &inputs).await.unwrap());
    let mut other_inputs = workspace_inputs();
    other_inputs.insert("name".into(), Value::from("billing"));
    let other = Current::new(
        other_inputs.clone(),
        r.create(&ctx(), &other_inputs).await.unwrap(),
    );
    let id = made.outputs["id"].as_str().unwrap().to_string();

    let by_id = find(json!({ "id": id })).await.unwrap();
    // Every attribute the resource's read records, with the same value.
    let read = r.read(&ctx(), &made).await.unwrap().unwrap();
    for (k, v) in read.inputs.iter().chain(&read.outputs) {
        assert_eq!(by_id.get(k), Some(v), "{k}");
    }
    assert_eq!(by_id["tags"], json!({ "team": "obs" }).into());
    assert_eq!(by_id["data_sources"], json!(["PROMETHEUS"]).into());
    assert_eq!(by_id["status"], Value::from("ACTIVE"));
    assert_eq!(
        by_id["arn"],
        Value::from(format!(
            "arn:aws:grafana:{REGION}:{ACCOUNT}:/workspaces/{id}"
        ))
    );
    let by_name = find(json!({ "name": "appmesh" })).await.unwrap();
    assert_eq!(by_name, by_id);

    // A slip of the keyboard: the hint names the workspace that exists.
    let e = find(json!({ "name": "appmsh" })).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
    assert!(e.message.contains(r#"name = "appmsh""#), "{e}");
    let hint = e.hint.unwrap();
    assert!(hint.starts_with(r#"did you mean "appmesh"?"#), "{hint}");
    assert!(!hint.contains("billing"), "{hint}");
    // An ID that does not exist (any more): the hint says what does.
    let e = find(json!({ "id": "g-00000000ff" })).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
    let hint = e.hint.unwrap();
    assert!(hint.contains(&format!("{id} (appmesh)")), "{hint}");

    // Exactly one key.
    let e = find(json!({})).await.unwrap_err();
    assert!(
        e.message.contains("`id` is missing, and so is `name`"),
        "{e}"
    );
    let e = find(json!({ "id": id, "name": "appmesh" }))
        .await
        .unwrap_err();
    assert!(e.message.contains("together with `id`"), "{e}");

    // Names need not be unique: two workspaces called appmesh are listed,
    // never picked from.
    let read_other = r.read(&ctx(), &other).await.unwrap().unwrap();
    let mut renamed = other_inputs.clone();
    renamed.insert("name".into(), Value::from("appmesh"));
    r.update(&ctx(), &read_other, &renamed).await.unwrap();
    let e = find(json!({ "name": "appmesh" })).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some(AMBIGUOUS), "{e}");
    let other_id = other.outputs["id"].as_str().unwrap();
    assert!(
        e.message
            .contains("found 2 Amazon Managed Grafana workspaces"),
        "{e}"
    );
    assert!(
        e.message.contains(&id) && e.message.contains(other_id),
        "{e}"
    );
    assert!(e.hint.unwrap().contains("by `id`"));
    assert!(find(json!({ "id": other_id })).await.is_ok());
}
