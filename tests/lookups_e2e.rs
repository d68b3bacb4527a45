//! Look-ups against AWS end to end: the real `meshmon` binary builds
//! monitoring around an EKS cluster it did not make and must never touch.
//!
//! - AWS: moto, with the EKS double in front of it for clusters
//!   (`AWS_ENDPOINT_URL_EKS`): moto's DescribeCluster reports neither the
//!   cluster's VPC nor an endpoint that can be served here. The double
//!   mirrors each cluster into moto.
//! - Kubernetes: the test API server, reported by the double as the
//!   cluster's endpoint and CA (`eks_endpoint`), so `[providers.kubernetes]`
//!   names the looked-up cluster and nothing else: no kubeconfig, no host.
//!
//! The "existing" cluster, its VPC and subnets, its control-plane and node
//! roles, its node group (`meshmon_test_support::existing`) and an IAM
//! OIDC provider for its issuer are made with the SDK before meshmon runs,
//! then counted and described before and after.
//!
//! - `existing_cluster_is_looked_up_monitored_and_left_as_it_was`: plan
//!   shows what the look-ups found, apply, a clean re-plan and drift, the
//!   state's `data` and `resources` tables, destroy leaves what was there.
//! - `a_misspelt_cluster_name_fails_the_plan_with_the_real_name_and_creates_nothing`.
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meshmon_test_support::cli::{Cli, Output};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::existing::{inventory, make_cluster, policy_document};
use meshmon_test_support::kube_api::{Auth, KubeApi, Options};
use meshmon_test_support::moto::{ACCOUNT, Moto, REGION};
use meshmon_test_support::{SdkConfig, amp, eks, iam};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");
const CLUSTER: &str = "prod-mesh";
/// The issuer the EKS double gives a cluster: its name, upper-cased.
const ISSUER: &str = "https://oidc.eks.eu-west-1.amazonaws.com/id/PROD-MESH";
const OIDC_ARN: &str =
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/PROD-MESH";

/// Finds the cluster and what goes with it; makes the monitoring.
/// `{cluster}` is the name searched for.
const SPEC: &str = r#"
[providers.kubernetes]
eks_cluster = "${data.aws_eks_cluster.existing.name}"

[data.aws_eks_cluster.existing]
name = "{cluster}"

[data.aws_iam_oidc_provider.existing]
url = "${data.aws_eks_cluster.existing.oidc_issuer}"

[data.aws_subnets.cluster]
vpc_id = "${data.aws_eks_cluster.existing.vpc_id}"

[data.aws_caller_identity.me]

[resources.aws_amp_workspace.mesh]
alias = "${data.aws_eks_cluster.existing.name}-metrics"
tags = { cluster = "${data.aws_eks_cluster.existing.arn}", first_subnet = "${data.aws_subnets.cluster.ids[0]}" }

[resources.aws_iam_role.collector]
name = "${data.aws_eks_cluster.existing.name}-collector"
irsa = { oidc_provider_arn = "${data.aws_iam_oidc_provider.existing.arn}", oidc_issuer = "${data.aws_eks_cluster.existing.oidc_issuer}", namespace = "monitoring", service_account = "collector" }
inline_policies = { remote_write = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "aps:RemoteWrite", Resource = "${aws_amp_workspace.mesh.arn}" }] } }

[resources.k8s_namespace.monitoring]
name = "monitoring"
labels = { cluster = "${data.aws_eks_cluster.existing.name}" }
annotations = { "example.com/account" = "${data.aws_caller_identity.me.account_id}" }

[resources.k8s_service_account.collector]
namespace = "${k8s_namespace.monitoring.name}"
name = "collector"
annotations = { "eks.amazonaws.com/role-arn" = "${aws_iam_role.collector.arn}" }

[outputs.subnet_ids]
value = "${data.aws_subnets.cluster.ids}"
"#;

fn spec(cluster: &str) -> String {
    SPEC.replace("{cluster}", cluster)
}

/// moto, the EKS double in front of it, the test API server, and what
/// existed before meshmon ran.
struct Stack {
    rt: tokio::runtime::Runtime,
    /// Clients straight to moto.
    sdk: SdkConfig,
    eks: EksDouble,
    api: KubeApi,
    cli: Cli,
    vpc_id: String,
    subnet_ids: Vec<String>,
    _moto: Moto,
}

impl Stack {
    fn start() -> Stack {
        let moto = Moto::start();
        let eks = EksDouble::forwarding(Duration::from_millis(200), &moto.endpoint());
        let api = KubeApi::start(
            Auth::Eks {
                region: REGION.into(),
                cluster: CLUSTER.into(),
            },
            Options::realistic(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sdk = rt.block_on(moto.sdk_config());
        let mut env = moto.env();
        env.push(("AWS_ENDPOINT_URL_EKS".into(), eks.endpoint()));
        let cli = Cli::new(BIN, env);
        let mut s = Stack {
            rt,
            sdk,
            eks,
            api,
            cli,
            vpc_id: String::new(),
            subnet_ids: Vec::new(),
            _moto: moto,
        };
        s.make_existing_cluster();
        s
    }

    /// What another team made: a VPC with two subnets, the control plane's
    /// and the nodes' roles, the cluster (ACTIVE) with a node group
    /// ([`make_cluster`]), and an OIDC provider for its issuer.
    fn make_existing_cluster(&mut self) {
        let iamc = iam::Client::new(&self.sdk);
        let made = self.rt.block_on(make_cluster(
            &self.sdk,
            &self.eks,
            CLUSTER,
            "10.40.0.0/16",
            &self.api,
        ));
        self.vpc_id = made.vpc_id;
        self.subnet_ids = made.subnet_ids;
        self.subnet_ids.sort();
        let issuer = self.eks.cluster(CLUSTER).unwrap()["identity"]["oidc"]["issuer"].clone();
        assert_eq!(issuer, ISSUER);
        self.rt.block_on(async {
            iamc.create_open_id_connect_provider()
                .url(ISSUER)
                .client_id_list("sts.amazonaws.com")
                .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
                .send()
                .await
                .expect("create OIDC provider");
        });
    }

    /// Everything there is, described: in moto, in the double, in the
    /// API server. Kind → one line per object, sorted.
    fn inventory(&self) -> BTreeMap<&'static str, Vec<String>> {
        let (iamc, ampc, moto_eks) = (
            iam::Client::new(&self.sdk),
            amp::Client::new(&self.sdk),
            eks::Client::new(&self.sdk),
        );
        // The account's clusters, node groups, VPCs, subnets and roles, as
        // every test that leaves existing clusters alone compares them.
        let mut out = self.rt.block_on(inventory(&self.sdk, &self.eks, ACCOUNT));
        self.rt.block_on(async {
            let mut providers = Vec::new();
            let listed = iamc
                .list_open_id_connect_providers()
                .send()
                .await
                .expect("OIDC providers");
            for p in listed.open_id_connect_provider_list() {
                let arn = p.arn().unwrap_or_default();
                let got = iamc
                    .get_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .send()
                    .await
                    .expect("OIDC provider");
                providers.push(format!(
                    "{arn} url={} clients={:?} thumbprints={:?} tags={:?}",
                    got.url().unwrap_or_default(),
                    got.client_id_list(),
                    got.thumbprint_list(),
                    got.tags()
                ));
            }
            out.insert("OIDC providers", providers);
            let ws = ampc.list_workspaces().send().await.expect("workspaces");
            out.insert(
                "AMP workspaces",
                ws.workspaces()
                    .iter()
                    .filter(|w| w.status().map(|s| s.status_code().as_str()) != Some("DELETING"))
                    .map(|w| format!("{} {:?}", w.workspace_id(), w.alias()))
                    .collect(),
            );
            let mirrored = moto_eks.list_clusters().send().await.expect("clusters");
            out.insert("EKS clusters (moto)", mirrored.clusters().to_vec());
        });
        out.insert(
            "EKS access entries",
            self.eks
                .access_entries()
                .into_iter()
                .map(|(c, p)| format!("{c} {p}"))
                .collect(),
        );
        out.insert("Kubernetes objects", self.api.names());
        for list in out.values_mut() {
            list.sort();
        }
        out
    }

    /// The IAM role's trust policy as moto holds it.
    fn trust_policy(&self, role: &str) -> Value {
        let iamc = iam::Client::new(&self.sdk);
        let got = self
            .rt
            .block_on(iamc.get_role().role_name(role).send())
            .expect("get role");
        let doc = got.role().and_then(|r| r.assume_role_policy_document());
        let trust = policy_document(doc.unwrap_or_default());
        assert!(trust.is_object(), "trust policy JSON: {doc:?}");
        trust
    }
}

/// stdout and stderr as words: the terminal's width may wrap messages
/// anywhere after a space, and miette draws a margin.
fn words(out: &Output) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The kinds where `after` differs from `before`, with what was added
/// and what went.
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

#[test]
fn existing_cluster_is_looked_up_monitored_and_left_as_it_was() {
    let started = Instant::now();
    let s = Stack::start();
    let before = s.inventory();
    assert_eq!(before["EKS clusters (moto)"], [CLUSTER]);
    s.cli.spec(&spec(CLUSTER));

    // ---- plan: the look-ups are read now, and what they found is shown
    let plan = s.cli.expect(&["plan", "--detailed-exitcode"], 2);
    let cluster_arn = format!("arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}");
    // (The trust policy `irsa` makes is shown as known after apply, though
    // everything it is made of is known now: only its parts are checked.)
    for found in [
        OIDC_ARN,
        ISSUER,
        cluster_arn.as_str(),
        s.subnet_ids[0].as_str(),
        "prod-mesh-metrics",
        "prod-mesh-collector",
        ACCOUNT,
    ] {
        assert!(
            plan.stdout.contains(found),
            "the plan shows {found}:\n{}",
            plan.stdout
        );
    }
    assert!(
        !plan.stdout.contains("<= read"),
        "every look-up's inputs are known while planning:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(
        s.api.requests().is_empty(),
        "planning creations reads nothing in the cluster: {:?}",
        s.api.requests()
    );
    assert_eq!(s.inventory(), before, "plan changed something");

    // ---- apply, then nothing to do and no drift
    let apply = s.cli.apply();
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 4 added, 0 changed, 0 destroyed."),
        "{}",
        apply.stdout
    );
    s.cli.assert_no_changes();
    let drift = s.cli.expect(&["drift"], 0);
    let applied = s.inventory();

    // What exists now is what was there, plus what meshmon made.
    let changed = differences(&before, &applied);
    assert_eq!(
        changed.keys().copied().collect::<Vec<_>>(),
        ["AMP workspaces", "IAM roles", "Kubernetes objects"],
        "{changed:#?}"
    );
    assert!(
        changed.values().all(|(_, gone)| gone.is_empty()),
        "{changed:#?}"
    );
    let ws_id = s.cli.attr_str("aws_amp_workspace.mesh", "id");
    assert_eq!(
        changed["AMP workspaces"].0,
        [format!("{ws_id} Some(\"prod-mesh-metrics\")")]
    );
    assert_eq!(changed["IAM roles"].0.len(), 1, "{changed:#?}");
    assert!(
        changed["IAM roles"].0[0].contains("role/prod-mesh-collector"),
        "{changed:#?}"
    );
    assert_eq!(
        changed["Kubernetes objects"].0.len(),
        2,
        "the namespace and the service account: {changed:#?}"
    );

    // The role trusts the looked-up OIDC provider for the service account.
    let trust = s.trust_policy("prod-mesh-collector");
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Principal"]["Federated"], OIDC_ARN, "{trust:#}");
    assert_eq!(
        statement["Action"], "sts:AssumeRoleWithWebIdentity",
        "{trust:#}"
    );
    let conditions = statement["Condition"]["StringEquals"].clone();
    assert_eq!(
        conditions["oidc.eks.eu-west-1.amazonaws.com/id/PROD-MESH:sub"],
        "system:serviceaccount:monitoring:collector",
        "{trust:#}"
    );
    assert_eq!(
        conditions["oidc.eks.eu-west-1.amazonaws.com/id/PROD-MESH:aud"], "sts.amazonaws.com",
        "{trust:#}"
    );

    // The cluster was reached as EKS reported it, with EKS tokens for it.
    let log = s.api.requests();
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|r| r.status != 401),
        "every request carried a valid EKS token: {:?}",
        log.iter().map(|r| (r.line(), r.status)).collect::<Vec<_>>()
    );
    let ns = s
        .api
        .object("v1", "Namespace", None, "monitoring")
        .expect("namespace monitoring");
    assert_eq!(ns["metadata"]["labels"]["cluster"], CLUSTER, "{ns:#}");
    assert_eq!(
        ns["metadata"]["annotations"]["example.com/account"], ACCOUNT,
        "{ns:#}"
    );
    let sa = s
        .api
        .object("v1", "ServiceAccount", Some("monitoring"), "collector")
        .expect("service account");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        s.cli.attr_str("aws_iam_role.collector", "arn").as_str(),
        "{sa:#}"
    );
    let output = s.cli.expect(&["output", "subnet_ids"], 0);
    for id in &s.subnet_ids {
        assert!(output.stdout.contains(id), "{}", output.stdout);
    }

    // ---- the state: look-ups in `data`, only what meshmon made in `resources`
    let state = s.cli.state();
    let data = state["data"].as_object().expect("a data table");
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        [
            "data.aws_caller_identity.me",
            "data.aws_eks_cluster.existing",
            "data.aws_iam_oidc_provider.existing",
            "data.aws_subnets.cluster",
        ],
        "{state:#}"
    );
    let found = |address: &str, attr: &str| data[address]["outputs"][attr].clone();
    assert_eq!(found("data.aws_caller_identity.me", "account_id"), ACCOUNT);
    assert_eq!(
        found("data.aws_eks_cluster.existing", "vpc_id"),
        s.vpc_id.as_str()
    );
    assert_eq!(
        found("data.aws_eks_cluster.existing", "oidc_issuer"),
        ISSUER
    );
    assert_eq!(
        found("data.aws_eks_cluster.existing", "endpoint"),
        s.api.endpoint().as_str()
    );
    assert_eq!(
        found("data.aws_iam_oidc_provider.existing", "arn"),
        OIDC_ARN
    );
    assert_eq!(
        found("data.aws_subnets.cluster", "ids"),
        serde_json::json!(s.subnet_ids)
    );
    let mut addresses = s.cli.addresses();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            "aws_amp_workspace.mesh",
            "aws_iam_role.collector",
            "k8s_namespace.monitoring",
            "k8s_service_account.collector",
        ],
        "{state:#}"
    );

    // ---- destroy: what meshmon made goes, what was there stays as it was
    let destroy = s.cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        destroy
            .stdout
            .contains("Destroy complete! Resources: 4 destroyed."),
        "{}",
        destroy.stdout
    );
    let destroyed: Vec<&str> = destroy
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_suffix(" will be destroyed"))
        .collect();
    assert_eq!(
        destroyed,
        [
            "# aws_amp_workspace.mesh",
            "# aws_iam_role.collector",
            "# k8s_namespace.monitoring",
            "# k8s_service_account.collector",
        ],
        "only what meshmon made is destroyed:\n{}",
        destroy.stdout
    );
    assert!(s.cli.addresses().is_empty(), "{:?}", s.cli.addresses());
    let after = s.inventory();
    assert_eq!(
        differences(&before, &after),
        BTreeMap::new(),
        "destroy left exactly what existed before meshmon ran"
    );
    assert_eq!(after, before);

    eprintln!(
        "lookups_e2e: apply, re-plan, drift ({}), destroy; wall time {:.1?}",
        drift.stdout.lines().next().unwrap_or_default(),
        started.elapsed()
    );
}

#[test]
fn a_misspelt_cluster_name_fails_the_plan_with_the_real_name_and_creates_nothing() {
    let s = Stack::start();
    let before = s.inventory();
    s.cli.spec(&spec("prod-mseh"));

    let plan = s.cli.expect(&["plan"], 1);
    let said = words(&plan);
    for expected in [
        "data.aws_eks_cluster.existing",
        "name = \"prod-mseh\"",
        "did you mean \"prod-mesh\"?",
    ] {
        assert!(said.contains(expected), "plan says {expected}: {said}");
    }
    // One root cause, not its echoes in what depends on the look-up.
    for echo in [
        "aws_iam_role.collector",
        "data.aws_iam_oidc_provider.existing",
    ] {
        assert!(!said.contains(echo), "{echo} is not blamed: {said}");
    }

    let apply = s.cli.expect(&["apply", "--auto-approve"], 1);
    assert!(
        words(&apply).contains("did you mean \"prod-mesh\"?"),
        "{}",
        words(&apply)
    );
    assert_eq!(s.inventory(), before, "nothing was created or changed");
    assert!(
        s.api.requests().is_empty(),
        "the cluster was not contacted: {:?}",
        s.api.requests()
    );
    let state = s.cli.path().join("state/test.json");
    if state.exists() {
        let st = s.cli.state();
        assert!(s.cli.addresses().is_empty(), "{st:#}");
        assert!(
            st.get("data")
                .is_none_or(|d| d.as_object().is_none_or(|m| m.is_empty())),
            "a failed look-up records nothing: {st:#}"
        );
    }
}
