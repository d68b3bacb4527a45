//! The `kubernetes` provider end to end: the real `meshmon` binary, moto for
//! AWS (the EKS cluster, IAM), the test Kubernetes API server from
//! `tests/support` (kube_api) for the cluster's API, and the fake-helm
//! binary for Helm. moto's DescribeCluster reports an endpoint and CA that
//! cannot be served locally, so the specs keep `eks_cluster` (the token is
//! still an EKS token for that cluster, verified by the test server) and
//! override the endpoint with `host` + `cluster_ca_certificate`.
//!
//! - one apply from nothing to workloads, ordered, clean re-plan, drift, destroy in reverse
//! - an API server answering 503 (and refusing connections) after the cluster is ACTIVE
//! - helm_release: exact command lines and values, upgrade, drift, uninstall
//!
//! Needs moto (scripts/test sets MESHMON_MOTO_SERVER) and the fake-helm binary
//! (built by `cargo test --workspace`).

use std::time::Duration;

use meshmon_test_support::cli::Cli;
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Logged, Options};
use meshmon_test_support::moto::{Moto, REGION};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const CLUSTER: &str = "AMP-EKS-CLUSTER";

fn provider_block(api: &KubeApi) -> String {
    format!(
        "[providers.kubernetes]\neks_cluster = \"${{aws_eks_cluster.main.name}}\"\nhost = \"{}\"\ncluster_ca_certificate = '''\n{}'''\n",
        api.endpoint(),
        api.ca_pem()
    )
}

const AWS: &str = r#"
[resources.aws_vpc.eks]
cidr_block = "192.168.0.0/16"

[resources.aws_subnet.a]
vpc_id = "${aws_vpc.eks.id}"
cidr_block = "192.168.0.0/19"
availability_zone = "eu-west-1a"

[resources.aws_subnet.b]
vpc_id = "${aws_vpc.eks.id}"
cidr_block = "192.168.32.0/19"
availability_zone = "eu-west-1b"

[resources.aws_iam_role.cluster]
name = "AMP-EKS-CLUSTER-role"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
role_arn = "${aws_iam_role.cluster.arn}"
subnet_ids = ["${aws_subnet.a.id}", "${aws_subnet.b.id}"]

[resources.aws_iam_oidc_provider.eks]
url = "${aws_eks_cluster.main.oidc_issuer}"

[resources.aws_iam_role.grafana_agent]
name = "EKS-GrafanaAgent-AMP-ServiceAccount-Role"
irsa = { oidc_provider_arn = "${aws_iam_oidc_provider.eks.arn}", oidc_issuer = "${aws_eks_cluster.main.oidc_issuer}", namespace = "grafana-agent", service_account = "grafana-agent" }
"#;

const K8S: &str = r#"
[resources.k8s_namespace.agent]
name = "grafana-agent"
labels = { team = "observability" }

[resources.k8s_service_account.agent]
namespace = "${k8s_namespace.agent.name}"
name = "grafana-agent"
annotations = { "eks.amazonaws.com/role-arn" = "${aws_iam_role.grafana_agent.arn}" }

[resources.k8s_manifest.mesh_crd]
content = '''
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: meshes.appmesh.k8s.aws
spec:
  group: appmesh.k8s.aws
  scope: Cluster
  names: {kind: Mesh, plural: meshes, singular: mesh, listKind: MeshList}
  versions:
    - name: v1beta2
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
'''

[resources.k8s_manifest.mesh]
content = '''
apiVersion: appmesh.k8s.aws/v1beta2
kind: Mesh
metadata:
  name: dj-app
spec:
  namespaceSelector:
    matchLabels: {mesh: dj-app}
'''
depends_on = ["k8s_manifest.mesh_crd"]

[resources.k8s_manifest.agent]
wait = "rollout"
content = '''
apiVersion: apps/v1
kind: Deployment
metadata:
  name: grafana-agent-deployment
  namespace: ${k8s_namespace.agent.name}
  labels: {app: grafana-agent}
spec:
  replicas: 2
  selector:
    matchLabels: {app: grafana-agent}
  template:
    metadata:
      labels: {app: grafana-agent}
    spec:
      serviceAccountName: ${k8s_service_account.agent.name}
      containers:
        - name: agent
          image: grafana/agent:v0.42.0
          args: ["-config.file=/etc/agent/agent.yaml"]
'''
"#;

struct Env {
    cli: Cli,
    api: KubeApi,
    _moto: Moto,
}

fn env(options: Options) -> Env {
    let moto = Moto::start();
    let api = KubeApi::start(
        Auth::Eks {
            region: REGION.into(),
            cluster: CLUSTER.into(),
        },
        options,
    );
    let cli = Cli::new(BIN, moto.env());
    cli.spec(&format!("{}{AWS}{K8S}", provider_block(&api)));
    Env {
        cli,
        api,
        _moto: moto,
    }
}

/// Index of the first request matching `method` and ending in `path_end`.
fn first(log: &[Logged], method: &str, path_end: &str) -> usize {
    log.iter()
        .position(|r| r.method == method && r.path.ends_with(path_end) && r.status < 300)
        .unwrap_or_else(|| {
            panic!(
                "no successful {method} …{path_end} in {:#?}",
                log.iter().map(Logged::line).collect::<Vec<_>>()
            )
        })
}

#[test]
fn one_apply_goes_from_a_new_eks_cluster_to_workloads_then_drift_and_reverse_destroy() {
    let e = env(Options::realistic());

    // The cluster does not exist yet: plan must not contact it.
    let plan = e.cli.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains("k8s_manifest.agent"),
        "{}",
        plan.stdout
    );
    assert!(
        e.api.requests().is_empty(),
        "plan contacted the API server: {:?}",
        e.api.requests()
    );

    e.cli.apply();
    let log = e.api.requests();
    assert!(
        log.iter().all(|r| r.status != 401),
        "every request carried a valid EKS token"
    );
    let ns = first(&log, "PATCH", "/api/v1/namespaces/grafana-agent");
    let sa = first(
        &log,
        "PATCH",
        "/namespaces/grafana-agent/serviceaccounts/grafana-agent",
    );
    let crd = first(
        &log,
        "PATCH",
        "/customresourcedefinitions/meshes.appmesh.k8s.aws",
    );
    let mesh = first(&log, "PATCH", "/apis/appmesh.k8s.aws/v1beta2/meshes/dj-app");
    let deploy = first(
        &log,
        "PATCH",
        "/namespaces/grafana-agent/deployments/grafana-agent-deployment",
    );
    assert!(
        ns < sa && sa < deploy && crd < mesh,
        "order: ns {ns}, sa {sa}, crd {crd}, mesh {mesh}, deploy {deploy}"
    );
    for r in log.iter().filter(|r| r.method == "PATCH") {
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "{}",
            r.line()
        );
        assert_eq!(
            (r.param("fieldManager"), r.param("force")),
            (Some("meshmon"), Some("true")),
            "{}",
            r.line()
        );
    }

    let role_arn = e.cli.attr_str("aws_iam_role.grafana_agent", "arn");
    let sa_obj = e
        .api
        .object(
            "v1",
            "ServiceAccount",
            Some("grafana-agent"),
            "grafana-agent",
        )
        .unwrap();
    assert_eq!(
        sa_obj["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        role_arn.as_str()
    );
    let dep = e
        .api
        .object(
            "apps/v1",
            "Deployment",
            Some("grafana-agent"),
            "grafana-agent-deployment",
        )
        .unwrap();
    assert_eq!(
        dep["status"]["availableReplicas"], 2,
        "wait = rollout waited: {dep:#}"
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["serviceAccountName"],
        "grafana-agent"
    );
    assert!(
        e.api
            .object("appmesh.k8s.aws/v1beta2", "Mesh", None, "dj-app")
            .is_some()
    );

    // Server-defaulted fields (strategy, imagePullPolicy, the namespace's
    // metadata.name label, managedFields) are not changes.
    e.cli.assert_no_changes();

    e.api.edit(
        "apps/v1",
        "Deployment",
        Some("grafana-agent"),
        "grafana-agent-deployment",
        serde_json::json!({"spec": {"replicas": 5}}),
    );
    let drift = e.cli.drift();
    let entries = drift["drift"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{drift:#}");
    assert_eq!(entries[0]["address"], "k8s_manifest.agent", "{drift:#}");
    let d = e.cli.drifted("k8s_manifest.agent", "content");
    assert!(
        d["recorded"].as_str().unwrap().contains("replicas: 2"),
        "{d:#}"
    );
    assert!(
        d["actual"].as_str().unwrap().contains("replicas: 5"),
        "{d:#}"
    );

    // The next apply takes the field back from `kubectl-edit`.
    e.cli.apply();
    let dep = e
        .api
        .object(
            "apps/v1",
            "Deployment",
            Some("grafana-agent"),
            "grafana-agent-deployment",
        )
        .unwrap();
    assert_eq!(dep["spec"]["replicas"], 2);
    e.cli.assert_no_changes();

    let before = e.api.requests().len();
    e.cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(e.cli.addresses().is_empty(), "{:?}", e.cli.addresses());
    let log = &e.api.requests()[before..];
    let del = |end: &str| first(log, "DELETE", end);
    let (deploy, sa, ns) = (
        del("/deployments/grafana-agent-deployment"),
        del("/serviceaccounts/grafana-agent"),
        del("/namespaces/grafana-agent"),
    );
    let (mesh, crd) = (
        del("/meshes/dj-app"),
        del("/customresourcedefinitions/meshes.appmesh.k8s.aws"),
    );
    assert!(
        deploy < sa && sa < ns && mesh < crd,
        "reverse order: deploy {deploy}, sa {sa}, ns {ns}, mesh {mesh}, crd {crd}"
    );
    assert!(
        e.api.names().is_empty(),
        "left on the server: {:?}",
        e.api.names()
    );
}

#[test]
fn apply_waits_for_an_api_server_that_refuses_then_answers_503_after_the_cluster_is_active() {
    let e = env(Options {
        refuse_for: Duration::from_secs(1),
        unavailable_for: Duration::from_secs(3),
        ..Options::realistic()
    });
    e.cli.apply();
    let log = e.api.requests();
    let unavailable = log.iter().take_while(|r| r.status == 503).count();
    assert!(
        unavailable >= 1,
        "the provider never saw the 503s: {:?}",
        log.iter().map(|r| (r.line(), r.status)).collect::<Vec<_>>()
    );
    assert_eq!(
        log[unavailable].path, "/version",
        "the first answered request is the readiness probe"
    );
    // A create of a namespace first looks for one of that name still
    // terminating: that look-up finding nothing is the only 4xx.
    assert!(
        log[unavailable..]
            .iter()
            .all(|r| r.status < 400 || (r.method == "GET" && r.status == 404)),
        "{:?}",
        log.iter().map(|r| (r.line(), r.status)).collect::<Vec<_>>()
    );
    assert!(
        e.api
            .object(
                "apps/v1",
                "Deployment",
                Some("grafana-agent"),
                "grafana-agent-deployment"
            )
            .is_some()
    );
    e.cli.assert_no_changes();
}

fn helm_spec(api: &KubeApi, region: &str) -> String {
    format!(
        r#"[providers.kubernetes]
host = "{}"
cluster_ca_certificate = '''
{}'''
token = "s3cr3t-token"

[resources.helm_release.appmesh_controller]
name = "appmesh-controller"
namespace = "appmesh-system"
repository = "https://aws.github.io/eks-charts"
chart = "appmesh-controller"
version = "1.13.1"
create_namespace = true
values = {{ region = "{region}", serviceAccount = {{ create = false, name = "appmesh-controller" }} }}
"#,
        api.endpoint(),
        api.ca_pem()
    )
}

#[test]
fn helm_release_runs_exact_helm_command_lines_upgrades_on_values_change_drifts_and_uninstalls() {
    let api = KubeApi::start(Auth::Token("s3cr3t-token".into()), Options::realistic());
    let helm = FakeHelm::new();
    let cli = Cli::new(BIN, helm.env());
    cli.spec(&helm_spec(&api, "eu-west-1"));
    cli.apply();

    let writes = helm.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(
        writes[0].line(),
        "upgrade --install appmesh-controller appmesh-controller --namespace appmesh-system \
         --repo https://aws.github.io/eks-charts --version 1.13.1 --create-namespace --reset-values \
         --values VALUES --wait --timeout 300s --kubeconfig KUBECONFIG"
    );
    assert_eq!(
        writes[0].values,
        ["region: eu-west-1\nserviceAccount:\n  create: false\n  name: appmesh-controller\n"]
    );
    let kc = &writes[0].kubeconfig;
    assert_eq!(kc["mode"], "600", "{kc:#}");
    assert_eq!(kc["server"], api.endpoint().as_str(), "{kc:#}");
    assert_eq!(
        (kc["has_token"].as_bool(), kc["has_ca"].as_bool()),
        (Some(true), Some(true)),
        "{kc:#}"
    );
    for i in helm.invocations() {
        let path = i.kubeconfig["path"].as_str().unwrap().to_string();
        assert!(
            !std::path::Path::new(&path).exists(),
            "the kubeconfig {path} was left behind"
        );
    }
    assert!(
        api.requests().iter().any(|r| r.path == "/version"),
        "helm ran only after the API server answered"
    );
    cli.assert_no_changes();

    cli.spec(&helm_spec(&api, "eu-central-1"));
    cli.apply();
    let writes = helm.writes();
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert!(
        writes[1]
            .line()
            .starts_with("upgrade --install appmesh-controller appmesh-controller "),
        "{}",
        writes[1].line()
    );
    assert_eq!(
        writes[1].values,
        ["region: eu-central-1\nserviceAccount:\n  create: false\n  name: appmesh-controller\n"]
    );
    assert_eq!(
        helm.releases()["appmesh-system/appmesh-controller"]["revision"],
        2
    );
    cli.assert_no_changes();

    helm.set_values("appmesh-system", "appmesh-controller", serde_json::json!({"region": "us-east-1", "serviceAccount": {"create": false, "name": "appmesh-controller"}}));
    let d = cli.drifted("helm_release.appmesh_controller", "values.region");
    assert_eq!(
        (d["recorded"].as_str(), d["actual"].as_str()),
        (Some("eu-central-1"), Some("us-east-1")),
        "{d:#}"
    );

    cli.expect(&["destroy", "--auto-approve"], 0);
    let writes = helm.writes();
    assert_eq!(
        writes.last().unwrap().line(),
        "uninstall appmesh-controller --namespace appmesh-system --wait --timeout 300s --kubeconfig KUBECONFIG"
    );
    assert_eq!(helm.releases(), serde_json::json!({}));
}

#[test]
fn a_missing_helm_binary_is_named_by_plan_and_stops_apply() {
    let api = KubeApi::start(Auth::Token("s3cr3t-token".into()), Options::realistic());
    // miette wraps long lines: compare words, not layout.
    let words = |out: &meshmon_test_support::cli::Output| {
        format!("{}{}", out.stdout, out.stderr)
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut cli = Cli::new(
        BIN,
        vec![("MESHMON_HELM".into(), "/nonexistent/helm".into())],
    );
    cli.spec(&helm_spec(&api, "eu-west-1"));
    // The plan is still shown, with a warning; apply refuses to start.
    let text = words(&cli.expect(&["plan"], 0));
    assert!(
        text.contains("MESHMON_HELM=/nonexistent/helm does not exist"),
        "{text}"
    );
    assert!(
        text.contains("helm_release.appmesh_controller will be created"),
        "{text}"
    );
    let text = words(&cli.expect(&["apply", "--auto-approve"], 1));
    assert!(
        text.contains("this machine cannot apply the plan"),
        "{text}"
    );
    assert!(
        text.contains("MESHMON_HELM=/nonexistent/helm does not exist"),
        "{text}"
    );

    let empty = tempfile_dir();
    cli.set_env("MESHMON_HELM", "");
    cli.set_env("PATH", &empty);
    let text = words(&cli.expect(&["apply", "--auto-approve"], 1));
    assert!(
        text.contains("helm_release needs the `helm` command-line tool, and it is not on PATH"),
        "{text}"
    );
    assert!(text.contains("install Helm 3"), "{text}");
    assert!(
        api.requests().is_empty(),
        "a failed preflight contacts nothing"
    );
}

/// A directory with no helm in it, for PATH.
fn tempfile_dir() -> String {
    let dir = std::env::temp_dir().join(format!("meshmon-no-helm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.display().to_string()
}
