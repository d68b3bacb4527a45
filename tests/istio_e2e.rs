//! `examples/istio.toml` end to end, and the migration to it from
//! `examples/meshmon.toml`: the real `meshmon` binary on a copy of
//! `examples/`, pointed at the emulators through the environment alone, as
//! at AWS.
//!
//! - AWS: moto, behind two narrow test doubles for what moto 5.2.5 lacks.
//!   The EKS double (`AWS_ENDPOINT_URL_EKS`) serves clusters with their
//!   access configuration, access entries and access policy associations,
//!   and forwards node groups to moto; the AMP double
//!   (`AWS_ENDPOINT_URL_AMP`) serves managed collectors (scrapers) and
//!   Alertmanager definitions, and forwards workspaces and rule groups to
//!   moto. Both settle CREATING → ACTIVE after a short delay.
//! - Kubernetes: the test API server (EKS tokens for the example's
//!   cluster), which the EKS double reports as the cluster's endpoint and CA
//!   and the fake helm, which installs nothing: Istio's charts are recorded
//!   as releases, not run. After apply the tests ask the server, with
//!   SubjectAccessReviews answered by RBAC, whether the managed collector's
//!   user (`aps-collector-user`) may read what it scrapes and nothing it
//!   should not; the AMP double, linked to the server, asks the same when
//!   the scraper is created, so RBAC applied after it fails the test.
//! - Grafana: the AMG and Grafana test servers, linked: the workspace's
//!   endpoint is the Grafana server's HTTPS address, its test CA trusted
//!   through `SSL_CERT_FILE`.
//!
//! Needs moto (MESHMON_MOTO_SERVER) and the fake-helm binary
//! (`cargo build -p meshmon-test-support --bin fake-helm`).

#[path = "istio_e2e/fleet_layout.rs"]
mod fleet_layout;
#[path = "istio_e2e/stack.rs"]
mod stack;

use std::time::{Duration, Instant};

use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::eks_double::DEFAULT_CALLER;
use meshmon_test_support::kube_api::rbac::Attributes;
use meshmon_test_support::kube_api::{KubeApi, app_mesh_crds};
use serde_json::Value;

use stack::Stack;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const CLUSTER: &str = "AMP-EKS-CLUSTER";
/// The role the example makes for cluster admins (moto's ARN for it).
const ADMIN: &str = "arn:aws:iam::123456789012:role/AMP-EKS-CLUSTER-admin";
const STATE: &str = "state/appmesh-monitoring.json";
/// How long the doubles' transitions (CREATING, UPDATING, DELETING) take.
const SETTLE: Duration = Duration::from_millis(300);

/// Whether the API server, asked with SubjectAccessReviews, lets the
/// managed collector's user (AMP's access entry maps the scraper to
/// Kubernetes user aps-collector-user) list the pods and endpoints it
/// discovers and get `/metrics`: (what was asked, allowed, reason).
fn collector_access(api: &KubeApi) -> Vec<(String, bool, String)> {
    [
        Attributes::core("list", "pods", ""),
        Attributes::core("watch", "pods", ""),
        Attributes::core("list", "endpoints", ""),
        Attributes::url("get", "/metrics"),
    ]
    .into_iter()
    .map(|a| {
        let (allowed, reason) = api.subject_access_review("aps-collector-user", &a);
        (format!("{a:?}"), allowed, reason)
    })
    .collect()
}

/// What AWS's ClusterRole does not grant the collector's user, asked the
/// same way: it reads, it never deletes or creates, and secrets are not
/// among what it reads. Each must be denied.
fn collector_denied(api: &KubeApi) -> Vec<(String, bool, String)> {
    [
        Attributes::core("delete", "pods", "prod"),
        Attributes::core("create", "pods", "prod"),
        Attributes::core("get", "secrets", "istio-system"),
        Attributes::core("list", "secrets", ""),
    ]
    .into_iter()
    .map(|a| {
        let (allowed, reason) = api.subject_access_review("aps-collector-user", &a);
        (format!("{a:?}"), allowed, reason)
    })
    .collect()
}

/// Whether, when AMP created scraper `id`, the cluster already let its
/// user discover and scrape (the AMP double asked, linked in
/// [`Stack::start`]): the RBAC was applied before the scraper.
fn assert_rbac_preceded_scraper(amp: &AmpDouble, id: &str) {
    let access = amp
        .access_at_create(id)
        .unwrap_or_else(|| panic!("scraper {id} was created without the cluster linked"));
    assert!(!access.is_empty());
    for (asked, answer) in access {
        assert_eq!(
            answer,
            Ok(true),
            "when scraper {id} was created, aps-collector-user could not {asked}: the RBAC came after it"
        );
    }
}

/// The load generator rolled out, switched on (its ConfigMap says so).
fn assert_load_generator_runs(api: &KubeApi) {
    let lg = api
        .object("apps/v1", "Deployment", Some("prod"), "load-generator")
        .unwrap_or_else(|| panic!("the load generator: {:?}", api.names()));
    assert_eq!(lg["status"]["availableReplicas"], 1, "{lg:#}");
    let cm = api
        .object("v1", "ConfigMap", Some("prod"), "load-generator")
        .expect("the load generator's ConfigMap");
    assert_eq!(cm["data"]["enabled"], "true", "{cm:#}");
}

/// (address, action) of every change a JSON plan makes, sorted.
fn changed(plan: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn drift_entry<'a>(report: &'a Value, address: &str) -> &'a Value {
    report["drift"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["address"] == address))
        .unwrap_or_else(|| panic!("no drift for {address} in {report:#}"))
}

/// The Istio example with the EKS double (access entries) and the AMP
/// double (scraper, Alertmanager): apply from nothing, a clean re-plan,
/// drift on an edited scrape configuration and a deleted access entry,
/// repair, and destroy to nothing.
#[test]
fn istio_example_applies_detects_collector_and_access_entry_drift_and_destroys_with_eks_and_amp_doubles()
 {
    let started = Instant::now();
    let s = Stack::start();
    let spec = "istio.toml";

    // ---- apply from nothing, in one run
    let apply = s.run(spec, &["apply", "--auto-approve"], 0);
    let resources = s.addresses().len();
    assert_eq!(
        resources,
        s.declared(spec),
        "every resource is in the state after one apply: {:?}\n{}",
        s.addresses(),
        apply.stdout
    );
    let cluster = s.eks.cluster(CLUSTER).expect("the cluster");
    assert_eq!(
        cluster["accessConfig"]["authenticationMode"], "API_AND_CONFIG_MAP",
        "{cluster:#}"
    );
    assert_eq!(
        cluster["resourcesVpcConfig"]["endpointPrivateAccess"], true,
        "{cluster:#}"
    );
    assert_eq!(s.output("aws_iam_role.cluster_admin", "arn"), ADMIN);
    let scraper = s.output("aws_amp_scraper.mesh", "id");
    // Three entries: EKS's own for the principal that created the cluster
    // (bootstrap_cluster_creator_admin_permissions), the example's for its
    // admin role, and AMP's for the scraper.
    let collector = s
        .amp
        .access_entry_principal(&scraper)
        .expect("the scraper's role");
    let mut expected: Vec<(String, String)> = [DEFAULT_CALLER, ADMIN, collector.as_str()]
        .iter()
        .map(|p| (CLUSTER.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(s.eks.access_entries(), expected);
    assert_eq!(
        s.eks.access_policy_associations().len(),
        2,
        "cluster-admin for the creator (EKS) and for the admin role (the example): {:?}",
        s.eks.access_policy_associations()
    );
    let doc = s.amp.scraper(&scraper).expect("the scraper");
    assert_eq!(doc["status"]["statusCode"], "ACTIVE", "{doc:#}");
    assert_eq!(
        doc["source"]["eksConfiguration"]["clusterArn"], cluster["arn"],
        "the scraper watches the cluster: {doc:#}"
    );
    let config = s.amp.scrape_configuration(&scraper).expect("config");
    assert!(config.contains("/stats/prometheus"), "{config}");
    let ws = s.output("aws_amp_workspace.appmesh", "id");
    let definition = s.amp.definition(&ws).expect("the Alertmanager definition");
    let topic = s.output("aws_sns_topic.alerts", "arn");
    assert!(definition.contains(&topic), "{definition}");
    let releases = s.helm.releases();
    for r in ["istio-system/istio-base", "istio-system/istiod"] {
        assert!(releases.get(r).is_some(), "{r} in {releases:#}");
    }
    let prod = s
        .api
        .object("v1", "Namespace", None, "prod")
        .expect("namespace prod");
    assert_eq!(
        prod["metadata"]["labels"]["istio-injection"], "enabled",
        "{prod:#}"
    );
    for (asked, allowed, reason) in collector_access(&s.api) {
        assert!(allowed, "aps-collector-user may not {asked}: {reason:?}");
        assert!(reason.contains("aps-collector-role"), "{reason}");
    }
    for (asked, allowed, reason) in collector_denied(&s.api) {
        assert!(!allowed, "aps-collector-user may {asked}: {reason}");
    }
    assert_rbac_preceded_scraper(&s.amp, &scraper);
    assert_load_generator_runs(&s.api);

    // ---- a clean re-plan
    let plan = s.run(spec, &["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    // ---- the load generator's switch is its ConfigMap, nothing else
    let out = s.run(
        spec,
        &["plan", "--json", "--var", "load_generator=false"],
        0,
    );
    let plan: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    assert_eq!(
        changed(&plan),
        [(
            "k8s_manifest.load_generator_config".to_string(),
            "update".to_string()
        )]
    );

    // ---- the new types import: forgotten, adopted by ID, and planned clean
    let policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
    for (address, id) in [
        ("aws_amp_scraper.mesh", scraper.clone()),
        ("aws_eks_access_entry.admin", format!("{CLUSTER}:{ADMIN}")),
        (
            "aws_eks_access_policy_association.admin",
            format!("{CLUSTER}#{ADMIN}#{policy}"),
        ),
        ("aws_amp_alert_manager_definition.mesh", ws.clone()),
    ] {
        s.cli.expect(&["state", "rm", "-f", spec, address], 0);
        s.run(spec, &["import", address, &id], 0);
    }
    let plan = s.run(spec, &["plan"], 0);
    assert!(
        plan.stdout.contains("No changes."),
        "imported objects plan clean: {}",
        plan.stdout
    );

    // ---- out-of-band: the scrape configuration edited, the admin's access entry deleted
    let edited = config.replace("scrape_interval: 30s", "scrape_interval: 60s");
    assert_ne!(edited, config);
    s.amp.set_scrape_configuration(&scraper, &edited);
    assert!(s.eks.delete_access_entry(CLUSTER, ADMIN));

    let out = s.run(spec, &["drift", "--format", "json"], 2);
    let report: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    for (address, kind) in [
        ("aws_amp_scraper.mesh", "changed"),
        ("aws_eks_access_entry.admin", "deleted"),
        // The association goes with its access entry.
        ("aws_eks_access_policy_association.admin", "deleted"),
    ] {
        let e = drift_entry(&report, address);
        assert_eq!(
            e["kind"].as_str().map(str::to_lowercase).as_deref(),
            Some(kind),
            "{address}: {e:#}"
        );
    }
    let scraper_drift = drift_entry(&report, "aws_amp_scraper.mesh");
    assert!(
        scraper_drift["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("scrape_configuration")))),
        "{scraper_drift:#}"
    );
    assert_eq!(
        report["drift"].as_array().map(Vec::len),
        Some(3),
        "only the edited and deleted objects drifted: {report:#}"
    );

    // ---- apply repairs; drift is clean
    s.run(spec, &["apply", "--auto-approve"], 0);
    assert_eq!(
        s.amp.scrape_configuration(&scraper).as_deref(),
        Some(config.as_str()),
        "the scrape configuration is restored in place"
    );
    assert_eq!(s.eks.access_entries(), expected);
    assert_eq!(s.eks.access_policy_associations().len(), 2);
    s.run(spec, &["drift", "--format", "json"], 0);
    let plan = s.run(spec, &["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    // ---- destroy leaves nothing
    s.run(spec, &["destroy", "--auto-approve"], 0);
    assert!(s.addresses().is_empty(), "{:?}", s.addresses());
    s.assert_nothing_left();
    assert!(
        s.api.object("v1", "Namespace", None, "prod").is_none(),
        "{:?}",
        s.api.names()
    );
    for (asked, allowed, _) in collector_access(&s.api) {
        assert!(
            !allowed,
            "after destroy, aps-collector-user may still {asked}"
        );
    }

    eprintln!(
        "istio_e2e: {resources} resources in examples/istio.toml; wall time {:.1?}",
        started.elapsed()
    );
}

/// The migration, with the EKS double (access configuration, access
/// entries) and the AMP double (scraper, Alertmanager): the App Mesh
/// example applied, then the Istio example planned and applied on the same
/// state. The shared parts are neither replaced nor deleted, the App Mesh
/// objects are gone, the Istio ones are there, and drift is clean.
#[test]
fn migration_from_app_mesh_keeps_the_shared_parts_with_eks_and_amp_doubles() {
    let started = Instant::now();
    let s = Stack::start();
    // The App Mesh CRDs come from the appmesh-controller chart, which the
    // fake helm does not run: the test registers them.
    for crd in app_mesh_crds() {
        s.api.create(crd);
    }

    // ---- the recipe's stack
    s.run("meshmon.toml", &["apply", "--auto-approve"], 0);
    let before = s.addresses().len();
    assert_eq!(before, s.declared("meshmon.toml"));
    assert!(
        s.api
            .object("appmesh.k8s.aws/v1beta2", "Mesh", None, "dj-app")
            .is_some()
    );
    let shared = [
        "aws_eks_cluster.main",
        "aws_eks_node_group.default",
        "aws_amp_workspace.appmesh",
        "aws_grafana_workspace.main",
        "grafana_data_source.amp",
    ];
    let ids: Vec<String> = shared
        .iter()
        .map(|a| {
            let st = s.state();
            let o = &st["resources"][a]["outputs"];
            o["arn"]
                .as_str()
                .or(o["id"].as_str())
                .or(o["uid"].as_str())
                .unwrap_or_else(|| panic!("{a} has an ID: {o:#}"))
                .to_string()
        })
        .collect();

    // ---- the migration, as a plan
    let out = s.run("istio.toml", &["plan", "--json"], 0);
    let plan: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    let action = |address: &str| -> String {
        plan["changes"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["address"] == address))
            .and_then(|c| c["action"].as_str())
            .unwrap_or_else(|| panic!("{address} is not in the plan: {plan:#}"))
            .to_string()
    };
    for (address, expected) in [
        ("aws_eks_cluster.main", "update"),
        ("aws_eks_node_group.default", "no-op"),
        ("aws_amp_workspace.appmesh", "no-op"),
        ("aws_grafana_workspace.main", "no-op"),
        ("grafana_data_source.amp", "no-op"),
        ("aws_vpc.main", "no-op"),
        ("aws_iam_role.grafana", "no-op"),
        ("aws_sns_topic.alerts", "update"),
        ("aws_sns_topic_subscription.alerts_email", "no-op"),
        ("k8s_namespace.prod", "update"),
        ("k8s_manifest.djapp", "update"),
        ("helm_release.appmesh_controller", "delete"),
        ("k8s_manifest.djapp_mesh", "update"),
        ("k8s_manifest.grafana_agent", "delete"),
        ("k8s_manifest.grafana_agent_config", "delete"),
        ("aws_iam_role.grafana_agent", "delete"),
        ("grafana_dashboard.envoy", "delete"),
        ("grafana_alert_rule.downstream_latency", "delete"),
        ("helm_release.istio_base", "create"),
        ("helm_release.istiod", "create"),
        ("aws_amp_scraper.mesh", "create"),
        ("aws_eks_access_entry.admin", "create"),
        ("aws_amp_alert_manager_definition.mesh", "create"),
        ("grafana_dashboard.istio", "create"),
    ] {
        assert_eq!(action(address), expected, "{address}");
    }
    let replaced: Vec<&str> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["action"] == "replace")
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert!(
        replaced.is_empty(),
        "the migration replaces nothing: {replaced:?}"
    );
    let summary = plan["summary"].clone();

    // ---- the migration, applied
    s.run("istio.toml", &["apply", "--auto-approve"], 0);
    let after = s.addresses().len();
    assert_eq!(after, s.declared("istio.toml"));
    for (a, id) in shared.iter().zip(&ids) {
        let st = s.state();
        let o = &st["resources"][a]["outputs"];
        let now = o["arn"].as_str().or(o["id"].as_str()).or(o["uid"].as_str());
        assert_eq!(now, Some(id.as_str()), "{a} is the same object");
    }
    assert!(
        s.api
            .object("appmesh.k8s.aws/v1beta2", "Mesh", None, "dj-app")
            .is_none(),
        "the App Mesh objects are gone: {:?}",
        s.api.names()
    );
    assert!(
        s.api
            .object("v1", "Namespace", None, "appmesh-system")
            .is_none()
    );
    assert!(
        s.api
            .object("v1", "Namespace", None, "grafana-agent")
            .is_none()
    );
    let releases = s.helm.releases();
    assert!(
        releases.get("appmesh-system/appmesh-controller").is_none(),
        "{releases:#}"
    );
    assert!(
        releases.get("istio-system/istiod").is_some(),
        "{releases:#}"
    );
    let cluster = s.eks.cluster(CLUSTER).expect("the cluster");
    assert_eq!(
        cluster["accessConfig"]["authenticationMode"],
        "API_AND_CONFIG_MAP"
    );
    assert_eq!(cluster["resourcesVpcConfig"]["endpointPrivateAccess"], true);
    assert_eq!(s.amp.scraper_ids().len(), 1);
    let prod = s
        .api
        .object("v1", "Namespace", None, "prod")
        .expect("namespace prod");
    assert_eq!(prod["metadata"]["labels"]["istio-injection"], "enabled");
    assert!(
        prod["metadata"]["labels"].get("mesh").is_none(),
        "the App Mesh labels are gone: {prod:#}"
    );
    for service in ["jazz", "metal"] {
        assert!(
            s.api
                .object("v1", "Service", Some("prod"), service)
                .is_some(),
            "the Service {service} that dj calls survives the move: {:?}",
            s.api.names()
        );
    }
    for (asked, allowed, reason) in collector_access(&s.api) {
        assert!(allowed, "aps-collector-user may not {asked}: {reason:?}");
    }
    for (asked, allowed, reason) in collector_denied(&s.api) {
        assert!(!allowed, "aps-collector-user may {asked}: {reason}");
    }
    for id in s.amp.scraper_ids() {
        assert_rbac_preceded_scraper(&s.amp, &id);
    }
    assert_load_generator_runs(&s.api);
    s.run("istio.toml", &["drift", "--format", "json"], 0);
    let plan = s.run("istio.toml", &["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    eprintln!(
        "istio_e2e migration: {before} resources in examples/meshmon.toml, {after} in examples/istio.toml, \
         plan {summary}; wall time {:.1?}",
        started.elapsed()
    );
}

/// The Grafana Alloy variant, with the EKS and AMP doubles: applied from
/// nothing and planned clean; switching to the managed collector
/// (`istio.toml`) swaps only the collector; destroy leaves nothing.
#[test]
fn alloy_variant_applies_and_switching_to_the_managed_collector_swaps_only_the_collector_with_eks_and_amp_doubles()
 {
    let started = Instant::now();
    let s = Stack::start();
    s.run("istio-alloy.toml", &["apply", "--auto-approve"], 0);
    let resources = s.addresses().len();
    assert_eq!(resources, s.declared("istio-alloy.toml"));
    let releases = s.helm.releases();
    assert!(releases.get("alloy/alloy").is_some(), "{releases:#}");
    let values = s
        .helm
        .writes()
        .into_iter()
        .filter(|i| i.args.iter().any(|a| a == "alloy"))
        .flat_map(|i| i.values)
        .collect::<Vec<_>>()
        .join("\n");
    let remote_write = s.output("aws_amp_workspace.appmesh", "remote_write_url");
    assert!(
        values.contains(&remote_write) && values.contains("eks.amazonaws.com/role-arn"),
        "Alloy writes to the workspace as its IRSA role: {values}"
    );
    let plan = s.run("istio-alloy.toml", &["plan"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    let out = s.run("istio.toml", &["plan", "--json"], 0);
    let plan: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    let changed = changed(&plan);
    let expected: Vec<(String, String)> = [
        ("aws_amp_scraper.mesh", "create"),
        ("aws_iam_policy.amp_remote_write", "delete"),
        ("aws_iam_role.alloy", "delete"),
        ("helm_release.alloy", "delete"),
        // The managed collector's RBAC comes with it.
        ("k8s_manifest.aps_collector_rbac", "create"),
        ("k8s_namespace.alloy", "delete"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(changed, expected, "{plan:#}");

    s.run("istio-alloy.toml", &["destroy", "--auto-approve"], 0);
    assert!(s.addresses().is_empty(), "{:?}", s.addresses());
    s.assert_nothing_left();
    eprintln!(
        "istio_e2e alloy: {resources} resources in examples/istio-alloy.toml; wall time {:.1?}",
        started.elapsed()
    );
}
