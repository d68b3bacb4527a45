//! The `aws` provider end to end: the real `meshmon` binary against a moto
//! server per test (and, where moto lacks an operation, against the narrow
//! EKS double in `tests/support`). For every resource type: create → read
//! matches (a re-plan has no changes) → update in place → import by ID →
//! an out-of-band change made with a separate SDK client shows up in
//! `meshmon drift` (exit 2, path, recorded vs actual) → destroy, with
//! nothing left in moto. Then one apply of the whole stack, a clean
//! re-plan and a destroy to nothing.
//!
//! Needs moto: run through `scripts/test` (it sets MESHMON_MOTO_SERVER).

use std::time::Duration;

use meshmon_test_support::cli::Cli;
use meshmon_test_support::eks_double::EksDouble;
use meshmon_test_support::moto::{ACCOUNT, Moto};
use meshmon_test_support::{SdkConfig, amp, ec2, eks, iam, sns};

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");

struct Env {
    rt: tokio::runtime::Runtime,
    sdk: SdkConfig,
    cli: Cli,
    _moto: Moto,
}

fn env() -> Env {
    env_with(Moto::start())
}

fn env_with(moto: Moto) -> Env {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sdk = rt.block_on(moto.sdk_config());
    let cli = Cli::new(BIN, moto.env());
    Env {
        rt,
        sdk,
        cli,
        _moto: moto,
    }
}

impl Env {
    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
    fn ec2(&self) -> ec2::Client {
        ec2::Client::new(&self.sdk)
    }
    fn eks(&self) -> eks::Client {
        eks::Client::new(&self.sdk)
    }
    fn iam(&self) -> iam::Client {
        iam::Client::new(&self.sdk)
    }
    fn amp(&self) -> amp::Client {
        amp::Client::new(&self.sdk)
    }
    fn sns(&self) -> sns::Client {
        sns::Client::new(&self.sdk)
    }
}

/// Applies `spec` as a change to what exists: the plan must update in
/// place (nothing added or destroyed), and afterwards there is nothing to do.
fn update_in_place(cli: &Cli, spec: &str) {
    cli.spec(spec);
    let plan = cli.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("Plan: 0 to add,")
            && plan.stdout.contains(" to change, 0 to destroy."),
        "expected an in-place update:\n{}",
        plan.stdout
    );
    cli.apply();
    cli.assert_no_changes();
}

/// Forgets `address` and adopts it again by `id`: the spec then matches.
fn reimport(cli: &Cli, address: &str, id: &str) {
    cli.expect(&["state", "rm", address], 0);
    cli.expect(&["import", address, id], 0);
    cli.assert_no_changes();
}

fn destroy(cli: &Cli) {
    cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        cli.addresses().is_empty(),
        "state after destroy: {:?}",
        cli.addresses()
    );
}

fn assert_drift(
    cli: &Cli,
    address: &str,
    path: &str,
    recorded: serde_json::Value,
    actual: serde_json::Value,
) {
    let d = cli.drifted(address, path);
    assert_eq!(d["recorded"], recorded, "{d:#}");
    assert_eq!(d["actual"], actual, "{d:#}");
}

const VPC: &str = r#"
[resources.aws_vpc.main]
cidr_block = "10.0.0.0/16"
tags = { Name = "meshmon" }
"#;

#[test]
fn vpc_create_read_update_import_drift_destroy() {
    let e = env();
    e.cli.spec(VPC);
    e.cli.apply();
    e.cli.assert_no_changes();
    update_in_place(
        &e.cli,
        &VPC.replace(
            "tags = { Name = \"meshmon\" }",
            "enable_dns_hostnames = false\ntags = { Name = \"meshmon-2\", team = \"obs\" }",
        ),
    );
    let id = e.cli.attr_str("aws_vpc.main", "id");
    reimport(&e.cli, "aws_vpc.main", &id);

    e.block(
        e.ec2()
            .create_tags()
            .resources(&id)
            .tags(
                ec2::types::Tag::builder()
                    .key("Name")
                    .value("by-hand")
                    .build(),
            )
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_vpc.main",
        "tags.Name",
        "meshmon-2".into(),
        "by-hand".into(),
    );

    destroy(&e.cli);
    let gone = e.block(e.ec2().describe_vpcs().vpc_ids(&id).send());
    assert!(gone.is_err(), "VPC {id} still exists");
}

const SUBNET: &str = r#"
[resources.aws_vpc.main]
cidr_block = "10.1.0.0/16"

[resources.aws_subnet.public_a]
vpc_id = "${aws_vpc.main.id}"
cidr_block = "10.1.1.0/24"
availability_zone = "eu-west-1a"
load_balancer_role = "public"
tags = { Name = "public-a" }
"#;

#[test]
fn subnet_with_load_balancer_tag_create_read_update_import_drift_destroy() {
    let e = env();
    e.cli.spec(SUBNET);
    e.cli.apply();
    e.cli.assert_no_changes();
    let id = e.cli.attr_str("aws_subnet.public_a", "id");
    let s = e
        .block(e.ec2().describe_subnets().subnet_ids(&id).send())
        .unwrap();
    let tags: Vec<_> = s.subnets()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    assert!(
        tags.contains(&("kubernetes.io/role/elb".into(), "1".into())),
        "{tags:?}"
    );

    update_in_place(
        &e.cli,
        &SUBNET.replace(
            "tags = { Name = \"public-a\" }",
            "map_public_ip_on_launch = true\ntags = { Name = \"public-a\", tier = \"web\" }",
        ),
    );
    reimport(&e.cli, "aws_subnet.public_a", &id);

    let off = ec2::types::AttributeBooleanValue::builder()
        .value(false)
        .build();
    e.block(
        e.ec2()
            .modify_subnet_attribute()
            .subnet_id(&id)
            .map_public_ip_on_launch(off)
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_subnet.public_a",
        "map_public_ip_on_launch",
        true.into(),
        false.into(),
    );

    destroy(&e.cli);
    assert!(
        e.block(e.ec2().describe_subnets().subnet_ids(&id).send())
            .is_err(),
        "subnet {id} still exists"
    );
}

const IGW: &str = r#"
[resources.aws_vpc.a]
cidr_block = "10.2.0.0/16"

[resources.aws_vpc.b]
cidr_block = "10.3.0.0/16"

[resources.aws_internet_gateway.main]
vpc_id = "${aws_vpc.a.id}"
"#;

#[test]
fn internet_gateway_moves_between_vpcs_in_place_and_detach_is_drift() {
    let e = env();
    e.cli.spec(IGW);
    e.cli.apply();
    e.cli.assert_no_changes();
    update_in_place(&e.cli, &IGW.replace("${aws_vpc.a.id}", "${aws_vpc.b.id}"));
    let id = e.cli.attr_str("aws_internet_gateway.main", "id");
    let vpc_b = e.cli.attr_str("aws_vpc.b", "id");
    reimport(&e.cli, "aws_internet_gateway.main", &id);

    e.block(
        e.ec2()
            .detach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(&vpc_b)
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_internet_gateway.main",
        "vpc_id",
        vpc_b.clone().into(),
        serde_json::Value::Null,
    );

    destroy(&e.cli);
    assert!(
        e.block(
            e.ec2()
                .describe_internet_gateways()
                .internet_gateway_ids(&id)
                .send()
        )
        .is_err()
    );
}

const ROUTES: &str = r#"
[resources.aws_vpc.main]
cidr_block = "10.4.0.0/16"

[resources.aws_internet_gateway.main]
vpc_id = "${aws_vpc.main.id}"

[resources.aws_subnet.a]
vpc_id = "${aws_vpc.main.id}"
cidr_block = "10.4.1.0/24"

[resources.aws_subnet.b]
vpc_id = "${aws_vpc.main.id}"
cidr_block = "10.4.2.0/24"

[resources.aws_route_table.public]
vpc_id = "${aws_vpc.main.id}"
routes = [{ cidr_block = "0.0.0.0/0", gateway_id = "${aws_internet_gateway.main.id}" }]
subnet_ids = ["${aws_subnet.a.id}"]
"#;

#[test]
fn route_table_routes_and_associations_update_in_place_and_deleted_route_is_drift() {
    let e = env();
    e.cli.spec(ROUTES);
    e.cli.apply();
    e.cli.assert_no_changes();
    let id = e.cli.attr_str("aws_route_table.public", "id");
    reimport(&e.cli, "aws_route_table.public", &id);
    update_in_place(
        &e.cli,
        &ROUTES.replace(
            "[\"${aws_subnet.a.id}\"]",
            "[\"${aws_subnet.a.id}\", \"${aws_subnet.b.id}\"]\ntags = { Name = \"public\" }",
        ),
    );

    e.block(
        e.ec2()
            .delete_route()
            .route_table_id(&id)
            .destination_cidr_block("0.0.0.0/0")
            .send(),
    )
    .unwrap();
    let d = e.cli.drifted("aws_route_table.public", "routes");
    assert_eq!(d["recorded"][0]["cidr_block"], "0.0.0.0/0", "{d:#}");
    assert_eq!(d["actual"], serde_json::json!([]), "{d:#}");

    destroy(&e.cli);
    assert!(
        e.block(e.ec2().describe_route_tables().route_table_ids(&id).send())
            .is_err()
    );
}

const CLUSTER: &str = r#"
[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
version = "1.32"
role_arn = "arn:aws:iam::123456789012:role/eks-cluster"
subnet_ids = ["subnet-0a", "subnet-0b"]
enabled_log_types = ["api"]
"#;

#[test]
fn eks_cluster_logging_and_tags_update_in_place_and_drift_on_moto() {
    let e = env();
    e.cli.spec(CLUSTER);
    e.cli.apply();
    e.cli.assert_no_changes();
    assert!(
        e.cli
            .attr_str("aws_eks_cluster.main", "oidc_issuer")
            .starts_with("https://")
    );
    update_in_place(
        &e.cli,
        &CLUSTER.replace(
            "[\"api\"]",
            "[\"api\", \"audit\", \"authenticator\"]\ntags = { env = \"test\" }",
        ),
    );
    reimport(&e.cli, "aws_eks_cluster.main", "AMP-EKS-CLUSTER");

    let arn = e.cli.attr_str("aws_eks_cluster.main", "arn");
    e.block(
        e.eks()
            .tag_resource()
            .resource_arn(&arn)
            .tags("env", "prod")
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_eks_cluster.main",
        "tags.env",
        "test".into(),
        "prod".into(),
    );

    destroy(&e.cli);
    let left = e.block(e.eks().list_clusters().send()).unwrap();
    assert!(left.clusters().is_empty(), "{:?}", left.clusters());
}

/// moto 5.2.5 has no UpdateClusterVersion (nor DescribeUpdate), and its
/// clusters are ACTIVE at once: this runs against the EKS double, which
/// also throttles the first requests to show the SDK retrying them.
#[test]
fn eks_cluster_version_upgrade_and_endpoint_access_against_eks_double_moto_lacks_update_cluster_version()
 {
    let mut e = env();
    let double = EksDouble::start(Duration::from_millis(400));
    e.cli.set_env("AWS_ENDPOINT_URL_EKS", &double.endpoint());
    e.cli.spec(CLUSTER);
    double.throttle_next(2);
    e.cli.apply();
    assert!(
        double.calls().starts_with(&[
            "Throttled".into(),
            "Throttled".into(),
            "CreateCluster".into()
        ]),
        "{:?}",
        double.calls()
    );
    e.cli.assert_no_changes();

    update_in_place(
        &e.cli,
        &CLUSTER.replace("\"1.32\"", "\"1.33\"").replace(
            "enabled_log_types",
            "endpoint_private_access = true\nenabled_log_types",
        ),
    );
    let calls = double.calls();
    for op in [
        "UpdateClusterVersion",
        "DescribeUpdate",
        "UpdateClusterConfig",
    ] {
        assert!(calls.iter().any(|c| c == op), "{op} not called: {calls:?}");
    }
    let c = double.cluster("AMP-EKS-CLUSTER").unwrap();
    assert_eq!(c["version"], "1.33");
    assert_eq!(c["resourcesVpcConfig"]["endpointPrivateAccess"], true);

    double.patch_cluster("AMP-EKS-CLUSTER", serde_json::json!({"version": "1.34"}));
    assert_drift(
        &e.cli,
        "aws_eks_cluster.main",
        "version",
        "1.33".into(),
        "1.34".into(),
    );

    destroy(&e.cli);
    assert!(double.cluster_names().is_empty());
}

/// A cluster that ends up FAILED after it was created is recorded tainted
/// (not orphaned), and the next plan replaces it. EKS double: moto's
/// clusters never fail.
#[test]
fn eks_cluster_that_fails_to_become_active_is_recorded_tainted_against_eks_double() {
    let mut e = env();
    let double = EksDouble::start(Duration::from_millis(200));
    e.cli.set_env("AWS_ENDPOINT_URL_EKS", &double.endpoint());
    e.cli.spec(CLUSTER);
    double.fail_next_create();
    let out = e.cli.expect(&["apply", "--auto-approve"], 1);
    assert!(
        out.stderr.contains("FAILED") || out.stdout.contains("FAILED"),
        "{out:?}"
    );
    assert_eq!(
        e.cli.state()["resources"]["aws_eks_cluster.main"]["status"],
        "tainted"
    );
    let plan = e.cli.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("aws_eks_cluster.main must be replaced"),
        "{}",
        plan.stdout
    );
}

const NODE_GROUP: &str = r#"
[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
role_arn = "arn:aws:iam::123456789012:role/eks-cluster"
subnet_ids = ["subnet-0a", "subnet-0b"]

[resources.aws_eks_node_group.default]
cluster_name = "${aws_eks_cluster.main.name}"
name = "default-ng"
node_role_arn = "arn:aws:iam::123456789012:role/eks-node"
subnet_ids = ["subnet-0a", "subnet-0b"]
instance_types = ["m5.large"]
scaling = { min_size = 1, max_size = 3, desired_size = 2 }
labels = { role = "mngworker" }
"#;

#[test]
fn eks_node_group_scaling_and_labels_update_in_place_and_drift() {
    let e = env();
    e.cli.spec(NODE_GROUP);
    e.cli.apply();
    e.cli.assert_no_changes();
    update_in_place(
        &e.cli,
        &NODE_GROUP
            .replace(
                "max_size = 3, desired_size = 2",
                "max_size = 4, desired_size = 3",
            )
            .replace(
                "role = \"mngworker\"",
                "role = \"mngworker\", tier = \"monitoring\"",
            ),
    );
    reimport(
        &e.cli,
        "aws_eks_node_group.default",
        "AMP-EKS-CLUSTER:default-ng",
    );

    let one = eks::types::NodegroupScalingConfig::builder()
        .min_size(1)
        .max_size(4)
        .desired_size(1)
        .build();
    e.block(
        e.eks()
            .update_nodegroup_config()
            .cluster_name("AMP-EKS-CLUSTER")
            .nodegroup_name("default-ng")
            .scaling_config(one)
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_eks_node_group.default",
        "scaling.desired_size",
        3.into(),
        1.into(),
    );

    destroy(&e.cli);
    assert!(
        e.block(e.eks().list_clusters().send())
            .unwrap()
            .clusters()
            .is_empty()
    );
}

const OIDC: &str = r#"
[resources.aws_iam_oidc_provider.eks]
url = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF"
thumbprints = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
"#;

const NEW_THUMBPRINT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// moto 5.2.5 answers AddClientIDToOpenIDConnectProvider and
/// RemoveClientIDFromOpenIDConnectProvider with HTTP 500, so the in-place
/// step here changes thumbprints and tags only; client_ids changes use the
/// same update path against real IAM.
#[test]
fn iam_oidc_provider_thumbprints_and_tags_update_in_place_and_drift_moto_lacks_client_id_updates() {
    let e = env();
    e.cli.spec(OIDC);
    e.cli.apply();
    e.cli.assert_no_changes();
    update_in_place(
        &e.cli,
        &format!(
            "{}tags = {{ team = \"obs\" }}\n",
            OIDC.replace("9e99a48a9960b14926bb7f3b02e22da2b0ab7280", NEW_THUMBPRINT)
        ),
    );
    let arn = e.cli.attr_str("aws_iam_oidc_provider.eks", "arn");
    reimport(&e.cli, "aws_iam_oidc_provider.eks", &arn);

    let other = "0000000000000000000000000000000000000000";
    e.block(
        e.iam()
            .update_open_id_connect_provider_thumbprint()
            .open_id_connect_provider_arn(&arn)
            .thumbprint_list(other)
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_iam_oidc_provider.eks",
        "thumbprints",
        serde_json::json!([NEW_THUMBPRINT]),
        serde_json::json!([other]),
    );

    destroy(&e.cli);
    assert!(
        e.block(e.iam().list_open_id_connect_providers().send())
            .unwrap()
            .open_id_connect_provider_list()
            .is_empty()
    );
}

const ROLES: &str = r#"
[resources.aws_iam_policy.write]
name = "AWSManagedPrometheusWriteAccessPolicy"
policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["aps:RemoteWrite"], Resource = "*" }] }

[resources.aws_iam_role.agent]
name = "EKS-GrafanaAgent-AMP-ServiceAccount-Role"
irsa = { oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC", oidc_issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC", namespace = "grafana-agent", service_account = "grafana-agent" }
managed_policy_arns = ["${aws_iam_policy.write.arn}"]
inline_policies = { cloudmap = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"servicediscovery:*","Resource":"*"}]}' }

[resources.aws_iam_role.plain]
name = "eks-cluster"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = "sts:AssumeRole" }] }
"#;

#[test]
fn iam_role_with_irsa_trust_policies_and_tags_update_in_place_and_drift() {
    let e = env();
    e.cli.spec(ROLES);
    e.cli.apply();
    e.cli.assert_no_changes();
    let got = e
        .block(
            e.iam()
                .get_role()
                .role_name("EKS-GrafanaAgent-AMP-ServiceAccount-Role")
                .send(),
        )
        .unwrap();
    let trust = meshmon_provider_aws::policy::from_aws(
        got.role().unwrap().assume_role_policy_document().unwrap(),
    )
    .unwrap();
    let cond = &trust["Statement"][0]["Condition"]["StringEquals"];
    assert_eq!(
        cond["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"],
        "system:serviceaccount:grafana-agent:grafana-agent"
    );
    assert_eq!(
        cond["oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud"],
        "sts.amazonaws.com"
    );

    update_in_place(
        &e.cli,
        &ROLES
            .replace("namespace = \"grafana-agent\"", "namespace = \"monitoring\"")
            .replace("\"servicediscovery:*\"", "[\"servicediscovery:*\", \"route53:*\"]")
            .replace("name = \"eks-cluster\"", "name = \"eks-cluster\"\ndescription = \"EKS control plane\"\ntags = { team = \"obs\" }"),
    );
    reimport(&e.cli, "aws_iam_role.plain", "eks-cluster");

    e.block(
        e.iam()
            .detach_role_policy()
            .role_name("EKS-GrafanaAgent-AMP-ServiceAccount-Role")
            .policy_arn(format!(
                "arn:aws:iam::{ACCOUNT}:policy/AWSManagedPrometheusWriteAccessPolicy"
            ))
            .send(),
    )
    .unwrap();
    let d = e.cli.drifted("aws_iam_role.agent", "managed_policy_arns");
    assert_eq!(d["actual"], serde_json::json!([]), "{d:#}");

    destroy(&e.cli);
    let roles = e.block(e.iam().list_roles().send()).unwrap();
    assert!(roles.roles().is_empty(), "{:?}", roles.roles());
    assert!(
        e.block(
            e.iam()
                .list_policies()
                .scope(iam::types::PolicyScopeType::Local)
                .send()
        )
        .unwrap()
        .policies()
        .is_empty()
    );
}

const POLICY: &str = r#"
[resources.aws_iam_policy.write]
name = "AWSManagedPrometheusWriteAccessPolicy"
description = "remote write to AMP"
policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["aps:RemoteWrite"], Resource = "*" }] }
"#;

#[test]
fn iam_policy_change_publishes_default_version_and_prunes_at_five() {
    let e = env();
    e.cli.spec(POLICY);
    e.cli.apply();
    e.cli.assert_no_changes();
    let arn = e.cli.attr_str("aws_iam_policy.write", "arn");
    for n in 1..=5 {
        update_in_place(
            &e.cli,
            &POLICY.replace(
                "[\"aps:RemoteWrite\"]",
                &format!("[\"aps:RemoteWrite\", \"aps:Query{n}\"]"),
            ),
        );
    }
    let versions = e
        .block(e.iam().list_policy_versions().policy_arn(&arn).send())
        .unwrap();
    assert_eq!(versions.versions().len(), 5, "{:?}", versions.versions());
    let default = versions
        .versions()
        .iter()
        .find(|v| v.is_default_version())
        .unwrap();
    assert_eq!(
        Some(default.version_id().unwrap().to_string()),
        e.cli
            .attr("aws_iam_policy.write", "default_version_id")
            .as_str()
            .map(str::to_string)
    );
    reimport(
        &e.cli,
        "aws_iam_policy.write",
        "AWSManagedPrometheusWriteAccessPolicy",
    );

    // All five versions are taken: make room the way a console user would.
    let oldest = versions
        .versions()
        .iter()
        .filter(|v| !v.is_default_version())
        .filter_map(|v| v.version_id())
        .min_by_key(|v| v[1..].parse::<u32>().unwrap_or(0))
        .unwrap();
    e.block(
        e.iam()
            .delete_policy_version()
            .policy_arn(&arn)
            .version_id(oldest)
            .send(),
    )
    .unwrap();
    let doc =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    e.block(
        e.iam()
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(doc)
            .set_as_default(true)
            .send(),
    )
    .unwrap();
    let d = e.cli.drifted("aws_iam_policy.write", "policy");
    // Read back after an import, a document is a JSON string.
    let actual: serde_json::Value = serde_json::from_str(d["actual"].as_str().unwrap()).unwrap();
    assert_eq!(actual["Statement"][0]["Effect"], "Deny", "{d:#}");

    destroy(&e.cli);
    assert!(
        e.block(e.iam().get_policy().policy_arn(&arn).send())
            .is_err()
    );
}

const AMP: &str = r#"
[resources.aws_amp_workspace.appmesh]
alias = "AMP-APPMESH"

[resources.aws_amp_rule_groups_namespace.envoy]
workspace_id = "${aws_amp_workspace.appmesh.id}"
name = "envoy"
data = """
groups:
  - name: envoy
    rules:
      - record: job:envoy_rq:rate5m
        expr: sum(rate(envoy_cluster_upstream_rq_total[5m])) by (job)
"""
"#;

#[test]
fn amp_workspace_and_rule_groups_update_in_place_and_drift() {
    let e = env();
    e.cli.spec(AMP);
    e.cli.apply();
    e.cli.assert_no_changes();
    let id = e.cli.attr_str("aws_amp_workspace.appmesh", "id");
    let endpoint = e
        .cli
        .attr_str("aws_amp_workspace.appmesh", "prometheus_endpoint");
    assert_eq!(
        e.cli
            .attr_str("aws_amp_workspace.appmesh", "remote_write_url"),
        format!("{endpoint}api/v1/remote_write")
    );
    assert!(
        endpoint.ends_with(&format!("/workspaces/{id}/")),
        "{endpoint}"
    );

    update_in_place(
        &e.cli,
        &AMP.replace(
            "alias = \"AMP-APPMESH\"",
            "alias = \"AMP-APPMESH-2\"\ntags = { team = \"obs\" }",
        )
        .replace("[5m]", "[1m]"),
    );
    reimport(&e.cli, "aws_amp_workspace.appmesh", &id);
    let ns_arn = e.cli.attr_str("aws_amp_rule_groups_namespace.envoy", "arn");
    reimport(&e.cli, "aws_amp_rule_groups_namespace.envoy", &ns_arn);

    e.block(
        e.amp()
            .update_workspace_alias()
            .workspace_id(&id)
            .alias("renamed")
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_amp_workspace.appmesh",
        "alias",
        "AMP-APPMESH-2".into(),
        "renamed".into(),
    );

    destroy(&e.cli);
    assert!(
        e.block(e.amp().list_workspaces().send())
            .unwrap()
            .workspaces()
            .is_empty()
    );
}

const SNS: &str = r#"
[resources.aws_sns_topic.alerts]
name = "grafana-notification"
display_name = "meshmon alerts"

[resources.aws_sns_topic_subscription.oncall]
topic_arn = "${aws_sns_topic.alerts.arn}"
protocol = "email"
endpoint = "oncall@example.com"
"#;

/// An e-mail subscription's plan says it needs confirmation. moto confirms
/// at once, so the pending state itself is covered by the provider's unit
/// test `pending_email_subscription_reads_as_present_and_unchanged`.
#[test]
fn sns_topic_display_name_updates_in_place_and_subscription_drift() {
    let e = env();
    e.cli.spec(SNS);
    let plan = e.cli.expect(&["plan"], 0);
    assert!(
        plan.stdout
            .contains("the subscription stays pending until the recipient confirms the e-mail"),
        "{}",
        plan.stdout
    );
    e.cli.apply();
    e.cli.assert_no_changes();
    update_in_place(
        &e.cli,
        &SNS.replace(
            "\"meshmon alerts\"",
            "\"meshmon alerts (prod)\"\ntags = { team = \"obs\" }",
        ),
    );
    let topic = e.cli.attr_str("aws_sns_topic.alerts", "arn");
    let sub = e.cli.attr_str("aws_sns_topic_subscription.oncall", "arn");
    reimport(&e.cli, "aws_sns_topic.alerts", "grafana-notification");
    reimport(&e.cli, "aws_sns_topic_subscription.oncall", &sub);

    e.block(
        e.sns()
            .set_topic_attributes()
            .topic_arn(&topic)
            .attribute_name("DisplayName")
            .attribute_value("by hand")
            .send(),
    )
    .unwrap();
    assert_drift(
        &e.cli,
        "aws_sns_topic.alerts",
        "display_name",
        "meshmon alerts (prod)".into(),
        "by hand".into(),
    );
    e.block(e.sns().unsubscribe().subscription_arn(&sub).send())
        .unwrap();
    let d = e.cli.drift();
    let entry = d["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["address"] == "aws_sns_topic_subscription.oncall")
        .cloned();
    assert_eq!(
        entry.map(|x| x["kind"].clone()),
        Some("deleted".into()),
        "{d:#}"
    );

    destroy(&e.cli);
    assert!(
        e.block(e.sns().list_topics().send())
            .unwrap()
            .topics()
            .is_empty()
    );
}

const STACK: &str = r#"
[resources.aws_vpc.eks]
cidr_block = "192.168.0.0/16"
tags = { Name = "AMP-EKS-CLUSTER" }

[resources.aws_subnet.a]
vpc_id = "${aws_vpc.eks.id}"
cidr_block = "192.168.0.0/19"
availability_zone = "eu-west-1a"
map_public_ip_on_launch = true
load_balancer_role = "public"

[resources.aws_subnet.b]
vpc_id = "${aws_vpc.eks.id}"
cidr_block = "192.168.32.0/19"
availability_zone = "eu-west-1b"
map_public_ip_on_launch = true
load_balancer_role = "public"

[resources.aws_internet_gateway.eks]
vpc_id = "${aws_vpc.eks.id}"

[resources.aws_route_table.public]
vpc_id = "${aws_vpc.eks.id}"
routes = [{ cidr_block = "0.0.0.0/0", gateway_id = "${aws_internet_gateway.eks.id}" }]
subnet_ids = ["${aws_subnet.a.id}", "${aws_subnet.b.id}"]

[resources.aws_iam_role.cluster]
name = "AMP-EKS-CLUSTER-role"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = "sts:AssumeRole" }] }
managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]

[resources.aws_iam_role.node]
name = "AMP-EKS-CLUSTER-node"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
role_arn = "${aws_iam_role.cluster.arn}"
subnet_ids = ["${aws_subnet.a.id}", "${aws_subnet.b.id}"]
enabled_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

[resources.aws_eks_node_group.default]
cluster_name = "${aws_eks_cluster.main.name}"
name = "default-ng"
node_role_arn = "${aws_iam_role.node.arn}"
subnet_ids = ["${aws_subnet.a.id}", "${aws_subnet.b.id}"]
scaling = { min_size = 1, max_size = 3, desired_size = 2 }
labels = { role = "mngworker" }

[resources.aws_iam_oidc_provider.eks]
url = "${aws_eks_cluster.main.oidc_issuer}"

[resources.aws_iam_role.grafana_agent]
name = "EKS-GrafanaAgent-AMP-ServiceAccount-Role"
irsa = { oidc_provider_arn = "${aws_iam_oidc_provider.eks.arn}", oidc_issuer = "${aws_eks_cluster.main.oidc_issuer}", namespace = "grafana-agent", service_account = "grafana-agent" }
managed_policy_arns = ["${aws_iam_policy.amp_write.arn}"]

[resources.aws_iam_policy.amp_write]
name = "AWSManagedPrometheusWriteAccessPolicy"
policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["aps:RemoteWrite"], Resource = "*" }] }

[resources.aws_amp_workspace.appmesh]
alias = "AMP-APPMESH"

[resources.aws_sns_topic.alerts]
name = "grafana-notification"

[outputs.remote_write_url]
value = "${aws_amp_workspace.appmesh.remote_write_url}"
"#;

#[test]
fn whole_stack_applies_in_one_go_replans_clean_and_destroys_to_nothing() {
    let e = env_with(Moto::start_with(&[(
        "MOTO_IAM_LOAD_MANAGED_POLICIES",
        "true",
    )]));
    e.cli.spec(STACK);
    e.cli.apply();
    assert_eq!(e.cli.addresses().len(), 14, "{:?}", e.cli.addresses());
    e.cli.assert_no_changes();
    let igw = e.cli.attr_str("aws_internet_gateway.eks", "id");

    destroy(&e.cli);
    let ec2 = e.ec2();
    let vpcs = e
        .block(
            ec2.describe_vpcs()
                .filters(
                    ec2::types::Filter::builder()
                        .name("cidr")
                        .values("192.168.0.0/16")
                        .build(),
                )
                .send(),
        )
        .unwrap();
    assert!(vpcs.vpcs().is_empty(), "{:?}", vpcs.vpcs());
    let subnets = e
        .block(
            ec2.describe_subnets()
                .filters(
                    ec2::types::Filter::builder()
                        .name("cidr-block")
                        .values("192.168.0.0/19")
                        .build(),
                )
                .send(),
        )
        .unwrap();
    assert!(subnets.subnets().is_empty());
    assert!(
        e.block(
            ec2.describe_internet_gateways()
                .internet_gateway_ids(&igw)
                .send()
        )
        .is_err(),
        "{igw} still exists"
    );
    assert!(
        e.block(e.eks().list_clusters().send())
            .unwrap()
            .clusters()
            .is_empty()
    );
    assert!(
        e.block(e.iam().list_roles().send())
            .unwrap()
            .roles()
            .is_empty()
    );
    assert!(
        e.block(e.iam().list_open_id_connect_providers().send())
            .unwrap()
            .open_id_connect_provider_list()
            .is_empty()
    );
    assert!(
        e.block(e.amp().list_workspaces().send())
            .unwrap()
            .workspaces()
            .is_empty()
    );
    assert!(
        e.block(e.sns().list_topics().send())
            .unwrap()
            .topics()
            .is_empty()
    );
}
