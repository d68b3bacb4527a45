//! `recover` for every `grafana` and `amg` resource type, and creates that
//! are never sent twice: against the Grafana and AMG test servers, with a
//! proxy in front of them where a request must fail after it took effect
//! (forwarded, then answered 503 or cut off).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use meshmon_provider_grafana::{Grafana, amg_configured};
use meshmon_provider_sdk::{Current, Intent, Map, OpContext, Provider, Resource, Value};
use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::http::{Reply, Request, Response, Server, forward};
use meshmon_test_support::moto::{ACCOUNT, sdk_config_for};
use serde_json::json;

const TOKEN: &str = "glsa_admin_test";
const LINEAGE: &str = "5d2f0c7e-3a51-4b7a-9d0e-0c1f2e3d4a5b";

fn map(v: serde_json::Value) -> Map {
    Value::from(v).as_map().cloned().expect("a table")
}

/// The context of a create the engine journaled with `token`.
fn create_ctx(address: &str, token: &str) -> OpContext {
    OpContext::quiet(address).with_intent(Intent {
        token: token.into(),
        lineage: LINEAGE.into(),
    })
}

async fn grafana(url: &str, type_name: &str) -> Arc<dyn Resource> {
    Grafana
        .configure(&map(json!({ "url": url, "auth": TOKEN })))
        .await
        .expect("configure")
        .resource(type_name)
        .expect("type")
}

async fn amg(endpoint: &str, type_name: &str) -> Arc<dyn Resource> {
    amg_configured(&sdk_config_for(endpoint).await)
        .resource(type_name)
        .expect("type")
}

/// What a proxy does with a request it passes on: answer as the server
/// did, answer 503 (AWS-shaped) although the server acted, or close the
/// connection without an answer.
#[derive(Clone, Copy, PartialEq)]
enum After {
    Answer,
    Late503,
    Cut,
}

/// A proxy to `upstream` that forwards every request, and gives the first
/// `n` requests `pick` chooses the fate `after`. It answers STS
/// GetCallerIdentity itself (tagging a workspace needs the account), which
/// the AMG test server does not serve.
fn proxy(
    upstream: &str,
    n: usize,
    after: After,
    pick: impl Fn(&Request) -> bool + Send + Sync + 'static,
) -> Server {
    let upstream = upstream.to_string();
    let left = AtomicUsize::new(n);
    Server::start_replying(Arc::new(move |req: &Request| {
        if String::from_utf8_lossy(&req.body).contains("Action=GetCallerIdentity") {
            return Reply::Send(caller_identity());
        }
        let answer = forward(&upstream, req);
        let hit = pick(req)
            && left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                .is_ok();
        match (hit, after) {
            (false, _) | (true, After::Answer) => Reply::Send(answer),
            (true, After::Late503) => {
                let mut r = Response::json(503, &json!({ "message": "upstream timed out" }));
                r.headers.push((
                    "x-amzn-ErrorType".into(),
                    "ServiceUnavailableException".into(),
                ));
                Reply::Send(r)
            }
            (true, After::Cut) => Reply::Close,
        }
    }))
}

fn caller_identity() -> Response {
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
}

fn posts(g: &GrafanaServer, path: &str) -> usize {
    g.state()
        .calls
        .iter()
        .filter(|c| *c == &format!("POST {path}"))
        .count()
}

// ------------------------------------------------------------- grafana_*

#[tokio::test]
async fn a_dashboard_is_recovered_by_the_uid_its_create_asked_for() {
    let g = GrafanaServer::start(TOKEN);
    let r = grafana(&g.url(), "grafana_dashboard").await;
    let ctx = create_ctx(
        "grafana_dashboard.ops",
        "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    );
    // No uid in the JSON or the inputs: the create asks for one of its own.
    let inputs = map(json!({ "config_json": { "title": "Ops", "panels": [{ "type": "text" }] } }));
    let created = r.create(&ctx, &inputs).await.unwrap();
    let uid = created["uid"].as_str().unwrap().to_string();
    assert!(uid.starts_with("mm"), "{uid}");
    assert_eq!(
        r.recover(&ctx, &inputs).await.unwrap(),
        Some(created.clone()),
        "found by its uid, with the create's outputs"
    );
    // Another create (another token) asked for another uid: nothing found.
    let other = create_ctx(
        "grafana_dashboard.ops",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
    );
    assert_eq!(r.recover(&other, &inputs).await.unwrap(), None);
    // A uid of the user's that does not exist: nothing found.
    let named = map(json!({ "config_json": { "title": "Ops" }, "uid": "nope" }));
    assert_eq!(r.recover(&ctx, &named).await.unwrap(), None);
    // The derived uid does not read back as drift.
    let read = r
        .read(&ctx, &Current::new(inputs.clone(), created))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["config_json"], inputs["config_json"]);
    // Without an intent there is no uid to look for.
    let e = r
        .recover(&OpContext::quiet("grafana_dashboard.ops"), &inputs)
        .await
        .unwrap_err();
    assert!(e.message.contains("intent"), "{}", e.message);
}

#[tokio::test]
async fn a_create_answered_503_after_it_took_effect_is_ambiguous_not_retried() {
    let g = GrafanaServer::start(TOKEN);
    let p = proxy(&g.url(), 1, After::Late503, |r| {
        r.method == "POST" && r.path == "/api/dashboards/db"
    });
    let r = grafana(&p.endpoint(), "grafana_dashboard").await;
    let ctx = create_ctx(
        "grafana_dashboard.ops",
        "9b2b5d0a-4c1e-4f7e-8a53-2f1d7c0b6e44",
    );
    let inputs = map(json!({ "config_json": { "title": "Ops" } }));
    let e = r.create(&ctx, &inputs).await.unwrap_err();
    assert!(e.ambiguous, "{e}");
    assert_eq!(e.code.as_deref(), Some("503"));
    assert_eq!(
        posts(&g, "/api/dashboards/db"),
        1,
        "sent once: a retry would have met a 412 for the first"
    );
    assert_eq!(g.state().dashboards.len(), 1);
    // What the engine does next: recover, which adopts the dashboard.
    let found = r.recover(&ctx, &inputs).await.unwrap().expect("found");
    assert!(
        g.state()
            .dashboards
            .contains_key(found["uid"].as_str().unwrap())
    );
    assert_eq!(
        found["url"],
        Value::from(format!("/d/{}/ops", found["uid"].as_str().unwrap()))
    );
}

#[tokio::test]
async fn a_create_whose_answer_is_cut_off_is_ambiguous_and_a_folder_is_recovered() {
    let g = GrafanaServer::start(TOKEN);
    let p = proxy(&g.url(), 1, After::Cut, |r| r.method == "POST");
    let r = grafana(&p.endpoint(), "grafana_folder").await;
    let ctx = create_ctx(
        "grafana_folder.mesh",
        "3e1a4b2c-8d7f-4e6a-9b0c-1d2e3f4a5b6c",
    );
    let inputs = map(json!({ "title": "Mesh" }));
    let e = r.create(&ctx, &inputs).await.unwrap_err();
    assert!(e.ambiguous, "{e}");
    assert_eq!(posts(&g, "/api/folders"), 1);
    let found = r.recover(&ctx, &inputs).await.unwrap().expect("found");
    let uid = found["uid"].as_str().unwrap();
    assert_eq!(g.state().folders[uid]["title"], "Mesh");
    assert_eq!(
        found["url"],
        Value::from(format!("/dashboards/f/{uid}/mesh"))
    );
}

#[tokio::test]
async fn a_failure_before_the_create_took_effect_is_recovered_as_nothing_and_created_again() {
    let g = GrafanaServer::start(TOKEN);
    let r = grafana(&g.url(), "grafana_folder").await;
    let ctx = create_ctx(
        "grafana_folder.mesh",
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    );
    let inputs = map(json!({ "title": "Mesh" }));
    // A 503 may come before or after Grafana acted: ambiguous either way.
    g.fail_next(1, 503);
    let e = r.create(&ctx, &inputs).await.unwrap_err();
    assert!(e.ambiguous, "{e}");
    assert_eq!(r.recover(&ctx, &inputs).await.unwrap(), None);
    // Throttling certainly came first: retried within the create.
    g.fail_next(2, 429);
    let created = r.create(&ctx, &inputs).await.unwrap();
    assert_eq!(posts(&g, "/api/folders"), 4);
    assert_eq!(g.state().folders.len(), 1);
    assert_eq!(r.recover(&ctx, &inputs).await.unwrap(), Some(created));
    // A 4xx is a plain failure.
    let e = r
        .create(&create_ctx("grafana_folder.again", "b"), &inputs)
        .await
        .unwrap_err();
    assert!(!e.ambiguous);
    assert_eq!(e.code.as_deref(), Some("409"));
}

#[tokio::test]
async fn data_source_alert_rule_and_contact_point_are_recovered_by_uid() {
    let g = GrafanaServer::start(TOKEN);
    let url = g.url();
    resource_create(
        &url,
        "grafana_folder",
        json!({ "title": "Mesh", "uid": "mesh" }),
    )
    .await;

    let ds = grafana(&url, "grafana_data_source").await;
    let ctx = create_ctx(
        "grafana_data_source.amp",
        "c0ffee00-0000-4000-8000-000000000001",
    );
    let ds_in =
        map(json!({ "name": "AMP", "type": "prometheus", "access": "proxy", "is_default": false }));
    assert_eq!(ds.recover(&ctx, &ds_in).await.unwrap(), None);
    let created = ds.create(&ctx, &ds_in).await.unwrap();
    assert_eq!(
        ds.recover(&ctx, &ds_in).await.unwrap(),
        Some(created.clone())
    );
    let ds_uid = created["uid"].as_str().unwrap().to_string();

    let cp = grafana(&url, "grafana_contact_point").await;
    let ctx = create_ctx(
        "grafana_contact_point.oncall",
        "c0ffee00-0000-4000-8000-000000000002",
    );
    let cp_in = map(json!({ "name": "oncall", "receivers": [
        { "type": "email", "addresses": ["a@example.com"] },
        { "type": "email", "addresses": ["b@example.com"] },
    ]}));
    assert_eq!(cp.recover(&ctx, &cp_in).await.unwrap(), None);
    let created = cp.create(&ctx, &cp_in).await.unwrap();
    assert_eq!(
        cp.recover(&ctx, &cp_in).await.unwrap(),
        Some(created.clone())
    );
    // Cut off between its two receivers: the one made is deleted, and
    // nothing is reported, so that the create runs again whole.
    let second = created["uids"].as_list().unwrap()[1]
        .as_str()
        .unwrap()
        .to_string();
    g.state()
        .contact_points
        .retain(|c| c["uid"] != second.as_str());
    assert_eq!(cp.recover(&ctx, &cp_in).await.unwrap(), None);
    assert!(g.state().contact_points.is_empty());
    assert_eq!(
        cp.create(&ctx, &cp_in).await.unwrap(),
        created,
        "the same uids again"
    );
    // A receiver of the same name made by someone else is not this create's.
    let stranger = create_ctx(
        "grafana_contact_point.oncall",
        "c0ffee00-0000-4000-8000-00000000000f",
    );
    assert_eq!(cp.recover(&stranger, &cp_in).await.unwrap(), None);
    assert_eq!(g.state().contact_points.len(), 2, "left alone");

    let rule = grafana(&url, "grafana_alert_rule").await;
    let ctx = create_ctx(
        "grafana_alert_rule.latency",
        "c0ffee00-0000-4000-8000-000000000003",
    );
    let rule_in = map(json!({
        "title": "Latency", "folder_uid": "mesh", "group": "envoy", "interval": "30s",
        "datasource_uid": ds_uid, "query": "up", "condition": { "type": "gt", "threshold": 5 },
        "for": "1m", "reducer": "last", "lookback": "10m", "contact_point": "oncall",
        "no_data_state": "NoData", "exec_err_state": "Error", "is_paused": false,
    }));
    assert_eq!(rule.recover(&ctx, &rule_in).await.unwrap(), None);
    let created = rule.create(&ctx, &rule_in).await.unwrap();
    // The group interval is part of the create: recover sets it too.
    g.state().groups.insert(("mesh".into(), "envoy".into()), 60);
    assert_eq!(rule.recover(&ctx, &rule_in).await.unwrap(), Some(created));
    assert_eq!(
        g.state().groups[&("mesh".to_string(), "envoy".to_string())],
        30
    );
}

async fn resource_create(url: &str, type_name: &str, inputs: serde_json::Value) -> Map {
    grafana(url, type_name)
        .await
        .create(&OpContext::quiet("setup.x"), &map(inputs))
        .await
        .expect("create")
}

// ---------------------------------------------------------------- amg

fn workspace_inputs(tags: serde_json::Value) -> Map {
    map(json!({
        "name": "appmesh", "account_access_type": "CURRENT_ACCOUNT", "authentication_providers": ["AWS_SSO"],
        "permission_type": "SERVICE_MANAGED", "data_sources": ["PROMETHEUS"], "tags": tags,
    }))
}

#[tokio::test]
async fn a_workspace_is_recovered_by_its_tags_and_they_never_show() {
    let server = AmgServer::start();
    server.settle_after(2);
    let p = proxy(&server.endpoint(), 0, After::Answer, |_| false);
    let ws = amg(&p.endpoint(), "aws_grafana_workspace").await;
    let token = "5f3a9c1e-0b2d-4e6f-8a7c-9d1e2f3a4b5c";
    let ctx = create_ctx("aws_grafana_workspace.main", token);
    let inputs = workspace_inputs(json!({ "team": "mesh" }));
    assert_eq!(ws.recover(&ctx, &inputs).await.unwrap(), None);
    let created = ws.create(&ctx, &inputs).await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let doc = server.workspace(&id).unwrap();
    assert_eq!(
        doc["tags"],
        json!({ "team": "mesh", "meshmon:lineage": LINEAGE,
                "meshmon:address": "aws_grafana_workspace.main", "meshmon:token": token })
    );
    assert_eq!(
        ws.recover(&ctx, &inputs).await.unwrap(),
        Some(created.clone())
    );
    // The same address and lineage, another create: an older workspace
    // that a replacement has not deleted yet is not this create's.
    let next = create_ctx(
        "aws_grafana_workspace.main",
        "6a4b0d2f-1c3e-4f70-9b8d-0e2f3a4b5c6d",
    );
    assert_eq!(ws.recover(&next, &inputs).await.unwrap(), None);
    // Reads leave meshmon's tags out; tag updates keep them.
    let c = Current::new(inputs.clone(), created.clone());
    let read = ws.read(&ctx, &c).await.unwrap().unwrap();
    assert_eq!(read.inputs["tags"], Value::from(json!({ "team": "mesh" })));
    let retagged = workspace_inputs(json!({ "owner": "sre" }));
    ws.update(&ctx, &read, &retagged).await.unwrap();
    let tags = server.workspace(&id).unwrap()["tags"].clone();
    assert_eq!(tags["owner"], "sre");
    assert!(tags.get("team").is_none());
    assert_eq!(tags["meshmon:token"], token);
    assert_eq!(
        ws.recover(&ctx, &retagged).await.unwrap().unwrap()["id"],
        created["id"]
    );
    // The spec may not set meshmon's tags.
    let e = ws
        .create(&next, &workspace_inputs(json!({ "meshmon:lineage": "x" })))
        .await
        .unwrap_err();
    assert!(e.message.contains("meshmon's own"), "{}", e.message);
}

#[tokio::test]
async fn create_workspace_is_sent_once_and_a_late_503_is_ambiguous() {
    let server = AmgServer::start();
    server.settle_after(1);
    let p = proxy(&server.endpoint(), 1, After::Late503, |r| {
        r.method == "POST" && r.path == "/workspaces"
    });
    let ws = amg(&p.endpoint(), "aws_grafana_workspace").await;
    let ctx = create_ctx(
        "aws_grafana_workspace.main",
        "7b5c1e3a-2d4f-4a81-8c9e-1f3a4b5c6d7e",
    );
    let inputs = workspace_inputs(json!({}));
    let e = ws.create(&ctx, &inputs).await.unwrap_err();
    assert!(e.ambiguous, "{e}");
    assert_eq!(e.operation.as_deref(), Some("grafana:CreateWorkspace"));
    let creates = server
        .calls()
        .iter()
        .filter(|c| *c == "CreateWorkspace")
        .count();
    assert_eq!(
        creates,
        1,
        "the SDK did not send it again: {:?}",
        server.calls()
    );
    let found = ws
        .recover(&ctx, &inputs)
        .await
        .unwrap()
        .expect("found by its tags");
    assert_eq!(
        found["status"],
        Value::from("ACTIVE"),
        "waited for ACTIVE as create does"
    );
    assert_eq!(server.workspace_ids(), [found["id"].as_str().unwrap()]);
    // Throttling is refused before AMG acts: retried within the create.
    server.fail_next(2, 429, "ThrottlingException");
    let other = create_ctx(
        "aws_grafana_workspace.other",
        "8c6d2f4b-3e5a-4b92-9d0f-2a4b5c6d7e8f",
    );
    let mut named = inputs.clone();
    named.insert("name".into(), Value::from("other"));
    ws.create(&other, &named).await.unwrap();
    // A 5xx from AMG itself is ambiguous too, and not sent again.
    server.fail_next(1, 500, "InternalServerException");
    let third = create_ctx(
        "aws_grafana_workspace.third",
        "9d7e3a5c-4f6b-4ca3-8e1a-3b5c6d7e8f90",
    );
    let e = ws.create(&third, &inputs).await.unwrap_err();
    assert!(e.ambiguous, "{e}");
    assert_eq!(ws.recover(&third, &inputs).await.unwrap(), None);
}

#[tokio::test]
async fn accounts_and_role_associations_are_recovered_by_name_and_tokens_are_renewed() {
    let server = AmgServer::start();
    server.settle_after(0);
    let ws = amg(&server.endpoint(), "aws_grafana_workspace").await;
    let ws_ctx = create_ctx(
        "aws_grafana_workspace.main",
        "1a2b3c4d-0000-4000-8000-000000000001",
    );
    let id = ws
        .create(&ws_ctx, &workspace_inputs(json!({})))
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let ra = amg(&server.endpoint(), "aws_grafana_role_association").await;
    let ctx = create_ctx(
        "aws_grafana_role_association.admins",
        "1a2b3c4d-0000-4000-8000-000000000002",
    );
    let ra_in = map(
        json!({ "workspace_id": id, "role": "ADMIN", "user_ids": ["u1"], "group_ids": ["g1"] }),
    );
    assert_eq!(ra.recover(&ctx, &ra_in).await.unwrap(), None);
    let created = ra.create(&ctx, &ra_in).await.unwrap();
    assert_eq!(ra.recover(&ctx, &ra_in).await.unwrap(), Some(created));
    let more = map(json!({ "workspace_id": id, "role": "ADMIN", "user_ids": ["u1", "u2"] }));
    assert_eq!(
        ra.recover(&ctx, &more).await.unwrap(),
        None,
        "u2 was never added"
    );

    let sa = amg(&server.endpoint(), "aws_grafana_service_account").await;
    let ctx = create_ctx(
        "aws_grafana_service_account.meshmon",
        "1a2b3c4d-0000-4000-8000-000000000003",
    );
    let sa_in = map(json!({ "workspace_id": id, "name": "meshmon", "grafana_role": "ADMIN" }));
    assert_eq!(sa.recover(&ctx, &sa_in).await.unwrap(), None);
    let created = sa.create(&ctx, &sa_in).await.unwrap();
    assert_eq!(
        sa.recover(&ctx, &sa_in).await.unwrap(),
        Some(created.clone())
    );
    let editor = map(json!({ "workspace_id": id, "name": "meshmon", "grafana_role": "EDITOR" }));
    assert_eq!(
        sa.recover(&ctx, &editor).await.unwrap(),
        None,
        "another role: not this create's"
    );
    let sa_id = created["id"].as_str().unwrap().to_string();

    let tok = amg(&server.endpoint(), "aws_grafana_service_account_token").await;
    let ctx = create_ctx(
        "aws_grafana_service_account_token.meshmon",
        "1a2b3c4d-0000-4000-8000-000000000004",
    );
    let tok_in = map(
        json!({ "workspace_id": id, "service_account_id": sa_id, "name": "meshmon", "seconds_to_live": 3600 }),
    );
    let first = tok.create(&ctx, &tok_in).await.unwrap();
    // Its key is lost with the answer: the token is deleted, not adopted...
    assert_eq!(tok.recover(&ctx, &tok_in).await.unwrap(), None);
    assert!(server.tokens().is_empty());
    // ...and the create, run again, gets a fresh one under the same name.
    let second = tok.create(&ctx, &tok_in).await.unwrap();
    assert_ne!(second["key"], first["key"]);
    assert_eq!(server.tokens().len(), 1);
    // A 503 on the token's create is ambiguous: the key may be lost.
    server.fail_next(1, 503, "ServiceUnavailableException");
    let again = map(
        json!({ "workspace_id": id, "service_account_id": sa_id, "name": "other", "seconds_to_live": 3600 }),
    );
    assert!(tok.create(&ctx, &again).await.unwrap_err().ambiguous);
}
