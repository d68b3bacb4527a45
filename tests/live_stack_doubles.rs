//! The live stack's AWS types on their own: on moto where it has them (SNS
//! topic policies), and against the narrow doubles for what moto 5.2.5
//! lacks: the EKS double (a cluster's authentication mode, the access
//! entry EKS makes for the cluster's creator) and the AMP double in front
//! of moto (managed collectors). The real `meshmon`
//! binary, one small spec per test.
//!
//! Needs moto (MESHMON_MOTO_SERVER).

use std::time::Duration;

use meshmon_test_support::amp_double::AmpDouble;
use meshmon_test_support::cli::Cli;
use meshmon_test_support::eks_double::{DEFAULT_CALLER, EksDouble};
use meshmon_test_support::moto::Moto;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_meshmon");

fn cluster(mode: &str) -> String {
    format!(
        r#"
[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
version = "1.33"
role_arn = "arn:aws:iam::123456789012:role/eks-cluster"
subnet_ids = ["subnet-0a", "subnet-0b"]
access_config = {{ authentication_mode = "{mode}", bootstrap_cluster_creator_admin_permissions = true }}
"#
    )
}

fn plan_json(cli: &Cli) -> Value {
    let out = cli.expect(&["plan", "--json"], 0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout))
}

fn change<'a>(plan: &'a Value, address: &str) -> &'a Value {
    plan["changes"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("{address} is not in the plan: {plan:#}"))
}

/// EKS gives the principal that creates a cluster with
/// bootstrap_cluster_creator_admin_permissions an access entry of its own
/// and refuses a second one (409). When the spec names that principal —
/// whoever runs meshmon — the plan says so from the caller's identity, and
/// apply adopts EKS's entry (tagged as meshmon's, with the spec's groups
/// and user name) instead of failing; destroy removes it. Without the
/// bootstrap, the spec's entry is the only one. EKS double: moto has no
/// access entries; the caller is moto's, asked of STS.
#[test]
fn the_cluster_creators_access_entry_is_planned_and_adopted_against_eks_double() {
    let spec = |bootstrap: bool| {
        format!(
            r#"
[resources.aws_eks_cluster.main]
name = "AMP-EKS-CLUSTER"
version = "1.33"
role_arn = "arn:aws:iam::123456789012:role/eks-cluster"
subnet_ids = ["subnet-0a", "subnet-0b"]
access_config = {{ authentication_mode = "API_AND_CONFIG_MAP", bootstrap_cluster_creator_admin_permissions = {bootstrap} }}

[resources.aws_eks_access_entry.me]
cluster_name = "${{aws_eks_cluster.main.name}}"
principal_arn = "{DEFAULT_CALLER}"
kubernetes_groups = ["platform-admins"]
username = "platform-admin"
"#
        )
    };
    let moto = Moto::start();
    let double = EksDouble::forwarding(Duration::from_millis(200), &moto.endpoint());
    let mut cli = Cli::new(BIN, moto.env());
    cli.set_env("AWS_ENDPOINT_URL_EKS", &double.endpoint());
    cli.spec(&spec(true));
    let plan = plan_json(&cli);
    let notes = change(&plan, "aws_eks_access_entry.me")["notes"].to_string();
    assert!(
        notes.contains("is the principal meshmon runs as") && notes.contains("adopts"),
        "the plan says what apply will do: {notes}"
    );

    let out = cli.expect(&["apply", "--auto-approve"], 0);
    assert!(!out.stderr.contains("already in use"), "{}", out.stderr);
    assert_eq!(
        double.access_entries(),
        [("AMP-EKS-CLUSTER".to_string(), DEFAULT_CALLER.to_string())],
        "one entry: EKS's, adopted"
    );
    let entry = double
        .access_entry("AMP-EKS-CLUSTER", DEFAULT_CALLER)
        .expect("the creator's entry");
    assert_eq!(entry["username"], "platform-admin");
    assert_eq!(
        entry["kubernetesGroups"],
        serde_json::json!(["platform-admins"])
    );
    assert!(
        entry["tags"]["meshmon:lineage"].is_string(),
        "tagged as this environment's, so that a retry recovers it: {entry}"
    );
    assert_eq!(
        double.access_policy_associations().len(),
        1,
        "EKS's cluster-admin association stays"
    );
    cli.assert_no_changes();
    cli.expect(&["drift"], 0);
    cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(double.access_entries().is_empty());

    cli.spec(&spec(false));
    let plan = plan_json(&cli);
    assert!(
        change(&plan, "aws_eks_access_entry.me")["notes"]
            .to_string()
            .contains("runs as"),
        "whether the cluster will make the entry is the cluster's business; the note says when"
    );
    cli.apply();
    cli.assert_no_changes();
    assert_eq!(double.access_entries().len(), 1);
    assert!(double.access_policy_associations().is_empty());
}

/// An entry someone else made (a person, another tool, a service) for a
/// principal the spec names is never taken over: the plan says apply will
/// fail and how to import it, apply fails with EKS's 409 and the same
/// advice, and the entry is left as it was.
#[test]
fn someone_elses_access_entry_is_reported_at_plan_and_left_alone_against_eks_double() {
    let moto = Moto::start();
    let double = EksDouble::forwarding(Duration::from_millis(200), &moto.endpoint());
    let mut cli = Cli::new(BIN, moto.env());
    cli.set_env("AWS_ENDPOINT_URL_EKS", &double.endpoint());
    cli.spec(&cluster("API_AND_CONFIG_MAP"));
    cli.apply();
    let arn = double.cluster("AMP-EKS-CLUSTER").expect("cluster")["arn"]
        .as_str()
        .expect("arn")
        .to_string();
    let ops = "arn:aws:iam::123456789012:role/ops";
    assert!(double.link().add_service_entry(&arn, ops, "ops-by-hand"));

    cli.spec(&format!(
        r#"{}
[resources.aws_eks_access_entry.ops]
cluster_name = "${{aws_eks_cluster.main.name}}"
principal_arn = "{ops}"
username = "ops"
"#,
        cluster("API_AND_CONFIG_MAP")
    ));
    let plan = plan_json(&cli);
    let notes = change(&plan, "aws_eks_access_entry.ops")["notes"].to_string();
    assert!(
        notes.contains("already exists")
            && notes.contains("meshmon import aws_eks_access_entry.ops AMP-EKS-CLUSTER:"),
        "{notes}"
    );
    let out = cli.expect(&["apply", "--auto-approve"], 1);
    assert!(
        out.stderr.contains("not made by this environment")
            && out.stderr.contains("meshmon import"),
        "{}",
        out.stderr
    );
    let entry = double
        .access_entry("AMP-EKS-CLUSTER", ops)
        .expect("still there");
    assert_eq!(entry["username"], "ops-by-hand", "left as it was");
    assert!(entry["tags"].get("meshmon:lineage").is_none());
}

/// CONFIG_MAP → API moves in place, one UpdateClusterConfig per step; a
/// move back plans a replacement with EKS's reason. EKS double: moto has
/// no access configuration.
#[test]
fn eks_authentication_mode_moves_forward_in_place_and_back_by_replacement_against_eks_double() {
    let moto = Moto::start();
    let double = EksDouble::start(Duration::from_millis(200));
    let mut cli = Cli::new(BIN, moto.env());
    cli.set_env("AWS_ENDPOINT_URL_EKS", &double.endpoint());
    cli.spec(&cluster("CONFIG_MAP"));
    cli.apply();
    cli.assert_no_changes();
    let c = double.cluster("AMP-EKS-CLUSTER").expect("cluster");
    assert_eq!(c["accessConfig"]["authenticationMode"], "CONFIG_MAP");

    cli.spec(&cluster("API"));
    let plan = plan_json(&cli);
    assert_eq!(change(&plan, "aws_eks_cluster.main")["action"], "update");
    cli.apply();
    cli.assert_no_changes();
    let c = double.cluster("AMP-EKS-CLUSTER").expect("cluster");
    assert_eq!(c["accessConfig"]["authenticationMode"], "API");
    let updates = double
        .calls()
        .iter()
        .filter(|c| *c == "UpdateClusterConfig")
        .count();
    assert_eq!(
        updates,
        2,
        "CONFIG_MAP → API_AND_CONFIG_MAP → API: {:?}",
        double.calls()
    );

    cli.spec(&cluster("API_AND_CONFIG_MAP"));
    let plan = plan_json(&cli);
    let c = change(&plan, "aws_eks_cluster.main");
    assert_eq!(c["action"], "replace", "{c:#}");
    let reason = c["replace_because"].to_string();
    assert!(
        reason.contains("back from API to API_AND_CONFIG_MAP"),
        "{reason}"
    );

    cli.spec(&cluster("API"));
    cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(double.cluster_names().is_empty());
}

fn collector(config: &str, alias: &str, subnets: &str) -> String {
    format!(
        r#"
[resources.aws_amp_workspace.main]
alias = "collector-test"

[resources.aws_amp_scraper.mesh]
alias = "{alias}"
cluster_arn = "arn:aws:eks:eu-west-1:123456789012:cluster/AMP-EKS-CLUSTER"
subnet_ids = [{subnets}]
workspace_arn = "${{aws_amp_workspace.main.arn}}"
scrape_configuration = """
{config}"""
"#
    )
}

const GOOD: &str = "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: envoy\n    metrics_path: /stats/prometheus\n    kubernetes_sd_configs:\n      - role: pod\n";
const BAD: &str = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: dns\n    dns_sd_configs:\n      - names: [envoy.example.org]\n";

/// What AWS refuses in a scrape configuration fails the plan and the
/// apply before any request; a valid collector is created, its alias
/// changes in place and its subnets replace it. AMP double in front of
/// moto: moto has no scrapers.
#[test]
fn amp_scraper_is_checked_in_the_plan_updated_in_place_and_replaced_for_its_source_against_amp_double()
 {
    let moto = Moto::start();
    let double = AmpDouble::start(Duration::from_millis(200), &moto.endpoint());
    let mut cli = Cli::new(BIN, moto.env());
    cli.set_env("AWS_ENDPOINT_URL_AMP", &double.endpoint());

    cli.spec(&collector(BAD, "mesh", r#""subnet-0a", "subnet-0b""#));
    let plan = cli.expect(&["plan"], 1);
    // The diagnostic, as one line: miette wraps it in a box.
    let said: String = plan
        .stderr
        .lines()
        .map(|l| l.trim_start_matches([' ', '│', '×']).trim())
        .collect::<Vec<_>>()
        .join(" ");
    for problem in [
        "would be refused by AMP",
        "global.scrape_interval is 15s",
        "job dns uses dns_sd_configs",
    ] {
        assert!(said.contains(problem), "{problem}\n{}", plan.stderr);
    }
    let out = cli.run(&["apply", "--auto-approve"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("scrape_interval is 15s"),
        "{}",
        out.stderr
    );
    assert!(
        !double.calls().iter().any(|c| c == "CreateScraper"),
        "nothing was sent: {:?}",
        double.calls()
    );

    cli.spec(&collector(GOOD, "mesh", r#""subnet-0a", "subnet-0b""#));
    cli.apply();
    cli.assert_no_changes();
    let id = cli.attr_str("aws_amp_scraper.mesh", "id");
    assert_eq!(
        double.scraper(&id).expect("scraper")["status"]["statusCode"],
        "ACTIVE"
    );

    cli.spec(&collector(GOOD, "mesh-2", r#""subnet-0a", "subnet-0b""#));
    let plan = plan_json(&cli);
    assert_eq!(change(&plan, "aws_amp_scraper.mesh")["action"], "update");
    cli.apply();
    cli.assert_no_changes();
    assert!(double.calls().iter().any(|c| c == "UpdateScraper"));
    assert_eq!(double.scraper(&id).expect("scraper")["alias"], "mesh-2");

    cli.spec(&collector(GOOD, "mesh-2", r#""subnet-0a", "subnet-0c""#));
    let plan = plan_json(&cli);
    assert_eq!(change(&plan, "aws_amp_scraper.mesh")["action"], "replace");
    cli.apply();
    cli.assert_no_changes();
    let ids = double.scraper_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_ne!(ids[0], id, "a new scraper replaced the old one");

    cli.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        double.scraper_ids().is_empty(),
        "{:?}",
        double.scraper_ids()
    );
}

/// An SNS topic's policy is compared as JSON (SNS hands it back
/// reformatted: no change), drifts when edited out of band, and is put
/// back in place. moto only.
#[test]
fn sns_topic_policy_compares_as_json_drifts_and_is_restored_on_moto() {
    let moto = Moto::start();
    let cli = Cli::new(BIN, moto.env());
    cli.spec(
        r#"
[resources.aws_sns_topic.alerts]
name = "grafana-notification"
policy = { Version = "2012-10-17", Statement = [{ Sid = "AmpAlertmanager", Effect = "Allow", Principal = { Service = "aps.amazonaws.com" }, Action = ["sns:Publish", "sns:GetTopicAttributes"], Resource = "arn:aws:sns:eu-west-1:123456789012:grafana-notification" }] }
"#,
    );
    cli.apply();
    cli.assert_no_changes();
    let arn = cli.attr_str("aws_sns_topic.alerts", "arn");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sdk = rt.block_on(moto.sdk_config());
    let sns = meshmon_test_support::sns::Client::new(&sdk);
    let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Someone","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sns:Publish","Resource":"*"}]}"#;
    rt.block_on(
        sns.set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("Policy")
            .attribute_value(other)
            .send(),
    )
    .expect("edit the policy");
    let d = cli.drift();
    let entry = d["drift"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["address"] == "aws_sns_topic.alerts"))
        .unwrap_or_else(|| panic!("no drift for the topic: {d:#}"));
    assert!(
        entry["attributes"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["path"].as_str().is_some_and(|p| p.starts_with("policy")))),
        "{entry:#}"
    );
    cli.apply();
    cli.assert_no_changes();
    cli.expect(&["destroy", "--auto-approve"], 0);
}
