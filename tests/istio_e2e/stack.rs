//! The emulated world the Istio example runs in, and the CLI on a copy
//! of `examples/`.

use meshmon_test_support::amg::AmgServer;
use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::cli::{Cli, Output};
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::emulated::{EmulatedAws, on_examples};
use meshmon_test_support::grafana::GrafanaServer;
use meshmon_test_support::kube_api::{Auth, FakeHelm, KubeApi, Options};
use meshmon_test_support::moto::{Moto, REGION};
use meshmon_test_support::{amp, ec2, iam, sns};
use serde_json::Value;

use crate::{BIN, CLUSTER, SETTLE, STATE};

/// Every emulator, and the CLI on a copy of `examples/`.
pub(crate) struct Stack {
    pub(crate) moto: Moto,
    pub(crate) eks: EksDouble,
    pub(crate) amp: AmpDouble,
    pub(crate) api: KubeApi,
    pub(crate) helm: FakeHelm,
    pub(crate) amg: AmgServer,
    pub(crate) grafana: GrafanaServer,
    pub(crate) cli: Cli,
    pub(crate) vars: Vec<String>,
}

impl Stack {
    pub(crate) fn start() -> Stack {
        let aws = EmulatedAws::start(
            Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]),
            SETTLE,
        );
        let helm = FakeHelm::new();
        let mut env = aws.env();
        env.extend(helm.env());
        let cli = on_examples(BIN, env);
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
        eks.serve_new_clusters_from(&api);
        let vars = vec![format!("region={REGION}")];
        Stack {
            moto,
            eks,
            amp,
            api,
            helm,
            amg,
            grafana,
            cli,
            vars,
        }
    }

    /// Runs meshmon on `spec` with the examples' variables (those the spec
    /// declares) and insists on exit code `code`.
    pub(crate) fn run(&self, spec: &str, args: &[&str], code: i32) -> Output {
        let text = std::fs::read_to_string(self.cli.path().join(spec)).expect("spec");
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.push("-f".into());
        a.push(spec.into());
        for var in &self.vars {
            let name = var.split('=').next().unwrap_or_default();
            if text.contains(&format!("[variables.{name}]")) {
                a.push("--var".into());
                a.push(var.clone());
            }
        }
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.cli.expect(&a, code)
    }

    pub(crate) fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.cli.path().join(STATE)).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    pub(crate) fn addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn output(&self, address: &str, name: &str) -> String {
        let s = self.state();
        s["resources"][address]["outputs"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{address}.{name} is not in the state: {s:#}"))
            .to_string()
    }

    pub(crate) fn declared(&self, spec: &str) -> usize {
        std::fs::read_to_string(self.cli.path().join(spec))
            .expect("spec")
            .lines()
            .filter(|l| l.starts_with("[resources."))
            .count()
    }

    /// What is left in moto, the doubles and the test servers after a
    /// destroy: every list must be empty.
    pub(crate) fn leftovers(&self) -> Vec<(String, Vec<String>)> {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let sdk = rt.block_on(self.moto.sdk_config());
        let (ec2_c, iam_c, sns_c, amp_c) = (
            ec2::Client::new(&sdk),
            iam::Client::new(&sdk),
            sns::Client::new(&sdk),
            amp::Client::new(&sdk),
        );
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        rt.block_on(async {
            let vpcs = ec2_c.describe_vpcs().send().await.expect("vpcs");
            out.push((
                "VPCs".into(),
                vpcs.vpcs()
                    .iter()
                    .filter(|v| v.cidr_block() == Some("192.168.0.0/16"))
                    .filter_map(|v| v.vpc_id().map(str::to_string))
                    .collect(),
            ));
            let roles = iam_c.list_roles().send().await.expect("roles");
            out.push((
                "IAM roles".into(),
                roles
                    .roles()
                    .iter()
                    .map(|r| r.role_name().to_string())
                    .filter(|n| !n.starts_with("AWSServiceRole"))
                    .collect(),
            ));
            let policies = iam_c
                .list_policies()
                .scope(iam::types::PolicyScopeType::Local)
                .send()
                .await
                .expect("policies");
            out.push((
                "IAM policies".into(),
                policies
                    .policies()
                    .iter()
                    .filter_map(|p| p.policy_name().map(str::to_string))
                    .collect(),
            ));
            let oidc = iam_c
                .list_open_id_connect_providers()
                .send()
                .await
                .expect("oidc");
            out.push((
                "OIDC providers".into(),
                oidc.open_id_connect_provider_list()
                    .iter()
                    .filter_map(|p| p.arn().map(str::to_string))
                    .collect(),
            ));
            let topics = sns_c.list_topics().send().await.expect("topics");
            out.push((
                "SNS topics".into(),
                topics
                    .topics()
                    .iter()
                    .filter_map(|t| t.topic_arn().map(str::to_string))
                    .collect(),
            ));
            let subs = sns_c.list_subscriptions().send().await.expect("subs");
            out.push((
                "SNS subscriptions".into(),
                subs.subscriptions()
                    .iter()
                    .filter_map(|s| s.subscription_arn().map(str::to_string))
                    .collect(),
            ));
            let ws = amp_c.list_workspaces().send().await.expect("amp");
            out.push((
                "AMP workspaces".into(),
                ws.workspaces()
                    .iter()
                    .filter(|w| {
                        w.status()
                            .map(|s| s.status_code().as_str() != "DELETING")
                            .unwrap_or(true)
                    })
                    .map(|w| w.workspace_id().to_string())
                    .collect(),
            ));
        });
        out.push(("EKS clusters".into(), self.eks.cluster_names()));
        out.push((
            "EKS access entries".into(),
            self.eks
                .access_entries()
                .into_iter()
                .map(|(c, p)| format!("{c}:{p}"))
                .collect(),
        ));
        out.push((
            "EKS access policy associations".into(),
            self.eks
                .access_policy_associations()
                .into_iter()
                .map(|(c, p, a)| format!("{c}:{p}:{a}"))
                .collect(),
        ));
        out.push(("AMP scrapers".into(), self.amp.scraper_ids()));
        out.push((
            "AMP Alertmanager definitions".into(),
            self.amp.definition_workspaces(),
        ));
        out.push(("AMG workspaces".into(), self.amg.workspace_ids()));
        let g = self.grafana.state();
        out.push((
            "Grafana objects".into(),
            g.folders
                .keys()
                .chain(g.datasources.keys())
                .chain(g.dashboards.keys())
                .chain(g.rules.keys())
                .cloned()
                .collect(),
        ));
        out
    }

    pub(crate) fn assert_nothing_left(&self) {
        let left: Vec<_> = self
            .leftovers()
            .into_iter()
            .filter(|(_, l)| !l.is_empty())
            .collect();
        assert!(left.is_empty(), "left after destroy: {left:?}");
    }
}
