//! `recover` for `k8s_namespace`, `k8s_service_account` and `k8s_manifest`
//! against the test API server: objects are found by name (server-side
//! apply may run twice, so nothing but a GET is needed), and a manifest is
//! adopted only when every object is there, after the create's waits.
//! `helm_release` is in helm_recover.rs, which sets the environment helm
//! is found through.

use std::sync::Arc;

use meshmon_provider_kubernetes::Kubernetes;
use meshmon_provider_sdk::{Configured, Intent, Map, OpContext, Provider, Value};
use meshmon_test_support::kube_api::{Auth, KubeApi, Options};
use serde_json::json;

fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

async fn configured(api: &KubeApi) -> Arc<dyn Configured> {
    Kubernetes
        .configure(&map(&[
            ("host", api.endpoint().into()),
            ("cluster_ca_certificate", api.ca_pem().into()),
            ("token", "t".into()),
            ("ready_timeout", "20s".into()),
        ]))
        .await
        .expect("configure")
}

fn create_ctx(address: &str) -> OpContext {
    OpContext::quiet(address).with_intent(Intent {
        token: "2c5ea4c0-4067-11e9-8bad-9b1deb4d3b7d".into(),
        lineage: "lineage".into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_and_service_accounts_are_recovered_by_name() {
    let api = KubeApi::start(Auth::Token("t".into()), Options::realistic());
    let k = configured(&api).await;
    let ns = k.resource("k8s_namespace").unwrap();
    let ctx = create_ctx("k8s_namespace.prod");
    let inputs = map(&[
        ("name", "prod".into()),
        ("labels", Value::Map(map(&[("mesh", "dj-app".into())]))),
    ]);
    assert_eq!(ns.recover(&ctx, &inputs).await.unwrap(), None);
    let created = ns.create(&ctx, &inputs).await.unwrap();
    assert_eq!(
        ns.recover(&ctx, &inputs).await.unwrap(),
        Some(created),
        "found by name, with the create's outputs (the uid)"
    );

    let sa = k.resource("k8s_service_account").unwrap();
    let ctx = create_ctx("k8s_service_account.agent");
    let inputs = map(&[("namespace", "prod".into()), ("name", "agent".into())]);
    assert_eq!(sa.recover(&ctx, &inputs).await.unwrap(), None);
    let created = sa.create(&ctx, &inputs).await.unwrap();
    assert_eq!(sa.recover(&ctx, &inputs).await.unwrap(), Some(created));
    let patches = api
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 2, "recover only reads");
}

fn namespace() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
}

fn deployment() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "dj", "namespace": "prod"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "dj"}},
            "template": {
                "metadata": {"labels": {"app": "dj"}},
                "spec": {"containers": [{"name": "dj", "image": "public.ecr.aws/dj:1"}]},
            },
        },
    })
}

fn config_map() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dj-config", "namespace": "prod"}, "data": {"greeting": "hello"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_is_adopted_only_whole_and_after_the_creates_waits() {
    let api = KubeApi::start(Auth::Token("t".into()), Options::realistic());
    let k = configured(&api).await;
    let m = k.resource("k8s_manifest").unwrap();
    let ctx = create_ctx("k8s_manifest.dj");
    // YAML takes JSON: one document each, deliberately out of apply order.
    let content = [config_map(), deployment(), namespace()]
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let inputs = map(&[("content", content.into()), ("wait", "rollout".into())]);
    assert_eq!(m.recover(&ctx, &inputs).await.unwrap(), None);

    // The create stopped after the namespace: not adopted; the create runs
    // again and applies everything.
    api.create(namespace());
    assert_eq!(m.recover(&ctx, &inputs).await.unwrap(), None);

    // The create applied everything and stopped before its rollout wait:
    // adopted once the Deployment has rolled out, as the create would have.
    api.create(deployment());
    api.create(config_map());
    let found = m.recover(&ctx, &inputs).await.unwrap().expect("adopted");
    let live = api
        .object("apps/v1", "Deployment", Some("prod"), "dj")
        .unwrap();
    assert_eq!(
        live["status"]["availableReplicas"], 2,
        "recover waited for the rollout: {live}"
    );
    assert!(
        !api.requests().iter().any(|r| r.method == "PATCH"),
        "recover only reads"
    );
    // Its outputs are the create's: the objects in apply order.
    let created = m.create(&ctx, &inputs).await.unwrap();
    assert_eq!(found, created);
    assert_eq!(
        created["objects"],
        Value::List(vec![
            "v1 Namespace prod".into(),
            "v1 ConfigMap prod/dj-config".into(),
            "apps/v1 Deployment prod/dj".into(),
        ])
    );
}
