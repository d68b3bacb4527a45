//! `examples/meshmon.toml` end to end: the real `meshmon` binary on a copy
//! of `examples/` (so `file()` paths resolve), pointed at the emulators
//! through the environment alone, as at AWS: moto for AWS (with AWS-managed
//! policies loaded) behind the EKS double, which reports the test
//! Kubernetes API server (accepting EKS tokens for the example's cluster)
//! as the endpoint and CA of the cluster the example creates; the AMG and
//! Grafana test servers (linked: the workspace's endpoint is the Grafana
//! server's HTTPS address, its test CA trusted through `SSL_CERT_FILE`)
//! and the fake helm.
//!
//! One test, because the environment is expensive: apply from nothing
//! creates every resource in one run, in dependency order; re-plan says
//! "No changes."; five out-of-band changes (SNS subscription deleted, the
//! agent role's trust policy edited, the dashboard deleted, the agent
//! ConfigMap edited, the node group scaled) each show in `drift` (JSON and
//! markdown, exit 2); apply repairs them and drift is clean; destroy leaves
//! nothing in moto, the Kubernetes server (but the CRDs the test itself
//! registered), AMG or Grafana.
//!
//! Gap: the App Mesh CRDs come from the real Helm chart; the fake helm
//! installs nothing, so the test registers them in the API server's store
//! before apply (and they stay after destroy, as a chart uninstall would
//! leave CRDs too).
//!
//! Needs moto (MESHMON_MOTO_SERVER) and the fake-helm binary
//! (`cargo build -p meshmon-test-support --bin fake-helm`).

use std::path::Path;
use std::time::{Duration, Instant};

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::cli::{Cli, Output, copy_dir};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Options, app_mesh_crds};
use meshmon_test_support::moto::{Moto, REGION};
use meshmon_test_support::{amp, ec2, eks, iam, sns};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const CLUSTER: &str = "AMP-EKS-CLUSTER";

/// Line index of the first line of `out` containing `needle`.
fn line_of(out: &Output, needle: &str) -> usize {
    out.stdout
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{}", out.stdout))
}

fn state(cli: &Cli) -> Value {
    let dir = cli.path().join("state");
    let file = std::fs::read_dir(&dir)
        .expect("state dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a state file");
    serde_json::from_str(&std::fs::read_to_string(file).expect("state")).expect("state is JSON")
}

fn state_addresses(cli: &Cli) -> Vec<String> {
    state(cli)["resources"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn drift_entry<'a>(report: &'a Value, address: &str) -> &'a Value {
    report["drift"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["address"] == address))
        .unwrap_or_else(|| panic!("no drift for {address} in {report:#}"))
}

#[test]
fn the_example_applies_in_one_run_detects_drift_repairs_it_and_destroys_cleanly() {
    let started = Instant::now();
    let moto = Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]);
    let api = KubeApi::start(
        Auth::Eks {
            region: REGION.into(),
            cluster: CLUSTER.into(),
        },
        Options::realistic(),
    );
    // The App Mesh CRDs are installed by the real appmesh-controller Helm
    // chart; the fake helm installs nothing, so they are registered here,
    // through the server's store, before apply.
    for crd in app_mesh_crds() {
        api.create(crd);
    }
    let pre_created = api.names();
    // Clusters and their access entries in the EKS double, which reports
    // the API server as the new cluster's endpoint and CA; node groups go
    // on to moto.
    let eks = EksDouble::forwarding(Duration::from_millis(300), &moto.endpoint());
    eks.serve_new_clusters_from(&api);
    let helm = FakeHelm::new();
    let amg = AmgServer::start();
    let grafana = GrafanaServer::start("unused-admin-token");
    amg.link(&grafana);

    let mut env = moto.env();
    env.push(("AWS_ENDPOINT_URL_EKS".into(), eks.endpoint()));
    env.extend(amg.env());
    env.extend(grafana.env());
    env.extend(helm.env());
    let cli = Cli::new(BIN, env);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        cli.path(),
    );
    let vars = [format!("region={REGION}")];
    let with_vars = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        for var in &vars {
            v.push("--var".into());
            v.push(var.clone());
        }
        v
    };
    let run = |args: &[&str], code: i32| -> Output {
        let a = with_vars(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        cli.expect(&a, code)
    };

    // ---- apply from nothing, in one run, in dependency order
    let apply = run(&["apply", "--auto-approve"], 0);
    let addresses = state_addresses(&cli);
    let resources = addresses.len();
    let spec = std::fs::read_to_string(cli.path().join("meshmon.toml")).expect("spec");
    let declared = spec
        .lines()
        .filter(|l| l.starts_with("[resources."))
        .count();
    assert_eq!(
        resources, declared,
        "every resource of the example is in the state after one apply: {addresses:?}\n{}",
        apply.stdout
    );
    let created = |address: &str| line_of(&apply, &format!("{address}: Creation complete"));
    for (before, after) in [
        ("aws_eks_cluster.main", "k8s_namespace.appmesh_system"),
        ("aws_eks_cluster.main", "k8s_namespace.grafana_agent"),
        ("aws_eks_cluster.main", "k8s_namespace.prod"),
        ("helm_release.appmesh_controller", "k8s_manifest.djapp_mesh"),
        ("k8s_manifest.djapp_mesh", "k8s_manifest.djapp"),
        (
            "aws_grafana_service_account_token.meshmon",
            "grafana_data_source.amp",
        ),
        (
            "aws_grafana_service_account_token.meshmon",
            "grafana_dashboard.envoy",
        ),
        (
            "aws_grafana_service_account_token.meshmon",
            "grafana_alert_rule.downstream_latency",
        ),
        (
            "aws_iam_oidc_provider.cluster",
            "aws_iam_role.grafana_agent",
        ),
    ] {
        assert!(
            created(before) < created(after),
            "{before} is created before {after}\n{}",
            apply.stdout
        );
    }
    assert!(
        api.object("appmesh.k8s.aws/v1beta2", "Mesh", None, "dj-app")
            .is_some(),
        "the mesh exists: {:?}",
        api.names()
    );
    // The load generator rolled out after the sample, switched on.
    assert!(
        created("k8s_manifest.djapp") < created("k8s_manifest.load_generator"),
        "{}",
        apply.stdout
    );
    let lg = api
        .object("apps/v1", "Deployment", Some("prod"), "load-generator")
        .expect("the load generator");
    assert_eq!(lg["status"]["availableReplicas"], 1, "{lg:#}");
    let cm = api
        .object("v1", "ConfigMap", Some("prod"), "load-generator")
        .expect("its ConfigMap");
    assert_eq!(cm["data"]["enabled"], "true", "{cm:#}");

    // ---- a clean re-plan
    let plan = run(&["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    // ---- out-of-band changes
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sdk = rt.block_on(moto.sdk_config());
    let (sns_c, iam_c, eks_c, ec2_c, amp_c) = (
        sns::Client::new(&sdk),
        iam::Client::new(&sdk),
        eks::Client::new(&sdk),
        ec2::Client::new(&sdk),
        amp::Client::new(&sdk),
    );
    rt.block_on(async {
        let subs = sns_c.list_subscriptions().send().await.expect("subs");
        let sub = subs
            .subscriptions()
            .iter()
            .find(|s| s.protocol() == Some("email"))
            .and_then(|s| s.subscription_arn())
            .expect("the e-mail subscription")
            .to_string();
        sns_c
            .unsubscribe()
            .subscription_arn(sub)
            .send()
            .await
            .expect("unsubscribe");
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        iam_c
            .update_assume_role_policy()
            .role_name("EKS-GrafanaAgent-AMP-ServiceAccount-Role")
            .policy_document(trust.to_string())
            .send()
            .await
            .expect("update trust policy");
        eks_c
            .update_nodegroup_config()
            .cluster_name(CLUSTER)
            .nodegroup_name("default-ng")
            .scaling_config(
                eks::types::NodegroupScalingConfig::builder()
                    .min_size(1)
                    .max_size(3)
                    .desired_size(3)
                    .build(),
            )
            .send()
            .await
            .expect("scale the node group");
    });
    {
        let mut g = grafana.state();
        assert_eq!(g.dashboards.len(), 1, "one dashboard");
        g.dashboards.clear();
    }
    api.edit(
        "v1",
        "ConfigMap",
        Some("grafana-agent"),
        "grafana-agent",
        json!({"data": {"agent.yaml": "server:\n  log_level: debug\n"}}),
    );

    let out = run(&["drift", "--format", "json"], 2);
    let report: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    for (address, kind) in [
        ("aws_sns_topic_subscription.alerts_email", "deleted"),
        ("aws_iam_role.grafana_agent", "changed"),
        ("grafana_dashboard.envoy", "deleted"),
        ("k8s_manifest.grafana_agent_config", "changed"),
        ("aws_eks_node_group.default", "changed"),
    ] {
        let e = drift_entry(&report, address);
        assert_eq!(
            e["kind"].as_str().map(str::to_lowercase).as_deref(),
            Some(kind),
            "{address}: {e:#}"
        );
    }
    assert_eq!(
        report["drift"].as_array().map(Vec::len),
        Some(5),
        "only the five changes drifted: {report:#}"
    );
    let md = run(&["drift", "--format", "markdown"], 2);
    assert!(md.stdout.contains("5 resource(s) drifted"), "{}", md.stdout);
    for deleted in [
        "aws_sns_topic_subscription.alerts_email",
        "grafana_dashboard.envoy",
    ] {
        assert!(
            md.stdout.contains(&format!("| `{deleted}` | deleted |")),
            "{deleted} deleted in\n{}",
            md.stdout
        );
    }
    for address in [
        "aws_sns_topic_subscription.alerts_email",
        "aws_iam_role.grafana_agent",
        "grafana_dashboard.envoy",
        "k8s_manifest.grafana_agent_config",
        "aws_eks_node_group.default",
    ] {
        assert!(
            md.stdout.contains(&format!("`{address}`")),
            "{address} in\n{}",
            md.stdout
        );
    }

    // ---- apply repairs; drift is clean
    run(&["apply", "--auto-approve"], 0);
    run(&["drift", "--format", "json"], 0);
    let plan = run(&["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    // ---- destroy leaves nothing
    run(&["destroy", "--auto-approve"], 0);
    assert!(
        state_addresses(&cli).is_empty(),
        "{:?}",
        state_addresses(&cli)
    );
    rt.block_on(async {
        let vpcs = ec2_c.describe_vpcs().send().await.expect("vpcs");
        let ours: Vec<_> = vpcs
            .vpcs()
            .iter()
            .filter(|v| v.cidr_block() == Some("192.168.0.0/16"))
            .collect();
        assert!(ours.is_empty(), "VPCs left: {ours:?}");
        let clusters = eks_c.list_clusters().send().await.expect("clusters");
        assert!(clusters.clusters().is_empty(), "{:?}", clusters.clusters());
        let roles = iam_c.list_roles().send().await.expect("roles");
        let left: Vec<_> = roles
            .roles()
            .iter()
            .map(|r| r.role_name())
            .filter(|n| !n.starts_with("AWSServiceRole"))
            .collect();
        assert!(left.is_empty(), "roles left: {left:?}");
        let policies = iam_c
            .list_policies()
            .scope(iam::types::PolicyScopeType::Local)
            .send()
            .await
            .expect("policies");
        assert!(policies.policies().is_empty(), "{:?}", policies.policies());
        let oidc = iam_c
            .list_open_id_connect_providers()
            .send()
            .await
            .expect("oidc");
        assert!(
            oidc.open_id_connect_provider_list().is_empty(),
            "{:?}",
            oidc.open_id_connect_provider_list()
        );
        let topics = sns_c.list_topics().send().await.expect("topics");
        assert!(topics.topics().is_empty(), "{:?}", topics.topics());
        let subs = sns_c.list_subscriptions().send().await.expect("subs");
        assert!(
            subs.subscriptions().is_empty(),
            "{:?}",
            subs.subscriptions()
        );
        let ws = amp_c.list_workspaces().send().await.expect("amp");
        let live: Vec<_> = ws
            .workspaces()
            .iter()
            .filter(|w| {
                w.status()
                    .map(|s| s.status_code().as_str() != "DELETING")
                    .unwrap_or(true)
            })
            .collect();
        assert!(live.is_empty(), "AMP workspaces left: {live:?}");
    });
    assert_eq!(
        api.names(),
        pre_created,
        "the Kubernetes server holds only what the test created"
    );
    assert!(amg.workspace_ids().is_empty(), "{:?}", amg.workspace_ids());
    assert!(eks.cluster_names().is_empty(), "{:?}", eks.cluster_names());
    assert!(
        eks.access_entries().is_empty(),
        "{:?}",
        eks.access_entries()
    );
    {
        let g = grafana.state();
        assert!(
            g.folders.is_empty()
                && g.datasources.is_empty()
                && g.dashboards.is_empty()
                && g.contact_points.is_empty()
                && g.rules.is_empty(),
            "Grafana holds: folders {:?}, data sources {:?}, dashboards {:?}, contact points {:?}, rules {:?}",
            g.folders.keys(),
            g.datasources.keys(),
            g.dashboards.keys(),
            g.contact_points,
            g.rules.keys()
        );
    }

    eprintln!(
        "example_e2e: {resources} resources in examples/meshmon.toml; wall time {:.1?}",
        started.elapsed()
    );
}
