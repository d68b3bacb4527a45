//! The `kubernetes` provider through its library API (configure, then
//! create/read/update/delete on resource types, and find with the
//! `k8s_namespace` look-up) against the test API server from
//! `tests/support` (kube_api), and the EKS token against moto-backed
//! credentials. The CLI-level tests are in the root's tests/kubernetes_e2e.rs.

use std::time::{Duration, SystemTime};

use meshmon_provider_kubernetes::{Kubernetes, eks_token};
use meshmon_provider_sdk::lookup::NOT_FOUND;
use meshmon_provider_sdk::{Configured, Current, Map, OpContext, Provider, Value};
use meshmon_test_support::kube_api::{Auth, KubeApi, Options, decode_eks_token, verify_eks_token};
use meshmon_test_support::moto::{Moto, REGION};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

async fn configured(api: &KubeApi, token: &str) -> std::sync::Arc<dyn Configured> {
    Kubernetes
        .configure(&map(&[
            ("host", api.endpoint().into()),
            ("cluster_ca_certificate", api.ca_pem().into()),
            ("token", token.into()),
            ("ready_timeout", "20s".into()),
        ]))
        .await
        .expect("configure")
}

fn ctx() -> OpContext {
    OpContext::quiet("test")
}

#[test]
fn eks_token_from_moto_credentials_is_a_presigned_sts_get_caller_identity_url() {
    let moto = Moto::start();
    let rt = rt();
    let sdk = rt.block_on(moto.sdk_config());
    let creds = rt.block_on(async {
        use aws_credential_types::provider::ProvideCredentials;
        sdk.credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap()
    });
    let token = eks_token::token(&creds, REGION, "AMP-EKS-CLUSTER", SystemTime::now()).unwrap();

    let t = decode_eks_token(&token).unwrap();
    // The real regional STS host, never the local endpoint moto serves on.
    assert_eq!(t.host, "sts.eu-west-1.amazonaws.com");
    assert_eq!(t.param("Action"), Some("GetCallerIdentity"));
    assert_eq!(t.param("Version"), Some("2011-06-15"));
    assert_eq!(t.param("X-Amz-Expires"), Some("60"));
    assert_eq!(t.param("X-Amz-SignedHeaders"), Some("host;x-k8s-aws-id"));
    assert!(
        t.param("X-Amz-Credential").unwrap().starts_with("testing/"),
        "{}",
        t.url
    );
    assert!(
        t.param("X-Amz-Credential")
            .unwrap()
            .ends_with("/eu-west-1/sts/aws4_request")
    );
    let sig = t.param("X-Amz-Signature").unwrap();
    assert!(
        sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sig}"
    );

    // The signature covers `x-k8s-aws-id: AMP-EKS-CLUSTER` and nothing else.
    verify_eks_token(&token, REGION, "AMP-EKS-CLUSTER", "testing", "testing").unwrap();
    let other =
        verify_eks_token(&token, REGION, "another-cluster", "testing", "testing").unwrap_err();
    assert!(other.contains("does not verify"), "{other}");
}

const CRD_AND_MESH: &str = "\
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: dj, namespace: prod}
spec:
  listeners: [{portMapping: {port: 9080, protocol: http}, healthCheck: {path: /ping, protocol: http}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: virtualnodes.appmesh.k8s.aws}
spec:
  group: appmesh.k8s.aws
  scope: Namespaced
  names: {kind: VirtualNode, plural: virtualnodes}
  versions: [{name: v1beta2, served: true, storage: true}]
---
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {mesh: dj-app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dj-config}
data: {greeting: hello}
";

#[test]
fn manifest_orders_namespace_and_crd_first_waits_for_established_and_defaults_the_namespace() {
    let api = KubeApi::start(Auth::Token("t".into()), Options::realistic());
    let rt = rt();
    rt.block_on(async {
        let k = configured(&api, "t").await;
        let m = k.resource("k8s_manifest").unwrap();
        let inputs = map(&[
            ("content", CRD_AND_MESH.into()),
            ("namespace", "prod".into()),
        ]);
        let out = m.create(&ctx(), &inputs).await.unwrap();
        assert_eq!(
            out["objects"],
            Value::List(vec![
                "v1 Namespace prod".into(),
                "apiextensions.k8s.io/v1 CustomResourceDefinition virtualnodes.appmesh.k8s.aws"
                    .into(),
                "appmesh.k8s.aws/v1beta2 VirtualNode prod/dj".into(),
                "v1 ConfigMap prod/dj-config".into(),
            ])
        );
        // The custom resource was applied only once its CRD was Established.
        let log = api.requests();
        let established_check = log
            .iter()
            .position(|r| {
                r.method == "GET"
                    && r.path
                        .ends_with("/customresourcedefinitions/virtualnodes.appmesh.k8s.aws")
            })
            .unwrap();
        let cr = log
            .iter()
            .position(|r| r.method == "PATCH" && r.path.ends_with("/virtualnodes/dj"))
            .unwrap();
        assert!(established_check < cr);
        assert!(
            api.object("v1", "ConfigMap", Some("prod"), "dj-config")
                .is_some()
        );

        // Unchanged on the server: read gives back the very content applied.
        let prior = Current::new(inputs.clone(), out.clone());
        let now = m.read(&ctx(), &prior).await.unwrap().unwrap();
        assert_eq!(now.inputs["content"], inputs["content"]);

        // A document removed from the content is deleted, and waited for.
        let fewer = CRD_AND_MESH
            .split("---\napiVersion: v1\nkind: ConfigMap")
            .next()
            .unwrap()
            .to_string();
        let inputs2 = map(&[("content", fewer.into()), ("namespace", "prod".into())]);
        let out2 = m.update(&ctx(), &prior, &inputs2).await.unwrap();
        assert_eq!(out2["objects"].as_list().unwrap().len(), 3);
        assert!(
            api.object("v1", "ConfigMap", Some("prod"), "dj-config")
                .is_none()
        );

        m.delete(&ctx(), &Current::new(inputs2, out2))
            .await
            .unwrap();
        assert!(api.names().is_empty(), "{:?}", api.names());
    });
}

#[test]
fn service_account_in_a_missing_namespace_is_a_404_with_a_hint_and_a_wrong_token_a_401() {
    let api = KubeApi::start(Auth::Token("right".into()), Options::realistic());
    let rt = rt();
    rt.block_on(async {
        let k = configured(&api, "right").await;
        let sa = k.resource("k8s_service_account").unwrap();
        let e = sa
            .create(
                &ctx(),
                &map(&[("namespace", "nope".into()), ("name", "agent".into())]),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.operation.as_deref(),
            Some("PATCH v1 ServiceAccount nope/agent")
        );
        assert_eq!(e.code.as_deref(), Some("404 Not Found"));
        assert!(e.hint.unwrap().contains("k8s_namespace"));

        let wrong = configured(&api, "wrong").await;
        let ns = wrong.resource("k8s_namespace").unwrap();
        let e = ns
            .create(&ctx(), &map(&[("name", "x".into())]))
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("401 Unauthorized"), "{e}");
        assert!(e.hint.unwrap().contains("token"));
    });
}

#[test]
fn namespace_labels_meshmon_does_not_manage_never_drift_and_transient_503s_are_retried() {
    let api = KubeApi::start(Auth::Token("t".into()), Options::realistic());
    let rt = rt();
    rt.block_on(async {
        let k = configured(&api, "t").await;
        let ns = k.resource("k8s_namespace").unwrap();
        let inputs = map(&[
            ("name", "prod".into()),
            ("labels", Value::Map(map(&[("mesh", "dj-app".into())]))),
        ]);
        let out = ns.create(&ctx(), &inputs).await.unwrap();
        api.fail_next(2);
        api.edit(
            "v1",
            "Namespace",
            None,
            "prod",
            serde_json::json!({"metadata": {"labels": {"added-by-hand": "x"}}}),
        );
        let prior = Current::new(inputs.clone(), out);
        let now = ns.read(&ctx(), &prior).await.unwrap().unwrap();
        assert_eq!(
            now.inputs, inputs,
            "kubernetes.io/metadata.name and foreign labels are not meshmon's"
        );

        api.edit(
            "v1",
            "Namespace",
            None,
            "prod",
            serde_json::json!({"metadata": {"labels": {"mesh": "other"}}}),
        );
        let now = ns.read(&ctx(), &prior).await.unwrap().unwrap();
        assert_eq!(
            now.inputs["labels"],
            Value::Map(map(&[("mesh", "other".into())]))
        );

        ns.delete(&ctx(), &prior).await.unwrap();
        assert!(ns.read(&ctx(), &prior).await.unwrap().is_none());
        let terminating_seen = api
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/api/v1/namespaces/prod")
            .count();
        assert!(
            terminating_seen >= 1,
            "delete waited until the namespace was gone"
        );
    });
}

#[test]
fn namespace_lookup_finds_one_made_out_of_band_and_suggests_names_for_a_slip() {
    let api = KubeApi::start(Auth::Token("t".into()), Options::realistic());
    api.create(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "appmesh-system", "labels": {"team": "mesh"}, "annotations": {"owner": "platform"}},
    }));
    let rt = rt();
    rt.block_on(async {
        let k = configured(&api, "t").await;
        let lookup = k
            .lookup("k8s_namespace")
            .expect("the kubernetes provider offers the k8s_namespace look-up");
        let ctx = OpContext::quiet("data.k8s_namespace.mesh");
        let found = lookup
            .find(&ctx, &map(&[("name", "appmesh-system".into())]))
            .await
            .unwrap();
        let live = api
            .object("v1", "Namespace", None, "appmesh-system")
            .unwrap();
        assert_eq!(
            found,
            map(&[
                ("labels", Value::Map(map(&[("team", "mesh".into())])),),
                (
                    "annotations",
                    Value::Map(map(&[("owner", "platform".into())])),
                ),
                ("uid", live["metadata"]["uid"].as_str().unwrap().into()),
            ]),
            "every label but kubernetes.io/metadata.name, the server's own"
        );

        let e = lookup
            .find(&ctx, &map(&[("name", "appmesh-sytem".into())]))
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some(NOT_FOUND), "{e}");
        assert!(e.message.contains(r#"name = "appmesh-sytem""#), "{e}");
        let hint = e.hint.unwrap();
        assert!(
            hint.starts_with(r#"did you mean "appmesh-system"?"#),
            "{hint}"
        );
        assert!(
            api.requests()
                .iter()
                .any(|r| r.line() == "GET /api/v1/namespaces" && r.param("limit") == Some("500")),
            "the names that exist come from a LIST, a page at a time"
        );
    });
}

#[test]
fn the_api_server_is_waited_for_before_the_first_request() {
    let api = KubeApi::start(
        Auth::Token("t".into()),
        Options {
            unavailable_for: Duration::from_secs(2),
            ..Options::realistic()
        },
    );
    let rt = rt();
    rt.block_on(async {
        let k = configured(&api, "t").await;
        assert!(api.requests().is_empty(), "configure makes no request");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let ctx = OpContext::new(
            "k8s_namespace.prod",
            None,
            std::sync::Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
        );
        k.resource("k8s_namespace")
            .unwrap()
            .create(&ctx, &map(&[("name", "prod".into())]))
            .await
            .unwrap();
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter()
                .any(|m| m.contains("waiting for the Kubernetes API server") && m.contains("503")),
            "{seen:?}"
        );
    });
}
