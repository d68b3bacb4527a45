//! The AMG test server's own behaviour: idempotent creates, paging, and
//! the Grafana version a workspace runs.

use super::*;
use crate::http::forward;

fn call(amg: &AmgServer, method: &str, target: &str, body: Value) -> (u16, Value) {
    let (path, _) = target.split_once('?').unwrap_or((target, ""));
    let req = Request {
        method: method.into(),
        path: path.into(),
        query: Vec::new(),
        body: if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
        target: target.into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
    };
    let r = forward(&amg.endpoint(), &req);
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

fn create(name: &str, token: &str, tags: Value) -> Value {
    json!({
        "accountAccessType": "CURRENT_ACCOUNT", "permissionType": "SERVICE_MANAGED",
        "authenticationProviders": ["AWS_SSO"], "workspaceName": name,
        "clientToken": token, "tags": tags,
    })
}

#[test]
fn a_repeated_client_token_answers_the_same_workspace() {
    let amg = AmgServer::start();
    let grafana = GrafanaServer::start("admin");
    amg.link_via(&grafana, "127.0.0.1:9");
    let body = create("w", "token-1", json!({ "meshmon": "main" }));
    let (s1, first) = call(&amg, "POST", "/workspaces", body.clone());
    let (s2, again) = call(&amg, "POST", "/workspaces", body);
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first["workspace"]["id"], again["workspace"]["id"]);
    assert_eq!(amg.workspace_ids().len(), 1);
    assert_eq!(first["workspace"]["endpoint"], "127.0.0.1:9");
    // Another token is another request: here, a name already taken.
    let (s3, _) = call(
        &amg,
        "POST",
        "/workspaces",
        create("w", "token-2", json!({})),
    );
    assert_eq!(s3, 409);
    assert_eq!(amg.workspace_ids().len(), 1);
}

#[test]
fn list_workspaces_pages_through_summaries_with_tags() {
    let amg = AmgServer::start();
    for (i, tag) in ["a", "b", "c"].iter().enumerate() {
        let body = create(&format!("w{i}"), &format!("t{i}"), json!({ "owner": tag }));
        assert_eq!(call(&amg, "POST", "/workspaces", body).0, 202);
    }
    let (mut seen, mut next) = (Vec::new(), None::<String>);
    loop {
        let target = match &next {
            Some(t) => format!("/workspaces?maxResults=2&nextToken={t}"),
            None => "/workspaces?maxResults=2".to_string(),
        };
        let (status, page) = call(&amg, "GET", &target, Value::Null);
        assert_eq!(status, 200, "{page}");
        let list = page["workspaces"].as_array().unwrap();
        assert!(list.len() <= 2);
        seen.extend(list.iter().map(|w| w["tags"]["owner"].clone()));
        match page["nextToken"].as_str() {
            Some(t) => next = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, [json!("a"), json!("b"), json!("c")]);
    let (status, _) = call(&amg, "GET", "/workspaces?maxResults=0", Value::Null);
    assert_eq!(status, 400);
    let refused = amg.model_check().take();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].member, "maxResults");
}

/// The workspace's Grafana version, the latest unless asked, is the
/// version the linked Grafana behaves as: SigV4 on the core Prometheus
/// data source is refused from 12 on, as on AMG.
#[test]
fn the_linked_grafana_runs_the_workspace_version_and_refuses_core_sigv4_from_12() {
    let amg = AmgServer::start();
    let grafana = GrafanaServer::start("admin");
    amg.link(&grafana);
    let (status, w) = call(&amg, "POST", "/workspaces", create("new", "t1", json!({})));
    assert_eq!(status, 202, "{w}");
    assert_eq!(w["workspace"]["grafanaVersion"], LATEST_GRAFANA_VERSION);
    let ds = |t: &str| {
        json!({"name": t, "type": t, "url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/",
        "jsonData": {"sigV4Auth": true, "sigV4AuthType": "ec2_iam_role", "sigV4Region": "eu-west-1"}})
    };
    let save = |body: Value| {
        let mut st = grafana.state();
        let r = st.save_datasource(None, &body);
        (r.status, String::from_utf8_lossy(&r.body).to_string())
    };
    let (status, body) = save(ds("prometheus"));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("grafana-amazonprometheus-datasource"),
        "{body}"
    );
    assert_eq!(save(ds("grafana-amazonprometheus-datasource")).0, 200);

    let mut old = create("old", "t2", json!({}));
    old["grafanaVersion"] = json!("10.4");
    assert_eq!(call(&amg, "POST", "/workspaces", old).0, 202);
    assert_eq!(grafana.state().version, "10.4");
    assert_eq!(save(ds("prometheus")).0, 200);

    let mut eleven = create("eleven", "t3", json!({}));
    eleven["grafanaVersion"] = json!("11.0");
    assert_eq!(call(&amg, "POST", "/workspaces", eleven).0, 400);
}

#[test]
fn timed_transitions_end_at_the_first_describe_after_their_time() {
    let amg = AmgServer::start();
    amg.settle_after_time(Duration::from_millis(400));
    let (s, made) = call(
        &amg,
        "POST",
        "/workspaces",
        create("t", "token-t", json!({})),
    );
    assert_eq!(s, 202);
    let path = format!("/workspaces/{}", made["workspace"]["id"].as_str().unwrap());
    let status = || call(&amg, "GET", &path, Value::Null);
    // Polls alone do not end it.
    for _ in 0..3 {
        assert_eq!(status().1["workspace"]["status"], "CREATING");
    }
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(status().1["workspace"]["status"], "ACTIVE");
    let (s, _) = call(&amg, "DELETE", &path, Value::Null);
    assert_eq!(s, 202);
    assert_eq!(status().1["workspace"]["status"], "DELETING");
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(status().0, 404);
}
