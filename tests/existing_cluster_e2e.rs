//! `examples/existing-cluster.toml` end to end: the real `meshmon` binary,
//! on a copy of `examples/`, adds the live stack's monitoring to an EKS
//! cluster it did not make, and takes it away again leaving the cluster as
//! it was.
//!
//! - AWS: moto, with the EKS double in front of it for clusters and access
//!   entries (it also reports the test API server as the cluster's
//!   endpoint and CA, `eks_endpoint`, so the example reaches the cluster
//!   through its look-up alone, with no host or CA override), and the AMP
//!   double for the managed collector and the Alertmanager definition.
//! - Kubernetes: the test API server, checking EKS tokens for the
//!   cluster; after apply it is asked, with SubjectAccessReviews answered
//!   by RBAC, what the collector's user `aps-collector-user` may do, and
//!   the AMP double asked the same when it created the scraper.
//! - Grafana: the AMG and Grafana test servers, linked: the workspace's
//!   endpoint is the Grafana server's HTTPS address, its test CA trusted
//!   through `SSL_CERT_FILE`.
//!
//! The "existing" cluster (API_AND_CONFIG_MAP, private endpoint, as the
//! example's header asks), its VPC, subnets, control-plane role and node
//! group are made with the SDK before meshmon runs
//! (`meshmon_test_support::existing`), then described before and after.
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::cli::{Cli, Output};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::emulated::{EmulatedAws, on_examples};
use meshmon_test_support::existing::{inventory, make_cluster};
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::kube_api::rbac::Attributes;
use meshmon_test_support::kube_api::{Auth, KubeApi, Options};
use meshmon_test_support::moto::{ACCOUNT, Moto, REGION};
use meshmon_test_support::{SdkConfig, amp, ec2, sns};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const SPEC: &str = "existing-cluster.toml";
const CLUSTER: &str = "prod-mesh";
const STATE: &str = "state/mesh-monitoring.json";
/// How long the doubles' transitions (CREATING, DELETING) take.
const SETTLE: Duration = Duration::from_millis(300);

/// Every emulator, the CLI on a copy of `examples/`, and what existed
/// before meshmon ran.
struct Stack {
    rt: tokio::runtime::Runtime,
    /// Clients straight to moto.
    sdk: SdkConfig,
    eks: EksDouble,
    amp: AmpDouble,
    api: KubeApi,
    amg: AmgServer,
    grafana: GrafanaServer,
    cli: Cli,
    subnet_ids: Vec<String>,
    _moto: Moto,
}

impl Stack {
    fn start() -> Stack {
        let aws = EmulatedAws::start(Moto::start(), SETTLE);
        let cli = on_examples(BIN, aws.env());
        let EmulatedAws {
            moto,
            eks,
            amp,
            amg,
            grafana,
        } = aws;
        let api = KubeApi::start(
            Auth::Eks {
                region: REGION.into(),
                cluster: CLUSTER.into(),
            },
            Options::realistic(),
        );
        // AMP's scrapers record what their user could do in the cluster
        // when they were created: the RBAC must already be there.
        amp.link_cluster(api.reviewer());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sdk = rt.block_on(moto.sdk_config());
        let mut s = Stack {
            rt,
            sdk,
            eks,
            amp,
            api,
            amg,
            grafana,
            cli,
            subnet_ids: Vec::new(),
            _moto: moto,
        };
        s.make_existing_cluster();
        s
    }

    /// What another team made ([`make_cluster`]): a VPC with two subnets
    /// in two zones, the control plane's and the nodes' roles, the cluster
    /// (ACTIVE, access entries, private endpoint) served by the test API
    /// server, and a node group.
    fn make_existing_cluster(&mut self) {
        let made = self.rt.block_on(make_cluster(
            &self.sdk,
            &self.eks,
            CLUSTER,
            "10.40.0.0/16",
            &self.api,
        ));
        self.subnet_ids = made.subnet_ids;
        self.subnet_ids.sort();
    }

    /// Runs meshmon on the example with the cluster's name and region and
    /// insists on exit code `code`.
    fn run(&self, args: &[&str], code: i32) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        a.extend([
            "-f",
            SPEC,
            "--var",
            "cluster_name=prod-mesh",
            "--var",
            "region=eu-west-1",
        ]);
        self.cli.expect(&a, code)
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.cli.path().join(STATE)).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    fn addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn output(&self, address: &str, name: &str) -> String {
        let s = self.state();
        s["resources"][address]["outputs"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{address}.{name} is not in the state: {s:#}"))
            .to_string()
    }

    /// Everything there is, described: in moto, the doubles and the test
    /// servers. Kind → one line per object, sorted.
    fn inventory(&self) -> BTreeMap<&'static str, Vec<String>> {
        let (ec2c, ampc, snsc) = (
            ec2::Client::new(&self.sdk),
            amp::Client::new(&self.sdk),
            sns::Client::new(&self.sdk),
        );
        // The account's clusters, node groups, VPCs, subnets and roles, as
        // every test that leaves existing clusters alone compares them.
        let mut out = self.rt.block_on(inventory(&self.sdk, &self.eks, ACCOUNT));
        self.rt.block_on(async {
            let sgs = ec2c
                .describe_security_groups()
                .send()
                .await
                .expect("security groups");
            out.insert(
                "security groups",
                sgs.security_groups()
                    .iter()
                    .map(|g| format!("{g:?}"))
                    .collect(),
            );
            let ws = ampc.list_workspaces().send().await.expect("workspaces");
            out.insert(
                "AMP workspaces",
                ws.workspaces()
                    .iter()
                    .filter(|w| w.status().map(|s| s.status_code().as_str()) != Some("DELETING"))
                    .map(|w| format!("{} {:?}", w.workspace_id(), w.alias()))
                    .collect(),
            );
            let topics = snsc.list_topics().send().await.expect("topics");
            out.insert(
                "SNS topics",
                topics
                    .topics()
                    .iter()
                    .filter_map(|t| t.topic_arn().map(str::to_string))
                    .collect(),
            );
            let subs = snsc.list_subscriptions().send().await.expect("subs");
            out.insert(
                "SNS subscriptions",
                subs.subscriptions()
                    .iter()
                    .filter_map(|s| s.subscription_arn().map(str::to_string))
                    .collect(),
            );
        });
        out.insert(
            "EKS access entries",
            self.eks
                .access_entries()
                .into_iter()
                .map(|(c, p)| format!("{c} {p}"))
                .collect(),
        );
        out.insert(
            "EKS access policy associations",
            self.eks
                .access_policy_associations()
                .into_iter()
                .map(|(c, p, a)| format!("{c} {p} {a}"))
                .collect(),
        );
        out.insert("AMP scrapers", self.amp.scraper_ids());
        out.insert(
            "AMP Alertmanager definitions",
            self.amp.definition_workspaces(),
        );
        out.insert("AMG workspaces", self.amg.workspace_ids());
        let grafana: Vec<String> = {
            let g = self.grafana.state();
            g.folders
                .keys()
                .chain(g.datasources.keys())
                .chain(g.dashboards.keys())
                .chain(g.rules.keys())
                .cloned()
                .collect()
        };
        out.insert("Grafana objects", grafana);
        out.insert("Kubernetes objects", self.api.names());
        for list in out.values_mut() {
            list.sort();
        }
        out
    }
}

/// The kinds where `after` differs from `before`: (added, gone).
fn differences(
    before: &BTreeMap<&'static str, Vec<String>>,
    after: &BTreeMap<&'static str, Vec<String>>,
) -> BTreeMap<&'static str, (Vec<String>, Vec<String>)> {
    before
        .iter()
        .filter_map(|(kind, was)| {
            let now = &after[kind];
            let added: Vec<String> = now.iter().filter(|x| !was.contains(x)).cloned().collect();
            let gone: Vec<String> = was.iter().filter(|x| !now.contains(x)).cloned().collect();
            (!added.is_empty() || !gone.is_empty()).then_some((*kind, (added, gone)))
        })
        .collect()
}

/// Asked of the API server as `aps-collector-user`: (what, allowed, reason).
fn review(api: &KubeApi, asks: Vec<Attributes>) -> Vec<(String, bool, String)> {
    asks.into_iter()
        .map(|a| {
            let (allowed, reason) = api.subject_access_review("aps-collector-user", &a);
            (format!("{a:?}"), allowed, reason)
        })
        .collect()
}

/// What the collector discovers and scrapes (istio_e2e.rs asks the same).
fn collector_access(api: &KubeApi) -> Vec<(String, bool, String)> {
    review(
        api,
        vec![
            Attributes::core("list", "pods", ""),
            Attributes::core("watch", "pods", ""),
            Attributes::core("list", "endpoints", ""),
            Attributes::url("get", "/metrics"),
        ],
    )
}

/// What AWS's ClusterRole does not grant: each must be denied.
fn collector_denied(api: &KubeApi) -> Vec<(String, bool, String)> {
    review(
        api,
        vec![
            Attributes::core("delete", "pods", "prod"),
            Attributes::core("create", "pods", "prod"),
            Attributes::core("get", "secrets", "istio-system"),
            Attributes::core("list", "secrets", ""),
        ],
    )
}

#[test]
fn existing_cluster_example_adds_monitoring_and_destroy_leaves_the_cluster_as_it_was() {
    let started = Instant::now();
    let s = Stack::start();
    let before = s.inventory();
    assert_eq!(before["EKS clusters"].len(), 1, "{before:#?}");
    assert!(before["AMP scrapers"].is_empty());
    let declared = std::fs::read_to_string(s.cli.path().join(SPEC))
        .expect("spec")
        .lines()
        .filter(|l| l.starts_with("[resources."))
        .count();

    // ---- apply from nothing, in one run
    let t = Instant::now();
    let apply = s.run(&["apply", "--auto-approve"], 0);
    let apply_time = t.elapsed();
    assert!(
        apply.stdout.contains(&format!(
            "Apply complete! Resources: {declared} added, 0 changed, 0 destroyed."
        )),
        "{}",
        apply.stdout
    );
    let mut addresses = s.addresses();
    addresses.sort();
    assert_eq!(addresses.len(), declared, "{addresses:?}");
    assert!(
        !addresses.iter().any(|a| a.starts_with("aws_eks_")
            || a.starts_with("aws_vpc")
            || a.starts_with("aws_subnet")
            || a.starts_with("helm_release")),
        "nothing of the cluster is managed: {addresses:?}"
    );
    let state = s.state();
    assert_eq!(
        state["data"]
            .as_object()
            .map(|d| d.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["data.aws_eks_cluster.this".to_string()]),
        "{state:#}"
    );

    // The scraper watches the looked-up cluster from its own subnets, with
    // the security group EKS made for it.
    let scraper = s.output("aws_amp_scraper.mesh", "id");
    let doc = s.amp.scraper(&scraper).expect("the scraper");
    assert_eq!(doc["status"]["statusCode"], "ACTIVE", "{doc:#}");
    let eks_config = &doc["source"]["eksConfiguration"];
    assert_eq!(
        eks_config["clusterArn"],
        format!("arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"),
        "{doc:#}"
    );
    let mut subnets: Vec<String> = eks_config["subnetIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    subnets.sort();
    assert_eq!(subnets, s.subnet_ids, "{doc:#}");
    let cluster_sg =
        s.eks.cluster(CLUSTER).unwrap()["resourcesVpcConfig"]["clusterSecurityGroupId"].clone();
    assert_eq!(
        eks_config["securityGroupIds"],
        serde_json::json!([cluster_sg]),
        "{doc:#}"
    );
    let ws = s.output("aws_amp_workspace.mesh", "id");
    let definition = s.amp.definition(&ws).expect("the Alertmanager definition");
    assert!(
        definition.contains(&s.output("aws_sns_topic.alerts", "arn")),
        "{definition}"
    );
    {
        // (The test server's state is locked while it is held.)
        let g = s.grafana.state();
        assert_eq!(g.dashboards.len(), 1, "the Istio dashboard");
        assert_eq!(g.datasources.len(), 1, "the AMP data source");
    }

    // The collector's user reads what it scrapes, and nothing more; it
    // could already when the scraper was created.
    for (asked, allowed, reason) in collector_access(&s.api) {
        assert!(allowed, "aps-collector-user may not {asked}: {reason:?}");
        assert!(reason.contains("aps-collector-role"), "{reason}");
    }
    for (asked, allowed, reason) in collector_denied(&s.api) {
        assert!(!allowed, "aps-collector-user may {asked}: {reason}");
    }
    let access = s
        .amp
        .access_at_create(&scraper)
        .expect("the scraper was created with the cluster linked");
    assert!(!access.is_empty());
    for (asked, answer) in access {
        assert_eq!(
            answer,
            Ok(true),
            "when the scraper was created, aps-collector-user could not {asked}"
        );
    }
    assert!(
        s.api.requests().iter().all(|r| r.status != 401),
        "the cluster was reached as EKS reported it, with EKS tokens for it"
    );

    // What exists now is what was there, plus what meshmon made (and the
    // access entry AMP makes for its scraper); nothing of the cluster
    // changed.
    let applied = s.inventory();
    let changed = differences(&before, &applied);
    assert!(
        changed.values().all(|(_, gone)| gone.is_empty()),
        "{changed:#?}"
    );
    for untouched in [
        "VPCs",
        "subnets",
        "security groups",
        "EKS clusters",
        "EKS access policy associations",
    ] {
        assert!(
            !changed.contains_key(untouched),
            "{untouched}: {changed:#?}"
        );
    }
    assert_eq!(
        changed["EKS access entries"].0.len(),
        1,
        "only the scraper's entry, which AMP makes: {changed:#?}"
    );

    // ---- nothing to do, no drift
    let plan = s.run(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    s.run(&["drift"], 0);

    // ---- destroy: what meshmon made goes, what was there stays as it was
    let t = Instant::now();
    let destroy = s.run(&["destroy", "--auto-approve"], 0);
    let destroy_time = t.elapsed();
    assert!(
        destroy.stdout.contains(&format!(
            "Destroy complete! Resources: {declared} destroyed."
        )),
        "{}",
        destroy.stdout
    );
    assert!(s.addresses().is_empty(), "{:?}", s.addresses());
    // AMP deletes a scraper and a workspace in the background.
    std::thread::sleep(SETTLE * 2);
    let after = s.inventory();
    assert_eq!(
        differences(&before, &after),
        BTreeMap::new(),
        "destroy left exactly what existed before meshmon ran"
    );
    assert_eq!(after, before);
    for (asked, allowed, _) in collector_access(&s.api) {
        assert!(
            !allowed,
            "after destroy, aps-collector-user may still {asked}"
        );
    }

    eprintln!(
        "existing_cluster_e2e: {declared} resources; apply {apply_time:.1?}, destroy \
         {destroy_time:.1?}; wall time {:.1?}",
        started.elapsed()
    );
}
