use super::*;
use crate::testing::{cluster, creating, inputs};
use meshmon_test_support::kube_api::FakeHelm;

const REPO: &str = "https://prometheus-community.github.io/helm-charts";

/// A release run by the fake helm, on a cluster that gets no request.
fn release() -> (FakeHelm, Release) {
    let fake = FakeHelm::new();
    let env = fake.env();
    let bin = env
        .iter()
        .find(|(k, _)| k == "MESHMON_HELM")
        .map(|(_, v)| PathBuf::from(v))
        .expect("the fake helm's path");
    let (_, conn) = cluster(vec![]);
    let r = Release {
        conn,
        helm: Some((bin, env)),
    };
    (fake, r)
}

fn prom(extra: Json) -> Map {
    let mut m = json!({
        "name": "prom", "namespace": "monitoring", "repository": REPO,
        "chart": "kube-prometheus-stack", "create_namespace": true, "wait": true, "timeout": "5m",
    });
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    inputs(m)
}

fn lines(fake: &FakeHelm) -> Vec<String> {
    fake.invocations().iter().map(|i| i.line()).collect()
}

#[tokio::test]
async fn an_install_resets_values_passes_them_as_a_file_and_records_the_metadata() {
    let (fake, r) = release();
    let raw = prom(json!({"version": "61.0.0", "values": {"server": {"replicas": 2}}}));
    let out = r
        .create(&creating("helm_release.prom"), &raw)
        .await
        .unwrap();
    assert_eq!(
        out,
        inputs(
            json!({"revision": 1, "status": "deployed", "app_version": "v61.0.0", "version": "61.0.0"})
        )
    );
    assert_eq!(
        lines(&fake),
        [
            format!(
                "upgrade --install prom kube-prometheus-stack --namespace monitoring --repo {REPO} \
                 --version 61.0.0 --create-namespace --reset-values --values VALUES --wait \
                 --timeout 300s --kubeconfig KUBECONFIG"
            ),
            "get metadata prom --namespace monitoring -o json --kubeconfig KUBECONFIG".to_string(),
        ]
    );
    let install = &fake.invocations()[0];
    let values: Json = serde_yaml_ng::from_str(&install.values[0]).unwrap();
    assert_eq!(values, json!({"server": {"replicas": 2}}));
    assert_eq!(install.kubeconfig["mode"], "600");
    assert_eq!(install.kubeconfig["server"], "https://kubernetes.test");
    assert_eq!(install.kubeconfig["has_token"], false);
}

#[tokio::test]
async fn an_upgrade_without_values_or_wait_sends_neither() {
    let (fake, r) = release();
    let raw = prom(json!({"wait": false, "create_namespace": false, "timeout": "90s"}));
    let prior = Current::new(raw.clone(), Map::new());
    r.update(&OpContext::quiet("helm_release.prom"), &prior, &raw)
        .await
        .unwrap();
    assert_eq!(
        lines(&fake)[0],
        format!(
            "upgrade --install prom kube-prometheus-stack --namespace monitoring --repo {REPO} \
             --reset-values --timeout 90s --kubeconfig KUBECONFIG"
        ),
        "--reset-values even so: values removed from the spec go"
    );
}

#[tokio::test]
async fn a_failed_upgrade_carries_helms_own_message() {
    let (fake, r) = release();
    fake.fail_next("upgrade");
    let err = r
        .create(&creating("helm_release.prom"), &prom(json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        err.operation.as_deref(),
        Some("helm upgrade --install prom")
    );
    assert_eq!(err.code.as_deref(), Some("helm failed"));
    assert!(err.message.contains("injected by the test"), "{err}");
    assert!(err.hint.as_deref().unwrap().contains("helm history"));
}

#[tokio::test]
async fn a_read_shows_values_changed_behind_meshmons_back_and_keeps_the_charts_spelling() {
    let (fake, r) = release();
    fake.put_release(
        "monitoring",
        "prom",
        json!({"chart": "kube-prometheus-stack", "version": "61.0.0", "appVersion": "v0.75.0",
               "revision": 3, "status": "deployed", "values": {"server": {"replicas": 3}}}),
    );
    let spec = prom(
        json!({"chart": "prometheus-community/kube-prometheus-stack",
                           "values": {"server": {"replicas": 2}}}),
    );
    let prior = Current::new(spec, Map::new());
    let now = r
        .read(&OpContext::quiet("helm_release.prom"), &prior)
        .await
        .unwrap()
        .expect("the release");
    assert_eq!(
        now.inputs["values"],
        Value::from(json!({"server": {"replicas": 3}}))
    );
    assert_eq!(
        now.inputs["chart"],
        Value::from("prometheus-community/kube-prometheus-stack"),
        "helm names only the chart: the spec's spelling stays"
    );
    assert_eq!(now.inputs["version"], Value::from("61.0.0"));
    assert_eq!(
        now.outputs,
        inputs(json!({"revision": 3, "status": "deployed", "app_version": "v0.75.0"}))
    );
}

#[tokio::test]
async fn a_release_without_values_or_gone_reads_as_the_spec_means() {
    let (fake, r) = release();
    fake.put_release(
        "monitoring",
        "prom",
        json!({"chart": "other-chart", "version": "1.0.0", "appVersion": "",
               "revision": 1, "status": "deployed", "values": {}}),
    );
    let prior = Current::new(prom(json!({})), Map::new());
    let ctx = OpContext::quiet("helm_release.prom");
    let now = r.read(&ctx, &prior).await.unwrap().expect("the release");
    assert!(!now.inputs.contains_key("values"), "none given, none there");
    assert_eq!(now.inputs["chart"], Value::from("other-chart"));
    assert!(
        !now.outputs.contains_key("app_version"),
        "an empty appVersion is left out"
    );

    let gone = Current::new(prom(json!({"name": "alertmanager"})), Map::new());
    assert!(r.read(&ctx, &gone).await.unwrap().is_none());
}

#[tokio::test]
async fn recover_adopts_a_deployed_release() {
    let (fake, r) = release();
    fake.put_release(
        "monitoring",
        "prom",
        json!({"chart": "kube-prometheus-stack", "version": "61.0.0", "appVersion": "v0.75.0",
               "revision": 1, "status": "deployed", "values": {}}),
    );
    let found = r
        .recover(&creating("helm_release.prom"), &prom(json!({})))
        .await
        .unwrap()
        .expect("the release");
    assert_eq!(found["status"], Value::from("deployed"));
    assert!(fake.writes().is_empty(), "nothing installed again");
}

#[tokio::test]
async fn recover_uninstalls_a_failed_release_so_the_create_installs_afresh() {
    let (fake, r) = release();
    fake.put_release(
        "monitoring",
        "prom",
        json!({"chart": "kube-prometheus-stack", "version": "61.0.0", "revision": 1,
               "status": "failed", "values": {}}),
    );
    let found = r
        .recover(&creating("helm_release.prom"), &prom(json!({})))
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(
        fake.writes().iter().map(|i| i.line()).collect::<Vec<_>>(),
        ["uninstall prom --namespace monitoring --wait --timeout 300s --kubeconfig KUBECONFIG"]
    );
    assert_eq!(fake.releases(), json!({}));
}

#[tokio::test]
async fn recover_uninstalls_a_release_left_pending_once_its_time_is_up() {
    let (fake, r) = release();
    fake.put_release(
        "monitoring",
        "prom",
        json!({"chart": "kube-prometheus-stack", "version": "61.0.0", "revision": 1,
               "status": "pending-install", "values": {}}),
    );
    // No time left to wait for the helm that was installing it.
    let ctx = OpContext::new(
        "helm_release.prom",
        Some(Duration::ZERO),
        Arc::new(|_: &str| {}),
    );
    assert!(r.recover(&ctx, &prom(json!({}))).await.unwrap().is_none());
    assert_eq!(fake.writes().len(), 1);
    assert_eq!(fake.writes()[0].args[0], "uninstall");
}

#[tokio::test]
async fn recover_of_a_release_never_made_finds_nothing() {
    let (fake, r) = release();
    let found = r
        .recover(&creating("helm_release.prom"), &prom(json!({})))
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(
        lines(&fake),
        ["status prom --namespace monitoring -o json --kubeconfig KUBECONFIG"]
    );
}

#[tokio::test]
async fn deleting_a_release_already_gone_succeeds() {
    let (fake, r) = release();
    let prior = Current::new(prom(json!({"wait": false})), Map::new());
    r.delete(&OpContext::quiet("helm_release.prom"), &prior)
        .await
        .unwrap();
    assert_eq!(
        lines(&fake),
        ["uninstall prom --namespace monitoring --timeout 300s --kubeconfig KUBECONFIG"]
    );
}

#[tokio::test]
async fn an_import_takes_namespace_and_name_and_the_schemas_defaults() {
    let (fake, r) = release();
    fake.put_release(
        "monitoring",
        "prom",
        json!({"chart": "kube-prometheus-stack", "version": "61.0.0", "appVersion": "v0.75.0",
               "revision": 2, "status": "deployed", "values": {"grafana": {"enabled": false}}}),
    );
    let ctx = OpContext::quiet("helm_release.prom");
    let now = r
        .import(&ctx, "monitoring/prom")
        .await
        .unwrap()
        .expect("the release");
    assert_eq!(
        now.inputs,
        inputs(json!({
            "name": "prom", "namespace": "monitoring", "chart": "kube-prometheus-stack",
            "version": "61.0.0", "values": {"grafana": {"enabled": false}},
            "create_namespace": false, "wait": true, "timeout": "5m",
        }))
    );
    let err = r.import(&ctx, "prom").await.unwrap_err();
    assert!(err.hint.as_deref().unwrap().contains("NAMESPACE/NAME"));
}
