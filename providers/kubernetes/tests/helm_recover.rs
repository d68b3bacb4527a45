//! `recover` for `helm_release`, through the fake-helm binary of
//! tests/support (build it first: `cargo build -p meshmon-test-support
//! --bin fake-helm`, which `cargo test --workspace` does). One test in
//! this file, because it points the process's environment at that helm
//! before anything else runs.
//!
//! A deployed release is adopted; one still pending is waited for until it
//! settles; one that stays pending (its helm was killed) or failed is
//! uninstalled so that the create installs it afresh.

use std::sync::Arc;
use std::time::Duration;

use meshmon_provider_kubernetes::Kubernetes;
use meshmon_provider_sdk::{Intent, Map, OpContext, Provider, Value};
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Options};
use serde_json::json;

fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn create_ctx(address: &str, timeout: Duration) -> OpContext {
    OpContext::new(address, Some(timeout), Arc::new(|_: &str| {})).with_intent(Intent {
        token: "6fa459ea-ee8a-3ca4-894e-db77e160355e".into(),
        lineage: "lineage".into(),
    })
}

fn release(name: &str) -> Map {
    map(&[
        ("name", name.into()),
        ("namespace", "mesh".into()),
        ("chart", "eks/appmesh-controller".into()),
        ("version", "1.13.1".into()),
        ("create_namespace", true.into()),
        ("wait", true.into()),
        ("timeout", "5m".into()),
    ])
}

/// Writes a release into the fake helm's store, as a helm running in
/// another process (or killed mid-install) would have left it.
fn leave(helm: &FakeHelm, name: &str, record: serde_json::Value) {
    let mut all = helm.releases();
    let mut r = json!({
        "name": name, "namespace": "mesh", "chart": "appmesh-controller", "version": "1.13.1",
        "appVersion": "v1.13.1", "revision": 1, "values": {},
    });
    for (k, v) in record.as_object().unwrap() {
        r[k] = v.clone();
    }
    all[format!("mesh/{name}")] = r;
    let dir = helm
        .env()
        .into_iter()
        .find(|(k, _)| k == "FAKE_HELM_DIR")
        .unwrap()
        .1;
    std::fs::write(format!("{dir}/releases.json"), all.to_string()).unwrap();
}

fn subcommands(helm: &FakeHelm, name: &str) -> Vec<String> {
    helm.invocations()
        .into_iter()
        .filter(|i| i.args.iter().any(|a| a == name))
        .map(|i| i.args[0].clone())
        .collect()
}

#[test]
fn helm_releases_are_adopted_waited_for_or_uninstalled() {
    let helm = FakeHelm::new();
    for (k, v) in helm.env() {
        // SAFETY: the only test in this binary, before any other thread.
        unsafe { std::env::set_var(k, v) };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = KubeApi::start(Auth::Token("t".into()), Options::realistic());
    rt.block_on(async {
        let k = Kubernetes
            .configure(&map(&[
                ("host", api.endpoint().into()),
                ("cluster_ca_certificate", api.ca_pem().into()),
                ("token", "t".into()),
                ("ready_timeout", "20s".into()),
            ]))
            .await
            .unwrap();
        let r = k.resource("helm_release").unwrap();
        let ctx = create_ctx("helm_release.controller", Duration::from_secs(30));

        // Deployed: adopted, with the create's outputs.
        let inputs = release("controller");
        assert_eq!(r.recover(&ctx, &inputs).await.unwrap(), None);
        let created = r.create(&ctx, &inputs).await.unwrap();
        assert_eq!(
            r.recover(&ctx, &inputs).await.unwrap(),
            Some(created.clone())
        );
        assert_eq!(created["status"], Value::from("deployed"));

        // Pending, with its helm still at work: waited for until deployed.
        leave(
            &helm,
            "settling",
            json!({ "status": "pending-install", "pendingReads": 3 }),
        );
        let found = r
            .recover(&ctx, &release("settling"))
            .await
            .unwrap()
            .expect("adopted once settled");
        assert_eq!(found["status"], Value::from("deployed"));
        assert_eq!(found["revision"], Value::Int(1));
        let seen = subcommands(&helm, "settling");
        assert_eq!(
            seen.iter().filter(|s| *s == "status").count(),
            3,
            "{seen:?}"
        );
        assert!(!seen.contains(&"uninstall".to_string()), "{seen:?}");

        // Pending for good (its helm was killed): helm refuses to upgrade
        // it, so recover uninstalls it once its wait is up, and the create
        // then installs it.
        leave(&helm, "stuck", json!({ "status": "pending-install" }));
        let e = r.create(&ctx, &release("stuck")).await.unwrap_err();
        assert!(e.message.contains("another operation"), "{}", e.message);
        let short = create_ctx("helm_release.stuck", Duration::from_secs(2));
        assert_eq!(r.recover(&short, &release("stuck")).await.unwrap(), None);
        assert!(helm.releases().get("mesh/stuck").is_none());
        assert!(subcommands(&helm, "stuck").contains(&"uninstall".to_string()));
        let created = r.create(&ctx, &release("stuck")).await.unwrap();
        assert_eq!(created["status"], Value::from("deployed"));

        // Failed: uninstalled at once, to be installed afresh.
        leave(&helm, "failed", json!({ "status": "failed" }));
        assert_eq!(r.recover(&ctx, &release("failed")).await.unwrap(), None);
        assert!(helm.releases().get("mesh/failed").is_none());
        let seen = subcommands(&helm, "failed");
        assert_eq!(seen, ["status", "uninstall"]);
    });
}
